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
    hidden: Sequence[str] = (),
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
        if name in hidden:
            other.sheet_state = "hidden"
    workbook.save(path)
    return path


def mixed_csv(lines: Sequence[Sequence[object]], encoding: str, others: dict[int, str]) -> bytes:
    """A CSV whose lines are in `encoding`, except line i (from 1) in `others[i]`: what a
    sheet becomes when a row is pasted in from a file saved another way."""
    out = []
    for number, row in enumerate(lines, start=1):
        text = csv_bytes([row], "utf-8").decode("utf-8")
        out.append(text.encode(others.get(number, encoding)))
    return b"".join(out)


def replace_parts(path: Path, parts: dict[str, bytes], *, level: int = 9) -> Path:
    """Rewrite the workbook at `path` with some of its parts (e.g. `xl/worksheets/sheet1.xml`)
    replaced or added, as a hostile or broken writer could have made it."""
    import zipfile

    with zipfile.ZipFile(path) as source:
        kept = {i.filename: source.read(i) for i in source.infolist()}
    kept.update(parts)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=level) as target:
        for name, data in kept.items():
            target.writestr(name, data)
    return path


SHEET_HEAD = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    b'<dimension ref="A1:E2"/><sheetData>'
)
SHEET_TAIL = b"</sheetData></worksheet>"


def inline_row(number: int, cells: dict[str, str]) -> bytes:
    """One `<row>` of inline-string cells, by column letters ({"A": "学校", "XFD": "x"})."""
    parts = [f'<row r="{number}">']
    for column, value in cells.items():
        parts.append(f'<c r="{column}{number}" t="inlineStr"><is><t>{value}</t></is></c>')
    parts.append("</row>")
    return "".join(parts).encode("utf-8")


def declare_size(path: Path, member: str, size: int) -> Path:
    """Make the zip's central directory declare `size` inflated bytes for `member`, whatever
    its data inflates to (a header that lies)."""
    import struct

    data = bytearray(path.read_bytes())
    eocd = data.rfind(b"PK\x05\x06")
    count, _, offset = struct.unpack_from("<HII", data, eocd + 10)
    at = offset
    for _ in range(count):
        name_len, extra_len, comment_len = struct.unpack_from("<HHH", data, at + 28)
        name = bytes(data[at + 46 : at + 46 + name_len]).decode("utf-8")
        if name == member:
            struct.pack_into("<I", data, at + 24, size)
        at += 46 + name_len + extra_len + comment_len
    path.write_bytes(bytes(data))
    return path
