"""The registry's library API: entries, adoptions, imports, exports and the change log.

Every change goes through here and is recorded (who, when, before, after, why) in the same
transaction as the change itself, so the log never disagrees with the data.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from appaudit.errors import AppauditError, Message
from registry import values
from registry.changelog import (
    REGISTRY_SUBJECTS,
    ChangeRecord,
    batch_id,
    default_actor,
    log_change,
    read_changes,
)
from registry.db import Database, describe, first_line
from registry.entry_rows import read_entries
from registry.importing import ImportReport
from registry.index import EntryIndex
from registry.models import Adoption, Entry, School, Signer, utcnow
from registry.records import (
    ENTRY_FIELDS,
    AdoptionRecord,
    AdoptionRow,
    EntryRecord,
    EntryRow,
    field_name,
    parse_adoption,
    parse_entry,
    read_entry,
)
from registry.snapshot import RegistryView, school_key
from registry.values import InvalidValue

DISTRICT_SCHOOL = "全区"
"""The school row that carries bureau-level (district-wide) adoptions."""


class RegistryError(AppauditError):
    """A request the registry cannot carry out; the message is fit for a user."""


@dataclass(frozen=True)
class AdoptionView:
    """An adoption with the entry it adopts, for listing and export."""

    adoption: AdoptionRecord
    entry: EntryRecord

    def cells(self, lang: str = "en") -> dict[str, str]:
        entry, adoption = self.entry, self.adoption
        identifiers = entry.identifiers
        return {
            "school": adoption.school,
            "school_code": adoption.school_code,
            "app": entry.name,
            "kind": values.label(entry.kind, "zh") if lang == "zh" else entry.kind,
            "filing_no": entry.filing_no,
            "identifier": next(iter(identifiers.values()), ""),
            "decision_ref": adoption.decision_ref,
            "decided_on": adoption.decided_on.isoformat() if adoption.decided_on else "",
            "audience": "、".join(adoption.audience),
            "note": adoption.note,
        }


@dataclass
class _Plan:
    """Changes decided during validation, applied only if the whole file is acceptable."""

    adds: list[tuple[int, EntryRecord]] = field(default_factory=list)
    updates: list[tuple[int, EntryRecord, EntryRecord, list[str]]] = field(default_factory=list)


class Registry:
    """The registry over an open database, acting on behalf of `actor`."""

    def __init__(self, database: Database, actor: str | None = None) -> None:
        self.db = database
        self.actor = actor or default_actor()

    # --- reading ----------------------------------------------------------------------

    def entries(self) -> list[EntryRecord]:
        with self.db.read() as session:
            return self._load_entries(session)

    def get(self, ref: str) -> EntryRecord:
        """The one entry a reference means (id, filing number, identifier or name)."""
        with self.db.read() as session:
            return _resolve(EntryIndex(self._load_entries(session)), ref)

    def adoptions(self, ref: str | None = None, school: str | None = None) -> list[AdoptionView]:
        with self.db.read() as session:
            index = EntryIndex(self._load_entries(session))
            entry_id = _resolve(index, ref).id if ref else None
            rows = session.scalars(
                select(Adoption).options(selectinload(Adoption.school)).order_by(Adoption.id)
            ).all()
            out = []
            for row in rows:
                if entry_id is not None and row.entry_id != entry_id:
                    continue
                if school and not _school_matches(row.school, school):
                    continue
                out.append(AdoptionView(_adoption_record(row), index.by_id[row.entry_id]))
            return out

    def history(self, ref: str | None = None, limit: int | None = None) -> list[ChangeRecord]:
        """The change log, oldest first; only the changes of one entry when `ref` is given."""
        with self.db.read() as session:
            entry_id = None
            if ref:
                entry_id = _resolve(EntryIndex(self._load_entries(session)), ref).id
            records = read_changes(session, subjects=REGISTRY_SUBJECTS, entry_id=entry_id)
        return records[-limit:] if limit else records

    def snapshot(self) -> RegistryView:
        """Everything the rules need, read in one transaction."""
        with self.db.read() as session:
            entries = self._load_entries(session)
            rows = session.scalars(select(Adoption).options(selectinload(Adoption.school))).all()
            adoptions = [_adoption_record(a) for a in rows]
        return RegistryView.build(entries, adoptions, source=describe(self.db.url, brief=True))

    # --- changing entries -------------------------------------------------------------

    def add(self, cells: Mapping[str, str], reason: str = "") -> EntryRecord:
        record = _parse(parse_entry, cells)
        with self._write() as session:
            index = EntryIndex(self._load_entries(session))
            existing, how = _match_or_raise(index, record)
            if existing is not None:
                raise RegistryError(
                    values.message(
                        "entry_exists", id=existing.id, name=existing.name, how=field_name(how)
                    )
                )
            _check_unique(index, record, None)
            added = self._insert(session, record)
            self._log_change(session, "add", "entry", added, None, added.to_dict(), reason)
        return added

    def edit(self, ref: str, changes: Mapping[str, str], reason: str = "") -> EntryRecord:
        """Change fields of an entry; an empty value clears a field."""
        unknown = set(changes) - set(ENTRY_FIELDS)
        if unknown:
            raise RegistryError(values.message("unknown_fields", fields=", ".join(sorted(unknown))))
        changes = _route_status(changes)
        with self._write() as session:
            index = EntryIndex(self._load_entries(session))
            before = _resolve(index, ref)
            cells = before.cells()
            cells.update(changes)
            if "filing_no" in changes and not changes["filing_no"] and "status" not in changes:
                cells["status"] = ""
            after = _parse(parse_entry, cells).with_changes(id=before.id)
            return self._update(session, index, before, after, "edit", reason)

    def revoke(self, ref: str, reason: str = "", status: str = "revoked") -> EntryRecord:
        """Mark an entry's filing revoked (撤销) or cancelled (注销)."""
        new_status = values.parse_status(status)
        if new_status not in ("revoked", "cancelled"):
            raise RegistryError(values.message("revoke_status", status=status))
        with self._write() as session:
            index = EntryIndex(self._load_entries(session))
            before = _resolve(index, ref)
            if not before.filing_no:
                raise RegistryError(
                    values.message("no_filing_to_revoke", id=before.id, name=before.name)
                )
            if before.status == new_status:
                raise RegistryError(
                    values.message(
                        "already_in_status",
                        id=before.id,
                        name=before.name,
                        status=values.word(new_status),
                    )
                )
            after = before.with_changes(status=new_status)
            return self._update(session, index, before, after, "revoke", reason)

    def restore(self, ref: str, reason: str = "") -> EntryRecord:
        """Make a revoked or cancelled filing active again."""
        with self._write() as session:
            index = EntryIndex(self._load_entries(session))
            before = _resolve(index, ref)
            if before.status not in ("revoked", "cancelled"):
                raise RegistryError(
                    values.message(
                        "not_revoked",
                        id=before.id,
                        name=before.name,
                        status=values.word(before.status),
                    )
                )
            if not before.filing_no:
                raise RegistryError(
                    values.message("no_filing_to_restore", id=before.id, name=before.name)
                )
            after = before.with_changes(status="active")
            return self._update(session, index, before, after, "restore", reason)

    def add_signer(self, ref: str, sha256: str, subject: str = "", reason: str = "") -> EntryRecord:
        """Record a signing certificate that the entry's genuine APKs carry."""
        digest = _parse(values.normalise_sha256, sha256)
        with self._write() as session:
            index = EntryIndex(self._load_entries(session))
            before = _resolve(index, ref)
            if digest in before.signer_sha256:
                return before
            after = before.with_changes(signer_sha256=(*before.signer_sha256, digest))
            updated = self._update(session, index, before, after, "add-signer", reason)
            if subject:
                session.execute(
                    update(Signer)
                    .where(Signer.entry_id == updated.id, Signer.sha256 == digest)
                    .values(subject=subject[:500])
                )
            return updated

    # --- adoptions --------------------------------------------------------------------

    def adopt(
        self,
        school: str,
        ref: str,
        *,
        decision_ref: str = "",
        decided_on: str = "",
        audience: str = "",
        school_code: str = "",
        note: str = "",
        reason: str = "",
    ) -> AdoptionView:
        """Record a school's (or the district's) adoption of an entry."""
        row = _parse(
            parse_adoption,
            {
                "school": school,
                "school_code": school_code,
                "app": ref,
                "decision_ref": decision_ref,
                "decided_on": decided_on,
                "audience": audience,
                "note": note,
            },
        )
        with self._write() as session:
            index = EntryIndex(self._load_entries(session))
            entry = _resolve(index, ref)
            schools = _Schools(session)
            view, _ = self._upsert_adoption(session, schools, row, entry, reason, batch="")
            return view

    def unadopt(self, school: str, ref: str, reason: str = "") -> None:
        with self._write() as session:
            index = EntryIndex(self._load_entries(session))
            entry = _resolve(index, ref)
            found = _Schools(session).find(school, "")
            adoption = None
            if found is not None:
                adoption = session.scalar(
                    select(Adoption).where(
                        Adoption.school_id == found.id, Adoption.entry_id == entry.id
                    )
                )
            if adoption is None:
                raise RegistryError(
                    values.message("no_adoption", school=school, id=entry.id, name=entry.name)
                )
            before = _adoption_dict(_adoption_record(adoption), entry)
            session.delete(adoption)
            self._log_change(session, "unadopt", "adoption", entry, before, None, reason)

    # --- import and export ------------------------------------------------------------

    def import_entries(
        self,
        rows: Iterable[tuple[int, Mapping[str, str]]],
        columns: Iterable[str],
        *,
        source: str = "",
        dry_run: bool = False,
        skip_invalid: bool = False,
        reason: str = "",
    ) -> ImportReport:
        """Upsert entries by identifier, filing number or name; all or nothing by default.

        Only the fields the file has columns for are changed on existing entries.
        """
        report = ImportReport("entries", source, dry_run=dry_run, batch=batch_id())
        present = set(columns) & set(ENTRY_FIELDS)
        with self._write() as session:
            index = EntryIndex(self._load_entries(session))
            plan = _plan_entries(rows, index, present, report)
            if report.rejected and not skip_invalid:
                session.rollback()
                return report
            for number, record in plan.adds:
                report.added.append((number, record.name))
            for number, _before, after, changed in plan.updates:
                report.updated.append((number, after.name, changed))
            if dry_run:
                session.rollback()
                return report
            for _number, record in plan.adds:
                added = self._insert(session, record)
                self._log_change(
                    session, "add", "entry", added, None, added.to_dict(), reason, report.batch
                )
            for _number, before, after, _changed in plan.updates:
                self._update(session, None, before, after, "import", reason, report.batch)
            report.applied = True
        return report

    def import_adoptions(
        self,
        rows: Iterable[tuple[int, Mapping[str, str]]],
        *,
        source: str = "",
        dry_run: bool = False,
        skip_invalid: bool = False,
        reason: str = "",
    ) -> ImportReport:
        """Upsert adoptions by (school, entry); all or nothing by default."""
        report = ImportReport("adoptions", source, dry_run=dry_run, batch=batch_id())
        with self._write() as session:
            index = EntryIndex(self._load_entries(session))
            schools = _Schools(session)
            seen: dict[tuple[str, int], int] = {}
            accepted: list[tuple[int, AdoptionRow, EntryRecord]] = []
            for number, cells in rows:
                try:
                    row = parse_adoption(cells)
                    entry = resolve_adoption_entry(index, row)
                except InvalidValue as error:
                    report.rejected.append((number, error.message))
                    continue
                key = ("*" if row.is_district else school_key(row.school), entry.id or 0)
                if key in seen:
                    label = f"{row.school} {entry.name}"
                    report.rejected.append(
                        (number, values.message("repeats_row", row=seen[key], label=label))
                    )
                    continue
                seen[key] = number
                accepted.append((number, row, entry))
            if report.rejected and not skip_invalid:
                session.rollback()
                return report
            for number, row, entry in accepted:
                label = f"{row.school} {entry.name}"
                _view, outcome = self._upsert_adoption(
                    session, schools, row, entry, reason, report.batch
                )
                if outcome == "added":
                    report.added.append((number, label))
                elif outcome == "updated":
                    report.updated.append((number, label, []))
                else:
                    report.unchanged.append((number, label))
            if dry_run:
                session.rollback()
                return report
            report.applied = True
        return report

    # --- internals --------------------------------------------------------------------

    @staticmethod
    def _load_entries(session: Session) -> list[EntryRecord]:
        session.flush()  # what the session holds unwritten is read as well
        return read_entries(session.connection())

    @contextmanager
    def _write(self) -> Iterator[Session]:
        """A write transaction; a constraint the checks above missed becomes a RegistryError."""
        try:
            with self.db.write() as session:
                yield session
        except IntegrityError as error:
            raise RegistryError(values.message("conflict", reason=first_line(error))) from error

    def _insert(self, session: Session, record: EntryRecord) -> EntryRecord:
        row = Entry()
        _apply(row, record)
        session.add(row)
        session.flush()
        return record.with_changes(id=row.id)

    def _update(
        self,
        session: Session,
        index: EntryIndex | None,
        before: EntryRecord,
        after: EntryRecord,
        action: str,
        reason: str,
        batch: str = "",
    ) -> EntryRecord:
        if index is not None:
            _check_unique(index, after, before.id)
        old, new = before.to_dict(), after.to_dict()
        changed = [name for name in ENTRY_FIELDS if old[name] != new[name]]
        if not changed:
            return before
        row = session.get(Entry, before.id)
        if row is None:
            raise RegistryError(values.message("entry_gone", id=before.id))
        _apply(row, after)
        row.updated_at = utcnow()
        session.flush()
        self._log_change(
            session,
            action,
            "entry",
            after,
            {k: old[k] for k in changed},
            {k: new[k] for k in changed},
            reason,
            batch,
        )
        return after

    def _upsert_adoption(
        self,
        session: Session,
        schools: _Schools,
        row: AdoptionRow,
        entry: EntryRecord,
        reason: str,
        batch: str,
    ) -> tuple[AdoptionView, str]:
        school = schools.get_or_create(row.school, row.school_code, row.is_district)
        existing = session.scalar(
            select(Adoption).where(Adoption.school_id == school.id, Adoption.entry_id == entry.id)
        )
        target = {
            "decision_ref": row.decision_ref,
            "decided_on": row.decided_on,
            "audience": "、".join(row.audience),
            "note": row.note,
        }
        if existing is None:
            adoption = Adoption(school_id=school.id, entry_id=entry.id, **target)
            session.add(adoption)
            session.flush()
            adoption.school = school
            record = _adoption_record(adoption)
            self._log_change(
                session,
                "adopt",
                "adoption",
                entry,
                None,
                _adoption_dict(record, entry),
                reason,
                batch,
            )
            return AdoptionView(record, entry), "added"
        before = _adoption_dict(_adoption_record(existing), entry)
        for name, value in target.items():
            setattr(existing, name, value)
        session.flush()
        record = _adoption_record(existing)
        after = _adoption_dict(record, entry)
        if after == before:
            return AdoptionView(record, entry), "unchanged"
        changed = [k for k in after if after[k] != before[k]]
        self._log_change(
            session,
            "update-adoption",
            "adoption",
            entry,
            {k: before[k] for k in changed} | {"school": before["school"]},
            {k: after[k] for k in changed} | {"school": after["school"]},
            reason,
            batch,
        )
        return AdoptionView(record, entry), "updated"

    def _log_change(
        self,
        session: Session,
        action: str,
        subject: str,
        entry: EntryRecord,
        before: dict[str, Any] | None,
        after: dict[str, Any] | None,
        reason: str,
        batch: str = "",
    ) -> None:
        log_change(
            session,
            actor=self.actor,
            action=action,
            subject=subject,
            entry_id=entry.id,
            label=entry.name,
            before=before,
            after=after,
            reason=reason,
            batch=batch,
        )


class _Schools:
    """Schools of one transaction, found by code or name and created on first mention."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.rows = list(session.scalars(select(School)).all())

    def find(self, name: str, code: str) -> School | None:
        if values.is_district(name):
            return next((s for s in self.rows if s.is_district), None)
        if code:
            found = next((s for s in self.rows if s.code == code), None)
            if found is not None:
                return found
        key = school_key(name)
        return next((s for s in self.rows if school_key(s.name) == key), None)

    def get_or_create(self, name: str, code: str, is_district: bool) -> School:
        found = self.find(name, code)
        if found is not None:
            if code and not found.code and not found.is_district:
                found.code = code
            return found
        school = (
            School(name=DISTRICT_SCHOOL, is_district=True)
            if is_district
            else School(name=name, code=code or None, is_district=False)
        )
        self.session.add(school)
        self.session.flush()
        self.rows.append(school)
        return school


def resolve_adoption_entry(index: EntryIndex, row: AdoptionRow) -> EntryRecord:
    """The registry entry an adoption row names: identifier, then filing number, then name."""
    candidates: list[EntryRecord] = []
    if row.identifier:
        candidates = index.find(row.identifier, row.kind)
    if not candidates and row.filing_no:
        candidates = [
            e for e in index.by_filing(row.filing_no) if not row.kind or e.kind == row.kind
        ]
        if len(candidates) > 1 and row.app:
            named = [e for e in candidates if values.same_name(e.name, row.app)]
            candidates = named or candidates
    if not candidates and row.app:
        candidates = index.find(row.app, row.kind)
    wanted = row.app or row.identifier or row.filing_no
    if not candidates:
        raise InvalidValue(values.message("no_entry_for_row", wanted=wanted))
    if len(candidates) > 1:
        listing = _entry_refs(candidates[:5])
        raise InvalidValue(values.message("several_for_row", wanted=wanted, listing=listing))
    return candidates[0]


def _plan_entries(
    rows: Iterable[tuple[int, Mapping[str, str]]],
    index: EntryIndex,
    present: set[str],
    report: ImportReport,
) -> _Plan:
    plan = _Plan()
    touched: dict[int, int] = {}  # id(entry object in the index) -> the row that set it
    for number, cells in rows:
        try:
            row = read_entry(cells)
            record = row.record
            existing, _how = index.match_row(record)
        except InvalidValue as error:
            report.rejected.append((number, error.message))
            continue
        if existing is not None and id(existing) in touched:
            repeats = values.message("repeats_row", row=touched[id(existing)], label=existing.name)
            report.rejected.append((number, repeats))
            continue
        if existing is None:
            try:
                _check_unique(index, record, None)
            except RegistryError as error:
                report.rejected.append((number, error.message))
                continue
            index.add(record)
            touched[id(record)] = number
            plan.adds.append((number, record))
            if row.listed_without_filing:
                report.listed_without_filing.append(number)
            continue
        merged = _merge(existing, row, present)
        old, new = existing.to_dict(), merged.to_dict()
        changed = [name for name in ENTRY_FIELDS if old[name] != new[name]]
        try:
            _check_unique(index, merged, existing.id)
        except RegistryError as error:
            report.rejected.append((number, error.message))
            continue
        index.replace(existing, merged)
        touched[id(merged)] = number
        if row.listed_without_filing and not merged.filed:
            # Kept when the entry is filed: a whitelist without a 备案号 column that calls a
            # filed app 有效 says nothing the registry does not know.
            report.listed_without_filing.append(number)
        if changed:
            plan.updates.append((number, existing, merged, changed))
        else:
            report.unchanged.append((number, existing.name))
    return plan


def _merge(existing: EntryRecord, row: EntryRow, present: set[str]) -> EntryRecord:
    """The existing entry with the fields the file has columns for taken from the row;
    the filing status and the listing only where the row states them."""
    record = row.record
    changes: dict[str, Any] = {}
    for name in ENTRY_FIELDS:
        value = getattr(record, name)
        if name in ("status", "listing"):
            if name in row.speaks_for:
                changes[name] = value
        elif name in present or (name in values.IDENTIFIER_FIELDS and value):
            changes[name] = value
    if "filing_no" in present and "status" not in row.speaks_for:
        # A file that lists filing numbers but no status: a newly given number is active,
        # an existing one keeps its status (a revocation is not undone by a re-import).
        if record.filing_no and record.filing_no != existing.filing_no:
            changes["status"] = "active"
        elif not record.filing_no:
            changes["status"] = "none"
    return existing.with_changes(**changes)


def _check_unique(index: EntryIndex, record: EntryRecord, own_id: int | None) -> None:
    for name, value in record.identifiers.items():
        holder = index.by_identifier(name, value)
        if holder is not None and holder is not record and (own_id is None or holder.id != own_id):
            who = f"#{holder.id} {holder.name}" if holder.id is not None else holder.name
            raise RegistryError(
                values.message("identifier_taken", field=field_name(name), value=value, holder=who)
            )


def _match_or_raise(index: EntryIndex, record: EntryRecord) -> tuple[EntryRecord | None, str]:
    try:
        return index.match_row(record)
    except InvalidValue as error:
        raise RegistryError(error.message) from error


def _resolve(index: EntryIndex, ref: str) -> EntryRecord:
    found = index.find(ref)
    if not found:
        raise RegistryError(values.message("no_entry_matches", ref=ref))
    if len(found) > 1:
        raise RegistryError(
            values.message("several_match", ref=ref, listing=_entry_refs(found[:8]))
        )
    return found[0]


def _entry_refs(entries: Sequence[EntryRecord]) -> Message:
    """#3 巧考 (app); #9 巧考 (mini-program) / #3 巧考（APP）；#9 巧考（小程序）"""
    return Message.join(
        values.message("entry_ref", id=e.id, name=e.name, kind=values.word(e.kind)) for e in entries
    )


def _parse(parse: Any, arg: Any) -> Any:
    try:
        return parse(arg)
    except InvalidValue as error:
        raise RegistryError(error.message) from error


def _route_status(changes: Mapping[str, str]) -> dict[str, str]:
    """An edit's status given as a word of the bureau's list (暂停, 移出 …) is the listing."""
    out = dict(changes)
    raw = values.clean(out.get("status", ""))
    if raw:
        try:
            which, _value = values.read_state(raw)
        except InvalidValue:
            return out  # the parser says what is wrong with it
        if which == "listing" and "listing" not in out:
            out["listing"] = out.pop("status")
    return out


def _apply(row: Entry, record: EntryRecord) -> None:
    for name in ENTRY_FIELDS:
        if name in ("audience", "signer_sha256"):
            continue
        value = getattr(record, name)
        if name in values.IDENTIFIER_FIELDS or name == "filing_no":
            value = value or None
        setattr(row, name, value)
    row.audience = "、".join(record.audience)
    kept = [s for s in row.signers if s.sha256 in record.signer_sha256]
    have = {s.sha256 for s in kept}
    row.signers = kept + [Signer(sha256=d) for d in record.signer_sha256 if d not in have]


def _adoption_record(row: Adoption) -> AdoptionRecord:
    return AdoptionRecord(
        school=row.school.name,
        school_code=row.school.code or "",
        is_district=row.school.is_district,
        entry_id=row.entry_id,
        decision_ref=row.decision_ref,
        decided_on=row.decided_on,
        audience=tuple(a for a in row.audience.split("、") if a),
        note=row.note,
    )


def _adoption_dict(record: AdoptionRecord, entry: EntryRecord) -> dict[str, Any]:
    return {
        "school": record.school,
        "school_code": record.school_code,
        "entry": entry.name,
        "decision_ref": record.decision_ref,
        "decided_on": record.decided_on.isoformat() if record.decided_on else "",
        "audience": list(record.audience),
        "note": record.note,
    }


def _school_matches(school: School, wanted: str) -> bool:
    return school_key(school.name) == school_key(wanted) or bool(
        school.code and school.code == wanted
    )


def iter_cells(records: Sequence[EntryRecord], lang: str) -> Iterator[list[str]]:
    for record in records:
        cells = record.cells(lang)
        yield [cells[name] for name in ENTRY_FIELDS]
