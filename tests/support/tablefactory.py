"""Spreadsheets as the field sends them, built in code: CSV in several encodings, and XLSX."""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Sequence
from pathlib import Path

ENCODINGS = {
    # name: (codec, BOM, delimiter) — what Excel and WPS write.
    "utf-8": ("utf-8", b"", ","),
    "utf-8-sig": ("utf-8", codecs.BOM_UTF8, ","),
    "gb18030": ("gb18030", b"", ","),
    "gbk": ("gbk", b"", ","),
    "utf-16": ("utf-16-le", codecs.BOM_UTF16_LE, "\t"),
}


def csv_bytes(rows: Sequence[Sequence[object]], encoding: str = "utf-8-sig") -> bytes:
    codec, bom, delimiter = ENCODINGS[encoding]
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
    for row in rows:
        writer.writerow(["" if c is None else str(c) for c in row])
    return bom + buffer.getvalue().encode(codec)


def write_csv(path: Path, rows: Sequence[Sequence[object]], encoding: str = "utf-8-sig") -> Path:
    path.write_bytes(csv_bytes(rows, encoding))
    return path


def write_xlsx(
    path: Path,
    rows: Sequence[Sequence[object]],
    *,
    sheet: str = "Sheet1",
    merge: Sequence[str] = (),
    extra_sheets: dict[str, Sequence[Sequence[object]]] | None = None,
) -> Path:
    from openpyxl import Workbook

    workbook = Workbook()
    worksheet = workbook.active
    worksheet.title = sheet
    for row in rows:
        worksheet.append(list(row))
    for cells in merge:
        worksheet.merge_cells(cells)
    for name, sheet_rows in (extra_sheets or {}).items():
        other = workbook.create_sheet(name)
        for row in sheet_rows:
            other.append(list(row))
    workbook.save(path)
    return path
