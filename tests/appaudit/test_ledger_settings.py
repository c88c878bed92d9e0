"""`[ledger]` and `[notice]` in appaudit.toml: the due days and the notice's heading."""

from __future__ import annotations

import pytest

from appaudit.settings import LedgerSettings, Settings
from policies.config import ConfigError


def test_the_defaults_without_the_sections() -> None:
    assert Settings().ledger == LedgerSettings(due_days=30)


def test_the_heading_in_chinese_or_english_keys() -> None:
    chinese = Settings.from_mapping(
        {
            "ledger": {"due_days": 15},
            "notice": {"发文单位": "示例区教育局", "联系人": "张三", "电话": "0595-1"},
        }
    ).ledger
    english = Settings.from_mapping(
        {"notice": {"issuer": "示例区教育局", "contact": "张三", "phone": "0595-1"}}
    ).ledger
    assert chinese == LedgerSettings(15, "示例区教育局", "张三", "0595-1")
    assert english == LedgerSettings(30, "示例区教育局", "张三", "0595-1")


@pytest.mark.parametrize(
    ("data", "words"),
    [
        ({"ledger": {"due_days": 0}}, "due_days 应为正整数"),
        ({"ledger": {"due_day": 3}}, "未知的键 due_day"),
        ({"notice": {"电话": 5950}}, "电话 应为文字"),
        ({"notice": {"letterhead": "x"}}, "未知的键 letterhead"),
    ],
)
def test_a_wrong_value_is_a_configuration_error(data: dict, words: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_mapping(data, "appaudit.toml")
    assert words in caught.value.message.zh
