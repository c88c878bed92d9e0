"""The report pass: every school prepared once and handed to every writer, in order, a few
schools at a time."""

from __future__ import annotations

from pathlib import Path

import pytest

from policies.results import SchoolResult
from reports import interface
from reports.interface import SCHOOLS_AT_ONCE, Preparer, SchoolWriter, write_schools

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


def test_schools_with_many_findings_go_to_the_writers_fewer_at_a_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A batch ends once its schools hold `FINDINGS_AT_ONCE` findings, however few schools
    it has: a district of large schools is not held in memory a hundred at a time."""
    monkeypatch.setattr(interface, "FINDINGS_AT_ONCE", 25)
    log = _Log()
    schools = _schools(7)
    for school in schools:
        school.findings.extend([None] * 10)  # type: ignore[list-item]  # counted, not read
    write_schools(schools, [_Writer("a", log), _Writer("b", log)])
    writers = [who for who, name in log.events if name != "closed"]
    assert writers == ["a"] * 3 + ["b"] * 3 + ["a"] * 3 + ["b"] * 3 + ["a", "b"]
    assert [name for who, name in log.events if who == "b" and name != "closed"] == [
        s.school for s in schools
    ]
