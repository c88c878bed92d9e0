"""`appaudit.toml`: the rule configuration and the scan's own limits, read from one file.

The rule sections (`[rules]`, `[thresholds]`, `[apk] sensitive_permissions`) belong to the
policy engine and are checked there; this module takes out the keys that bound the scan
itself (how much one APK may cost, how large a spreadsheet may inflate) and checks them.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from policies.config import ConfigError, PolicyConfig

CONFIG_FILE = "appaudit.toml"


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
class Settings:
    """Everything `appaudit.toml` may set; the defaults when there is no file."""

    policy: PolicyConfig = field(default_factory=PolicyConfig)
    apk: ApkBudget = field(default_factory=ApkBudget)
    intake: IntakeLimits = field(default_factory=IntakeLimits)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], source: str = "configuration") -> Settings:
        rest = {k: v for k, v in data.items() if k != "intake"}
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
        if intake:
            raise ConfigError(f"{source} [intake]: unknown key(s) {', '.join(sorted(intake))}")
        return cls(policy=PolicyConfig.from_mapping(rest, source), apk=budget, intake=limits)


def load_settings(path: Path | None) -> Settings:
    """`--config FILE`, else ./appaudit.toml when present, else the defaults."""
    chosen = path or (Path(CONFIG_FILE) if Path(CONFIG_FILE).is_file() else None)
    if chosen is None:
        return Settings()
    try:
        data = tomllib.loads(chosen.read_text("utf-8"))
    except OSError as error:
        raise ConfigError(f"cannot read {chosen}: {error.strerror or error}") from error
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ConfigError(f"{chosen}: not valid TOML ({error})") from error
    return Settings.from_mapping(data, str(chosen))


def _table(section: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(section, Mapping):
        raise ConfigError(f"{where} must be a table")
    return section


def _positive(value: Any, where: str, kind: type = int) -> Any:
    allowed = (int, float) if kind is float else (int,)
    if isinstance(value, bool) or not isinstance(value, allowed) or value <= 0:
        raise ConfigError(
            f"{where} must be a positive {'number' if kind is float else 'whole number'}"
        )
    return kind(value)
