"""`appaudit.toml`: the rule configuration and the scan's own settings, read from one file.

The rule sections (`[rules]`, `[thresholds]`, `[apk] sensitive_permissions`) belong to the
policy engine and are checked there; this module takes out the keys that bound the scan
itself (how much one APK may cost, how large a spreadsheet may inflate) and how it shows
what it found (`[report]`: the bureau's time zone), and checks them.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from appaudit.messages import m
from policies.config import ConfigError, PolicyConfig

CONFIG_FILE = "appaudit.toml"
_TOML_PLACE = re.compile(r"\(at line (?P<line>\d+), column (?P<column>\d+)\)")
DEFAULT_TIMEZONE = "Asia/Shanghai"


@dataclass(frozen=True)
class ApkBudget:
    """What analysing one APK may cost before it is given up as unreadable."""

    memory_mb: int = 1024
    seconds: float = 120.0


@dataclass(frozen=True)
class IntakeLimits:
    """Caps on reading one submission file."""

    max_inflated_mb: int = 512
    """Largest inflated size of an XLSX sheet plus its shared strings."""


@dataclass(frozen=True)
class ReportSettings:
    """How the outputs show what was found."""

    timezone: str = DEFAULT_TIMEZONE
    """The bureau's time zone (IANA name): every time shown to a person is in it."""

    @classmethod
    def from_mapping(cls, data: Any, source: str) -> ReportSettings:
        section = dict(_table(data, f"{source} [report]"))
        timezone = section.pop("timezone", DEFAULT_TIMEZONE)
        _no_more(section, f"{source} [report]")
        where = f"{source} [report] timezone"
        if not isinstance(timezone, str) or not timezone.strip():
            raise ConfigError(m("config_not_zone", where=where, value=timezone))
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ConfigError(m("config_not_zone", where=where, value=timezone)) from error
        return cls(timezone=timezone)


@dataclass(frozen=True)
class LedgerSettings:
    """The rectification ledger (`[ledger]`) and the heading of its notices (`[notice]`)."""

    due_days: int = 30
    """Days from an item's discovery to its due date (整改时限)."""
    issuer: str = ""
    """发文单位: the bureau that issues the 整改通知书."""
    contact: str = ""
    """联系人."""
    phone: str = ""
    """电话."""

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], source: str) -> LedgerSettings:
        ledger = dict(_table(data.get("ledger", {}), f"{source} [ledger]"))
        due_days = _positive(
            ledger.pop("due_days", LedgerSettings.due_days), f"{source} [ledger] due_days"
        )
        _no_more(ledger, f"{source} [ledger]")
        notice = dict(_table(data.get("notice", {}), f"{source} [notice]"))
        found: dict[str, str] = {}
        for name, chinese in _NOTICE_KEYS.items():
            for key in (name, chinese):
                if key in notice:
                    value = notice.pop(key)
                    if not isinstance(value, str):
                        raise ConfigError(m("config_not_text", where=f"{source} [notice] {key}"))
                    found[name] = value.strip()
        _no_more(notice, f"{source} [notice]")
        return cls(due_days=due_days, **found)


_NOTICE_KEYS = {"issuer": "发文单位", "contact": "联系人", "phone": "电话"}


@dataclass(frozen=True)
class Settings:
    """Everything `appaudit.toml` may set; the defaults when there is no file."""

    policy: PolicyConfig = field(default_factory=PolicyConfig)
    apk: ApkBudget = field(default_factory=ApkBudget)
    intake: IntakeLimits = field(default_factory=IntakeLimits)
    report: ReportSettings = field(default_factory=ReportSettings)
    ledger: LedgerSettings = field(default_factory=LedgerSettings)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], source: str = "configuration") -> Settings:
        rest = {k: v for k, v in data.items() if k not in ("intake", "report", "ledger", "notice")}
        apk = dict(_table(rest.get("apk", {}), f"{source} [apk]"))
        intake = dict(_table(data.get("intake", {}), f"{source} [intake]"))
        budget = ApkBudget(
            memory_mb=_positive(
                apk.pop("memory_mb", ApkBudget.memory_mb), f"{source} [apk] memory_mb"
            ),
            seconds=_positive(
                apk.pop("seconds", ApkBudget.seconds), f"{source} [apk] seconds", float
            ),
        )
        if "apk" in rest:
            rest["apk"] = apk
        limits = IntakeLimits(
            max_inflated_mb=_positive(
                intake.pop("max_inflated_mb", IntakeLimits.max_inflated_mb),
                f"{source} [intake] max_inflated_mb",
            )
        )
        _no_more(intake, f"{source} [intake]")
        return cls(
            policy=PolicyConfig.from_mapping(rest, source),
            apk=budget,
            intake=limits,
            report=ReportSettings.from_mapping(data.get("report", {}), source),
            ledger=LedgerSettings.from_mapping(data, source),
        )


def load_settings(path: Path | None) -> Settings:
    """`--config FILE`, else ./appaudit.toml when present, else the defaults."""
    found = _read(path)
    return Settings() if found is None else Settings.from_mapping(*found)


def load_ledger_settings(path: Path | None = None) -> tuple[ReportSettings, LedgerSettings]:
    """The `[report]`, `[ledger]` and `[notice]` sections, for the ledger's commands."""
    found = _read(path)
    if found is None:
        return ReportSettings(), LedgerSettings()
    data, source = found
    return (
        ReportSettings.from_mapping(data.get("report", {}), source),
        LedgerSettings.from_mapping(data, source),
    )


def load_report_settings(path: Path | None = None) -> ReportSettings:
    """Only the `[report]` section, for commands that show results without judging them
    (`runs`, `registry history`): a rule section they do not use cannot stop them."""
    found = _read(path)
    if found is None:
        return ReportSettings()
    data, source = found
    return ReportSettings.from_mapping(data.get("report", {}), source)


def _read(path: Path | None) -> tuple[dict[str, Any], str] | None:
    chosen = path or (Path(CONFIG_FILE) if Path(CONFIG_FILE).is_file() else None)
    if chosen is None:
        return None
    try:
        return tomllib.loads(chosen.read_text("utf-8")), str(chosen)
    except OSError as error:
        raise ConfigError(
            m("config_unreadable", file=chosen, reason=error.strerror or error)
        ) from error
    except UnicodeDecodeError as error:
        raise ConfigError(m("config_not_utf8", file=chosen, reason=error)) from error
    except tomllib.TOMLDecodeError as error:
        # tomllib says where in English; the place is all a reader of any language needs.
        at = _TOML_PLACE.search(str(error))
        if at is None:
            raise ConfigError(m("config_not_toml", file=chosen, reason=error)) from error
        raise ConfigError(
            m("config_not_toml_at", file=chosen, reason=error, line=at["line"], column=at["column"])
        ) from error


def _table(section: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(section, Mapping):
        raise ConfigError(m("config_not_table", where=where))
    return section


def _no_more(section: Mapping[str, Any], where: str) -> None:
    if section:
        raise ConfigError(m("config_unknown_keys", where=where, keys=", ".join(sorted(section))))


def _positive(value: Any, where: str, kind: type = int) -> Any:
    allowed = (int, float) if kind is float else (int,)
    if isinstance(value, bool) or not isinstance(value, allowed) or value <= 0:
        key = "config_not_positive_number" if kind is float else "config_not_positive_whole"
        raise ConfigError(m(key, where=where))
    return kind(value)
