"""The scan history keeps each school as findings.json has it: the same line, made once for
both when both are written, and made alike when findings.json is not asked for."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from districtfactory import stored_schools
from resultfactory import scan_result, synthetic_result

from appaudit.pipeline import _History
from policies.results import SchoolResult
from registry import runs
from reports.interface import SCHOOLS_AT_ONCE
from reports.json_format import SchoolLines, compact_json, school_dict
from reports.writer import write_reports


def test_the_stored_history_of_a_school_is_its_findings_json_line() -> None:
    for seed in range(3):
        for lang in ("zh", "en"):
            history = _History(SchoolLines(lang))  # one for the scan: verdicts shared
            for school in stored_schools(seed):
                history.add(school)
                stored = history.schools[-1]
                assert (stored.school, stored.counts) == (school.school, school.counts())
                assert runs.unpack(stored.findings) == compact_json(school_dict(school, lang))


class _Counted(SchoolLines):
    """School lines that remember each line they hand out."""

    def __init__(self, lang: str) -> None:
        super().__init__(lang)
        self.handed: list[tuple[SchoolResult, bytes]] = []

    def __call__(self, school: SchoolResult) -> bytes:
        line = super().__call__(school)
        self.handed.append((school, line))
        return line


def _many_schools() -> Sequence[SchoolResult]:
    """More schools than the writers take at once (two batches and a short one)."""
    return synthetic_result(schools=2 * SCHOOLS_AT_ONCE + 5, findings_per_school=10).schools


@pytest.mark.parametrize("make", [lambda: stored_schools(1), _many_schools])
def test_the_history_and_findings_json_share_each_line(
    tmp_path: Path, make: Callable[[], Sequence[SchoolResult]]
) -> None:
    schools = make()  # rebuilt once in the pass, handed to every writer
    lines = _Counted("zh")
    history = _History(lines)
    result = scan_result(schools)  # type: ignore[arg-type]
    write_reports(result, tmp_path / "r", formats=["json"], also=[history], json_lines=lines)
    document = json.loads((tmp_path / "r" / "findings.json").read_text("utf-8"))
    assert len(document["schools"]) == len(schools)
    assert [json.loads(runs.unpack(s.findings)) for s in history.schools] == document["schools"]
    # Asked for by both writers, made once: the same object for each school.
    assert len(lines.handed) == 2 * len(schools)
    by_school: dict[int, list[bytes]] = {}
    for school, line in lines.handed:
        by_school.setdefault(id(school), []).append(line)
    assert len(by_school) == len(schools)
    assert all(first is second for first, second in by_school.values())


def test_without_findings_json_the_history_makes_the_same_lines(tmp_path: Path) -> None:
    schools = stored_schools(2)
    history = _History(SchoolLines("en"))
    write_reports(scan_result(schools), tmp_path / "r", formats=["csv"], lang="en",  # type: ignore[arg-type]
                  also=[history], json_lines=history.lines)  # fmt: skip
    assert [runs.unpack(s.findings) for s in history.schools] == [
        compact_json(school_dict(school, "en")) for school in schools
    ]
