"""The rectification ledger (问题台账) and waivers (豁免) as stored records.

This module stores and reads; it decides nothing. Which finding is which item, which status
may follow which, and which waiver covers which finding are the policy engine's decisions
(`policies.ledger`), handed in as plain values or as a function that turns a record into
its changes. Every change is written with its change-log row in the same transaction.
"""

from __future__ import annotations

import json
import operator
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import UTC, date, datetime
from functools import lru_cache, partial
from itertools import chain, groupby
from typing import Any, NamedTuple

from sqlalchemy import JSON, Date, Enum, Integer, String, Table, func, insert, select, update
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


class NewItem(NamedTuple):
    """An item a scan opens: what identifies it and what it says, before it has a number."""

    school_key: str
    item_key: str
    rule: str
    school: str
    school_code: str
    item: str
    kind: str
    severity: str
    due: date | None
    description: str
    basis: tuple[str, ...]
    cause: str

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.school_key, self.item_key, self.rule)


_TEXT_FIELDS = operator.itemgetter(
    *(
        NewItem._fields.index(name)
        for name in ("school_key", "item_key", "school", "school_code", "item", "description")
    )
)
"""A new item's fields that come from a school's cells, as one tuple."""


def _without_nul(item: NewItem) -> NewItem:
    """The item with NUL characters (which PostgreSQL's text cannot hold, and a school's
    cells can) shown as U+FFFD, the way the reports show them."""
    return item._replace(
        school_key=_shown_nul(item.school_key),
        item_key=_shown_nul(item.item_key),
        school=_shown_nul(item.school),
        school_code=_shown_nul(item.school_code),
        item=_shown_nul(item.item),
        description=_shown_nul(item.description),
    )


def _shown_nul(text: str) -> str:
    return text.replace("\0", "\ufffd")


_NEW_COLUMNS = (*NewItem._fields, "number", "seq")
"""The columns of a new item's row, in the order `ScanRecorder.open` gives them; the
others are the same for every item a scan opens (`ScanRecorder._same`)."""


class ScanRecorder:
    """A scan's moves, written into one open transaction (see `Ledger.recording`)."""

    def __init__(self, session: Session, actor: str, run_id: int | None, at: datetime) -> None:
        self.session = session
        self.actor = actor
        self.run_id = run_id
        self.at = at
        self.year = at.year
        self.seq = int(
            session.scalar(select(func.max(LedgerItem.seq)).where(LedgerItem.year == self.year))
            or 0
        )
        self.batch = batch_id()
        self._rows: list[tuple[Any, ...]] = []
        self._sqlite = session.connection().dialect.name == "sqlite"
        """New rows are made in the form SQLite stores them (see `insert_rows`)."""
        self._basis_text: dict[tuple[str, ...], str | None] = {}
        self._same = {
            "year": self.year, "status": "open", "found_by": "scan", "first_seen_run": run_id,
            "last_seen_run": run_id, "first_seen_at": at, "last_seen_at": at, "updated_at": at,
            "owner": "", "measure": "", "progress": "", "evidence": "", "closed_at": None,
            "closed_by": "", "reopened": 0, "opened_by": actor,
        }  # fmt: skip

    def open(self, items: Sequence[NewItem]) -> list[str]:
        """Number new items (问题编号: year and sequence) and write them; their numbers."""
        first, year = self.seq + 1, self.year
        self.seq += len(items)
        sequence = range(first, self.seq + 1)
        numbers = [f"{year}-{seq:04d}" for seq in sequence]
        if "\0" in "".join(chain.from_iterable(map(_TEXT_FIELDS, items))):
            items = [_without_nul(item) for item in items]
        if self._sqlite:
            self._rows.extend(self._stored_rows(items, numbers, sequence))
        else:  # each row: the item's fields, then its number and sequence
            self._rows.extend(map(tuple.__add__, items, zip(numbers, sequence, strict=True)))
        if len(self._rows) >= _CHUNK:
            self.flush()
        return numbers

    def _stored_rows(
        self, items: Sequence[NewItem], numbers: Sequence[str], sequence: range
    ) -> Iterator[tuple[Any, ...]]:
        """The rows of new items as SQLite stores them, each made once: a first scan opens
        an item for each of a district's findings. Their due dates are nearly always one
        date, and their citations a few lists."""
        basis_text = self._basis_text
        due_of: date | None = None
        due_text: str | None = None
        for item, number, seq in zip(items, numbers, sequence, strict=True):
            (school_key, item_key, rule, school, school_code, name, kind, severity, due,
             description, basis, cause) = item  # fmt: skip
            if due != due_of:
                due_of, due_text = due, _sqlite_date(due)
            text = basis_text.get(basis)
            if text is None:
                text = basis_text[basis] = _sqlite_json(basis)
            yield (school_key, item_key, rule, school, school_code, name, kind, severity,
                   due_text, description, text, cause, number, seq)  # fmt: skip

    def flush(self) -> None:
        if self._rows:
            insert_rows(
                self.session,
                LedgerItem,
                _NEW_COLUMNS,
                self._rows,
                self._same,
                stored_form=self._sqlite,
            )
            self._rows = []

    def stored(self, school_keys: Collection[str]) -> dict[str, list[StoredItem]]:
        """The items of these schools as `Ledger.of_schools` gives them, read inside the
        transaction."""
        return _of_schools(self.session, school_keys)

    def records(self, items: Sequence[StoredItem]) -> dict[int, LedgerRecord]:
        """The whole records of these stored items, by id, read inside the transaction."""
        return _records_by_id(self.session, [item.id for item in items])

    def see(self, ids: Sequence[int]) -> None:
        """Note that the scan saw these stored items again."""
        _mark_seen(self.session, ids, self.run_id, self.at)

    def move(
        self, changed: Sequence[tuple[LedgerRecord, dict[str, Any], str]], reason: str
    ) -> None:
        """Change stored items (status moves, severity), each with its change-log row. An item
        a person changed since the scan read it keeps the person's status: the scan's move
        of it is dropped."""
        moved = [r.id for r, c, _a in changed if r.id and "status" in c]
        current = _current(self.session, moved)
        logs: list[tuple[Any, ...]] = []
        run = {"run": self.run_id}
        for record, changes, action in changed:
            values = dict(changes)
            now = current.get(record.id or 0, {})
            if "status" in values and now.get("status") != record.status:
                values = {k: v for k, v in values.items() if k not in _MOVE_FIELDS}
                action = "seen"
            if not values:
                continue
            self.session.execute(
                update(LedgerItem)
                .where(LedgerItem.id == record.id)
                .values(**values, updated_at=self.at)
            )
            logs.append(
                _log_row(
                    self.at,
                    self.actor,
                    action,
                    record.number,
                    record,
                    _jsonable({k: now.get(k, getattr(record, k)) for k in values}),
                    _jsonable(values) | run,
                    reason,
                    self.batch,
                )
            )
        insert_rows(self.session, Change, _LOG_COLUMNS, logs)

    def baselines(self, required: Mapping[str, tuple[str, int]]) -> None:
        """The distinct items of schools the ledger sees for the first time."""
        known = set(Ledger._known_baselines(self.session, list(required)))
        fresh = [
            (key, name[:200], count, self.run_id, self.at)
            for key, (name, count) in required.items()
            if key not in known
        ]
        insert_rows(
            self.session,
            LedgerBaseline,
            ("school_key", "school", "required", "first_run", "at"),
            fresh,
        )


@dataclass
class ScanChanges:
    """What one scan does to the ledger, decided beforehand: items to open, items seen
    again (with their changed fields), items to propose for closing."""

    run_id: int | None
    at: datetime
    opened: list[NewItem] = field(default_factory=list)
    """New items, without numbers: the store gives them theirs."""
    changed: list[tuple[LedgerRecord, dict[str, Any], str]] = field(default_factory=list)
    """(item as read, its changed fields, the change's action) for items already stored."""
    seen: list[int] = field(default_factory=list)
    """Ids of the stored items the scan saw again (their last seen run and time are set)."""
    reason: str = ""
    baselines: dict[str, tuple[str, int]] = field(default_factory=dict)
    """Schools seen for the first time: school key -> (name, distinct items required)."""


_RECORD_FIELDS = tuple(f.name for f in fields(LedgerRecord))


class StoredItem(NamedTuple):
    """What a scan reads of a stored item to decide its moves. A plain tuple, for a
    district's rescan reads a million; the whole record of an item that moves is read
    apart (`ScanRecorder.records`), its names and problem text being read only then."""

    id: int
    number: str
    school_key: str
    item_key: str
    rule: str
    severity: str
    status: str
    due: date | None
    reopened: int


SCAN_FIELDS = StoredItem._fields
"""The fields of a `LedgerRecord` a scan reads of every stored item (a test checks it)."""


def _of_schools(session: Session, school_keys: Collection[str]) -> dict[str, list[StoredItem]]:
    out: dict[str, list[StoredItem]] = {}
    keys = sorted(set(school_keys))
    rows = select_rows(session, LedgerItem, SCAN_FIELDS, "school_key", keys)
    # A rescan reads every item of a district: each is made and put with its school in C,
    # a school's items coming together (the query reads them by its key).
    items = map(_stored_item, rows)
    for key, of_school in groupby(items, _school_key_of):
        found = out.get(key)
        if found is None:
            out[key] = list(of_school)
        else:
            found.extend(of_school)
    return out


_stored_item = partial(tuple.__new__, StoredItem)
_school_key_of = operator.attrgetter("school_key")


def _records_by_id(session: Session, ids: Sequence[int]) -> dict[int, LedgerRecord]:
    out: dict[int, LedgerRecord] = {}
    for start in range(0, len(ids), _IN_CHUNK):
        query = select(LedgerItem).where(LedgerItem.id.in_(ids[start : start + _IN_CHUNK]))
        for row in session.scalars(query):
            out[row.id] = _record(row)
    return out


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

    def of_schools(self, school_keys: Collection[str]) -> dict[str, list[StoredItem]]:
        """The items of these schools, by school key, with the fields a scan decides on
        (not the ones people fill in); read in chunks for a district."""
        with self.db.read() as session:
            return _of_schools(session, school_keys)

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

    @contextmanager
    def recording(self, *, run_id: int | None, at: datetime) -> Iterator[ScanRecorder]:
        """One write transaction in which a scan records its moves school by school; what
        it opens is written as it goes, so a district's new items are never all in memory.
        Everything is kept or (on an exception) nothing."""
        with self.db.write() as session:
            recorder = ScanRecorder(session, self.actor, run_id, at)
            yield recorder
            recorder.flush()

    def record_scan(self, changes: ScanChanges) -> dict[tuple[str, str, str], str]:
        """Store what a scan decided at once; the numbers of the items it opened, by key."""
        with self.recording(run_id=changes.run_id, at=changes.at) as recorder:
            numbers = recorder.open(changes.opened)
            recorder.see(changes.seen)
            recorder.move(changes.changed, changes.reason)
            recorder.baselines(changes.baselines)
        return {item.key: number for item, number in zip(changes.opened, numbers, strict=True)}

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


def _current(session: Session, ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """The status and closing of these items as stored now (a scan reads only the fields
    it decides on, so the closing a reopening undoes is read here)."""
    out: dict[int, dict[str, Any]] = {}
    for start in range(0, len(ids), _IN_CHUNK):
        query = select(
            LedgerItem.id, LedgerItem.status, LedgerItem.closed_at, LedgerItem.closed_by
        ).where(LedgerItem.id.in_(ids[start : start + _IN_CHUNK]))
        for row_id, status, closed_at, closed_by in session.execute(query):
            out[row_id] = {"status": status, "closed_at": closed_at, "closed_by": closed_by}
    return out


def insert_rows(
    session: Session,
    model: type[Any],
    names: Sequence[str],
    rows: Sequence[Sequence[Any]],
    same: Mapping[str, Any] | None = None,
    *,
    stored_form: bool = False,
) -> None:
    """Insert many rows of one table, each the values of `names` in order, and `same` (the
    values of other columns that every row shares). `stored_form`: the rows' values are
    already in the form SQLite stores them (below), on SQLite.

    SQLite, where a district's ledger usually lives, gets the values in the very form
    SQLAlchemy stores them (UTC times as text, dates as ISO text, JSON as text) straight
    through the driver's executemany, and the shared values written into the statement: a
    scan opens hundreds of thousands of items, and the per-value processing costs more than
    the insert. Other databases go through SQLAlchemy.
    """
    if not rows:
        return
    same = same or {}
    table: Table = model.__table__
    connection = session.connection()
    if connection.dialect.name != "sqlite":
        for start in range(0, len(rows), _CHUNK):
            chunk = [
                {**same, **dict(zip(names, row, strict=True))}
                for row in rows[start : start + _CHUNK]
            ]
            connection.execute(insert(table), chunk)
        return
    converting = [
        (at, convert)
        for at, name in enumerate(names)
        if (convert := _sqlite_value(table.c[name].type)) is not None
    ]
    if converting and not stored_form:
        stored = []
        for row in rows:
            values = list(row)
            for at, convert in converting:
                values[at] = convert(values[at])
            stored.append(tuple(values))
        rows = stored
    literals: dict[str, str] = {}
    for name, value in same.items():
        convert = _sqlite_value(table.c[name].type)
        value = value if convert is None else convert(value)
        literal = _sqlite_literal(value)
        if literal is None:  # said as a value of each row instead
            names = [*names, name]
            rows = [(*row, value) for row in rows]
        else:
            literals[name] = literal
    columns = ", ".join(f'"{name}"' for name in (*names, *literals))
    marks = ", ".join(["?"] * len(names) + list(literals.values()))
    sql = f'INSERT INTO "{table.name}" ({columns}) VALUES ({marks})'
    connection.exec_driver_sql(sql, rows)


def _sqlite_literal(value: Any) -> str | None:
    """`value` as an SQLite literal, when one says it exactly (None otherwise)."""
    if value is None:
        return "NULL"
    if type(value) is int:
        return str(value)
    if type(value) is str and "\0" not in value:
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate: the driver reports it as a value
            return None
        return "'" + value.replace("'", "''") + "'"
    return None


def select_rows(
    session: Session,
    model: type[Any],
    names: Sequence[str],
    column: str,
    values: Sequence[Any],
) -> Iterator[tuple[Any, ...]]:
    """The values of `names` (as tuples) of the rows of one table whose `column` is one of
    `values`, read in chunks.

    SQLite reads them straight through the driver, its dates made as SQLAlchemy makes them:
    a scan reads every item of a district's schools, and the per-row processing costs more
    than the query. Other databases, and columns of other types, go through SQLAlchemy.
    """
    table: Table = model.__table__
    connection = session.connection()
    readers = _sqlite_readers(table, names)
    if connection.dialect.name != "sqlite" or readers is None:
        columns = [table.c[name] for name in names]
        for start in range(0, len(values), _IN_CHUNK):
            query = select(*columns).where(table.c[column].in_(values[start : start + _IN_CHUNK]))
            yield from (tuple(row) for row in session.execute(query))
        return
    converting = [(at, read) for at, read in enumerate(readers) if read is not None]
    listed = ", ".join(f'"{name}"' for name in names)
    cursor = connection.connection.cursor()
    try:
        for start in range(0, len(values), _IN_CHUNK):
            chunk = tuple(values[start : start + _IN_CHUNK])
            marks = ", ".join("?" for _ in chunk)
            cursor.execute(
                f'SELECT {listed} FROM "{table.name}" WHERE "{column}" IN ({marks})', chunk
            )
            rows = cursor.fetchall()
            if not converting:
                yield from rows
                continue
            for row in rows:
                row_values = list(row)
                for at, read in converting:
                    row_values[at] = read(row_values[at])
                yield tuple(row_values)
    finally:
        cursor.close()


_IN_CHUNK = 500
"""Values in one `IN (…)` list: well under SQLite's limit of bound parameters."""


def _sqlite_readers(table: Table, names: Sequence[str]) -> list[Callable[[Any], Any] | None] | None:
    """How each column's value, as SQLAlchemy's SQLite dialect stored it, reads back (None:
    as it is); None when a column's type is one only SQLAlchemy reads back here."""
    readers: list[Callable[[Any], Any] | None] = []
    for name in names:
        kind = table.c[name].type
        if isinstance(kind, Date):
            readers.append(_sqlite_read_date)
        elif isinstance(kind, String | Integer) and not isinstance(kind, Enum):
            readers.append(None)  # text and whole numbers come back as they are (Text too)
        else:
            return None
    return readers


@lru_cache(maxsize=1024)
def _sqlite_read_date(value: str | None) -> date | None:
    return date.fromisoformat(value) if value is not None else None


def _sqlite_value(kind: Any) -> Callable[[Any], Any] | None:
    """How SQLAlchemy's SQLite dialect stores a value of this column type."""
    if isinstance(kind, UtcDateTime):
        return _sqlite_time
    if isinstance(kind, Date):
        return _sqlite_date
    if isinstance(kind, JSON):
        return _sqlite_json
    return None


def _sqlite_json(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, tuple):  # a scan's citations: a few distinct lists, many times over
        return _sqlite_json_tuple(value)
    return json.dumps(value)


@lru_cache(maxsize=256)
def _sqlite_json_tuple(value: tuple[Any, ...]) -> str:
    return json.dumps(value)


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
    update_rows(session, LedgerItem, {"last_seen_run": run_id, "last_seen_at": at}, "id", ids)


def update_rows(
    session: Session,
    model: type[Any],
    changes: Mapping[str, Any],
    column: str,
    values: Sequence[Any],
) -> None:
    """Set `changes` on the rows of one table whose `column` is one of `values`, a chunk of
    values per statement, or one statement for a range when `values` are every whole number
    from the least to the greatest (a school's items, stored together, seen again).

    SQLite gets the statement straight through the driver, the new values in the form
    SQLAlchemy stores them (see `insert_rows`): a rescan sees a district's items again, and
    building a statement per chunk costs SQLAlchemy more than SQLite takes to run it.
    """
    table: Table = model.__table__
    connection = session.connection()
    run = _whole_run(values)
    if connection.dialect.name != "sqlite":
        if run is not None:
            session.execute(update(table).where(table.c[column].between(*run)).values(**changes))
            return
        for start in range(0, len(values), _IN_CHUNK):
            session.execute(
                update(table)
                .where(table.c[column].in_(values[start : start + _IN_CHUNK]))
                .values(**changes)
            )
        return
    names = list(changes)
    stored = []
    for name in names:
        convert = _sqlite_value(table.c[name].type)
        stored.append(changes[name] if convert is None else convert(changes[name]))
    settings = ", ".join(f'"{name}" = ?' for name in names)
    cursor = connection.connection.cursor()
    try:
        if run is not None:
            cursor.execute(
                f'UPDATE "{table.name}" SET {settings} WHERE "{column}" BETWEEN ? AND ?',
                (*stored, *run),
            )
            return
        for start in range(0, len(values), _IN_CHUNK):
            chunk = tuple(values[start : start + _IN_CHUNK])
            marks = ", ".join("?" for _ in chunk)
            cursor.execute(
                f'UPDATE "{table.name}" SET {settings} WHERE "{column}" IN ({marks})',
                (*stored, *chunk),
            )
    finally:
        cursor.close()


def _whole_run(values: Sequence[Any]) -> tuple[int, int] | None:
    """(least, greatest) when `values` are whole numbers, each from the least to the
    greatest once (in any order); None otherwise, or for fewer than three."""
    if len(values) < 3 or set(map(type, values)) != {int}:
        return None
    low, high = min(values), max(values)
    if high - low + 1 != len(values) or len(set(values)) != len(values):
        return None
    return low, high


def scan_reason(run_id: int | None) -> str:
    """Why a scan changed the ledger, as its changes say: 扫描 #run."""
    return f"扫描 #{run_id}" if run_id is not None else "扫描"


_LOG_COLUMNS = (
    "at", "actor", "action", "subject", "entry_id", "ref", "label", "before", "after", "reason",
    "batch",
)  # fmt: skip


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
) -> tuple[Any, ...]:
    label = f"{record.school} {record.item}".strip()[:300]
    return (at, actor, action, LEDGER_SUBJECT, None, number, label, before, after, reason, batch)
