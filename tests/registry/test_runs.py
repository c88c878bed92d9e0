"""A scan's run is opened before its reports, filled in the same pass, listed once finished."""

from __future__ import annotations

from datetime import UTC, datetime

from registry import runs
from registry.db import open_database


def _record() -> runs.RunRecord:
    now = datetime.now(UTC)
    return runs.RunRecord(
        started_at=now,
        finished_at=now,
        tool_version="test",
        inputs=[],
        options={},
        registry_digest="d",
        registry_snapshot="{}",
        counts={"high": 1},
        out_dir="report",
    )


def test_an_opened_run_is_listed_once_finished(db_url: str) -> None:
    database = open_database(db_url)
    run_id = runs.open_run(database, _record())
    assert runs.list_runs(database) == [] and runs.count_runs(database) == 0
    assert runs.get_run(database, run_id) is None
    school = runs.SchoolRecord("一中", "3135000001", {"high": 1}, '{"findings": []}')
    runs.finish_run(database, run_id, [school], datetime.now(UTC))
    [listed] = runs.list_runs(database)
    assert listed.id == run_id and runs.count_runs(database) == 1
    stored = runs.get_run(database, run_id)
    assert stored is not None and [s.school for s in stored.schools] == ["一中"]
    assert stored.schools[0].findings == '{"findings": []}'


def test_a_run_whose_scan_failed_is_discarded(db_url: str) -> None:
    database = open_database(db_url)
    run_id = runs.open_run(database, _record())
    runs.discard_run(database, run_id)
    assert runs.get_run(database, run_id) is None and runs.list_runs(database) == []
    later = runs.open_run(database, _record())
    runs.finish_run(database, later, [], datetime.now(UTC))
    assert [r.id for r in runs.list_runs(database)] == [later]
