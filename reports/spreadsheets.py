"""Tables for Excel and WPS: CSV and XLSX that no spreadsheet reads as a formula, with the
text shown safely (`scanner.safetext`), written atomically.

The report formats write `findings.csv` and `findings.xlsx` with them, and the registry
export its tables."""

from __future__ import annotations

import csv
import io
import os
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scanner.safetext import XLSX_MARK, for_xlsx, shown

if TYPE_CHECKING:
    from openpyxl.workbook.workbook import Workbook
    from openpyxl.worksheet._write_only import WriteOnlyWorksheet

_NEEDS_QUOTE = frozenset("=+-@\t\r'")
"""First characters that make a spreadsheet read a cell as a formula, and Excel's own
text marker (so that a value starting with it survives the round trip)."""


def neutralise(value: str) -> str:
    """Keep a spreadsheet from reading a cell as a formula (CSV injection).

    A leading apostrophe is Excel's own text marker; `clean_cell` strips it on reading, so
    an exported file imports back to the same values.
    """
    if value and value[0] in _NEEDS_QUOTE:
        return "'" + value
    return value


class AtomicFile:
    """A file written through a temporary sibling and renamed into place by `commit`.

    The sibling is created like any new file (not with mkstemp, which makes it private), so
    the result gets the user's usual permissions; `discard` (or a failure) leaves nothing.
    """

    def __init__(self, path: Path, *, mode: str = "w", **kwargs: Any) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        while True:
            self.tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
            try:
                self.handle = open(self.tmp, mode.replace("w", "x"), **kwargs)  # noqa: SIM115
            except FileExistsError:
                continue
            break

    def commit(self) -> None:
        self.handle.close()
        os.replace(self.tmp, self.path)

    def discard(self) -> None:
        self.handle.close()
        self.tmp.unlink(missing_ok=True)


def atomic_write(path: Path, write: Any, *, mode: str = "w", **kwargs: Any) -> None:
    """Write a file through a temporary sibling, so a failed run leaves no half-written file."""
    target = AtomicFile(path, mode=mode, **kwargs)
    try:
        write(target.handle)
        target.commit()
    except BaseException:
        target.discard()
        raise


def csv_cell(value: str) -> str:
    """A cell as CSV output carries it: invisible characters shown, formulas neutralised."""
    if not value.isprintable():  # every character `shown` changes is unprintable
        value = shown(value)
    if value and value[0] in _NEEDS_QUOTE:
        return "'" + value
    return value


def _write_csv_rows(handle: Any, header: Sequence[str], rows: Iterable[Sequence[str]]) -> None:
    writer = csv.writer(handle)
    writer.writerow([csv_cell(c) for c in header])
    for row in rows:
        writer.writerow([csv_cell(c) for c in row])


def write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[str]]) -> None:
    """UTF-8 with BOM (Excel opens it as UTF-8), every cell neutralised."""

    def write(handle: Any) -> None:
        # The BOM by hand: the utf-8-sig codec encodes in Python, write by write, while
        # plain utf-8 runs in C — it matters for a million rows.
        handle.write("\ufeff")
        _write_csv_rows(handle, header, rows)

    atomic_write(path, write, encoding="utf-8", newline="")


def csv_cells(cells: Sequence[str]) -> str:
    """Cells as one CSV fragment (quoted as needed, neutralised, no line end).

    Fragments joined with "," make a valid row: writers that repeat the same cells on
    many rows encode them once.
    """
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="").writerow([csv_cell(c) for c in cells])
    return buffer.getvalue()


class CsvLines:
    """A CSV file for Excel being written line by line: UTF-8 with a BOM, header first.

    Lines come already encoded with `csv_cells` (without line ends), so that writers which
    repeat the same cells on many rows encode them once.
    """

    def __init__(self, path: Path, header: Sequence[str]) -> None:
        # Binary: writers that repeat the same cells on many rows encode them once too.
        self.file = AtomicFile(path, mode="wb")
        self.file.handle.write(("\ufeff" + csv_cells(header) + "\r\n").encode("utf-8"))

    def write(self, line: str) -> None:
        self.file.handle.write((line + "\r\n").encode("utf-8"))

    def write_lines(self, lines: Iterable[str]) -> None:
        """Several lines in one write: a district's million lines cost a write each else."""
        text = "\r\n".join(lines)
        if text:
            self.file.handle.write((text + "\r\n").encode("utf-8"))

    def write_encoded(self, data: bytes) -> None:
        """Lines already in UTF-8, each ended with CRLF."""
        self.file.handle.write(data)

    def commit(self) -> None:
        self.file.commit()

    def discard(self) -> None:
        self.file.discard()


def csv_text(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """The same CSV as text, for standard output (no BOM)."""
    buffer = io.StringIO(newline="")
    _write_csv_rows(buffer, header, rows)
    return buffer.getvalue()


XLSX_MAX_ROWS = 1_048_576
"""The most rows an Excel sheet holds, its header included."""

Cell = str | int | None
"""An XLSX cell: text (always kept as text), a number, or empty."""


@dataclass(frozen=True)
class Column:
    """How a column of a sheet is laid out: its width in characters, whether its text wraps."""

    width: float | None = None
    wrap: bool = False


class XlsxBook:
    """An .xlsx workbook being written sheet by sheet, row by row, in constant memory.

    Characters a spreadsheet cannot hold (controls, invisible marks) are left out of text
    cells, and a cell longer than Excel allows is cut with `cut_mark` (formatted with
    `total`). openpyxl is imported here, not with the module: most commands never write one.
    """

    def __init__(self, path: Path, *, cut_mark: str = XLSX_MARK) -> None:
        from openpyxl import Workbook

        self.path = path
        self.cut_mark = cut_mark
        self.workbook: Workbook = Workbook(write_only=True)
        self.sheets: list[XlsxSheet] = []

    def sheet(self, title: str, header: Sequence[str], columns: Sequence[Column] = ()) -> XlsxSheet:
        """A new sheet with `header` as its first row, frozen and with a filter on it."""
        sheet = XlsxSheet(self, title, header, columns)
        self.sheets.append(sheet)
        return sheet

    def save(self) -> None:
        for sheet in self.sheets:
            sheet.finish()
        atomic_write(self.path, self.workbook.save, mode="wb")


class XlsxSheet:
    """A sheet being written row by row: text cells are always strings, so nothing a school
    wrote can become a formula; numbers stay numbers.

    A sheet that reaches Excel's row limit goes on in a new sheet of the same book, with
    the same header and a numbered title.
    """

    def __init__(
        self, book: XlsxBook, title: str, header: Sequence[str], columns: Sequence[Column]
    ) -> None:
        from openpyxl.styles import Alignment, Font

        self.book = book
        self.title = title
        self.header = list(header)
        self.columns = list(columns)
        self.parts: list[WriteOnlyWorksheet] = []
        self.rows = 0
        self._bold = Font(bold=True)
        wrapped = Alignment(wrap_text=True, vertical="top")
        top = Alignment(vertical="top")
        self._start()
        # Each column's style, resolved once: setting a style on a cell looks it up in the
        # workbook's tables, which costs more than writing the cell; the resolved style is
        # shared by the column's cells (openpyxl copies cells' styles the same way).
        self._styles = [self._resolved(wrapped if c.wrap else top) for c in self.columns]

    def _start(self) -> None:
        from openpyxl.cell import WriteOnlyCell
        from openpyxl.utils import get_column_letter

        if self.parts:
            self._close_part()
        number = len(self.parts) + 1
        title = self.title[:31] if number == 1 else f"{self.title[:27]} ({number})"
        sheet = self.book.workbook.create_sheet(title=title)
        self.parts.append(sheet)
        for index, column in enumerate(self.columns, start=1):
            if column.width:
                sheet.column_dimensions[get_column_letter(index)].width = column.width
        sheet.freeze_panes = "A2"
        cells = []
        for value in self.header:
            cell = WriteOnlyCell(sheet, value=for_xlsx(value, self.book.cut_mark))
            cell.data_type = "s"
            cell.font = self._bold
            cells.append(cell)
        sheet.append(cells)
        self.rows = 1

    def _resolved(self, alignment: Any) -> Any:
        from openpyxl.cell import WriteOnlyCell

        template = WriteOnlyCell(self.parts[-1])
        template.alignment = alignment
        return template._style

    def append(self, values: Sequence[Cell]) -> None:
        from openpyxl.cell import WriteOnlyCell

        if self.rows >= XLSX_MAX_ROWS:
            self._start()
        sheet = self.parts[-1]
        styles = self._styles
        cells = []
        for index, value in enumerate(values):
            if isinstance(value, str):
                cell = WriteOnlyCell(sheet, value=for_xlsx(value, self.book.cut_mark))
                cell.data_type = "s"  # a string, even when it starts with "="
            else:
                cell = WriteOnlyCell(sheet, value=value)
            if index < len(styles):
                cell._style = styles[index]
            cells.append(cell)
        sheet.append(cells)
        self.rows += 1

    def _close_part(self) -> None:
        from openpyxl.utils import get_column_letter

        width = max(len(self.header), 1)
        self.parts[-1].auto_filter.ref = f"A1:{get_column_letter(width)}{max(self.rows, 1)}"

    def finish(self) -> None:
        """Put the filter on the header of the last part (the earlier ones have theirs)."""
        self._close_part()


def write_xlsx(
    path: Path,
    header: Sequence[str],
    rows: Iterable[Sequence[Cell]],
    *,
    title: str = "Sheet1",
    cut_mark: str = XLSX_MARK,
) -> None:
    """An .xlsx file of one sheet whose text cells are all plain strings: nothing is ever a
    formula."""
    book = XlsxBook(path, cut_mark=cut_mark)
    sheet = book.sheet(title, header)
    for row in rows:
        sheet.append(row)
    book.save()
