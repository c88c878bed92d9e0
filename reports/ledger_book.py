"""The 工作台账 (附件4): ledger items as the workbook or CSV the bureau sends to schools.

A workbook has one sheet per school and a 汇总 sheet of counts (or one sheet when one
school's items are written); a CSV has every item in one table. Schools fill the white
columns and send the file back (`appaudit ledger import`); the shaded ones are the bureau's.
Nothing is hidden, and nothing a school wrote can become a formula.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from policies.ledger import FOUND_BY, STATUSES, overdue, status_label
from policies.model import catalogue
from registry.ledger import LedgerRecord
from reports.spreadsheets import atomic_write, write_csv
from reports.text import check_lang
from reports.times import DEFAULT_ZONE, local
from scanner.safetext import for_xlsx

if TYPE_CHECKING:
    from openpyxl.worksheet.worksheet import Worksheet

BookCell = str | int | date | None
"""A cell of the book: text (always kept as text), a count, a date, or empty."""

TITLE_ROWS = 2
"""The title and the instructions above the header (the header is the row after them)."""


@dataclass(frozen=True)
class BookColumn:
    """A column of the 台账: its key, its headers, its layout, and whether schools fill it."""

    key: str
    zh: str
    en: str
    width: float = 10
    wrap: bool = False
    school: bool = False
    """Filled in by the school (责任, 措施, 进展, 佐证, 状态); the others are the bureau's."""
    aliases: tuple[str, ...] = ()
    """Other headers that mean the column, when a file is read back."""

    def header(self, lang: str) -> str:
        return self.zh if lang == "zh" else self.en


@cache
def _data() -> dict[str, Any]:
    text = resources.files("reports").joinpath("templates/ledger.toml").read_text("utf-8")
    return tomllib.loads(text)


@cache
def columns() -> tuple[BookColumn, ...]:
    """The 台账's columns, in order (templates/ledger.toml)."""
    return tuple(
        BookColumn(**{**spec, "aliases": tuple(spec.get("aliases", ()))})
        for spec in _data()["columns"]
    )


def notice_words() -> Mapping[str, str]:
    """The words of the 整改通知书 (Chinese only: it is a Chinese document)."""
    notice: Mapping[str, str] = _data()["notice"]
    return notice


def school_columns() -> tuple[str, ...]:
    """The keys of the columns a school fills in."""
    return tuple(c.key for c in columns() if c.school)


def word(key: str, lang: str) -> str:
    """A word of the 台账 (its title, the 汇总 sheet's name …) in `lang`."""
    entry: Mapping[str, str] = _data()[key]
    return entry[check_lang(lang)]


def status_text(status: str, lang: str) -> str:
    """A status as the 台账 writes it: its Chinese name, or its code in English."""
    return status_label(status, "zh") if lang == "zh" else status


def found_by_text(found_by: str, lang: str) -> str:
    """How an item was found, as the 台账 writes it: 扫描/自查/抽查/线索, or the code."""
    return FOUND_BY.get(found_by, found_by) if lang == "zh" else found_by


def focus_text(record: LedgerRecord) -> str:
    """The 整治重点 the item falls under, （一） to （四）, from the clauses it cites."""
    return "、".join(catalogue().focus_of(record.basis))


def basis_text(record: LedgerRecord) -> str:
    """The clauses the item rests on, as documents cite them."""
    clauses = catalogue().clauses
    return "；".join(clauses[k].cite or k if k in clauses else k for k in record.basis)


def _day(moment: datetime | None, zone: str) -> date | None:
    return local(moment, zone).date() if moment is not None else None


def row_cells(record: LedgerRecord, seq: int, *, lang: str, zone: str) -> dict[str, BookCell]:
    """One item's cells, by column key; days in the bureau's zone."""
    return {
        "seq": seq,
        "number": record.number,
        "school": record.school,
        "school_code": record.school_code,
        "focus": focus_text(record),
        "description": record.description,
        "item": record.item,
        "basis": basis_text(record),
        "found_by": found_by_text(record.found_by, lang),
        "found_on": _day(record.first_seen_at, zone),
        "due": record.due,
        "owner": record.owner,
        "measure": record.measure,
        "progress": record.progress,
        "evidence": record.evidence,
        "status": status_text(record.status, lang),
        "closed_on": _day(record.closed_at, zone),
        "closed_by": record.closed_by,
    }


def by_school(records: Iterable[LedgerRecord]) -> list[list[LedgerRecord]]:
    """The items grouped by school, schools in the order of their first item."""
    groups: dict[str, list[LedgerRecord]] = {}
    for record in records:
        groups.setdefault(record.school_key, []).append(record)
    return list(groups.values())


# --- CSV --------------------------------------------------------------------------------------


def _csv_text(value: BookCell) -> str:
    if value is None:
        return ""
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def write_book_csv(
    path: Path, records: Sequence[LedgerRecord], *, lang: str = "zh", zone: str = DEFAULT_ZONE
) -> None:
    """Every item in one table (UTF-8 with BOM; formulas neutralised)."""
    cols = columns()
    header = [c.header(lang) for c in cols]
    rows = (
        [_csv_text(cells[c.key]) for c in cols]
        for cells in (row_cells(r, n, lang=lang, zone=zone) for n, r in enumerate(records, start=1))
    )
    write_csv(path, header, rows)


# --- XLSX -------------------------------------------------------------------------------------

_BAD_TITLE = re.compile(r"[\[\]:*?/\\]")


def sheet_title(name: str, used: set[str]) -> str:
    """A school's sheet name: Excel's forbidden characters out, at most 31 characters, and
    unlike every name already used (compared without case, as Excel does)."""
    base = _BAD_TITLE.sub("", name).strip().strip("'") or "sheet"
    title = base[:31]
    n = 1
    while title.casefold() in used:
        n += 1
        suffix = f" ({n})"
        title = base[: 31 - len(suffix)] + suffix
    used.add(title.casefold())
    return title


class _Styles:
    """The few styles of the book, made once and shared by the cells."""

    def __init__(self) -> None:
        from openpyxl.styles import Alignment, Border, Font, PatternFill, Side

        thin = Side(style="thin", color="BFBFBF")
        self.border = Border(left=thin, right=thin, top=thin, bottom=thin)
        self.bold = Font(bold=True)
        self.title = Font(bold=True, size=14)
        self.note = Font(size=9, color="595959")
        self.wrap = Alignment(wrap_text=True, vertical="top")
        self.top = Alignment(vertical="top")
        self.centre = Alignment(horizontal="center", vertical="center", wrap_text=True)
        self.shaded = PatternFill("solid", fgColor="F2F2F2")
        self.shaded_header = PatternFill("solid", fgColor="D9D9D9")
        self.school_header = PatternFill("solid", fgColor="FFF2CC")


def _put(sheet: Worksheet, row: int, column: int, value: BookCell) -> Any:
    cell = sheet.cell(row=row, column=column)
    if isinstance(value, str):
        cell.value = for_xlsx(value)
        cell.data_type = "s"  # text, even when it starts with "=": never a formula
    elif isinstance(value, date):
        cell.value = value
        cell.number_format = "yyyy-mm-dd"
    else:
        cell.value = value
    return cell


def _heading(sheet: Worksheet, width: int, lang: str, styles: _Styles, *, note: bool) -> None:
    from openpyxl.utils import get_column_letter

    last = get_column_letter(width)
    _put(sheet, 1, 1, word("title", lang)).font = styles.title
    sheet.merge_cells(f"A1:{last}1")
    sheet.row_dimensions[1].height = 24
    if note:
        cell = _put(sheet, 2, 1, word("instructions", lang))
        cell.font = styles.note
        cell.alignment = styles.wrap
        sheet.merge_cells(f"A2:{last}2")
        sheet.row_dimensions[2].height = 30


def _items_sheet(
    sheet: Worksheet, records: Sequence[LedgerRecord], lang: str, zone: str, styles: _Styles
) -> None:
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    cols = columns()
    _heading(sheet, len(cols), lang, styles, note=True)
    head = TITLE_ROWS + 1
    for index, column in enumerate(cols, start=1):
        cell = _put(sheet, head, index, column.header(lang))
        cell.font = styles.bold
        cell.alignment = styles.centre
        cell.border = styles.border
        cell.fill = styles.school_header if column.school else styles.shaded_header
        sheet.column_dimensions[get_column_letter(index)].width = column.width
    for n, record in enumerate(records, start=1):
        cells = row_cells(record, n, lang=lang, zone=zone)
        for index, column in enumerate(cols, start=1):
            cell = _put(sheet, head + n, index, cells[column.key])
            cell.alignment = styles.wrap if column.wrap else styles.top
            cell.border = styles.border
            if not column.school:
                cell.fill = styles.shaded
    sheet.freeze_panes = f"C{head + 1}"
    last = head + max(len(records), 1)
    sheet.auto_filter.ref = f"A{head}:{get_column_letter(len(cols))}{last}"
    lists = {
        "status": [status_text(s, lang) for s in STATUSES],
        "found_by": [found_by_text(f, lang) for f in FOUND_BY],
    }
    for key, allowed in lists.items():
        letter = get_column_letter(next(i for i, c in enumerate(cols, 1) if c.key == key))
        rule = DataValidation(
            type="list",
            formula1='"' + ",".join(allowed) + '"',
            allow_blank=True,
            showErrorMessage=True,
            errorTitle=sheet.title[:32],
            error="、".join(allowed) if lang == "zh" else ", ".join(allowed),
        )
        rule.add(f"{letter}{head + 1}:{letter}{last}")
        sheet.add_data_validation(rule)


def _summary_sheet(
    sheet: Worksheet,
    groups: Sequence[Sequence[LedgerRecord]],
    lang: str,
    today: date,
    styles: _Styles,
) -> None:
    from openpyxl.utils import get_column_letter

    summary = _data()["summary"]
    header = [
        summary["school"][lang],
        summary["school_code"][lang],
        *(status_text(s, lang) for s in STATUSES),
        word("total", lang),
        word("overdue", lang),
    ]
    _heading(sheet, len(header), lang, styles, note=False)
    head = TITLE_ROWS + 1
    for index, text in enumerate(header, start=1):
        cell = _put(sheet, head, index, text)
        cell.font = styles.bold
        cell.alignment = styles.centre
        cell.border = styles.border
        cell.fill = styles.shaded_header
        sheet.column_dimensions[get_column_letter(index)].width = 22 if index == 1 else 11
    totals = [0] * (len(STATUSES) + 2)
    row = head
    for group in groups:
        first = group[0]
        counts = [sum(1 for r in group if r.status == s) for s in STATUSES]
        counts += [len(group), sum(1 for r in group if overdue(r, today))]
        totals = [a + b for a, b in zip(totals, counts, strict=True)]
        row += 1
        cells: list[BookCell] = [first.school, first.school_code, *counts]
        for index, value in enumerate(cells, start=1):
            _put(sheet, row, index, value).border = styles.border
    row += 1
    total: list[BookCell] = [word("total", lang), "", *totals]
    for index, value in enumerate(total, start=1):
        cell = _put(sheet, row, index, value)
        cell.font = styles.bold
        cell.border = styles.border
    sheet.freeze_panes = f"A{head + 1}"


def write_book_xlsx(
    path: Path,
    records: Sequence[LedgerRecord],
    *,
    today: date,
    per_school: bool = True,
    lang: str = "zh",
    zone: str = DEFAULT_ZONE,
) -> None:
    """The 台账 as a workbook: a 汇总 sheet and one sheet per school (`per_school`), or one
    sheet of every item given (one school's); written atomically."""
    from openpyxl import Workbook

    check_lang(lang)
    styles = _Styles()
    book = Workbook()
    book.remove(book.active)
    used = {word("summary_sheet", lang).casefold()}
    groups = by_school(records)
    if per_school:
        _summary_sheet(book.create_sheet(word("summary_sheet", lang)), groups, lang, today, styles)
        for group in groups:
            sheet = book.create_sheet(sheet_title(group[0].school, used))
            _items_sheet(sheet, group, lang, zone, styles)
    if not per_school or not groups:
        name = groups[0][0].school if len(groups) == 1 else word("book_sheet", lang)
        _items_sheet(book.create_sheet(sheet_title(name, used)), records, lang, zone, styles)
    atomic_write(path, book.save, mode="wb")
