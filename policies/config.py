"""Rule configuration: thresholds, severity overrides and disabled rules (`appaudit.toml`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from appaudit.errors import AppauditError
from policies.model import SEVERITIES, catalogue


class ConfigError(AppauditError):
    """A configuration that cannot be used; the message says which key and why."""


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
        allowed = {"rules", "thresholds", "apk", "scan"}
        unknown = set(data) - allowed
        if unknown:
            raise ConfigError(f"{source}: unknown section(s) {', '.join(sorted(unknown))}")
        rules = data.get("rules", {})
        thresholds = data.get("thresholds", {})
        apk = data.get("apk", {})
        _only(rules, {"severity", "disabled"}, f"{source} [rules]")
        _only(thresholds, {"max_apps"}, f"{source} [thresholds]")
        _only(apk, {"sensitive_permissions"}, f"{source} [apk]")
        severity = dict(rules.get("severity", {}))
        for rule, value in severity.items():
            if rule not in known_rules:
                raise ConfigError(f"{source}: unknown rule {rule!r} in [rules.severity]")
            if value not in SEVERITIES:
                raise ConfigError(
                    f"{source}: severity of {rule} must be one of {', '.join(SEVERITIES)}, "
                    f"not {value!r}"
                )
        disabled = rules.get("disabled", [])
        if not isinstance(disabled, list):
            raise ConfigError(f"{source}: [rules] disabled must be a list of rule ids")
        for rule in disabled:
            if rule not in known_rules:
                raise ConfigError(f"{source}: unknown rule {rule!r} in [rules] disabled")
        max_apps = thresholds.get("max_apps", cls.max_apps)
        if not isinstance(max_apps, int) or isinstance(max_apps, bool) or max_apps < 1:
            raise ConfigError(f"{source}: [thresholds] max_apps must be a whole number ≥ 1")
        permissions = apk.get("sensitive_permissions", [])
        if not isinstance(permissions, list) or not all(isinstance(p, str) for p in permissions):
            raise ConfigError(f"{source}: [apk] sensitive_permissions must be a list of names")
        return cls(
            max_apps=max_apps,
            severity=severity,
            disabled=frozenset(disabled),
            sensitive_permissions=tuple(permissions),
        )


def _only(section: Any, keys: set[str], where: str) -> None:
    if not isinstance(section, Mapping):
        raise ConfigError(f"{where} must be a table")
    unknown = set(section) - keys
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
