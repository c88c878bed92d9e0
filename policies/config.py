"""Rule configuration: thresholds, severity overrides and disabled rules (`appaudit.toml`)."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

from appaudit.errors import AppauditError, Message, phrase
from policies.model import SEVERITIES, catalogue

SECTIONS = ("rules", "thresholds", "apk", "scan")
"""The sections of `appaudit.toml` the rules read (the scan's own are checked beside them)."""


class ConfigError(AppauditError):
    """A configuration that cannot be used; the message says which key and why."""


@cache
def _texts() -> dict[str, dict[str, str]]:
    text = resources.files("policies").joinpath("data/config-errors.toml").read_text("utf-8")
    return tomllib.loads(text)


def _error(key: str, /, **params: Any) -> ConfigError:
    """What is wrong, in each language (`data/config-errors.toml`)."""
    return ConfigError(_message(key, **params))


def _message(key: str, /, **params: Any) -> Message:
    return phrase(_texts()[key], **params)


@dataclass(frozen=True)
class PolicyConfig:
    """What a bureau may tune. The defaults are the catalogue's."""

    max_apps: int = 5
    """TOO-MANY-APPS fires above this many distinct apps per school."""
    severity: Mapping[str, str] = field(default_factory=dict)
    """Rule id -> severity overriding the catalogue's."""
    disabled: frozenset[str] = frozenset()
    sensitive_permissions: tuple[str, ...] = ()
    """Extra Android permissions to treat as sensitive, beyond the shipped list."""

    def severity_of(self, rule: str) -> str:
        return self.severity.get(rule) or catalogue()[rule].severity

    def enabled(self, rule: str) -> bool:
        return rule not in self.disabled

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], source: str = "configuration") -> PolicyConfig:
        """Build from parsed TOML; unknown keys and rule ids are errors, not silently ignored."""
        known_rules = set(catalogue().rules)
        unknown = set(data) - set(SECTIONS)
        if unknown:
            raise _error("unknown_sections", source=source, sections=_names(unknown),
                         allowed=_names(SECTIONS))  # fmt: skip
        rules = data.get("rules", {})
        thresholds = data.get("thresholds", {})
        apk = data.get("apk", {})
        _only(rules, {"severity", "disabled"}, f"{source} [rules]")
        _only(thresholds, {"max_apps"}, f"{source} [thresholds]")
        _only(apk, {"sensitive_permissions"}, f"{source} [apk]")
        severity = dict(_table(rules.get("severity", {}), f"{source} [rules.severity]"))
        for rule, value in severity.items():
            if rule not in known_rules:
                raise _error("unknown_rule_severity", source=source, rule=rule)
            if value not in SEVERITIES:
                raise _error("bad_severity", source=source, rule=rule,
                             allowed=", ".join(SEVERITIES), value=value)  # fmt: skip
        disabled = rules.get("disabled", [])
        if not isinstance(disabled, list):
            raise _error("disabled_not_list", source=source)
        for rule in disabled:
            if rule not in known_rules:
                raise _error("unknown_rule_disabled", source=source, rule=rule)
        max_apps = thresholds.get("max_apps", cls.max_apps)
        if not isinstance(max_apps, int) or isinstance(max_apps, bool) or max_apps < 1:
            raise _error("max_apps_not_whole", source=source)
        permissions = apk.get("sensitive_permissions", [])
        if not isinstance(permissions, list) or not all(isinstance(p, str) for p in permissions):
            raise _error("permissions_not_names", source=source)
        return cls(
            max_apps=max_apps,
            severity=severity,
            disabled=frozenset(disabled),
            sensitive_permissions=tuple(permissions),
        )


def _names(names: Any) -> str:
    return ", ".join(sorted(str(n) for n in names))


def _table(section: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(section, Mapping):
        raise _error("not_table", where=where)
    return section


def _only(section: Any, keys: set[str], where: str) -> None:
    unknown = set(_table(section, where)) - keys
    if unknown:
        raise _error("unknown_keys", where=where, keys=_names(unknown), allowed=_names(keys))
