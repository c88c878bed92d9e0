"""Rows grouped into schools: by 学校标识码 where given, by folded name where not."""

from __future__ import annotations

from policies.engine import UNKNOWN_SCHOOL, Engine
from policies.results import SchoolResult
from registry.records import EntryRecord
from registry.snapshot import RegistryView
from scanner.submission import InputProblem, RequiredItem

VIEW = RegistryView.build(
    [EntryRecord(id=1, name="学习通", kind="app", package="com.chaoxing.mobile", category="教学")],
    [],
)


def row(number: int, school: str, code: str = "", name: str = "学习通") -> RequiredItem:
    return RequiredItem(
        source="city.csv", row=number, school=school, school_code=code, kind="app", name=name
    )


def schools(*records: RequiredItem | InputProblem) -> list[SchoolResult]:
    results, file_problems = Engine(VIEW).evaluate(records)
    assert file_problems == []
    return results


def summary(results: list[SchoolResult]) -> list[tuple[str, str, list[str], list[int]]]:
    return [(s.school, s.school_code, s.names, [i.row for i in s.items]) for s in results]


def test_same_name_with_different_codes_is_two_schools() -> None:
    got = schools(
        row(2, "实验小学", "3505030001"),
        row(3, "实验小学", "3505040001"),
        row(4, "实验小学", "3505030001", "国家反诈中心"),
    )
    assert summary(got) == [
        ("实验小学", "3505030001", ["实验小学"], [2, 4]),
        ("实验小学", "3505040001", ["实验小学"], [3]),
    ]
    # Each school keeps its own findings (学习通 is filed nowhere: a finding on every row).
    assert {f.row for f in got[0].findings} == {2, 4}
    assert {f.row for f in got[1].findings} == {3}


def test_one_code_with_spelling_variants_is_one_school_with_every_spelling() -> None:
    got = schools(
        row(2, "丰泽区实验小学", "3505030001"),
        row(3, "泉州市丰泽区实验小学", "3505030001"),
        row(4, "丰泽区实验小学", "3505030001"),
        row(5, "丰泽实小", "３５０５０３０００１"),  # the code typed with full-width digits
    )
    assert summary(got) == [
        (
            "丰泽区实验小学",
            "3505030001",
            ["丰泽区实验小学", "泉州市丰泽区实验小学", "丰泽实小"],
            [2, 3, 4, 5],
        )
    ]


def test_rows_without_a_code_are_grouped_by_folded_name() -> None:
    got = schools(row(2, "第一中学"), row(3, "第一 中学"), row(4, "第二中学"))
    assert summary(got) == [
        ("第一中学", "", ["第一中学", "第一 中学"], [2, 3]),
        ("第二中学", "", ["第二中学"], [4]),
    ]


def test_a_row_missing_the_code_joins_the_one_coded_school_of_its_name() -> None:
    got = schools(
        row(2, "第一中学"),  # before the coded rows: the order of rows does not matter
        row(3, "第一中学", "3505030009"),
        row(4, "第一中学", "3505030009"),
    )
    assert summary(got) == [("第一中学", "3505030009", ["第一中学"], [2, 3, 4])]


def test_a_row_missing_the_code_of_a_name_two_schools_share_stays_apart() -> None:
    got = schools(
        row(2, "实验小学", "3505030001"),
        row(3, "实验小学", "3505040001"),
        row(4, "实验小学"),
    )
    assert summary(got) == [
        ("实验小学", "3505030001", ["实验小学"], [2]),
        ("实验小学", "3505040001", ["实验小学"], [3]),
        ("实验小学", "", ["实验小学"], [4]),
    ]


def test_input_problems_follow_the_code_and_rows_stay_in_order() -> None:
    problem = InputProblem(
        "city.csv", 3, "the name (名称) is empty", school="", school_code="3505030001"
    )
    got = schools(row(4, "实验小学"), problem, row(2, "实验小学", "3505030001"))
    (school,) = got
    assert (school.school, school.school_code) == ("实验小学", "3505030001")
    assert [i.row for i in school.items] == [2, 4]
    assert [p.row for p in school.problems] == [3]
    assert [f.row for f in school.findings if f.rule == "INPUT-INVALID"] == [3]


def test_rows_that_name_no_school_are_kept_under_a_placeholder() -> None:
    problem = InputProblem("city.csv", 5, "the school (学校) is empty")
    (school,) = schools(problem)
    assert school.school == UNKNOWN_SCHOOL and [p.row for p in school.problems] == [5]
