"""Rows share a verdict when they agree on the fields the rules read: the list is declared, and
a rule that reads a field outside it fails here."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from policyfactory import VIEW, item

from policies.engine import Engine
from policies.model import Finding
from policies.rules import ADDRESS_FIELDS, ITEM_RULES, VERDICT_FIELDS, Assessed, Context, ItemRule
from scanner.submission import RequiredItem

DERIVED = {"actions": "action_text", "filing_malformed": "filing_no"}
"""Properties of RequiredItem and the field each is worked out from."""


class Recorder:
    """An item that notes which of its fields are read."""

    def __init__(self, wrapped: RequiredItem) -> None:
        self._wrapped = wrapped
        self.read: set[str] = set()

    def __getattr__(self, name: str) -> Any:
        self.read.add(DERIVED.get(name, name))
        return getattr(self._wrapped, name)


ITEMS = [
    item("闽教高分", identifier="com.zhl.mjqk.aphone", audience=("家长",), actions=("打卡",)),
    item("巧考", filing_no="教APP备12号", decision_ref="纪要", quota="参与率100%"),
    item("示例口算练习", note="截图上传；需购买会员"),
    item("国家反诈中心", actions=("答题",), requested_by="区文明办", audience=("家长",)),
    item("钉钉", actions=("考勤打卡",), audience=("教师",), requested_by="校务会"),
    item("学习强国", actions=("答题",), audience=("党员教师",), requested_by="学校党支部"),
    item("某问卷", kind="platform", identifier="https://www.wjx.cn/vm/x.aspx", requested_by="社区"),
    item("中国学生体质健康网", kind="platform", quota="上报率100%"),
    item("某某公安", kind="official_account", actions=("关注", "投票")),
]


def fields_read(rules: Iterable[ItemRule]) -> set[str]:
    engine = Engine(VIEW)
    read: set[str] = set()
    for it in ITEMS:
        assessed = engine.assess(it)
        recorder = Recorder(it)
        spy = assessed._replace(item=recorder)  # type: ignore[arg-type]
        for rule in rules:
            list(rule(spy, engine.ctx))
        read |= recorder.read
    return read


def test_item_rules_read_only_the_declared_fields() -> None:
    undeclared = fields_read(ITEM_RULES.values()) - set(VERDICT_FIELDS) - set(ADDRESS_FIELDS)
    assert undeclared == set(), f"rules read {undeclared}: add them to VERDICT_FIELDS"


def test_a_rule_reading_another_field_is_caught() -> None:
    def peeks_at_the_apk(a: Assessed, ctx: Context) -> Iterable[Finding]:
        if a.item.apk:
            yield from ()
        return

    assert "apk" in fields_read([peeks_at_the_apk]) - set(VERDICT_FIELDS)


def test_every_declared_field_changes_the_verdict_key() -> None:
    assert set(VERDICT_FIELDS) <= set(RequiredItem._fields)
    assert not set(VERDICT_FIELDS) & set(ADDRESS_FIELDS)
