"""appaudit.toml: the scan's own limits beside the rule configuration."""

from __future__ import annotations

from pathlib import Path

import pytest

from appaudit.settings import (
    ApkBudget,
    IntakeLimits,
    ReportSettings,
    Settings,
    load_report_settings,
    load_settings,
)
from policies.config import ConfigError


def test_defaults_without_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings(None)
    assert settings.apk == ApkBudget(memory_mb=1024, seconds=120.0)
    assert settings.intake == IntakeLimits(max_inflated_mb=512)
    assert settings.policy.max_apps == 5
    assert settings.report == ReportSettings(timezone="Asia/Shanghai")


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
        ({"report": {"timezone": "Beijing"}}, "[report] timezone: unknown time zone 'Beijing'"),
        ({"report": {"timezone": 8}}, "[report] timezone: unknown time zone 8"),
        ({"report": {"colour": "red"}}, "[report]: unknown key(s) colour"),
        ({"report": "UTC"}, "[report] must be a table"),
    ],
)
def test_bad_values_name_the_key(data: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        Settings.from_mapping(data, "appaudit.toml")
    assert message in str(raised.value)


def test_the_bureaus_time_zone(tmp_path: Path) -> None:
    config = tmp_path / "appaudit.toml"
    config.write_text('[report]\ntimezone = "Asia/Urumqi"\n', encoding="utf-8")
    assert load_settings(config).report.timezone == "Asia/Urumqi"
    assert load_report_settings(config).timezone == "Asia/Urumqi"


def test_an_unknown_zone_is_said_in_chinese_too() -> None:
    with pytest.raises(ConfigError) as raised:
        Settings.from_mapping({"report": {"timezone": "Beijing"}}, "appaudit.toml")
    assert raised.value.text("zh") == (
        "appaudit.toml [report] timezone：未知的时区“Beijing”（应为 IANA 时区名，如 Asia/Shanghai）"
    )


def test_commands_that_only_show_times_read_only_the_report_section(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("appaudit.toml").write_text(
        '[rules]\ndisabled = ["NO-SUCH-RULE"]\n[report]\ntimezone = "UTC"\n', encoding="utf-8"
    )
    assert load_report_settings().timezone == "UTC"
    with pytest.raises(ConfigError):
        load_settings(None)


@pytest.mark.parametrize(
    ("data", "zh", "en"),
    [
        ({"rule": {}}, "未知的节 rule", "unknown section(s) rule"),
        ({"rules": {"severity": {"NOPE": "high"}}}, "[rules.severity] 中的规则编号 NOPE 不存在",
         "unknown rule NOPE in [rules.severity]"),
        ({"rules": {"severity": {"QUOTA": "huge"}}}, "QUOTA 的严重程度应为 high, medium, review, info 之一",
         "the severity of QUOTA must be one of high, medium, review, info, not 'huge'"),
        ({"rules": {"severity": "high"}}, "[rules.severity] 应为一个表", "[rules.severity] must be a table"),
        ({"rules": {"disabled": "QUOTA"}}, "[rules] disabled 应为规则编号的列表",
         "[rules] disabled must be a list of rule ids"),
        ({"rules": {"off": []}}, "[rules]：未知的键 off", "[rules]: unknown key(s) off"),
        ({"thresholds": {"max_apps": 0}}, "max_apps 应为不小于 1 的整数",
         "max_apps must be a whole number of at least 1"),
        ({"apk": {"sensitive_permissions": "CAMERA"}}, "sensitive_permissions 应为权限名称的列表",
         "sensitive_permissions must be a list of permission names"),
    ],
)  # fmt: skip
def test_rule_sections_are_checked_in_both_languages(
    data: dict[str, object], zh: str, en: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        Settings.from_mapping(data, "appaudit.toml")
    assert raised.value.text("zh").startswith("appaudit.toml")
    assert zh in raised.value.text("zh") and en in raised.value.text("en")
