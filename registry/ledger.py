"""The rectification ledger (问题台账) and waivers (豁免) as stored records.

This module stores and reads; it decides nothing. Which finding is which item, which status
may follow which, and which waiver covers which finding are the policy engine's decisions
(`policies.ledger`), handed in as plain values or as a function that turns a record into
its changes. Every change is written with its change-log row in the same transaction.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import JSON, Date, Table, func, insert, select, update
from sqlalchemy.orm import Session

from appaudit.errors import AppauditError, Message
from registry.changelog import ChangeRecord, batch_id, default_actor, log_change, read_changes
from registry.db import Database
from registry.models import Change, LedgerBaseline, LedgerItem, UtcDateTime, Waiver, utcnow

LEDGER_SUBJECT = "ledger"
WAIVER_SUBJECT = "waiver"

EDITABLE = ("status", "due", "owner", "measure", "progress", "evidence", "found_by")
"""The fields a person may change (`ledger update`, an imported 台账)."""

_CHUNK = 5_000


class LedgerError(AppauditError):
    """A ledger request that cannot be carried out; the message is fit for a user."""


def _message(en: str, zh: str) -> Message:
    return Message(en, zh)


@dataclass(frozen=True)
class LedgerRecord:
    """One ledger item as stored."""

    id: int | None
    number: str
    school_key: str
    item_key: str
    rule: str
    school: str
    school_code: str
    item: str
    kind: str
    severity: str
    status: str
    due: date | None = None
    reopened: int = 0
    description: str = ""
    basis: tuple[str, ...] = ()
    cause: str = ""
    found_by: str = "scan"
    first_seen_run: int | None = None
    last_seen_run: int | None = None
    first_seen_at: datetime | None = None
    last_seen_at: datetime | None = None
    owner: str = ""
    measure: str = ""
    progress: str = ""
    evidence: str = ""
    closed_at: datetime | None = None
    closed_by: str = ""
    opened_by: str = ""
    """Who ran the scan that opened the item."""
    updated_at: datetime | None = None

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.school_key, self.item_key, self.rule)

    def to_dict(self) -> dict[str, Any]:
        """Plain values (dates and times as ISO 8601), keyed by field name."""
        out = asdict(self)
        out["basis"] = list(self.basis)
        for name, value in out.items():
            if isinstance(value, date | datetime):
                out[name] = value.isoformat()
        return out


@dataclass(frozen=True)
class WaiverRecord:
    """A waiver as stored."""

    id: int
    school: str
    item: str
    rule: str
    reason: str
    actor: str
    until: date
    created_at: datetime
    revoked_at: datetime | None = None
    revoked_by: str = ""
    revoke_reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        for name, value in out.items():
            if isinstance(value, date | datetime):
                out[name] = value.isoformat()
        return out


@dataclass
class ScanChanges:
    """What one scan does to the ledger, decided beforehand: items to open, items seen
    again (with their changed fields), items to propose for closing."""

    run_id: int | None
    at: datetime
    opened: list[LedgerRecord] = field(default_factory=list)
    """New items, without numbers: the store gives them theirs."""
    changed: list[tuple[LedgerRecord, dict[str, Any], str]] = field(default_factory=list)
    """(item as read, its changed fields, the change's action) for items already stored."""
    seen: list[int] = field(default_factory=list)
    """Ids of the stored items the scan saw again (their last seen run and time are set)."""
    reason: str = ""
    baselines: dict[str, tuple[str, int]] = field(default_factory=dict)
    """Schools seen for the first time: school key -> (name, distinct items required)."""


_RECORD_FIELDS = tuple(f.name for f in fields(LedgerRecord))
_SCAN_FIELDS = _RECORD_FIELDS[: _RECORD_FIELDS.index("description") + 1]
"""The leading fields of a record, up to its problem text: what a scan reads of an item."""
_INSERTED = tuple(
    name
    for name in _RECORD_FIELDS
    if name not in ("id", "number", "basis", "first_seen_at", "last_seen_at", "updated_at")
)


def _record(row: LedgerItem) -> LedgerRecord:
    values = {name: getattr(row, name) for name in _RECORD_FIELDS}
    values["basis"] = tuple(row.basis or ())
    return LedgerRecord(**values)


def _waiver(row: Waiver) -> WaiverRecord:
    return WaiverRecord(**{f.name: getattr(row, f.name) for f in fields(WaiverRecord)})


def _jsonable(changes: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in changes.items():
        if isinstance(value, date | datetime):
            value = value.isoformat()
        elif isinstance(value, tuple):
            value = list(value)
        out[name] = value
    return out


class Ledger:
    """The ledger over an open database, acting on behalf of `actor`."""

    def __init__(self, database: Database, actor: str | None = None) -> None:
        self.db = database
        self.actor = actor or default_actor()

    # --- reading ----------------------------------------------------------------------

    def items(
        self,
        *,
        school_keys: Collection[str] | None = None,
        school_code: str | None = None,
        statuses: Collection[str] | None = None,
    ) -> list[LedgerRecord]:
        """Items in number order; of some schools (by key or code) or statuses."""
        query = select(LedgerItem).order_by(LedgerItem.year, LedgerItem.seq)
        if school_keys is not None and school_code:
            query = query.where(
                LedgerItem.school_key.in_(list(school_keys))
                | (LedgerItem.school_code == school_code)
            )
        elif school_keys is not None:
            query = query.where(LedgerItem.school_key.in_(list(school_keys)))
        if statuses is not None:
            query = query.where(LedgerItem.status.in_(list(statuses)))
        with self.db.read() as session:
            return [_record(row) for row in session.scalars(query)]

    def of_schools(self, school_keys: Collection[str]) -> dict[str, list[LedgerRecord]]:
        """The items of these schools, by school key, with the fields a scan decides on
        (not the ones people fill in); read in chunks for a district."""
        out: dict[str, list[LedgerRecord]] = {}
        keys = sorted(set(school_keys))
        columns = [LedgerItem.__table__.c[name] for name in _SCAN_FIELDS]
        with self.db.read() as session:
            for start in range(0, len(keys), 500):
                query = select(*columns).where(LedgerItem.school_key.in_(keys[start : start + 500]))
                for row in session.execute(query):
                    record = LedgerRecord(*row)
                    out.setdefault(record.school_key, []).append(record)
        return out

    def get(self, number: str) -> LedgerRecord:
        with self.db.read() as session:
            row = session.scalar(select(LedgerItem).where(LedgerItem.number == number.strip()))
            if row is None:
                raise LedgerError(self._unknown(number))
            return _record(row)

    def history(self, number: str) -> list[ChangeRecord]:
        """The changes of one item, oldest first, starting with its opening.

        A district's scan opens items by the hundred thousand; their opening is told by the
        item itself (first seen, in which run, by whom) rather than by a change-log row each.
        """
        record = self.get(number)
        with self.db.read() as session:
            changes = read_changes(session, subjects=(LEDGER_SUBJECT,), refs=(record.number,))
        opening = ChangeRecord(
            id=0,
            at=record.first_seen_at or utcnow(),
            actor=record.opened_by,
            action="open",
            subject=LEDGER_SUBJECT,
            entry_id=None,
            label=f"{record.school} {record.item}".strip(),
            before=None,
            after={"status": "open", "severity": record.severity, "run": record.first_seen_run},
            reason=scan_reason(record.first_seen_run),
            batch="",
            ref=record.number,
        )
        return [opening, *changes]

    def baselines(self, school_keys: Collection[str]) -> dict[str, int]:
        """Distinct items each school required when the ledger first saw it."""
        keys = sorted(set(school_keys))
        out: dict[str, int] = {}
        with self.db.read() as session:
            for start in range(0, len(keys), 500):
                query = select(LedgerBaseline.school_key, LedgerBaseline.required).where(
                    LedgerBaseline.school_key.in_(keys[start : start + 500])
                )
                out.update({key: required for key, required in session.execute(query)})
        return out

    def count(self) -> int:
        with self.db.read() as session:
            return int(session.scalar(select(func.count()).select_from(LedgerItem)) or 0)

    # --- changing items ---------------------------------------------------------------

    @contextmanager
    def editing(self, *, batch: str = "", commit: bool = True) -> Iterator[LedgerEdit]:
        """One write transaction over the ledger: read items as they are now, change them,
        and keep all the changes or none (`commit=False`, or an exception, keeps none)."""
        with self.db.write() as session:
            edit = LedgerEdit(session, self.actor, batch or batch_id())
            yield edit
            if not commit:
                session.rollback()

    def change(
        self,
        number: str,
        decide: Callable[[LedgerRecord], Mapping[str, Any]],
        *,
        reason: str,
        action: str = "update",
    ) -> LedgerRecord:
        """Change one item as `decide` says, given the item as it is inside the transaction
        (so that two people changing one item at once both keep their change)."""
        with self.editing() as edit:
            record = edit.get(number)
            return edit.apply(record, dict(decide(record)), action=action, reason=reason)

    def record_scan(self, changes: ScanChanges) -> dict[tuple[str, str, str], str]:
        """Store what a scan decided; the numbers of the items it opened, by key.

        A stored item a person changed since the scan read it keeps the person's status:
        the scan's move of that item is dropped, its sighting (last seen) kept.
        """
        numbers: dict[tuple[str, str, str], str] = {}
        with self.db.write() as session:
            batch = batch_id()
            year = changes.at.year
            seq = int(
                session.scalar(select(func.max(LedgerItem.seq)).where(LedgerItem.year == year)) or 0
            )
            rows: list[dict[str, Any]] = []
            logs: list[dict[str, Any]] = []
            opening = _jsonable({"run": changes.run_id})
            for record in changes.opened:
                seq += 1
                number = f"{year}-{seq:04d}"
                numbers[record.key] = number
                row = {name: getattr(record, name) for name in _INSERTED}
                row.update(
                    number=number,
                    opened_by=self.actor,
                    year=year,
                    seq=seq,
                    basis=list(record.basis),
                    first_seen_at=changes.at,
                    last_seen_at=changes.at,
                    updated_at=changes.at,
                )
                rows.append(row)
            insert_rows(session, LedgerItem.__table__, rows)
            _mark_seen(session, changes.seen, changes.run_id, changes.at)
            moved = [r.id for r, c, _a in changes.changed if r.id and "status" in c]
            current = _statuses(session, moved)
            for record, changed, action in changes.changed:
                values = dict(changed)
                if "status" in values and current.get(record.id) != record.status:
                    values = {k: v for k, v in values.items() if k not in _MOVE_FIELDS}
                    action = "seen"
                if not values:
                    continue
                session.execute(
                    update(LedgerItem)
                    .where(LedgerItem.id == record.id)
                    .values(**values, updated_at=changes.at)
                )
                logs.append(
                    _log_row(
                        changes.at,
                        self.actor,
                        action,
                        record.number,
                        record,
                        _jsonable({k: getattr(record, k) for k in values}),
                        _jsonable(values) | opening,
                        changes.reason,
                        batch,
                    )
                )
            _bulk_logs(session, logs)
            known = set(self._known_baselines(session, list(changes.baselines)))
            fresh = [
                {
                    "school_key": key,
                    "school": name[:200],
                    "required": required,
                    "first_run": changes.run_id,
                    "at": changes.at,
                }
                for key, (name, required) in changes.baselines.items()
                if key not in known
            ]
            for start in range(0, len(fresh), _CHUNK):
                session.execute(insert(LedgerBaseline), fresh[start : start + _CHUNK])
        return numbers

    # --- waivers ----------------------------------------------------------------------

    def add_waiver(
        self, *, school: str, item: str, rule: str, reason: str, until: date
    ) -> WaiverRecord:
        with self.db.write() as session:
            row = Waiver(
                school=school,
                item=item,
                rule=rule,
                reason=reason,
                actor=self.actor,
                until=until,
                created_at=utcnow(),
                revoked_by="",
                revoke_reason="",
            )
            session.add(row)
            session.flush()
            record = _waiver(row)
            after = {k: v for k, v in record.to_dict().items() if k != "id"}
            self._log_waiver(session, "waive", record, None, after, reason)
            return record

    def waivers(self) -> list[WaiverRecord]:
        """Every waiver ever recorded, revoked and expired ones included, by id."""
        with self.db.read() as session:
            return [_waiver(r) for r in session.scalars(select(Waiver).order_by(Waiver.id))]

    def revoke_waiver(self, waiver_id: int, reason: str) -> WaiverRecord:
        with self.db.write() as session:
            row = session.get(Waiver, waiver_id)
            if row is None:
                raise LedgerError(
                    _message(f"no waiver has the id {waiver_id}", f"没有编号为 {waiver_id} 的豁免")
                )
            if row.revoked_at is not None:
                raise LedgerError(
                    _message(f"waiver {waiver_id} is already revoked", f"豁免 {waiver_id} 已撤销")
                )
            row.revoked_at = utcnow()
            row.revoked_by = self.actor
            row.revoke_reason = reason
            session.flush()
            record = _waiver(row)
            after = _jsonable({"revoked_at": record.revoked_at})
            self._log_waiver(session, "revoke", record, {"revoked_at": None}, after, reason)
            return record

    def _log_waiver(
        self,
        session: Session,
        action: str,
        record: WaiverRecord,
        before: dict[str, Any] | None,
        after: dict[str, Any],
        reason: str,
    ) -> None:
        log_change(
            session,
            actor=self.actor,
            action=action,
            subject=WAIVER_SUBJECT,
            ref=str(record.id),
            label=" ".join(p for p in (record.school, record.item, record.rule) if p),
            before=before,
            after=after,
            reason=reason,
        )

    @staticmethod
    def _known_baselines(session: Session, keys: list[str]) -> list[str]:
        out: list[str] = []
        for start in range(0, len(keys), 500):
            query = select(LedgerBaseline.school_key).where(
                LedgerBaseline.school_key.in_(keys[start : start + 500])
            )
            out.extend(session.scalars(query))
        return out

    @staticmethod
    def _unknown(number: str) -> Message:
        return _message(f"the ledger has no item {number}", f"台账中没有问题编号 {number}")


_MOVE_FIELDS = frozenset({"status", "reopened", "closed_at", "closed_by", "due"})


class LedgerEdit:
    """The items of one write transaction (see `Ledger.editing`)."""

    def __init__(self, session: Session, actor: str, batch: str) -> None:
        self.session = session
        self.actor = actor
        self.batch = batch

    def get(self, number: str) -> LedgerRecord:
        row = self._row(number)
        if row is None:
            raise LedgerError(Ledger._unknown(number))
        return _record(row)

    def find(self, numbers: Collection[str]) -> dict[str, LedgerRecord]:
        """The items of these numbers that exist, locked for this transaction."""
        out: dict[str, LedgerRecord] = {}
        wanted = sorted({n.strip() for n in numbers})
        for start in range(0, len(wanted), 500):
            query = (
                select(LedgerItem)
                .where(LedgerItem.number.in_(wanted[start : start + 500]))
                .with_for_update()
            )
            for row in self.session.scalars(query):
                out[row.number] = _record(row)
        return out

    def apply(
        self, record: LedgerRecord, changes: Mapping[str, Any], *, action: str, reason: str
    ) -> LedgerRecord:
        """Write the fields of `changes` that differ from `record`, with a change-log row."""
        changed = {k: v for k, v in changes.items() if getattr(record, k) != v}
        if not changed:
            return record
        row = self._row(record.number)
        if row is None:
            raise LedgerError(Ledger._unknown(record.number))
        now = utcnow()
        for name, value in changed.items():
            setattr(row, name, value)
        row.updated_at = now
        self.session.flush()
        log_change(
            self.session,
            actor=self.actor,
            action=action,
            subject=LEDGER_SUBJECT,
            ref=record.number,
            label=f"{record.school} {record.item}".strip(),
            before=_jsonable({k: getattr(record, k) for k in changed}),
            after=_jsonable(changed),
            reason=reason,
            batch=self.batch,
            at=now,
        )
        return replace(record, **changed, updated_at=now)

    def _row(self, number: str) -> LedgerItem | None:
        return self.session.scalar(
            select(LedgerItem).where(LedgerItem.number == number.strip()).with_for_update()
        )


def _statuses(session: Session, ids: Sequence[int]) -> dict[int, str]:
    out: dict[int, str] = {}
    for start in range(0, len(ids), 500):
        query = select(LedgerItem.id, LedgerItem.status).where(
            LedgerItem.id.in_(ids[start : start + 500])
        )
        out.update({row_id: status for row_id, status in session.execute(query)})
    return out


def insert_rows(session: Session, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert many rows of one table, keyed by column name (every row the same keys).

    SQLite, where a district's ledger usually lives, gets the values in the very form
    SQLAlchemy stores them (UTC times as text, dates as ISO text, JSON as text) straight
    through the driver's executemany: a scan opens hundreds of thousands of items, and the
    per-value processing costs more than the insert. Other databases go through SQLAlchemy.
    """
    if not rows:
        return
    connection = session.connection()
    if connection.dialect.name != "sqlite":
        for start in range(0, len(rows), _CHUNK):
            connection.execute(insert(table), list(rows[start : start + _CHUNK]))
        return
    names = list(rows[0])
    convert = [_sqlite_value(table.c[name].type) for name in names]
    columns = ", ".join(f'"{name}"' for name in names)
    marks = ", ".join("?" for _ in names)
    sql = f'INSERT INTO "{table.name}" ({columns}) VALUES ({marks})'
    values = [
        tuple(c(row[n]) if c is not None else row[n] for n, c in zip(names, convert, strict=True))
        for row in rows
    ]
    connection.exec_driver_sql(sql, values)


def _sqlite_value(kind: Any) -> Callable[[Any], Any] | None:
    """How SQLAlchemy's SQLite dialect stores a value of this column type."""
    if isinstance(kind, UtcDateTime):
        return _sqlite_time
    if isinstance(kind, Date):
        return _sqlite_date
    if isinstance(kind, JSON):
        return lambda value: json.dumps(value) if value is not None else None
    return None


@lru_cache(maxsize=256)
def _sqlite_date(value: date | None) -> str | None:
    return value.isoformat() if value is not None else None


@lru_cache(maxsize=256)
def _sqlite_time(value: datetime | None) -> str | None:
    if value is None:
        return None
    utc = value.astimezone(UTC) if value.tzinfo is not None else value
    return utc.strftime("%Y-%m-%d %H:%M:%S.%f")


def _mark_seen(session: Session, ids: Sequence[int], run_id: int | None, at: datetime) -> None:
    """Note that a scan saw these items again (one statement per chunk of ids)."""
    for start in range(0, len(ids), 500):
        session.execute(
            update(LedgerItem)
            .where(LedgerItem.id.in_(ids[start : start + 500]))
            .values(last_seen_run=run_id, last_seen_at=at)
            .execution_options(synchronize_session=False)
        )


def scan_reason(run_id: int | None) -> str:
    """Why a scan changed the ledger, as its changes say: 扫描 #run."""
    return f"扫描 #{run_id}" if run_id is not None else "扫描"


def _log_row(
    at: datetime,
    actor: str,
    action: str,
    number: str,
    record: LedgerRecord,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    reason: str,
    batch: str,
) -> dict[str, Any]:
    return {
        "at": at,
        "actor": actor,
        "action": action,
        "subject": LEDGER_SUBJECT,
        "entry_id": None,
        "ref": number,
        "label": f"{record.school} {record.item}".strip()[:300],
        "before": before,
        "after": after,
        "reason": reason,
        "batch": batch,
    }


def _bulk_logs(session: Session, logs: list[dict[str, Any]]) -> None:
    insert_rows(session, Change.__table__, logs)
