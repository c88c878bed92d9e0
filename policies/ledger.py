"""The rectification ledger's decisions, as pure functions over findings and stored items.

- which ledger item a finding is (its key: school + item + rule, DESIGN §6);
- what a scan does to a school's items (open, seen again, reopened, proposed for closing);
- which status may follow which, for a person, for a school's returned 台账, for closing;
- which waiver covers which finding on which day.

Nothing here touches the database: the registry stores what these functions decide.
"""

from __future__ import annotations

import operator
import pickle
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from functools import lru_cache
from itertools import starmap
from typing import Any, overload

from appaudit.errors import AppauditError, Message
from policies.model import Finding
from policies.results import SchoolResult, SchoolSummary, Summarised
from registry import values
from registry.ledger import LedgerRecord, NewItem, ScanChanges, StoredItem, WaiverRecord
from scanner.submission import RequiredItem, item_place

STATUSES = ("open", "in_progress", "to_verify", "closed", "dismissed")
STATUS_ZH = {
    "open": "待整改",
    "in_progress": "整改中",
    "to_verify": "待核验",
    "closed": "已销号",
    "dismissed": "不予认定",
}
STATUS_EN = {
    "open": "open",
    "in_progress": "in progress",
    "to_verify": "to verify",
    "closed": "closed",
    "dismissed": "dismissed",
}
OPEN_STATES = frozenset({"open", "in_progress", "to_verify"})
"""States of an item not yet settled: closing and dismissing start from these."""
WORKING_STATES = frozenset({"open", "in_progress"})
"""States a scan that no longer sees the item moves to to_verify (拟销号)."""

FOUND_BY = {"scan": "扫描", "self_check": "自查", "spot_check": "抽查", "tip": "线索"}
"""How an item was found (发现方式)."""

PERSON_MOVES: Mapping[str, frozenset[str]] = {
    "open": frozenset({"in_progress", "to_verify"}),
    "in_progress": frozenset({"open", "to_verify"}),
    "to_verify": frozenset({"open", "in_progress"}),
    "closed": frozenset(),
    "dismissed": frozenset(),
}
"""Status changes `ledger update` makes; closing and dismissing have their own commands."""

SCHOOL_MOVES: Mapping[str, frozenset[str]] = {
    "open": frozenset({"in_progress", "to_verify"}),
    "in_progress": frozenset({"to_verify"}),
    "to_verify": frozenset({"in_progress"}),
    "closed": frozenset(),
    "dismissed": frozenset(),
}
"""Status changes a school may make in the 台账 it returns: it works on an item and says
when it is done; only the bureau closes (销号) or dismisses."""

SKIPPED_RULES = frozenset({"INPUT-INVALID"})
"""Findings that are no rectification matter: a row the scan could not read is corrected in
the next submission, and has no item to track."""

_ALIASES = {
    "open": "open",
    "待整改": "open",
    "未整改": "open",
    "in_progress": "in_progress",
    "in-progress": "in_progress",
    "inprogress": "in_progress",
    "整改中": "in_progress",
    "to_verify": "to_verify",
    "to-verify": "to_verify",
    "toverify": "to_verify",
    "待核验": "to_verify",
    "拟销号": "to_verify",
    "已整改": "to_verify",
    "closed": "closed",
    "已销号": "closed",
    "销号": "closed",
    "dismissed": "dismissed",
    "不予认定": "dismissed",
}


class LedgerRuleError(AppauditError):
    """A change the ledger's lifecycle does not allow; the message is fit for a user."""


def parse_status(text: str) -> str:
    """A status from its JSON value or its Chinese name (待整改, 整改中 …)."""
    key = values.word_key(text).replace(" ", "_")
    found = _ALIASES.get(key) or _ALIASES.get(text.strip())
    if found is None:
        listing = "、".join(f"{STATUS_ZH[s]} ({s})" for s in STATUSES)
        raise LedgerRuleError(
            Message(
                f"unknown status {text!r}; use one of {', '.join(STATUSES)}",
                f"状态“{text}”无法识别，应为：{listing}",
            )
        )
    return found


def status_label(status: str, lang: str = "zh") -> str:
    return (STATUS_ZH if lang == "zh" else STATUS_EN).get(status, status)


def parse_found_by(text: str) -> str:
    key = text.strip()
    for value, zh in FOUND_BY.items():
        if key in (value, zh):
            return value
    raise LedgerRuleError(
        Message(
            f"unknown way of finding {text!r}; use one of {', '.join(FOUND_BY)}",
            f"发现方式“{text}”无法识别，应为：{'、'.join(FOUND_BY.values())}",
        )
    )


# --- identity -------------------------------------------------------------------------------


def _key_text(text: str) -> str:
    """A school's cell as part of a key: NUL (which a database's text may not hold) shown as
    U+FFFD, as everywhere it is stored. Folded names hold none."""
    return text.replace("\0", "\ufffd")


def school_key(name: str, code: str = "") -> str:
    """A school: its code (学校标识码) when it has one, else its folded name."""
    code = code.strip()
    return f"code:{_key_text(code)}" if code else f"name:{values.normalised_name(name)}"


def item_key(finding: Finding, item: RequiredItem | None) -> str:
    """What the finding is about: the registry entry it matched, else the item's kind and
    identifier (or name); a finding on the whole school is about the school."""
    entry_id = _entry_id(finding)
    if entry_id is not None:
        return f"entry:{entry_id}"
    if item is not None:
        return required_key(item)
    if finding.row is None:
        return f"school:{values.normalised_name(finding.item)}"
    return _required_key(finding.kind, None, "", finding.item)  # a row not found: its name


def required_key(item: RequiredItem) -> str:
    """A required item, for counting distinct items (压减): as `item_key` without a match."""
    return _required_key(item.kind, item.identified, item.identifier, item.name)


@lru_cache(maxsize=1 << 14)
def _required_key(kind: str, identified: tuple[str, str] | None, identifier: str, name: str) -> str:
    """`required_key` of what it reads (a district's rows repeat a few thousand items)."""
    if identified is not None:
        return f"{kind}:{_key_text(identified[1].casefold())}"
    if identifier.strip():
        return f"{kind}:{_key_text(identifier.strip().casefold())}"
    return f"{kind}:name:{values.normalised_name(name)}"


# --- waivers --------------------------------------------------------------------------------


def waiver_active(waiver: WaiverRecord, today: date) -> bool:
    """In force on `today`: not revoked, and `until` (its last day) not passed."""
    return waiver.revoked_at is None and today <= waiver.until


def waiver_state(waiver: WaiverRecord, today: date) -> str:
    if waiver.revoked_at is not None:
        return "revoked"
    return "active" if today <= waiver.until else "expired"


def waiver_covers(
    waiver: WaiverRecord,
    finding: Finding,
    item: RequiredItem | None,
    school_names: Sequence[str],
    school_code: str,
) -> bool:
    """Whether the waiver's scope (school or 全区, item, rule) takes in the finding."""
    if waiver.rule and waiver.rule.upper() != finding.rule:
        return False
    if not values.is_district(waiver.school):
        wanted = waiver.school.strip()
        if not (
            (school_code and wanted == school_code)
            or any(values.same_name(wanted, name) for name in school_names)
        ):
            return False
    if waiver.item:
        return _names_item(waiver.item, finding, item)
    return True


def _names_item(text: str, finding: Finding, item: RequiredItem | None) -> bool:
    wanted = text.strip()
    if values.same_name(wanted, finding.item):
        return True
    if item is not None:
        if item.identifier and wanted.casefold() == item.identifier.strip().casefold():
            return True
        if item.identified is not None and wanted.casefold() == item.identified[1].casefold():
            return True
    entry = finding.evidence.get("registry_entry")
    if isinstance(entry, Mapping):
        names = [entry.get("name")] + [entry.get(k) for k in values.IDENTIFIER_FIELDS]
        return any(
            isinstance(n, str) and n and (values.same_name(wanted, n) or wanted == n) for n in names
        )
    return False


def waiver_dict(waiver: WaiverRecord) -> dict[str, Any]:
    """The waiver as a finding carries it in findings.json (`waived`)."""
    return {
        "id": waiver.id,
        "school": waiver.school,
        "item": waiver.item,
        "rule": waiver.rule,
        "reason": waiver.reason,
        "approved_by": waiver.actor,
        "until": waiver.until.isoformat(),
    }


# --- a scan's moves -------------------------------------------------------------------------


@dataclass(slots=True)
class LedgerTag:
    """A finding's place in the ledger, as the reports show it."""

    number: str
    """'' until the store has numbered a new item (then set in place)."""
    status: str
    due: date | None
    new: bool = False
    reopened: bool = False
    """Found again after it was closed (复发)."""
    overdue: bool = False


LEDGER_COUNTS = ("new", "continuing", "to_verify", "closed", "overdue", "reopened")
"""The ledger figures of a school and of the district (新增, 持续, 拟销号, 已销号, 逾期, 复发)."""


@dataclass
class SchoolLedger:
    """What one scan does to one school's ledger items, and how the school's findings
    stand in it."""

    tags: dict[tuple[str, str], LedgerTag] = field(default_factory=dict)
    """By (item key, rule)."""
    opened: list[NewItem] = field(default_factory=list)
    opened_tags: list[LedgerTag] = field(default_factory=list)
    """The tags of the opened items, in their order: numbered when the store numbers them."""
    changed: list[tuple[LedgerRecord, dict[str, Any], str]] = field(default_factory=list)
    seen: list[int] = field(default_factory=list)
    """Ids of the stored items this scan sees again."""
    fixed: list[LedgerRecord] = field(default_factory=list)
    """Items this scan no longer sees and proposes for closing (拟销号), as they will be."""
    counts: dict[str, int] = field(default_factory=dict)
    shared: tuple[str, date | None] | None = None
    """The status and due date all its findings' items share (see `ledger_state`)."""
    all_new: bool = True
    """Every item its findings show is new."""


def ledger_state(tags: Iterable[LedgerTag]) -> tuple[tuple[str, date | None] | None, bool]:
    """The status and due date that every tag's item shares, when they all do and none is
    marked (复发, 逾期, or 新增 among older items) — a school's list then gives them once —
    and whether every item is new."""
    found: set[tuple[str, date | None, bool]] = set()
    all_new, marked = True, False
    for tag in tags:
        found.add((tag.status, tag.due, tag.new))
        all_new = all_new and tag.new
        marked = marked or tag.reopened or tag.overdue
    if len(found) != 1 or marked:
        return None, all_new
    ((status, due, _new),) = found
    return (status, due), all_new


def reconcile_school(
    keyed: Iterable[tuple[str, Finding]],
    stored: Sequence[LedgerRecord | StoredItem],
    *,
    waived: Iterable[tuple[str, str]] = (),
    school: str,
    school_code: str,
    today: date,
    due_days: int,
    describe: Any,
    complete: Callable[[Sequence[StoredItem]], Mapping[int, LedgerRecord]] | None = None,
) -> SchoolLedger:
    """The moves of one school's items for one scan of its submission.

    `keyed` are the school's findings with their item keys (`item_key`), waived ones and
    SKIPPED_RULES left out; `waived` the (item key, rule) of the waived ones, whose items
    are still there and left as they are. Every finding opens its item or sees it again (a
    closed item is reopened, an item proposed for closing goes back to open); items of the
    school no finding shows any more are proposed for closing (to_verify), never closed.
    `describe(finding)` gives the finding's Chinese problem text, citations and cause (rule
    variant) for a new item. `complete(items)` reads the whole records of stored items (what
    a scan reads of each is only a `StoredItem`), by id: it is asked once, for the items that
    move.
    """
    return _reconcile(
        [((ikey, finding.rule), finding) for ikey, finding in keyed],
        stored,
        waived=waived,
        school=school,
        school_code=school_code,
        today=today,
        due_days=due_days,
        describe=describe,
        complete=complete,
    )


def _reconcile(
    keyed: Iterable[tuple[tuple[str, str], Finding]],
    stored: Sequence[LedgerRecord | StoredItem],
    *,
    waived: Iterable[tuple[str, str]],
    school: str,
    school_code: str,
    today: date,
    due_days: int,
    describe: Any,
    complete: Callable[[Sequence[StoredItem]], Mapping[int, LedgerRecord]] | None,
) -> SchoolLedger:
    """`reconcile_school`, each finding given with its item's key within the school (item
    key, rule), made once (`mark_school` keeps it for the finding's mark)."""
    skey = school_key(school, school_code)
    # A rescan reads every stored item of a district: the passes over them are made in C.
    by_key = dict(zip(map(_stored_key, stored), stored, strict=True))
    out = SchoolLedger()
    counts = dict.fromkeys(LEDGER_COUNTS, 0)
    first_due = today + timedelta(days=due_days)
    moving: list[tuple[LedgerRecord | StoredItem, dict[str, Any], str]] = []
    opened, opened_tag = out.opened.append, out.opened_tags.append
    # This runs for every item of a district's schools: names looked up once, the most
    # frequent counts kept apart until the end. An item's tag is set when its first finding
    # is met: the tags are the items seen.
    tags, seen_again, known = out.tags, out.seen.append, by_key.get
    added = continuing = 0
    for key, finding in keyed:
        if key in tags:
            continue
        record = known(key)
        if record is None:
            description, basis, cause = describe(finding)
            # Made as the tuple it is, every field given (a first scan opens each item).
            new = (skey, key[0], key[1], school, school_code, finding.item, finding.kind,
                   finding.severity, first_due, description, tuple(basis), cause)  # fmt: skip
            opened(_new_tuple(NewItem, new))
            tag = tags[key] = LedgerTag("", "open", first_due, True)  # new
            opened_tag(tag)
            added += 1
            continue
        if record.id is not None:
            seen_again(record.id)
        status, due = record.status, record.due
        if status in WORKING_STATES and record.severity == finding.severity:
            # Most items of a rescan: seen again as they were (new, reopened, overdue).
            tags[key] = LedgerTag(
                record.number, status, due, False, False, due is not None and due < today
            )
            continuing += 1
            continue
        changes: dict[str, Any] = {}
        if record.severity != finding.severity:
            changes["severity"] = finding.severity
        action = "seen"
        reopened = False
        if record.status == "closed":
            status, reopened, action = "open", True, "reopen"
            due = first_due
            changes.update(
                status="open",
                reopened=record.reopened + 1,
                closed_at=None,
                closed_by="",
                due=due,
            )
            counts["reopened"] += 1
        elif record.status == "to_verify":
            status, action = "open", "seen-again"
            changes["status"] = "open"
        if changes:
            moving.append((record, changes, action))
        overdue = status in OPEN_STATES and due is not None and due < today
        tags[key] = LedgerTag(record.number, status, due, reopened=reopened, overdue=overdue)
        if status in WORKING_STATES and not reopened:
            continuing += 1
    counts["new"] += added
    counts["continuing"] += continuing
    unseen = by_key.keys() - tags.keys() - set(waived)
    gone = (
        [r for r in stored if _stored_key(r) in unseen and r.status in WORKING_STATES]
        if unseen
        else []
    )
    if moving or gone:
        whole = _whole_records([r for r, _c, _a in moving] + gone, complete)
        out.changed = [(whole(r), changes, action) for r, changes, action in moving]
        for record in gone:
            full = whole(record)
            out.changed.append((full, {"status": "to_verify"}, "propose-close"))
            out.fixed.append(replace(full, status="to_verify"))
    # The school's items as this scan leaves them, counted by status and due date (a few
    # pairs for thousands of items).
    states = Counter(map(_state, stored))
    if out.changed:
        before = {r.number: _state(r) for r in stored}
        for record, changes, _action in out.changed:
            status, due = before[record.number]
            states[(status, due)] -= 1
            states[(changes.get("status", status), changes.get("due", due))] += 1
    for (status, due), n in states.items():
        if status == "to_verify":
            counts["to_verify"] += n
        elif status == "closed":
            counts["closed"] += n
        if status in OPEN_STATES and due is not None and due < today:
            counts["overdue"] += n
    out.counts = counts
    if continuing == 0 and added == len(tags):  # a school's first scan: all new alike
        out.shared, out.all_new = (("open", first_due), True) if added else (None, True)
    else:
        out.shared, out.all_new = ledger_state(tags.values())
    return out


_stored_key = operator.attrgetter("item_key", "rule")
"""A stored item's (item key, rule): its key within its school."""
_state = operator.attrgetter("status", "due")


def _whole_records(
    items: Sequence[LedgerRecord | StoredItem],
    complete: Callable[[Sequence[StoredItem]], Mapping[int, LedgerRecord]] | None,
) -> Callable[[LedgerRecord | StoredItem], LedgerRecord]:
    """Each of `items` as its whole record: records as they are, stored items as
    `complete` reads them (in one call)."""
    partial = [item for item in items if not isinstance(item, LedgerRecord)]
    if partial and complete is None:
        raise ValueError("stored items need their records read")
    read = complete(partial) if partial and complete is not None else {}

    def whole(item: LedgerRecord | StoredItem) -> LedgerRecord:
        return item if isinstance(item, LedgerRecord) else read[item.id]

    return whole


def scan_changes(
    schools: Iterable[SchoolLedger], *, run_id: int | None, at: datetime, reason: str
) -> ScanChanges:
    out = ScanChanges(run_id=run_id, at=at, reason=reason)
    for school in schools:
        out.opened.extend(school.opened)
        out.changed.extend(school.changed)
        out.seen.extend(school.seen)
    return out


# --- a person's and a school's moves --------------------------------------------------------


def check_move(record: LedgerRecord, status: str, moves: Mapping[str, frozenset[str]]) -> None:
    """Raise when `moves` does not let the item go from its status to `status`."""
    if status == record.status:
        return
    if status not in moves.get(record.status, frozenset()):
        raise LedgerRuleError(
            Message(
                f"{record.number}: the status cannot go from {STATUS_EN[record.status]} "
                f"to {STATUS_EN.get(status, status)}",
                f"{record.number}：状态不能从“{STATUS_ZH[record.status]}”改为"
                f"“{STATUS_ZH.get(status, status)}”",
            )
        )


def closing(record: LedgerRecord, *, force: bool, actor: str, now: datetime) -> dict[str, Any]:
    """The changes that close (销号) an item: from to_verify, or from any open state when
    forced."""
    if record.status == "closed":
        raise LedgerRuleError(
            Message(f"{record.number} is already closed", f"{record.number} 已销号")
        )
    if record.status != "to_verify" and not (force and record.status in OPEN_STATES):
        raise LedgerRuleError(
            Message(
                f"{record.number} is {STATUS_EN[record.status]}: only an item to verify is "
                "closed (or use --force for an open one)",
                f"{record.number} 的状态是“{STATUS_ZH[record.status]}”：只有“待核验”的问题"
                "可以销号（未整改完的问题确需销号时加 --force）",
            )
        )
    return {"status": "closed", "closed_at": now, "closed_by": actor}


def dismissing(record: LedgerRecord) -> dict[str, Any]:
    """The changes that dismiss (不予认定) an item still open."""
    if record.status not in OPEN_STATES:
        raise LedgerRuleError(
            Message(
                f"{record.number} is {STATUS_EN[record.status]}: only an item still open "
                "can be dismissed",
                f"{record.number} 的状态是“{STATUS_ZH[record.status]}”：只有未销号的问题"
                "可以不予认定",
            )
        )
    return {"status": "dismissed"}


def overdue(record: LedgerRecord, today: date) -> bool:
    """Past its due date (逾期) and not settled."""
    return record.status in OPEN_STATES and record.due is not None and record.due < today


# --- a scan's findings as the reports see them ----------------------------------------------


@dataclass(frozen=True)
class Waived:
    """A finding a waiver covers: kept, shown apart, left out of counts."""

    waiver: Mapping[str, Any]


Mark = LedgerTag | Waived | None


@dataclass
class SchoolMarks:
    """What the ledger and the waivers say of one school's findings, by their place in the
    rebuilt school (rebuilding gives the same order every time)."""

    marks: list[Mark] = field(default_factory=list)
    fixed: list[LedgerRecord] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    shared: tuple[str, date | None] | None = None
    """The status and due date all its findings' items share (see `ledger_state`)."""
    all_new: bool = True
    waived_counts: dict[str, int] = field(default_factory=dict)
    """Waived findings by severity, taken off the school's counts."""
    required: int = 0
    """Distinct items the school requires in this scan."""
    baseline: int | None = None
    """Distinct items it required when the ledger first saw it."""


def mark_school(
    school: SchoolResult,
    waivers: Sequence[WaiverRecord],
    stored: Sequence[LedgerRecord | StoredItem] | None,
    *,
    today: date,
    due_days: int,
    describe: Any,
    entry_keys: dict[int, str | None] | None = None,
    complete: Callable[[Sequence[StoredItem]], Mapping[int, LedgerRecord]] | None = None,
) -> tuple[SchoolMarks, SchoolLedger | None]:
    """Apply the waivers in force to a school's findings and, with a ledger (`stored` not
    None), decide its moves; the marks the reports show, and the moves to store.

    `entry_keys` keeps, for one scan's schools, the item key of the registry entry each
    verdict's finding names (None: it names none), by the finding's verdict number, so
    that it is worked out once per verdict. `complete` reads the whole records of stored
    items that move (see `reconcile_school`)."""
    # Each row's item and `required_key`, worked out in C: this runs for every row.
    items = school.items
    keys = list(starmap(_required_key, map(_required_fields, items)))
    by_row = dict(zip(map(item_place, items), zip(items, keys, strict=True), strict=True))
    findings = school.findings
    out = SchoolMarks(marks=[None] * len(findings), required=len(set(keys)))
    keyed: list[tuple[tuple[str, str], Finding]] = []
    waived: list[tuple[str, str]] = []
    places: list[tuple[str, str] | None] = []
    """Each finding's ledger item (item key, rule), or None (waived, or no ledger matter)."""
    entries = entry_keys if entry_keys is not None else {}
    if len(entries) > _ENTRY_KEYS_MAX:  # a district of all-different rows: start again
        entries.clear()
    # This runs for every finding of a district: the findings of one row come together, so
    # a row's item and its key without an entry are looked up once; the entry a finding
    # names is known by its verdict's number.
    source, row = "", None
    item: RequiredItem | None = None
    row_key = ""
    keeps = stored is not None
    entry_key: str | None
    for n, finding in enumerate(findings):
        # One unpacking rather than a look-up of each field.
        rule, _sev, _school, at_row, _item, _kind, _evidence, _params, _code, at, number = finding
        if at_row is None:
            source, row, item, row_key = "", None, None, ""
        elif at_row != row or at != source:
            source, row = at, at_row
            item, row_key = by_row.get((source, row), _NO_ROW)
        found = entries.get(number, _UNREAD) if number else _UNREAD
        if found is _UNREAD:
            entry_id = _entry_id(finding)
            entry_key = None if entry_id is None else f"entry:{entry_id}"
            if number:
                entries[number] = entry_key
        else:
            entry_key = found  # type: ignore[assignment]  # a key or None, as stored above
        if entry_key is not None:
            ikey = entry_key
        elif item is None:  # a finding on the whole school, or a row not found
            ikey = item_key(finding, item)
        else:
            ikey = row_key  # `required_key(item)`, as `item_key` gives it
        waiver = (
            next(
                (
                    w
                    for w in waivers
                    if waiver_covers(w, finding, item, school.names, school.school_code)
                ),
                None,
            )
            if waivers
            else None
        )
        if waiver is not None:
            out.marks[n] = Waived(waiver_dict(waiver))
            out.waived_counts[finding.severity] = out.waived_counts.get(finding.severity, 0) + 1
            if keeps:
                waived.append((ikey, rule))
            places.append(None)
            continue
        if keeps and rule not in SKIPPED_RULES:
            place = (ikey, rule)
            keyed.append((place, finding))
            places.append(place)
        else:
            places.append(None)
    if stored is None:
        return out, None
    ledger = _reconcile(
        keyed,
        stored,
        waived=waived,
        school=school.school,
        school_code=school.school_code,
        today=today,
        due_days=due_days,
        describe=describe,
        complete=complete,
    )
    tags = ledger.tags
    out.marks = [
        mark if place is None else tags[place]
        for mark, place in zip(out.marks, places, strict=True)
    ]
    out.fixed = ledger.fixed
    out.shared, out.all_new = ledger.shared, ledger.all_new
    out.counts = ledger.counts
    return out, ledger


_UNREAD = object()
_NO_ROW: tuple[None, str] = (None, "")
_required_fields = operator.attrgetter("kind", "identified", "identifier", "name")
"""What `required_key` reads of an item, in `_required_key`'s order."""
_new_tuple = tuple.__new__
_ENTRY_KEYS_MAX = 1 << 16


def _entry_id(finding: Finding) -> object:
    """The id of the registry entry the finding's evidence names, or None (`item_key` keys
    the finding by it)."""
    entry = finding.evidence.get("registry_entry")
    if entry is not None and (type(entry) is dict or isinstance(entry, Mapping)):
        return entry.get("id")
    return None


def annotate(school: SchoolResult, marks: SchoolMarks) -> SchoolResult:
    """The school as the reports show it (a new result; `school` is left as it is): waived
    findings set apart, ledger tags beside the others, the items fixed since the last scan."""
    if marks.waived_counts:
        kept: list[Finding] = []
        tags: list[LedgerTag | None] = []
        waived: list[tuple[Finding, Mapping[str, Any]]] = []
        for finding, mark in zip(school.findings, marks.marks, strict=True):
            if isinstance(mark, Waived):
                waived.append((finding, mark.waiver))
            else:
                kept.append(finding)
                tags.append(mark)
    else:  # no waiver applies: every mark is a finding's tag (or None), in order
        if len(marks.marks) != len(school.findings):
            raise ValueError("the marks are not the school's")
        kept, tags, waived = school.findings, marks.marks, []  # type: ignore[assignment]
    return replace(
        school,
        findings=kept,
        ledger_tags=tags,
        waived=waived,
        fixed=marks.fixed,
        ledger_counts=marks.counts or None,
        required=marks.required,
        baseline=marks.baseline,
        marks=marks,
    )


def pack_marks(marks: SchoolMarks) -> bytes:
    """A school's marks as bytes for another process (`unpack_marks`): each finding's tag
    as a plain tuple, which pickles several times faster than the objects."""
    packed = [
        None
        if mark is None
        else (mark.number, mark.status, mark.due, mark.new, mark.reopened, mark.overdue)
        if type(mark) is LedgerTag
        else mark
        for mark in marks.marks
    ]
    rest = (marks.fixed, marks.counts, marks.waived_counts, marks.required, marks.baseline,
            marks.shared, marks.all_new)  # fmt: skip
    return pickle.dumps((packed, rest), protocol=pickle.HIGHEST_PROTOCOL)


def unpack_marks(data: bytes) -> SchoolMarks:
    packed, (fixed, counts, waived_counts, required, baseline, shared, all_new) = pickle.loads(data)
    tag = LedgerTag
    return SchoolMarks(
        marks=[tag(*mark) if type(mark) is tuple else mark for mark in packed],
        fixed=fixed,
        counts=counts,
        waived_counts=waived_counts,
        required=required,
        baseline=baseline,
        shared=shared,
        all_new=all_new,
    )


class MarkedSchools(Sequence[SchoolResult]):
    """The schools of a scan with their marks applied as each is rebuilt."""

    def __init__(self, schools: Sequence[SchoolResult], marks: Sequence[SchoolMarks]) -> None:
        self._schools = schools
        self._marks = tuple(marks)
        self._summaries: list[SchoolSummary] | None = None

    def __len__(self) -> int:
        return len(self._schools)

    @overload
    def __getitem__(self, index: int) -> SchoolResult: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[SchoolResult]: ...

    def __getitem__(self, index: int | slice) -> SchoolResult | Sequence[SchoolResult]:
        if isinstance(index, slice):
            return [self[n] for n in range(*index.indices(len(self)))]
        return annotate(self._schools[index], self._marks[index])

    def __iter__(self) -> Iterator[SchoolResult]:
        for school, marks in zip(self._schools, self._marks, strict=True):
            yield annotate(school, marks)

    def summaries(self) -> list[SchoolSummary]:
        """Made once: the index, the counts and the scan's record each ask for them, and
        neither the schools nor their marks change."""
        if self._summaries is None:
            inner = (
                self._schools.summaries()
                if isinstance(self._schools, Summarised)
                else [s.summary() for s in self._schools]
            )
            self._summaries = [
                _marked_summary(summary, marks)
                for summary, marks in zip(inner, self._marks, strict=True)
            ]
        return list(self._summaries)


def _marked_summary(summary: SchoolSummary, marks: SchoolMarks) -> SchoolSummary:
    counts = {s: n - marks.waived_counts.get(s, 0) for s, n in summary.counts.items()}
    return replace(
        summary,
        counts=counts,
        waived=sum(marks.waived_counts.values()),
        ledger=marks.counts or None,
        required=marks.required,
        baseline=marks.baseline,
    )
