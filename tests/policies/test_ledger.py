"""The ledger's decisions without a database: identity, a scan's moves, the lifecycle, waivers."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest
from policyfactory import CODE, SCHOOL, VIEW, item

from policies.engine import Engine
from policies.ledger import (
    PERSON_MOVES,
    SCHOOL_MOVES,
    SKIPPED_RULES,
    LedgerRuleError,
    LedgerTag,
    MarkedSchools,
    Waived,
    annotate,
    check_move,
    closing,
    dismissing,
    item_key,
    ledger_state,
    mark_school,
    pack_marks,
    parse_status,
    reconcile_school,
    school_key,
    unpack_marks,
    waiver_active,
    waiver_covers,
    waiver_state,
)
from policies.model import Finding
from policies.results import SchoolResult
from registry.ledger import LedgerRecord, WaiverRecord

NOW = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)
TODAY = date(2026, 11, 30)


def describe(finding: Finding) -> tuple[str, list[str], str]:
    return f"{finding.item}：{finding.rule}", ["附件2（三）3"], ""


def school_of(*items: object) -> SchoolResult:
    """The example school with these rows, judged by the engine against the example view."""
    engine = Engine(VIEW)
    rows = [it._replace(row=n + 2) for n, it in enumerate(items)]  # type: ignore[attr-defined]
    schools, _ = engine.evaluate(rows)
    (school,) = list(schools)
    return school


def keyed(school: SchoolResult) -> list[tuple[str, Finding]]:
    by_row = {(i.source, i.row): i for i in school.items}
    return [(item_key(f, by_row.get((f.source, f.row))), f) for f in school.findings]


def stored_from(school: SchoolResult, **changes: object) -> list[LedgerRecord]:
    """The items a first scan of `school` opened, numbered, with `changes` applied."""
    first = reconcile_school(keyed(school), [], **_args())
    stored = [
        LedgerRecord(id=n + 1, number=f"2026-{n + 1:04d}", status="open", **item._asdict())
        for n, item in enumerate(first.opened)
    ]
    return [replace(r, **changes) for r in stored]  # type: ignore[arg-type]


def _args(today: date = TODAY) -> dict[str, object]:
    return {
        "school": SCHOOL,
        "school_code": CODE,
        "today": today,
        "due_days": 30,
        "describe": describe,
    }


ANTIFRAUD = item("国家反诈中心", identifier="com.hicorenational.antifraud", actions=["下载安装"])
UNKNOWN = item("某某课堂", identifier="com.example.unknown", actions=["下载安装"])


# --- identity ---------------------------------------------------------------------------------


def test_a_school_is_known_by_its_code_else_by_its_folded_name() -> None:
    assert school_key("示例实验小学", "3135000001") == "code:3135000001"
    assert school_key(" 示例 实验小学 ", "") == school_key("示例实验小学", "")
    assert school_key("示例实验小学", "") != school_key("示例实验中学", "")


def test_an_item_is_its_registry_entry_else_its_kind_and_identifier_else_its_name() -> None:
    school = school_of(ANTIFRAUD, UNKNOWN, item("无名课堂", actions=["下载安装"]))
    keys = {f.item: k for k, f in keyed(school)}
    assert keys["国家反诈中心"] == "entry:5"
    assert keys["某某课堂"] == "app:com.example.unknown"
    assert keys["无名课堂"].startswith("app:name:")


def test_the_same_entry_written_two_ways_is_one_item() -> None:
    by_name = school_of(item("国家反诈中心", actions=["下载安装"]))
    by_package = school_of(
        item("反诈APP", identifier="com.hicorenational.antifraud", actions=["下载安装"])
    )
    rules = {f.rule for f in by_name.findings} & {f.rule for f in by_package.findings}
    assert rules
    for rule in rules:
        assert {k for k, f in keyed(by_name) if f.rule == rule} == {
            k for k, f in keyed(by_package) if f.rule == rule
        }


# --- a scan's moves ---------------------------------------------------------------------------


def test_a_first_scan_opens_one_item_per_item_and_rule() -> None:
    school = school_of(ANTIFRAUD, ANTIFRAUD._replace(row=9))
    moves = reconcile_school(keyed(school), [], **_args())
    rules = {f.rule for f in school.findings}
    assert len(moves.opened) == len(rules) > 0
    assert {t.status for t in moves.tags.values()} == {"open"}
    assert {r.due for r in moves.opened} == {TODAY + timedelta(days=30)}
    assert moves.counts["new"] == len(rules)
    assert all(tag.new for tag in moves.tags.values())


def test_scanning_the_same_submission_again_opens_nothing() -> None:
    school = school_of(ANTIFRAUD, UNKNOWN)
    stored = stored_from(school)
    moves = reconcile_school(keyed(school), stored, **_args())
    assert moves.opened == []
    assert moves.fixed == []
    assert moves.counts["new"] == 0
    assert moves.counts["continuing"] == len(stored)
    assert sorted(moves.seen) == sorted(r.id for r in stored)
    assert moves.changed == []


def test_an_item_no_longer_required_is_proposed_for_closing_never_closed() -> None:
    stored = stored_from(school_of(ANTIFRAUD, UNKNOWN))
    moves = reconcile_school(keyed(school_of(UNKNOWN)), stored, **_args())
    gone = [r for r in stored if r.item == "国家反诈中心"]
    assert {r.number for r in moves.fixed} == {r.number for r in gone}
    assert {r.status for r in moves.fixed} == {"to_verify"}
    statuses = {r.number: c.get("status") for r, c, _a in moves.changed}
    assert {statuses[r.number] for r in gone} == {"to_verify"}
    assert moves.counts["to_verify"] == len(gone)
    assert "closed" not in statuses.values()


def test_a_closed_item_found_again_is_reopened() -> None:
    school = school_of(ANTIFRAUD)
    stored = stored_from(school, status="closed", closed_by="李四", closed_at=NOW)
    moves = reconcile_school(keyed(school), stored, **_args())
    for record, changes, action in moves.changed:
        assert action == "reopen"
        assert changes["status"] == "open"
        assert changes["reopened"] == record.reopened + 1
        assert changes["closed_at"] is None
    assert moves.counts["reopened"] == len(stored)
    assert all(tag.reopened for tag in moves.tags.values())


def test_an_item_the_school_said_was_fixed_but_is_still_there_goes_back_to_open() -> None:
    school = school_of(ANTIFRAUD)
    stored = stored_from(school, status="to_verify")
    moves = reconcile_school(keyed(school), stored, **_args())
    assert {c["status"] for _r, c, _a in moves.changed} == {"open"}


def test_dismissed_and_closed_items_not_seen_stay_as_they_are() -> None:
    school = school_of(ANTIFRAUD, UNKNOWN)
    stored = stored_from(school)
    stored = [replace(r, status="dismissed" if n % 2 else "closed") for n, r in enumerate(stored)]
    moves = reconcile_school([], stored, **_args())
    assert moves.changed == [] and moves.fixed == []


def test_overdue_items_are_counted() -> None:
    school = school_of(ANTIFRAUD)
    stored = stored_from(school)
    late = TODAY + timedelta(days=31)
    assert reconcile_school(keyed(school), stored, **_args(late)).counts["overdue"] == len(stored)
    assert reconcile_school(keyed(school), stored, **_args(TODAY)).counts["overdue"] == 0


def test_the_counts_are_of_the_items_as_the_scan_leaves_them() -> None:
    """Items of every status, some seen again and some not, some past their due date: the
    counts are those of each item after the scan's moves (reopened, back to open, proposed
    for closing), counted one by one."""
    rows = [ANTIFRAUD, UNKNOWN, item("无名课堂", actions=["下载安装"]), item("学习强国")]
    stored = stored_from(school_of(*rows))
    statuses = ["open", "closed", "to_verify", "in_progress", "dismissed"]
    past = TODAY - timedelta(days=3)
    stored = [
        replace(r, status=statuses[n % len(statuses)], due=past if n % 3 else TODAY)
        for n, r in enumerate(stored)
    ]
    again = school_of(ANTIFRAUD, item("无名课堂", actions=["下载安装"]))
    moves = reconcile_school(keyed(again), stored, **_args())
    assert moves.changed and len({r.status for r in stored}) == len(statuses)
    changes = {r.number: c for r, c, _a in moves.changed}
    after = [
        (
            changes.get(r.number, {}).get("status", r.status),
            changes.get(r.number, {}).get("due", r.due),
        )
        for r in stored
    ]
    assert moves.counts["to_verify"] == sum(1 for s, _d in after if s == "to_verify") > 0
    assert moves.counts["closed"] == sum(1 for s, _d in after if s == "closed") > 0
    assert moves.counts["overdue"] == sum(
        1 for s, d in after if s in ("open", "in_progress", "to_verify") and d and d < TODAY
    )
    assert moves.counts["overdue"] > 0


# --- the lifecycle ----------------------------------------------------------------------------


def record(status: str) -> LedgerRecord:
    return LedgerRecord(None, "2026-0001", "code:1", "entry:5", "QUOTA", SCHOOL, CODE,
                        "国家反诈中心", "app", "high", status)  # fmt: skip


@pytest.mark.parametrize(
    ("text", "status"),
    [("待整改", "open"), ("整改中", "in_progress"), ("in-progress", "in_progress"),
     ("待核验", "to_verify"), ("已销号", "closed"), ("不予认定", "dismissed"), ("OPEN", "open")],
)  # fmt: skip
def test_statuses_are_read_in_chinese_and_in_english(text: str, status: str) -> None:
    assert parse_status(text) == status


def test_an_unknown_status_says_what_is_accepted() -> None:
    with pytest.raises(LedgerRuleError) as caught:
        parse_status("完成")
    assert "待整改" in caught.value.message.zh and "open" in caught.value.message.en


def test_a_school_works_on_an_item_and_reports_it_done_but_cannot_close_it() -> None:
    check_move(record("open"), "in_progress", SCHOOL_MOVES)
    check_move(record("in_progress"), "to_verify", SCHOOL_MOVES)
    for start, target in [("open", "closed"), ("to_verify", "closed"), ("open", "dismissed"),
                          ("closed", "open"), ("in_progress", "open")]:  # fmt: skip
        with pytest.raises(LedgerRuleError):
            check_move(record(start), target, SCHOOL_MOVES)


def test_staff_move_open_items_between_the_working_states_only() -> None:
    check_move(record("to_verify"), "in_progress", PERSON_MOVES)
    with pytest.raises(LedgerRuleError):
        check_move(record("closed"), "open", PERSON_MOVES)


def test_closing_needs_an_item_to_verify_unless_forced() -> None:
    assert closing(record("to_verify"), force=False, actor="张三", now=NOW)["status"] == "closed"
    with pytest.raises(LedgerRuleError):
        closing(record("open"), force=False, actor="张三", now=NOW)
    assert closing(record("open"), force=True, actor="张三", now=NOW)["closed_by"] == "张三"
    with pytest.raises(LedgerRuleError):
        closing(record("dismissed"), force=True, actor="张三", now=NOW)


def test_only_an_item_still_open_can_be_dismissed() -> None:
    assert dismissing(record("in_progress")) == {"status": "dismissed"}
    with pytest.raises(LedgerRuleError):
        dismissing(record("closed"))


# --- waivers ----------------------------------------------------------------------------------


def waiver(school: str = SCHOOL, item: str = "", rule: str = "", until: date = TODAY,
           revoked: bool = False) -> WaiverRecord:  # fmt: skip
    return WaiverRecord(1, school, item, rule, "经区局研究同意", "张三", until, NOW,
                        NOW if revoked else None)  # fmt: skip


def test_a_waiver_applies_through_its_last_day_and_not_after() -> None:
    assert waiver_active(waiver(until=TODAY), TODAY)
    assert not waiver_active(waiver(until=TODAY - timedelta(days=1)), TODAY)
    assert waiver_state(waiver(until=TODAY - timedelta(days=1)), TODAY) == "expired"
    assert not waiver_active(waiver(revoked=True), TODAY)
    assert waiver_state(waiver(revoked=True), TODAY) == "revoked"


def test_a_waiver_covers_exactly_its_scope() -> None:
    school = school_of(ANTIFRAUD, UNKNOWN)
    by_row = {(i.source, i.row): i for i in school.items}

    def covered(w: WaiverRecord, names: tuple[str, ...] = (SCHOOL,), code: str = CODE) -> set:
        return {
            (f.item, f.rule)
            for f in school.findings
            if waiver_covers(w, f, by_row.get((f.source, f.row)), names, code)
        }

    everything = {(f.item, f.rule) for f in school.findings}
    assert covered(waiver()) == everything
    assert covered(waiver(school=CODE)) == everything
    assert covered(waiver(school="全区")) == everything
    assert covered(waiver(school="示例实验中学")) == set()
    assert covered(waiver(item="国家反诈中心")) == {p for p in everything if p[0] == "国家反诈中心"}
    assert covered(waiver(item="com.example.unknown")) == {
        p for p in everything if p[0] == "某某课堂"
    }
    assert covered(waiver(item="com.hicorenational.antifraud")) == {
        p for p in everything if p[0] == "国家反诈中心"
    }
    rule = next(iter(everything))[1]
    assert covered(waiver(rule=rule)) == {p for p in everything if p[1] == rule}
    assert covered(waiver(item="国家反诈中心", rule=rule)) == {
        p for p in everything if p == ("国家反诈中心", rule)
    }


def test_waived_findings_leave_the_counts_and_open_no_item() -> None:
    school = school_of(ANTIFRAUD, UNKNOWN)
    total = sum(school.counts().values())
    waived = [f for f in school.findings if f.item == "国家反诈中心"]
    marks, moves = mark_school(
        school, [waiver(item="国家反诈中心")], [], today=TODAY, due_days=30,
        describe=describe,
    )  # fmt: skip
    assert moves is not None
    assert {r.item for r in moves.opened} == {"某某课堂"}
    shown = annotate(school_of(ANTIFRAUD, UNKNOWN), marks)
    assert [f for f, _w in shown.waived] == waived
    assert sum(shown.counts().values()) == total - len(waived)
    assert len(shown.ledger_tags) == len(shown.findings)
    summary = MarkedSchools([school_of(ANTIFRAUD, UNKNOWN)], [marks]).summaries()[0]
    assert sum(summary.counts.values()) == total - len(waived)
    assert summary.waived == len(waived)


@pytest.mark.parametrize(
    "case", ["first scan", "same again", "overdue", "one closed", "one to verify", "one gone"]
)
def test_the_state_all_items_share_is_the_state_every_findings_tag_shows(case: str) -> None:
    """The ledger works out once what the school's list says once (the status and due date
    every item shares, and whether all are new): the same as reading every finding's tag."""
    school = school_of(ANTIFRAUD, UNKNOWN, ANTIFRAUD._replace(row=9))
    stored: list[LedgerRecord] | None = [] if case == "first scan" else stored_from(school)
    today = TODAY + timedelta(days=31) if case == "overdue" else TODAY
    if stored and case == "one closed":
        stored[0] = replace(stored[0], status="closed")
    if stored and case == "one to verify":
        stored[-1] = replace(stored[-1], status="to_verify")
    if stored and case == "one gone":
        stored.append(replace(stored[0], id=99, number="2026-0099", item_key="app:gone"))
    marks, _moves = mark_school(school, [], stored, today=today, due_days=30, describe=describe)
    tags = annotate(school, marks).ledger_tags
    assert tags and all(isinstance(t, LedgerTag) for t in tags)
    assert (marks.shared, marks.all_new) == ledger_state(tags)
    if case in ("first scan", "same again"):
        assert marks.shared is not None and marks.shared[0] == "open"
    assert marks.all_new is (case == "first scan")


def test_marks_sent_to_another_process_apply_as_they_did_here() -> None:
    """A page worker gets a school's marks as bytes and applies them to the school it
    rebuilds: the same tags, waivers, items proposed for closing and figures."""
    school = school_of(ANTIFRAUD, UNKNOWN)
    stored = stored_from(school)
    stored[0] = replace(stored[0], item_key="app:gone", status="open")  # no longer seen
    marks, _moves = mark_school(
        school_of(ANTIFRAUD, UNKNOWN), [waiver(item="国家反诈中心")], stored,
        today=TODAY, due_days=30, describe=describe,
    )  # fmt: skip
    assert marks.fixed and any(isinstance(m, Waived) for m in marks.marks)
    assert any(isinstance(m, LedgerTag) for m in marks.marks)
    again = unpack_marks(pack_marks(marks))
    assert again == marks
    here = annotate(school_of(ANTIFRAUD, UNKNOWN), marks)
    there = annotate(school_of(ANTIFRAUD, UNKNOWN), again)
    assert replace(here, marks=None) == replace(there, marks=None)


def test_a_waived_finding_leaves_its_item_as_it_is() -> None:
    school = school_of(ANTIFRAUD, UNKNOWN)
    stored = stored_from(school)
    _marks, moves = mark_school(
        school_of(ANTIFRAUD, UNKNOWN), [waiver(item="国家反诈中心")], stored,
        today=TODAY, due_days=30, describe=describe,
    )  # fmt: skip
    assert moves is not None
    assert moves.fixed == [] and moves.changed == []
    seen = {r.item for r in stored if r.id in moves.seen}
    assert seen == {"某某课堂"}


def test_a_scan_keys_each_finding_as_item_key_does() -> None:
    """mark_school works a row's key out once for its findings (and by its registry entry
    when a finding names one): the same keys `item_key` gives finding by finding."""
    school = school_of(
        item("某某应用"),
        item("某某应用", identifier=" COM.Example.App "),
        item("某某\0应用"),
        item("示例反诈宣传", kind="official_account", identifier="gh_7f1e2d3c4b5a"),
        item("闽教高分", identifier="com.zhl.mjqk.aphone", actions=("打卡",), quota="参与率100%"),
        item("学习通", actions=("投票", "截图")),
    )
    _marks, moves = mark_school(school, [], [], today=TODAY, due_days=30, describe=describe)
    assert moves is not None
    expected = {(key, f.rule) for key, f in keyed(school) if f.rule not in SKIPPED_RULES}
    assert {(new.item_key, new.rule) for new in moves.opened} == expected
    assert any(key.startswith("entry:") for key, _rule in expected)
    assert any(not key.startswith("entry:") for key, _rule in expected)
