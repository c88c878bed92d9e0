"""The report pass: every school prepared once and handed to every writer, in order, a few
schools at a time."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import resultfactory

from appaudit.pipeline import _History
from policies.results import SchoolResult
from registry import runs
from reports import write_reports
from reports.interface import SCHOOLS_AT_ONCE, Preparer, SchoolWriter, write_schools
from reports.json_format import SchoolLines

_SCHOOLS = 2 * SCHOOLS_AT_ONCE + 5
"""More than two batches, the last one short."""


class _Log:
    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []


class _Writer(SchoolWriter):
    def __init__(self, name: str, log: _Log) -> None:
        self.name = name
        self.log = log

    def add(self, school: SchoolResult) -> None:
        self.log.events.append((self.name, school.school))

    def close(self) -> list[Path]:
        self.log.events.append((self.name, "closed"))
        return [Path(self.name)]

    def abort(self) -> None:
        self.log.events.append((self.name, "aborted"))


class _Preparer(Preparer):
    def __init__(self, log: _Log, fail_at: str = "") -> None:
        self.log = log
        self.fail_at = fail_at

    def prepare(self, school: SchoolResult) -> SchoolResult:
        if school.school == self.fail_at:
            raise OSError(28, "No space left on device")
        self.log.events.append(("prepare", school.school))
        return SchoolResult(f"{school.school}（已标注）", school.school_code)

    def finish(self) -> None:
        self.log.events.append(("prepare", "finished"))


def _schools(count: int) -> list[SchoolResult]:
    return [SchoolResult(f"第{n}学校", f"31350{n:05d}") for n in range(count)]


def test_every_writer_gets_every_prepared_school_once_in_order() -> None:
    log = _Log()
    schools = _schools(_SCHOOLS)
    files = write_schools(schools, [_Writer("a", log), _Writer("b", log)], _Preparer(log))
    assert files == [[Path("a")], [Path("b")]]
    names = [s.school for s in schools]
    marked = [f"{name}（已标注）" for name in names]
    for who, expected in (("prepare", names), ("a", marked), ("b", marked)):
        assert [s for w, s in log.events if w == who and s not in ("closed", "finished")] == (
            expected
        )
    events = log.events
    # A school is prepared before any writer gets it; the preparer finishes after the last
    # school is written and before the writers close.
    for name in names:
        assert events.index(("prepare", name)) < events.index(("a", f"{name}（已标注）"))
    last = events.index(("b", marked[-1]))
    assert last < events.index(("prepare", "finished")) < events.index(("a", "closed"))


def test_a_failure_in_the_pass_aborts_every_writer() -> None:
    log = _Log()
    schools = _schools(_SCHOOLS)
    failing = _Preparer(log, fail_at=schools[SCHOOLS_AT_ONCE + 3].school)
    with pytest.raises(OSError):
        write_schools(schools, [_Writer("a", log), _Writer("b", log)], failing)
    assert ("a", "aborted") in log.events and ("b", "aborted") in log.events
    assert ("prepare", "finished") not in log.events
    assert ("a", "closed") not in log.events


class _Counted(SchoolLines):
    """School lines that remember each line they hand out, and to which school."""

    def __init__(self, lang: str) -> None:
        super().__init__(lang)
        self.handed: list[tuple[SchoolResult, bytes]] = []

    def __call__(self, school: SchoolResult) -> bytes:
        line = super().__call__(school)
        self.handed.append((school, line))
        return line


def test_findings_json_and_the_history_share_each_line_across_batches(tmp_path: Path) -> None:
    result = resultfactory.synthetic_result(schools=_SCHOOLS, findings_per_school=10)
    lines = _Counted("zh")
    history = _History(lines)
    write_reports(result, tmp_path / "r", formats=["json"], also=[history], json_lines=lines)
    document = json.loads((tmp_path / "r" / "findings.json").read_text("utf-8"))
    assert len(document["schools"]) == _SCHOOLS
    assert [json.loads(runs.unpack(s.findings)) for s in history.schools] == document["schools"]
    by_school: dict[int, list[bytes]] = {}
    for school, line in lines.handed:
        by_school.setdefault(id(school), []).append(line)
    assert len(by_school) == _SCHOOLS  # each school's line asked for twice, made once
    assert all(len(pair) == 2 and pair[0] is pair[1] for pair in by_school.values())
