"""Scan history: each run's inputs, registry snapshot, counts and findings, as plain records."""

from __future__ import annotations

import base64
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import Any, cast

from sqlalchemy import func, insert, select

from registry.db import Database
from registry.models import ScanRun, ScanSchool


@dataclass(frozen=True)
class SchoolRecord:
    """One school's outcome in a run; `findings` is JSON text written by the caller."""

    school: str
    school_code: str
    counts: dict[str, int]
    findings: str
    """JSON text, or the same already packed with `pack`."""


@dataclass(frozen=True)
class RunRecord:
    """A scan run as the registry stores it: ids, strings and JSON, nothing richer."""

    started_at: datetime
    finished_at: datetime
    tool_version: str
    inputs: list[dict[str, Any]]
    options: dict[str, Any]
    registry_digest: str
    registry_snapshot: str
    counts: dict[str, Any]
    out_dir: str
    schools: Sequence[SchoolRecord] = field(default_factory=tuple)
    id: int | None = None


def record_run(database: Database, run: RunRecord) -> int:
    """Store a run and its schools' findings in one transaction; returns the run id."""
    with database.write() as session:
        row = _run_row(run, run.finished_at)
        session.add(row)
        session.flush()
        _add_schools(session, row.id, run.schools)
        return row.id


def open_run(database: Database, run: RunRecord) -> int:
    """Store a run without its schools, not yet finished; returns its id.

    A scan names its run in the reports it writes, and stores each school's findings in the
    same pass (`finish_run`); until then the run is not listed.
    """
    with database.write() as session:
        row = _run_row(run, None)
        session.add(row)
        session.flush()
        return row.id


def _run_row(run: RunRecord, finished_at: datetime | None) -> ScanRun:
    return ScanRun(
        started_at=run.started_at,
        finished_at=finished_at,
        tool_version=run.tool_version,
        inputs=run.inputs,
        options=run.options,
        registry_digest=run.registry_digest,
        registry_snapshot=pack(run.registry_snapshot),
        counts=run.counts,
        out_dir=run.out_dir,
    )


def finish_run(
    database: Database, run_id: int, schools: Sequence[SchoolRecord], finished_at: datetime
) -> None:
    """Store the schools of an opened run and mark it finished, in one transaction."""
    with database.write() as session:
        _add_schools(session, run_id, schools)
        row = session.get(ScanRun, run_id)
        if row is not None:
            row.finished_at = finished_at


def discard_run(database: Database, run_id: int) -> None:
    """Remove an opened run whose scan did not finish."""
    with database.write() as session:
        row = session.get(ScanRun, run_id)
        if row is not None:
            session.delete(row)


def _add_schools(session: Any, run_id: int, schools: Sequence[SchoolRecord]) -> None:
    if schools:
        session.execute(
            insert(ScanSchool),
            [
                {
                    "run_id": run_id,
                    "school": _fits(s.school, ScanSchool.school),
                    "school_code": _fits(s.school_code, ScanSchool.school_code),
                    "counts": s.counts,
                    "findings": pack(s.findings),
                }
                for s in schools
            ],
        )


def _fits(text: str, column: Any) -> str:
    """`text` as its column can hold it on every backend: PostgreSQL refuses NUL in text,
    and a school "name" of thousands of characters is cut to the column's length (the
    findings keep the rows as they were)."""
    text = text.replace("\x00", "\ufffd")
    length = column.type.length
    return text if length is None or len(text) <= length else text[: length - 1] + "…"


_FINISHED = ScanRun.finished_at.is_not(None)
"""Runs whose scan finished storing them; an opened run is listed once it has."""


def list_runs(database: Database, limit: int | None = None) -> list[RunRecord]:
    """Runs newest first, without their findings."""
    with database.read() as session:
        query = select(ScanRun).where(_FINISHED).order_by(ScanRun.id.desc())
        if limit:
            query = query.limit(limit)
        return [_record(row, []) for row in session.scalars(query).all()]


def get_run(database: Database, run_id: int) -> RunRecord | None:
    """A run with its schools' findings."""
    with database.read() as session:
        row = session.get(ScanRun, run_id)
        if row is None or row.finished_at is None:
            return None
        schools = [
            SchoolRecord(s.school, s.school_code, s.counts, unpack(s.findings)) for s in row.schools
        ]
        record = _record(row, schools)
        return RunRecord(**{**record.__dict__, "registry_snapshot": unpack(row.registry_snapshot)})


def count_runs(database: Database) -> int:
    with database.read() as session:
        return session.scalar(select(func.count()).select_from(ScanRun).where(_FINISHED)) or 0


def _record(row: ScanRun, schools: list[SchoolRecord]) -> RunRecord:
    return RunRecord(
        id=row.id,
        started_at=row.started_at,
        finished_at=row.finished_at or row.started_at,
        tool_version=row.tool_version,
        inputs=row.inputs,
        options=row.options,
        registry_digest=row.registry_digest,
        registry_snapshot="",
        counts=row.counts,
        out_dir=row.out_dir,
        schools=schools,
    )


# Findings of a large district run are hundreds of megabytes of repetitive JSON; they are
# stored compressed (zlib, then base64 so that the column stays text on every backend).
_PACKED = "zb64:"


def pack(text: str | bytes) -> str:
    """Findings JSON (text, or its UTF-8 bytes) as stored; a caller holding many runs' worth
    may pack them early."""
    if isinstance(text, str):
        if text.startswith(_PACKED):
            return text
        text = text.encode("utf-8")
    return _PACKED + base64.b64encode(_compress(text)).decode("ascii")


@cache
def _compressor() -> Callable[[bytes, int], bytes]:
    """ISA-L's zlib, about six times as fast as zlib's at level 1 and read back by plain
    zlib; zlib itself where ISA-L is not installed."""
    try:
        from isal import isal_zlib
    except ImportError:  # pragma: no cover - depends on the installation
        return zlib.compress
    return cast(Callable[[bytes, int], bytes], isal_zlib.compress)


def _compress(data: bytes) -> bytes:
    return _compressor()(data, 1)


def unpack(text: str) -> str:
    """Findings JSON as `pack` took it (text stored unpacked by older runs is left as is)."""
    if not text.startswith(_PACKED):
        return text
    return zlib.decompress(base64.b64decode(text[len(_PACKED) :])).decode("utf-8")
