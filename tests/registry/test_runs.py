"""A scan's run is opened before its reports, filled in the same pass, listed once finished."""

from __future__ import annotations

import base64
import zlib
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


def test_packed_findings_read_back_with_plain_zlib() -> None:
    """However they were compressed (ISA-L where installed), packed findings are zlib data."""
    text = '{"findings": [{"item": "示例作业本", "row": 3}], "input_problems": []}' * 40
    for given in (text, text.encode("utf-8")):
        packed = runs.pack(given)
        assert packed.startswith("zb64:") and len(packed) < len(text)
        raw = zlib.decompress(base64.b64decode(packed.removeprefix("zb64:")))
        assert raw.decode("utf-8") == text == runs.unpack(packed)
    assert runs.pack(runs.pack(text)) == runs.pack(text)
    assert runs.unpack(text) == text
