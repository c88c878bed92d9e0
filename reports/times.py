"""Times as people read them: in the bureau's time zone, with the offset said."""

from __future__ import annotations

from datetime import UTC, date, datetime
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from reports.interface import ReportError

DEFAULT_ZONE = "Asia/Shanghai"


@cache
def zone(name: str) -> ZoneInfo:
    """The named IANA time zone; ReportError when the name is unknown."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise ReportError(
            f"unknown time zone {name!r} (an IANA name such as Asia/Shanghai)"
        ) from error


def today(zone_name: str = DEFAULT_ZONE) -> date:
    """Today's date in the zone: due dates and waivers count in the bureau's days."""
    return datetime.now(UTC).astimezone(zone(zone_name)).date()


def local(moment: datetime, zone_name: str = DEFAULT_ZONE) -> datetime:
    """The moment in the zone (a naive moment is taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(zone(zone_name))


def shown(moment: datetime, zone_name: str = DEFAULT_ZONE, *, seconds: bool = True) -> str:
    """`2026-11-30 08:43:37 +08:00`: local date and time with the offset, for people."""
    at = local(moment, zone_name)
    clock = at.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")
    offset = at.strftime("%z")
    return f"{clock} {offset[:3]}:{offset[3:]}"
