"""The compact result store gives back exactly what judging every row afresh gives."""

from __future__ import annotations

import random

import pytest
from policyfactory import VIEW, item

from policies import engine as engine_module
from policies import store as store_module
from policies.apk_rules import ApkOutcome
from policies.config import PolicyConfig
from policies.engine import UNKNOWN_SCHOOL, Engine
from policies.model import Finding, VerdictMemo
from policies.rules import Assessed
from scanner.apk import ApkFacts
from scanner.submission import InputProblem, RequiredItem

NAMES = ["闽教高分", "巧考", "学习通", "作业帮", "小猿搜题", "小猿口算", "国家反诈中心", "示例口算练习",
         "示例家校通", "某某应用", "一起小学学生"]  # fmt: skip
ACCOUNTS = [("示例区教育局", "official_account"), ("示例反诈宣传", "official_account"),
            ("示例作业打卡", "miniprogram"), ("示例优选商城", "miniprogram")]  # fmt: skip
ACTIONS = [(), ("下载安装",), ("打卡",), ("投票", "截图"), ("答题",), ("关注",)]
AUDIENCES = [(), ("学生",), ("家长",), ("家长", "学生"), ("教师",)]
SCHOOLS = [("示例实验小学", "3135000001"), ("第二小学", "3135000002"), ("第三中学", "")]


def district(rows: int, seed: int) -> list[RequiredItem | InputProblem]:
    """Rows of three schools in an interleaved order, with repeats, as a district file has."""
    rng = random.Random(seed)
    out: list[RequiredItem | InputProblem] = []
    for row in range(2, rows + 2):
        school, code = rng.choice(SCHOOLS)
        if rng.random() < 0.05:
            out.append(InputProblem("school.csv", row, "the name (名称) is empty", "名称为空",
                                    school, code, {"school": school, "kind": "APP"}))  # fmt: skip
            continue
        name, kind = (rng.choice(NAMES), "app") if rng.random() < 0.7 else rng.choice(ACCOUNTS)
        out.append(
            item(
                name,
                kind=kind,
                row=row,
                school=school,
                school_code=code,
                actions=rng.choice(ACTIONS),
                identifier=rng.choice(["", "", "com.zhl.mjqk.aphone", "https://wj.qq.com/s2/1"]),
                filing_no=rng.choice(["", "", "教APP备1100819号", "教APP备12号"]),
                audience=rng.choice(AUDIENCES),
                quota=rng.choice(["", "", "参与率100%"]),
                requested_by=rng.choice(["", "区文明办"]),
                apk="x.apk" if rng.random() < 0.1 else "",
                note="家长自愿参加" if rng.random() < 0.1 else "",
                decision_ref=rng.choice(["", "校务会议纪要"]),
            )
        )
    return out


def plain(
    engine: Engine, records: list[RequiredItem | InputProblem], apks: dict[int, ApkOutcome]
) -> dict[str, tuple[list[RequiredItem], list[Finding], list[InputProblem]]]:
    """Every row judged afresh, every assessed item given to the school rules (rows with an
    APK after the others, as they wait for their analysis)."""
    schools: dict[str, tuple[list[RequiredItem], list[Finding], list[InputProblem]]] = {}
    assessed: dict[str, list[Assessed]] = {}
    waited: dict[str, list[Assessed]] = {}
    for record in records:
        name = record.school or UNKNOWN_SCHOOL
        items, findings, problems = schools.setdefault(name, ([], [], []))
        if isinstance(record, InputProblem):
            problems.append(record)
            finding = engine.check_problem(record)
            findings.extend([finding] if finding else [])
            continue
        a, found = engine.check_item(record, apks.get(record.row) if record.apk else None)
        items.append(record)
        findings.extend(found)
        (waited if record.apk else assessed).setdefault(name, []).append(a)
    for name, (_items, findings, _problems) in schools.items():
        code = next((i.school_code for i in _items), "")
        every = assessed.get(name, []) + waited.get(name, [])
        findings.extend(engine.check_school(name, code, every))
    return schools


def _without_numbers(findings: list[Finding]) -> list[Finding]:
    return [f._replace(verdict=0) for f in findings]


@pytest.mark.parametrize(
    ("seed", "kept", "parts"),
    [(seed, 1 << 18, 1 << 16) for seed in range(6)]
    + [(seed, 7, 1 << 16) for seed in range(3)]
    + [(seed, 1 << 18, 5) for seed in range(3)]
    + [(0, 7, 5)],
    ids=lambda v: str(v),
)
def test_stored_schools_equal_rows_judged_afresh(
    seed: int, kept: int, parts: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Also when the items held for the school rules overflow (`kept`) and schools work
    theirs out again from the store, and when the store has numbered as many items' parts
    as it keeps (`parts`) and keeps further rows cell by cell."""
    monkeypatch.setattr(engine_module, "_KEPT_MAX", kept)
    monkeypatch.setattr(store_module, "_PARTS_MAX", parts)
    records = district(400, seed)
    facts = ApkFacts(sha256="0" * 64, size=10, package="com.example.other", readable=True)
    apks = {r.row: ApkOutcome("x.apk", facts=facts) for r in records if isinstance(r, RequiredItem)}
    config = PolicyConfig(max_apps=3)
    stored, _ = Engine(VIEW, config).evaluate(
        records, apks=lambda items: {(i.source, i.row): apks[i.row] for i in items}
    )
    expected = plain(Engine(VIEW, config), records, apks)
    assert [s.school for s in stored] == list(expected)
    for school in stored:
        items, findings, problems = expected[school.school]
        assert school.items == sorted(items, key=lambda i: i.row)
        assert school.problems == problems
        got = _without_numbers(school.findings)

        # Rows that waited for their APK went back in place: findings in row order, the
        # school's own findings (no row) last, and nothing gained or lost.
        def place(f: Finding) -> tuple[bool, int]:
            return (f.row is None, f.row or 0)

        assert [place(f) for f in got] == sorted(place(f) for f in got)
        assert sorted(got, key=place) == sorted(findings, key=place)
        assert school.counts() == stored.summaries()[list(expected).index(school.school)].counts
    assert any(f.rule == "TOO-MANY-APPS" for s in stored for f in s.findings)
    assert any(f.rule == "DUPLICATE-FUNCTION" for s in stored for f in s.findings)


def test_rebuilt_findings_keep_their_verdict_numbers_apart() -> None:
    """Two rebuilds of a school make new objects; the memo key must stay the same, and two
    different verdicts must never share one."""
    records = district(300, 1)
    stored, _ = Engine(VIEW).evaluate(records)
    first, again = stored[0], stored[0]
    assert first.findings == again.findings
    assert all(f.verdict for f in first.findings)
    memo: VerdictMemo[str] = VerdictMemo()
    for f in first.findings:
        known = memo.get(f)
        text = f"{f.rule}|{f.severity}|{f.item}|{f.kind}|{sorted(f.evidence.items())!r}"
        assert known in (None, text)
        memo.put(f, text)
    for f in again.findings:
        assert memo.get(f) is not None


def test_a_full_memo_starts_again() -> None:
    memo: VerdictMemo[int] = VerdictMemo(limit=2)
    findings = [
        Finding("QUOTA", "high", "s", n, "app", "app", {}, {}, verdict=n + 1) for n in range(3)
    ]
    for n, f in enumerate(findings):
        memo.put(f, n)
    assert memo.get(findings[0]) is None and memo.get(findings[2]) == 2


@pytest.mark.parametrize("parts", [1 << 16, 5])
def test_the_items_read_again_for_the_school_rules_are_the_rows(
    parts: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A school's rows read again from the store (`added_items`, for the school rules of a
    district too large to hold them) are its items as rebuilt, note and all."""
    monkeypatch.setattr(store_module, "_PARTS_MAX", parts)
    stored, _ = Engine(VIEW).evaluate(district(300, 2))
    for n, school in enumerate(stored):
        added = [i for i, _package in stored._store.added_items(stored._shelves[n])]
        assert added == school.items
        assert any(i.note for i in added)


def test_rows_are_kept_whole_whatever_their_number_and_note() -> None:
    """Most rows are packed as fixed numbers (no note, a row number that fits 32 bits);
    the others, marshalled, come back just the same, in order, and so do their findings."""
    rows = [
        item("学习通", row=2),
        item("学习通", row=3, note="家长自愿"),
        item("学习通", row=(1 << 32) + 5),
        item("学习通", row=(1 << 32) - 1),
    ]
    stored, _ = Engine(VIEW).evaluate(rows)
    (school,) = stored
    assert school.items == rows
    assert [i for i, _package in stored._store.added_items(stored._shelves[0])] == rows
    by_row = {row.row: [f for f in school.findings if f.row == row.row] for row in rows}
    first = _without_numbers(by_row[2])
    assert first and all(
        _without_numbers(by_row[r.row]) == [f._replace(row=r.row) for f in first] for r in rows
    )


def test_rows_alike_but_for_their_cells_as_written_come_back_as_written() -> None:
    """Rows the rules read alike (the same parsed identifier and kind) but whose identifier,
    kind or APK cell is written differently keep each its own cells: the engine numbers a
    requirement's rows' part once, so its key must tell these rows apart."""
    rows = [
        item("学习通", kind_text="APP", identifier="com.chaoxing.mobile", row=2),
        item("学习通", kind_text="app", identifier="com.chaoxing.mobile", row=3),
        item("学习通", kind_text="APP", identifier=" com.chaoxing.mobile ", row=4),
        item("学习通", kind_text="APP", identifier="com.chaoxing.mobile", apk="x.apk", row=5),
    ]
    assert len({(r.kind, r.identified) for r in rows}) == 1
    assert set(store_module._PART_FIELDS) <= set(engine_module.REQUIREMENT_FIELDS)
    stored, _ = Engine(VIEW).evaluate(rows)
    (school,) = stored
    assert school.items == rows
