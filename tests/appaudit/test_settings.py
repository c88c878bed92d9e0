"""appaudit.toml: the scan's own limits beside the rule configuration."""

from __future__ import annotations

from pathlib import Path

import pytest

from appaudit.settings import ApkBudget, IntakeLimits, Settings, load_settings
from policies.config import ConfigError


def test_defaults_without_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings(None)
    assert settings.apk == ApkBudget(memory_mb=1024, seconds=120.0)
    assert settings.intake == IntakeLimits(max_inflated_mb=512)
    assert settings.policy.max_apps == 5


def test_limits_and_rule_keys_share_one_file(tmp_path: Path) -> None:
    config = tmp_path / "appaudit.toml"
    config.write_text(
        '[apk]\nmemory_mb = 256\nseconds = 30\nsensitive_permissions = ["android.permission.X"]\n'
        "[intake]\nmax_inflated_mb = 64\n[thresholds]\nmax_apps = 3\n",
        encoding="utf-8",
    )
    settings = load_settings(config)
    assert settings.apk == ApkBudget(memory_mb=256, seconds=30.0)
    assert settings.intake.max_inflated_mb == 64
    assert settings.policy.max_apps == 3
    assert settings.policy.sensitive_permissions == ("android.permission.X",)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"apk": {"memory_mb": 0}}, "[apk] memory_mb must be a positive whole number"),
        ({"apk": {"seconds": "soon"}}, "[apk] seconds must be a positive number"),
        ({"intake": {"max_inflated_mb": True}}, "max_inflated_mb must be a positive whole number"),
        ({"intake": {"rows": 5}}, "[intake]: unknown key(s) rows"),
        ({"intake": 5}, "[intake] must be a table"),
        ({"apk": {"colour": 1}}, "[apk]: unknown key(s) colour"),
    ],
)
def test_bad_values_name_the_key(data: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        Settings.from_mapping(data, "appaudit.toml")
    assert message in str(raised.value)
