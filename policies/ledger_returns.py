"""A school's returned 工作台账: which rows the ledger may take, and what each changes.

Pure decisions over the items as stored and the rows as read from the file. A school fills
in its own items' 责任股室/责任人, 整改措施, 进展 and 佐证, and may say an item is 整改中 or
待核验; it may not close (销号) or dismiss an item, move its due date, reword the problem,
or touch another school's row. Every row is judged, so that a file is refused with all its
problems at once, and taken whole or not at all.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from appaudit.errors import Message
from policies.ledger import (
    SCHOOL_MOVES,
    STATUS_EN,
    STATUS_ZH,
    LedgerRuleError,
    check_move,
    parse_found_by,
    parse_status,
    school_key,
)
from registry import values
from registry.ledger import LedgerRecord
from registry.records import parse_date
from scanner.safetext import for_xlsx, shown
from scanner.tables import clean_cell

SCHOOL_FIELDS = ("owner", "measure", "progress", "evidence")
"""The text fields a school fills in; its status is judged on its own (`SCHOOL_MOVES`)."""

SETTLED = frozenset({"closed", "dismissed"})


@dataclass(frozen=True)
class Refusal:
    """Why a row cannot be taken: a key of the command line's catalogue
    (`ledger_refuse_<key>`) and the values its sentence names."""

    key: str
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ReturnedRow:
    """One row of a returned 台账, as read: where it is, and its cleaned cells by column key
    (a column the file does not have is absent, and changes nothing)."""

    sheet: str
    row: int
    cells: Mapping[str, str]

    @property
    def number(self) -> str:
        return self.cells.get("number", "").strip()


@dataclass
class RowPlan:
    """What one row does: the item it names, the fields it changes, or why it cannot."""

    row: ReturnedRow
    record: LedgerRecord | None
    changes: dict[str, Any] = field(default_factory=dict)
    refusals: list[Refusal] = field(default_factory=list)


def status_words(status: str) -> Message:
    return Message(STATUS_EN.get(status, status), STATUS_ZH.get(status, status))


def of_school(record: LedgerRecord, school: str) -> bool:
    """Whether the item is the school's, named by its name or its code."""
    wanted = school.strip()
    if record.school_code and record.school_code == wanted:
        return True
    return values.same_name(record.school, wanted) or record.school_key == school_key(wanted)


def _as_written(stored: str) -> set[str]:
    """What a stored text reads back as from our own XLSX and CSV."""
    return {clean_cell(for_xlsx(stored)), clean_cell(shown(stored))}


def _same_text(stored: str, cell: str) -> bool:
    """The cell still says what is stored; spacing, width and punctuation aside (a spreadsheet
    program may change those without anybody rewording the text)."""
    return clean_cell(cell) in _as_written(stored) or values.normalised_name(
        cell
    ) == values.normalised_name(stored)


def _other_school(record: LedgerRecord, cells: Mapping[str, str]) -> bool:
    """The row names a school, by code or name, that is not the item's."""
    code = cells.get("school_code", "").strip()
    name = cells.get("school", "").strip()
    if code and code != record.school_code:
        return True
    return bool(name) and not values.same_name(name, record.school)


def _shown_day(day: date | None) -> str:
    return day.isoformat() if day is not None else "∅"


def judge_row(record: LedgerRecord, row: ReturnedRow, *, school: str | None = None) -> RowPlan:
    """The changes one row makes to its item, or every reason it cannot be taken."""
    plan = RowPlan(row, record)
    cells = row.cells
    number = record.number
    refuse = plan.refusals.append
    if school is not None and not of_school(record, school):
        refuse(Refusal("not_school", {"number": number, "school": school, "owner": record.school}))
    elif _other_school(record, cells):
        shown_school = cells.get("school") or cells.get("school_code", "")
        refuse(
            Refusal(
                "other_school", {"number": number, "school": shown_school, "owner": record.school}
            )
        )
    if "description" in cells and not _same_text(record.description, cells["description"]):
        refuse(Refusal("description", {"number": number}))
    if "item" in cells and not _same_text(record.item, cells["item"]):
        refuse(Refusal("item", {"number": number, "item": record.item}))
    if "due" in cells:
        text = cells["due"]
        try:
            due = parse_date(text) if text else None
        except values.InvalidValue:
            refuse(Refusal("due_unreadable", {"number": number, "value": text}))
        else:
            if due != record.due:
                after = _shown_day(due)
                before = _shown_day(record.due)
                refuse(Refusal("due", {"number": number, "before": before, "after": after}))
    if cells.get("found_by"):
        try:
            found_by = parse_found_by(cells["found_by"])
        except LedgerRuleError as error:
            refuse(Refusal("message", {"message": error.message}))
        else:
            if found_by != record.found_by:
                refuse(Refusal("found_by", {"number": number}))
    for name in SCHOOL_FIELDS:
        if name in cells and clean_cell(cells[name]) not in _as_written(getattr(record, name)):
            plan.changes[name] = cells[name]
    if cells.get("status"):
        _judge_status(record, cells["status"], plan)
    if plan.changes and record.status in SETTLED:
        refuse(Refusal("settled", {"number": number, "status": status_words(record.status)}))
    if plan.refusals:
        plan.changes = {}
    return plan


def _judge_status(record: LedgerRecord, text: str, plan: RowPlan) -> None:
    number = record.number
    try:
        status = parse_status(text)
    except LedgerRuleError as error:
        plan.refusals.append(Refusal("message", {"message": error.message}))
        return
    if status == record.status:
        return
    if status == "closed":
        plan.refusals.append(Refusal("close", {"number": number}))
        return
    if status == "dismissed":
        plan.refusals.append(Refusal("dismiss", {"number": number}))
        return
    try:
        check_move(record, status, SCHOOL_MOVES)
    except LedgerRuleError:
        plan.refusals.append(
            Refusal(
                "move",
                {
                    "number": number,
                    "before": status_words(record.status),
                    "after": status_words(status),
                },
            )
        )
        return
    plan.changes["status"] = status


def plan_return(
    rows: Sequence[ReturnedRow],
    items: Mapping[str, LedgerRecord],
    *,
    school: str | None = None,
) -> list[RowPlan]:
    """Judge every row of a returned 台账 against the items as stored (by number).

    A row without a number, with a number the ledger does not have, or with a number an
    earlier row already gave, is refused; every other row is judged by `judge_row`.
    `school`, when given, is the school that returns the file: rows of any other school's
    items are refused.
    """
    plans: list[RowPlan] = []
    first: dict[str, ReturnedRow] = {}
    for row in rows:
        number = row.number
        if not number:
            plans.append(RowPlan(row, None, refusals=[Refusal("no_number")]))
            continue
        earlier = first.get(number)
        if earlier is not None:
            where = {"number": number, "sheet": earlier.sheet, "row": earlier.row}
            plans.append(RowPlan(row, None, refusals=[Refusal("duplicate", where)]))
            continue
        first[number] = row
        record = items.get(number)
        if record is None:
            plans.append(RowPlan(row, None, refusals=[Refusal("unknown", {"number": number})]))
            continue
        plans.append(judge_row(record, row, school=school))
    return plans
