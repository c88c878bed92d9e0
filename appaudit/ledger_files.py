"""Ledger files: the 工作台账 written for schools, and read back when they return it.

The spreadsheet reader knows encodings and layouts (`scanner.tables`), the policy engine
judges each returned row (`policies.ledger_returns`), the registry stores the changes
(`registry.ledger`) and the reports write the book (`reports.ledger_book`); this module is
where they meet, so that none of them has to import another.
"""

from __future__ import annotations

import html
import re
import zipfile
import zlib
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from appaudit.errors import AppauditError, Message
from appaudit.messages import m
from policies.ledger_returns import Refusal, ReturnedRow, RowPlan, of_school, plan_return
from registry.importing import ImportReport
from registry.ledger import Ledger, LedgerRecord
from registry.wording import row_ref
from reports.ledger_book import columns, word, write_book_csv, write_book_xlsx
from scanner.safetext import shown_path
from scanner.tables import Table, TableError, Vocabulary, clean_cell, read_table

EXPORT_FORMATS = {".xlsx": "xlsx", ".csv": "csv"}


class LedgerFileError(AppauditError):
    """A 台账 file that cannot be used as a whole; the message is fit for a user."""


def book_vocabulary() -> Vocabulary:
    """The 台账's headers (Chinese, English and their aliases) and the columns they mean."""
    return Vocabulary.build({c.key: (c.zh, c.en, *c.aliases) for c in columns()})


def summary_sheets() -> frozenset[str]:
    """Names of the 汇总 sheet (in each language): counts, not items, so never read back."""
    return frozenset(clean_cell(word("summary_sheet", lang)).casefold() for lang in ("zh", "en"))


# --- export -----------------------------------------------------------------------------------


def export_format(path: Path) -> str:
    found = EXPORT_FORMATS.get(path.suffix.lower())
    if found is None:
        raise LedgerFileError(m("ledger_export_format", path=shown_path(path)))
    return found


def write_book(
    path: Path,
    records: Sequence[LedgerRecord],
    *,
    per_school: bool,
    today: date,
    lang: str,
    zone: str,
) -> None:
    """The 台账 as XLSX (one sheet per school and 汇总, or one sheet) or CSV, by suffix."""
    if export_format(path) == "xlsx":
        write_book_xlsx(path, records, today=today, per_school=per_school, lang=lang, zone=zone)
    else:
        write_book_csv(path, records, lang=lang, zone=zone)


# --- import -----------------------------------------------------------------------------------


@dataclass
class ReturnedBook:
    """A returned 台账 as read: its rows from every sheet that holds items."""

    path: Path
    sheets: list[str] = field(default_factory=list)
    """The sheets read (one entry, None-like "", for a CSV)."""
    rows: list[ReturnedRow] = field(default_factory=list)
    notes: list[Message] = field(default_factory=list)
    """What the reader worked around or left out (a sheet without items …)."""

    @property
    def several(self) -> bool:
        return len(self.sheets) > 1

    def where(self, sheet: str, row: int) -> Message:
        """`FILE 工作表“S” 第N行` (the sheet named only when the file has several)."""
        name = shown_path(self.path.name)
        if self.several:
            return m("ledger_where_sheet", file=name, sheet=sheet, row=row_ref(row))
        return m("ledger_where", file=name, row=row_ref(row))


_SHEET = re.compile(rb"<(?:\w+:)?sheet\b[^>]*?\bname=\"([^\"]*)\"")
_WORKBOOK_PART_LIMIT = 1 << 20
"""The workbook part only lists sheets: a larger one is no workbook this reads."""


def _sheet_names(path: Path, head: bytes) -> list[str] | None:
    """The sheets of a workbook in order, or None for a file that is not one (or is damaged:
    then `read_table` says why). Read from the workbook part's XML alone, so that nothing
    else is inflated before `read_table` has checked the sizes."""
    if head[:4] != b"PK\x03\x04" and path.suffix.lower() not in (".xlsx", ".xlsm"):
        return None
    try:
        with zipfile.ZipFile(path) as archive:
            info = archive.getinfo("xl/workbook.xml")
            if info.file_size > _WORKBOOK_PART_LIMIT:
                return None
            data = archive.read(info)
    except (zipfile.BadZipFile, KeyError, OSError, EOFError, zlib.error):
        return None
    return [html.unescape(n.decode("utf-8", "replace")) for n in _SHEET.findall(data)] or None


def read_returned(path: Path, sheet: str | None = None) -> ReturnedBook:
    """Read a returned 台账 in any encoding and layout `registry import` takes: a CSV, or a
    workbook's sheets (all but 汇总, or the one `sheet`). A sheet without a 问题编号 column
    is left out with a note when others have one."""
    vocabulary = book_vocabulary()
    with path.open("rb") as handle:
        head = handle.read(8)
    names = _sheet_names(path, head)
    if sheet is not None or names is None:
        wanted: list[str | None] = [sheet]
    else:
        skip = summary_sheets()
        wanted = [n for n in names if clean_cell(n).casefold() not in skip]
    book = ReturnedBook(path)
    tables: list[Table] = []
    for name in wanted:
        try:
            table = read_table(path, vocabulary, sheet=name)
        except TableError:
            if len(wanted) == 1:
                raise
            book.notes.append(m("ledger_sheet_skipped", sheet=name or ""))
            continue
        if "number" not in table.columns:
            if len(wanted) == 1:
                headers = "、".join(h for h in table.headers if h)
                raise LedgerFileError(
                    m("ledger_no_number_column", file=shown_path(path.name), columns=headers)
                )
            book.notes.append(m("ledger_sheet_skipped", sheet=table.sheet or ""))
            continue
        table.keep_text = True  # 整改措施, 进展, 佐证 are kept as the school wrote them
        tables.append(table)
    if not tables:
        raise LedgerFileError(m("ledger_no_items_sheet", file=shown_path(path.name)))
    book.sheets = [t.sheet or "" for t in tables]
    for table in tables:
        broken = table.broken_rows
        for row in table.rows():
            if broken and row.number in broken:
                problem = broken[row.number]
                raise LedgerFileError(
                    m(
                        "broken_row",
                        source=table.source,
                        row=row_ref(row.number, table.row_label),
                        problem=Message(problem.text("en"), problem.text("zh")),
                    )
                )
            book.rows.append(ReturnedRow(table.sheet or "", row.number, dict(row.cells)))
        book.notes.extend(Message(n.text("en"), n.text("zh")) for n in table.notes)
    return book


def refusal_message(book: ReturnedBook, refusal: Refusal) -> Message:
    """Why a row is refused, in each language."""
    if refusal.key == "message":
        message: Message = refusal.params["message"]
        return message
    params = dict(refusal.params)
    if refusal.key == "duplicate":
        params = {"number": params["number"], "where": book.where(params["sheet"], params["row"])}
    return m(f"ledger_refuse_{refusal.key}", **params)


def import_book(
    ledger: Ledger,
    book: ReturnedBook,
    *,
    reason: str,
    dry_run: bool = False,
    school: str | None = None,
) -> ImportReport:
    """Judge every row of a returned 台账 against the items as they are now, and apply the
    changes in one transaction, all or none: none when any row is refused, or on a dry run.

    Each change is recorded with the ledger's actor (the importer) and `reason`.
    """
    report = ImportReport(what="ledger", source=str(book.path), dry_run=dry_run)
    numbers = [r.number for r in book.rows if r.number]
    with ledger.editing(commit=not dry_run) as edit:
        items = edit.find(numbers)
        plans = plan_return(book.rows, items, school=school)
        _fill(report, book, plans)
        if report.rejected or dry_run:
            return report
        for plan in plans:
            if plan.changes and plan.record is not None:
                edit.apply(plan.record, plan.changes, action="import", reason=reason)
        report.applied = True
        report.batch = edit.batch
    return report


def _fill(report: ImportReport, book: ReturnedBook, plans: Sequence[RowPlan]) -> None:
    for plan in plans:
        row = plan.row
        if plan.refusals:
            problem = Message.join(refusal_message(book, r) for r in plan.refusals)
            where = book.where(row.sheet, row.row)
            report.rejected.append((row.row, m("ledger_row_refused", where=where, problem=problem)))
        elif plan.changes:
            report.updated.append((row.row, row.number, list(plan.changes)))
        else:
            report.unchanged.append((row.row, row.number))


def select_items(
    ledger: Ledger, school: str | None, statuses: Collection[str] | None
) -> list[LedgerRecord]:
    """The items of one school (by name or code) or of all, of some statuses.

    A school is stored under its code when it has one, so a name cannot be looked up by
    key: the items are read and the school's picked out by name or code."""
    records = ledger.items(statuses=statuses)
    if not school:
        return records
    return [r for r in records if of_school(r, school)]
