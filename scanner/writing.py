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


def atomic_write(path: Path, write: Any, *, mode: str = "w", **kwargs: Any) -> None:
    """Write a file through a temporary sibling, so a failed run leaves no half-written file.

    The sibling is created like any new file (not with mkstemp, which makes it private), so
    the result gets the user's usual permissions.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
        try:
            handle = open(tmp, mode.replace("w", "x"), **kwargs)  # noqa: SIM115
        except FileExistsError:
            continue
        break
    try:
        with handle:
            write(handle)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
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


def write_csv_lines(path: Path, header: Sequence[str], lines: Iterable[str]) -> None:
    """Like `write_csv`, for rows already encoded with `csv_cells` (without line ends)."""

    def write(handle: Any) -> None:
        handle.write("\ufeff" + csv_cells(header) + "\r\n")
        for line in lines:
            handle.write(line)
            handle.write("\r\n")

    atomic_write(path, write, encoding="utf-8", newline="")


def csv_text(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """The same CSV as text, for standard output (no BOM)."""
    buffer = io.StringIO(newline="")
    _write_csv_rows(buffer, header, rows)
    return buffer.getvalue()


def write_xlsx(
    path: Path,
    header: Sequence[str],
    rows: Iterable[Sequence[str]],
    *,
    title: str = "Sheet1",
    cut_mark: str = XLSX_MARK,
) -> None:
    """An .xlsx sheet whose cells are all plain strings: nothing is ever a formula.

    Characters a spreadsheet cannot hold (controls, invisible marks) are left out, and a
    cell longer than Excel allows is cut with `cut_mark` (formatted with `total`).
    """
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=title[:31])

    def string_cells(values: Sequence[str]) -> list[WriteOnlyCell]:
        cells = []
        for value in values:
            cell = WriteOnlyCell(sheet, value=for_xlsx(value, cut_mark))
            cell.data_type = "s"  # a string, even when it starts with "="
            cells.append(cell)
        return cells

    sheet.append(string_cells(header))
    for row in rows:
        sheet.append(string_cells(row))
    atomic_write(path, workbook.save, mode="wb")
