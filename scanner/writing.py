"""Writing tables for Excel and WPS: CSV and XLSX that no spreadsheet reads as a formula,
with the text shown safely (`scanner.safetext`), written atomically."""

from __future__ import annotations

import csv
import io
import os
import secrets
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from scanner.safetext import XLSX_MARK, for_xlsx, shown

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
        self.file = AtomicFile(path, encoding="utf-8", newline="")
        # The BOM by hand: the utf-8-sig codec encodes in Python, write by write, while
        # plain utf-8 runs in C — it matters for a million rows.
        self.file.handle.write("\ufeff" + csv_cells(header) + "\r\n")

    def write(self, line: str) -> None:
        self.file.handle.write(line)
        self.file.handle.write("\r\n")

    def commit(self) -> None:
        self.file.commit()

    def discard(self) -> None:
        self.file.discard()


def csv_text(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """The same CSV as text, for standard output (no BOM)."""
    buffer = io.StringIO(newline="")
    _write_csv_rows(buffer, header, rows)
    return buffer.getvalue()


class XlsxSheet:
    """An .xlsx file of one sheet being written row by row; every cell a plain string, so
    nothing a school wrote can become a formula.

    Characters a spreadsheet cannot hold (controls, invisible marks) are left out, and a
    cell longer than Excel allows is cut with `cut_mark` (formatted with `total`).
    """

    def __init__(
        self,
        path: Path,
        header: Sequence[str],
        *,
        title: str = "Sheet1",
        cut_mark: str = XLSX_MARK,
    ) -> None:
        from openpyxl import Workbook

        self.path = path
        self.cut_mark = cut_mark
        self.workbook = Workbook(write_only=True)
        self.sheet = self.workbook.create_sheet(title=title[:31])
        self.append(header)

    def append(self, values: Sequence[str]) -> None:
        from openpyxl.cell import WriteOnlyCell

        cells = []
        for value in values:
            cell = WriteOnlyCell(self.sheet, value=for_xlsx(value, self.cut_mark))
            cell.data_type = "s"  # a string, even when it starts with "="
            cells.append(cell)
        self.sheet.append(cells)

    def save(self) -> None:
        atomic_write(self.path, self.workbook.save, mode="wb")


def write_xlsx(
    path: Path,
    header: Sequence[str],
    rows: Iterable[Sequence[str]],
    *,
    title: str = "Sheet1",
    cut_mark: str = XLSX_MARK,
) -> None:
    """An .xlsx sheet whose cells are all plain strings: nothing is ever a formula."""
    sheet = XlsxSheet(path, header, title=title, cut_mark=cut_mark)
    for row in rows:
        sheet.append(row)
    sheet.save()
