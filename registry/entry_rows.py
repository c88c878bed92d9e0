"""The registry's entries read with SQLAlchemy Core, and the listing's filters.

Every reading of the entries goes through here, the registry service's and
`appaudit registry list`'s alike; the list loads no ORM, so that the command bureau staff
type most often starts quickly.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import Date, text

from registry import values
from registry.records import EntryRecord

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from registry.db import Database

_ENTRIES = text(
    "SELECT id, name, kind, provider, filing_no, status, package, original_id, appid, "
    "wechat_id, channels_id, url, category, audience, icp, mlps_level, note, listing, "
    "listing_date, listing_ref, certified_entity FROM entries ORDER BY id"
).columns(listing_date=Date)
_SIGNERS = text("SELECT entry_id, sha256 FROM signers ORDER BY id")


def read_entries(connection: Connection) -> list[EntryRecord]:
    """Every entry, in the order of their ids, with its signers' certificates."""
    signers: defaultdict[int, list[str]] = defaultdict(list)
    for entry_id, sha256 in connection.execute(_SIGNERS):
        signers[entry_id].append(sha256)
    return [
        EntryRecord(
            id=row.id,
            name=row.name,
            kind=row.kind,
            provider=row.provider,
            filing_no=row.filing_no or "",
            status=row.status,
            package=row.package or "",
            original_id=row.original_id or "",
            appid=row.appid or "",
            wechat_id=row.wechat_id or "",
            channels_id=row.channels_id or "",
            url=row.url or "",
            category=row.category,
            audience=tuple(a for a in row.audience.split("、") if a),
            signer_sha256=tuple(signers.get(row.id, ())),
            icp=row.icp,
            mlps_level=row.mlps_level,
            note=row.note,
            listing=row.listing,
            listing_date=row.listing_date,
            listing_ref=row.listing_ref,
            certified_entity=row.certified_entity,
        )
        for row in connection.execute(_ENTRIES)
    ]


@dataclass(frozen=True)
class EntryFilter:
    """What `registry list` asks for: kind, filing status, listing, category (or 教育/非教育)
    and free text; a listing of 无 or - means entries with no explicit listing state."""

    kind: str | None = None
    status: str | None = None
    listing: str | None = None
    category: str | None = None
    search: str | None = None

    def __call__(self, entries: Iterable[EntryRecord]) -> list[EntryRecord]:
        """The entries it lets through; `InvalidValue` for a kind, status, listing or
        category it does not know."""
        wanted_kind = values.parse_kind(self.kind) if self.kind else None
        wanted_status = values.parse_status(self.status) if self.status else None
        wanted_listing = values.parse_listing(self.listing) if self.listing else None
        educational: bool | None = None
        wanted_category = None
        if self.category:
            key = values.word_key(self.category)
            if key in ("教育类", "教育", "education", "educational", "edu"):
                educational = True
            elif key in ("非教育", "non-education", "noneducational", "non-edu"):
                educational = False
            else:
                wanted_category = values.parse_category(self.category)
        needle = values.normalised_name(self.search) if self.search else ""
        out = []
        for entry in entries:
            if wanted_kind and entry.kind != wanted_kind:
                continue
            if wanted_status and entry.status != wanted_status:
                continue
            if wanted_listing is not None and entry.listing != wanted_listing:
                continue
            if wanted_category and entry.category != wanted_category:
                continue
            if educational is not None and entry.educational is not educational:
                continue
            if needle and needle not in _search_text(entry):
                continue
            out.append(entry)
        return out


def list_entries(database: Database, wanted: EntryFilter) -> list[EntryRecord]:
    """The entries `wanted` lets through, read in one go."""
    with database.connect() as connection:
        return wanted(read_entries(connection))


def _search_text(entry: EntryRecord) -> str:
    parts = [entry.name, entry.provider, entry.filing_no, entry.note, *entry.identifiers.values()]
    return values.normalised_name(" ".join(parts))
