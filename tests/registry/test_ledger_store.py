"""The ledger's store: what goes in comes back, on SQLite's fast path and SQLAlchemy's."""

from __future__ import annotations

from dataclasses import fields, replace
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import insert, select, update

from registry.db import open_database
from registry.ledger import (
    SCAN_FIELDS,
    Ledger,
    LedgerRecord,
    NewItem,
    ScanChanges,
    _whole_run,
    insert_rows,
    select_rows,
    update_rows,
)
from registry.models import LedgerItem

AT = datetime(2026, 11, 30, 2, 3, 4, 567890, tzinfo=UTC)


def opened(n: int) -> LedgerRecord:
    """An item as the ledger reads it back after a first scan opened it."""
    return LedgerRecord(
        id=None, number="", school_key="code:3135000001", item_key=f"app:org.example.{n}",
        rule="NON-EDU-APP", school="示例实验小学", school_code="3135000001", item=f"应用{n}",
        kind="app", severity="high", status="open", due=date(2026, 12, 30),
        description=f"“应用{n}”不是教育类APP", basis=("附件2（三）3", "整治重点（三）"),
        cause="general_tool" if n % 2 else "", first_seen_run=1, last_seen_run=1,
    )  # fmt: skip


def new(n: int, rule: str = "NON-EDU-APP") -> NewItem:
    """The item `opened(n)` as a scan opens it."""
    r = opened(n)
    return NewItem(r.school_key, r.item_key, rule, r.school, r.school_code, r.item, r.kind,
                   r.severity, r.due, r.description, r.basis, r.cause)  # fmt: skip


def test_a_scan_stores_items_and_numbers_them(db_url: str) -> None:
    ledger = Ledger(open_database(db_url), "bench")
    numbers = ledger.record_scan(ScanChanges(1, AT, opened=[new(n) for n in range(3)]))
    assert sorted(numbers.values()) == ["2026-0001", "2026-0002", "2026-0003"]
    stored = ledger.items()
    assert [r.number for r in stored] == ["2026-0001", "2026-0002", "2026-0003"]
    for n, record in enumerate(stored):
        assert replace(record, id=None, number="", opened_by="", first_seen_at=None,
                       last_seen_at=None, updated_at=None) == opened(n)  # fmt: skip
        assert record.first_seen_at == AT and record.opened_by == "bench"
    # A second scan numbers on.
    more = ledger.record_scan(ScanChanges(2, AT, opened=[new(9, "QUOTA")]))
    assert list(more.values()) == ["2026-0004"]


def test_items_opened_with_other_dates_and_citations_read_back_as_opened(db_url: str) -> None:
    """A scan's new rows are made in the stored form where the database is SQLite: items
    with due dates and citations that differ from row to row (or none) keep their own."""
    items = [
        new(0),
        new(1)._replace(due=date(2027, 1, 15), basis=("整治重点（三）",)),
        new(2)._replace(due=None, basis=()),
        new(3),
        new(4)._replace(basis=("附件2（三）3", "整治重点（三）")),  # equal, not the same tuple
    ]
    ledger = Ledger(open_database(db_url), "bench")
    ledger.record_scan(ScanChanges(1, AT, opened=items))
    stored = {r.item_key: r for r in ledger.items()}
    for item in items:
        record = stored[item.item_key]
        assert (record.due, record.basis) == (item.due, item.basis)
        assert record.description == item.description


@pytest.mark.parametrize("actor", ["x", "O'Brien'); DROP TABLE ledger_items; --", "a\0b"])
def test_sqlites_fast_path_stores_what_sqlalchemy_stores(tmp_path: Path, actor: str) -> None:
    """The driver's insert stores what SQLAlchemy's stores, the values every row shares
    (written into the statement, or bound when no literal says them) included."""
    database = open_database(f"sqlite:///{tmp_path / 'r.db'}")
    local = AT.astimezone(timezone(timedelta(hours=8)))
    rows = []
    for n, at in enumerate([AT, local]):
        record = opened(n)
        rows.append(
            {name: getattr(record, name) for name in ("school_key", "item_key", "rule", "school",
                                                      "school_code", "item", "kind", "severity",
                                                      "status", "due", "description", "cause")}
            | {"number": f"2026-{n + 1:04d}", "year": 2026, "seq": n + 1,
               "basis": list(record.basis), "found_by": "scan", "first_seen_run": 1,
               "first_seen_at": at}
        )  # fmt: skip
    same = {"last_seen_run": 1, "last_seen_at": local, "updated_at": AT, "owner": "",
            "measure": "", "progress": "", "evidence": "", "closed_at": None, "closed_by": "",
            "reopened": 0, "opened_by": actor}  # fmt: skip
    names = list(rows[0])
    with database.write() as session:
        insert_rows(session, LedgerItem, names, [tuple(r.values()) for r in rows], same)
    fast = Ledger(database).items()
    with database.write() as session:
        session.execute(LedgerItem.__table__.delete())
        session.connection().execute(insert(LedgerItem.__table__), [r | same for r in rows])
    plain = Ledger(database).items()
    assert [replace(r, id=None) for r in fast] == [replace(r, id=None) for r in plain]
    assert fast[1].first_seen_at == AT  # a time in another zone is stored as the same instant
    assert fast[0].last_seen_at == AT and fast[1].opened_by == actor


def test_sqlites_fast_read_reads_what_sqlalchemy_reads(tmp_path: Path) -> None:
    """A scan reads its schools' items through the driver: the same records, due dates and
    all, as SQLAlchemy reads them."""
    database = open_database(f"sqlite:///{tmp_path / 'r.db'}")
    ledger = Ledger(database)
    ledger.record_scan(ScanChanges(1, AT, opened=[new(n) for n in range(3)]))
    school = "code:3135000001"
    with database.read() as session:
        fast = list(select_rows(session, LedgerItem, SCAN_FIELDS, "school_key", [school]))
    columns = [LedgerItem.__table__.c[name] for name in SCAN_FIELDS]
    with database.read() as session:
        plain = [tuple(row) for row in session.execute(select(*columns))]
    assert fast == plain and len(fast) == 3
    assert isinstance(fast[0][SCAN_FIELDS.index("due")], date)
    assert set(SCAN_FIELDS) < {f.name for f in fields(LedgerRecord)}
    by_school = ledger.of_schools([school, "code:other"])
    assert list(by_school) == [school]
    full = {r.number: r for r in ledger.items()}
    for stored in by_school[school]:  # the fields a scan reads, as the record has them
        assert stored == tuple(getattr(full[stored.number], name) for name in SCAN_FIELDS)


def test_a_scan_reads_the_whole_records_of_the_items_that_move(db_url: str) -> None:
    """What a scan reads of each stored item is short; the items that move are read whole
    (names, problem text, citations), as the ledger's own reading gives them."""
    database = open_database(db_url)
    ledger = Ledger(database)
    ledger.record_scan(ScanChanges(1, AT, opened=[new(n) for n in range(3)]))
    stored = ledger.of_schools(["code:3135000001"])["code:3135000001"]
    with ledger.recording(run_id=2, at=AT) as recorder:
        records = recorder.records(stored[1:])
    full = {r.id: r for r in ledger.items()}
    assert records == {item.id: full[item.id] for item in stored[1:]}
    assert records[stored[1].id].description == "“应用1”不是教育类APP"


def test_sqlites_fast_update_stores_what_sqlalchemy_stores(tmp_path: Path) -> None:
    """A rescan marks its items seen through the driver: the same rows as SQLAlchemy's
    update, the time stored as the same instant."""
    local = datetime(2026, 12, 7, 9, 30, tzinfo=timezone(timedelta(hours=8)))
    records = {}
    for fast in (True, False):
        database = open_database(f"sqlite:///{tmp_path / f'{fast}.db'}")
        ledger = Ledger(database)
        ledger.record_scan(ScanChanges(1, AT, opened=[new(n) for n in range(4)]))
        ids = [r.id for r in ledger.items()][1:3]
        changes = {"last_seen_run": 2, "last_seen_at": local}
        with database.write() as session:
            if fast:
                update_rows(session, LedgerItem, changes, "id", ids)
            else:
                table = LedgerItem.__table__
                session.execute(update(table).where(table.c.id.in_(ids)).values(**changes))
        records[fast] = ledger.items()
    assert records[True] == records[False]
    assert [r.last_seen_run for r in records[True]] == [1, 2, 2, 1]
    assert records[True][1].last_seen_at == local


def test_updating_a_run_of_ids_changes_those_rows_only(db_url: str) -> None:
    """Ids that are every number from the least to the greatest (a school's items, stored
    together) are updated by their range; ids with a gap or a repeat by their list. Either
    way exactly the rows named change."""
    assert _whole_run([5, 3, 4]) == (3, 5)
    assert _whole_run([3, 4, 6]) is None
    assert _whole_run([3, 4, 4, 5]) is None
    assert _whole_run([3, 4]) is None
    assert _whole_run(["3", "4", "5"]) is None
    database = open_database(db_url)
    ledger = Ledger(database)
    ledger.record_scan(ScanChanges(1, AT, opened=[new(n) for n in range(8)]))
    ids = [r.id for r in ledger.items()]
    for run_id, chosen in ((2, [ids[4], ids[2], ids[3]]), (3, [ids[1], ids[5], ids[6]])):
        with database.write() as session:
            update_rows(session, LedgerItem, {"last_seen_run": run_id}, "id", chosen)
        seen = {r.id: r.last_seen_run for r in ledger.items()}
        assert {i for i, run in seen.items() if run == run_id} == set(chosen)
    assert [r.last_seen_run for r in ledger.items()] == [1, 3, 2, 2, 2, 3, 3, 1]
