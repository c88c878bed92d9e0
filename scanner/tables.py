"""Reading the spreadsheets the field sends: CSV in any encoding, XLSX and JSON.

Schools and bureaus export from Excel or WPS: GBK/GB18030 without a BOM, UTF-8 with a BOM,
UTF-16 tab-separated ("Unicode 文本") or .xlsx, often with a title row and a "填报单位" line
above the real header. This module finds the header, maps its columns to canonical field
names through a vocabulary of aliases, and yields the rows with the row numbers the sheet
shows. What a field *means* is up to the caller; this module only knows headers and cells.
"""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import json
import re
import unicodedata
import zipfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path
from typing import Any, NamedTuple

from appaudit.errors import AppauditError
from scanner.safetext import sound

HEADER_SEARCH_ROWS = 20
"""How many rows from the top may hold title lines before the real header."""

MIN_HEADER_MATCHES = 2
"""A row is a header only if at least this many of its cells are known header words."""

_PARENTHETICAL = re.compile(r"[\(\[【<《][^\)\]】>》]*[\)\]】>》]")
_HEADER_JUNK = re.compile(r"[\s*:_\-.#]+")
_HEADER_SPLIT = re.compile(r"[/|\\、,;]|或")
_WHITESPACE = re.compile(r"\s+")


class TableError(AppauditError):
    """A file that cannot be read as a table at all (as opposed to a bad row in it)."""


def _clean(value: str) -> str:
    if not value.isascii():
        # A lone surrogate (from a JSON escape) is no character at all: nothing can write it.
        value = unicodedata.normalize("NFKC", sound(value))
    if value.startswith("'") and len(value) > 1:
        # Excel's text marker, and what our own CSV exports put before = + - @.
        value = value[1:]
    return _WHITESPACE.sub(" ", value).strip()


_CLEANED: dict[str, str] = {}
_CLEANED_MAX = 1 << 18


def clean_cell(value: str) -> str:
    """Normalise a cell the way a person reads it: full-width forms folded, spaces collapsed."""
    if not value:
        return ""
    # District files repeat the same school names, app names and requirements on thousands
    # of rows; remembering recent answers makes cleaning nearly free.
    found = _CLEANED.get(value)
    if found is None:
        if len(_CLEANED) >= _CLEANED_MAX:
            _CLEANED.clear()
        found = _CLEANED[value] = _clean(value)
    return found


def header_key(text: str) -> str:
    """The comparable form of a header: case, width, spaces, notes in brackets ignored."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = _PARENTHETICAL.sub("", text)
    return _HEADER_JUNK.sub("", text)


@dataclass(frozen=True)
class Vocabulary:
    """Canonical field names and the header words that mean them."""

    aliases: Mapping[str, str]
    """header_key(alias) -> canonical field name."""

    @classmethod
    def build(cls, fields: Mapping[str, Iterable[str]]) -> Vocabulary:
        aliases: dict[str, str] = {}
        for name, words in fields.items():
            for word in (name, *words):
                key = header_key(word)
                if key:
                    aliases.setdefault(key, name)
        return cls(aliases)

    def field_for(self, header: str) -> str | None:
        """The field a header means, or None; combined headers map to their first known part."""
        key = header_key(header)
        if not key:
            return None
        found = self.aliases.get(key)
        if found:
            return found
        for part in _HEADER_SPLIT.split(unicodedata.normalize("NFKC", header).lower()):
            found = self.aliases.get(header_key(part))
            if found:
                return found
        # Last resort: the longest alias contained in the header ("APP名称" -> 名称).
        best: tuple[int, str] | None = None
        for alias, name in self.aliases.items():
            if len(alias) >= 2 and alias in key and (best is None or len(alias) > best[0]):
                best = (len(alias), name)
        return best[1] if best else None


class Row(NamedTuple):
    """One data row: its number as the sheet shows it and its cells by canonical field."""

    number: int
    cells: dict[str, str]
    extra: dict[str, str]
    """Cells under headers the vocabulary does not know, by header text."""

    def get(self, name: str) -> str:
        return self.cells.get(name, "")


@dataclass
class Table:
    """A table found in a file: where its header is, what its columns mean, and its rows."""

    source: str
    encoding: str
    header_row: int
    headers: tuple[str, ...]
    columns: dict[str, int]
    """Canonical field -> column index (the first column that means it)."""
    preamble: tuple[tuple[str, ...], ...]
    """The rows above the header (title, 填报单位 …), cleaned."""
    sheet: str | None = None
    row_label: str = "row"
    duplicate_headers: tuple[str, ...] = ()
    _records: Iterator[tuple[int, list[str]]] | None = None

    def records(self) -> Iterator[tuple[int, list[str]]]:
        """Every non-empty row after the header, once: its number and its cleaned cells.

        The cells are padded to the header's width plus one: the last cell is always "",
        so a missing column can be read at index -1.
        """
        if self._records is None:
            raise TableError("the rows of this table have already been read")
        records, self._records = self._records, None
        width = len(self.headers) + 1
        for number, raw in records:
            cells = [clean_cell(c) for c in raw]
            if not any(cells):
                continue  # blank lines and empty trailing rows are layout, not data
            if len(cells) < width:
                cells.extend([""] * (width - len(cells)))
            else:
                cells.append("")
            yield number, cells

    def extra(self, cells: Sequence[str]) -> dict[str, str]:
        """Cells under headers the vocabulary does not know (and beyond the last header)."""
        known = set(self.columns.values())
        out = {h: cells[i] for i, h in enumerate(self.headers) if i not in known and h and cells[i]}
        overflow = [c for c in cells[len(self.headers) :] if c]
        if overflow:
            out[""] = " | ".join(overflow)
        return out

    @property
    def has_unknown_columns(self) -> bool:
        return len(self.columns) < sum(1 for h in self.headers if h)

    def rows(self) -> Iterator[Row]:
        """Yield every non-empty row after the header, once, with cells by field."""
        mapped = list(self.columns.items())
        header_width = len(self.headers)
        for number, cells in self.records():
            values = {name: cells[i] for name, i in mapped}
            unknown = self.has_unknown_columns or len(cells) > header_width + 1
            yield Row(number, values, self.extra(cells) if unknown else {})

    def preamble_value(self, *labels: str) -> str:
        """The text after a label such as 填报单位 in the lines above the header."""
        for line in self.preamble:
            text = " ".join(c for c in line if c)
            for label in labels:
                at = text.find(label)
                if at < 0:
                    continue
                rest = text[at + len(label) :]
                rest = re.sub(r"^[\s(（]*盖章[)）]?", "", rest).lstrip(" :：")
                value = re.split(r"\s{2,}|填报人|联系人|联系电话|填报日期|日期", rest)[0].strip()
                if value:
                    return value
        return ""


def read_table(
    path: Path,
    vocabulary: Vocabulary,
    *,
    sheet: str | None = None,
) -> Table:
    """Open a CSV, TSV, XLSX or JSON file and find its header row.

    Raises TableError with a plain reason when the file cannot be read or has no header
    that the vocabulary recognises.
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise TableError(f"cannot read {path}: {exc.strerror or exc}") from exc
    suffix = path.suffix.lower()
    if data[:4] == b"PK\x03\x04" or suffix in (".xlsx", ".xlsm"):
        return _read_xlsx(path, data, vocabulary, sheet)
    if data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" or suffix == ".xls":
        raise TableError(
            f"{path.name}: old Excel .xls files are not supported; save as .xlsx or CSV"
        )
    if suffix == ".json" or data.lstrip()[:1] in (b"[", b"{"):
        return _read_json(path, data, vocabulary)
    return _read_text(path, data, vocabulary)


def decode_candidates(data: bytes) -> Iterator[tuple[str, str]]:
    """Yield (encoding, text) for each plausible decoding, most likely first.

    BOMs first, then strict UTF-8, then GB18030 (a superset of GBK), then UTF-16 without a
    BOM. A generic detector gets very short GB18030 files wrong, so the caller accepts a
    decoding only if it yields a recognisable header.
    """
    boms = (
        (codecs.BOM_UTF8, "utf-8-sig"),
        (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16"),
    )
    for bom, encoding in boms:
        if data.startswith(bom):
            text = _decode(data, encoding)
            if text is not None:
                yield encoding, text
            return
    for encoding in ("utf-8", "gb18030", "utf-16-le", "utf-16-be"):
        text = _decode(data, encoding)
        # NULs mean UTF-16 read as a byte encoding, or a binary file.
        if text is not None and "\x00" not in text:
            yield encoding, text
    try:
        from charset_normalizer import from_bytes

        best = from_bytes(data[:65536]).best()
    except Exception:  # the detector is a last resort; its failure is not ours to report
        best = None
    if best is not None and best.encoding:
        text = _decode(data, best.encoding)
        if text is not None:
            yield best.encoding, text


def _decode(data: bytes, encoding: str) -> str | None:
    try:
        return data.decode(encoding)
    except (UnicodeDecodeError, LookupError):
        return None


def _read_text(path: Path, data: bytes, vocabulary: Vocabulary) -> Table:
    if not data.strip():
        raise TableError(f"{path.name}: the file is empty")
    tried: list[str] = []
    for encoding, text in decode_candidates(data):
        tried.append(encoding)
        delimiter, found = _sniff_delimiter(text, vocabulary)
        if found is None:
            continue
        header_index, columns, duplicates = found
        records = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
        numbered = enumerate(records, start=1)
        preamble = [next(numbered)[1] for _ in range(header_index)]
        headers = next(numbered)[1]
        return Table(
            source=str(path),
            encoding=encoding,
            header_row=header_index + 1,
            headers=tuple(clean_cell(h) for h in headers),
            columns=columns,
            preamble=tuple(tuple(clean_cell(c) for c in line) for line in preamble),
            duplicate_headers=duplicates,
            _records=numbered,
        )
    raise TableError(
        f"{path.name}: no header row with known column names found in the first "
        f"{HEADER_SEARCH_ROWS} rows (tried {', '.join(tried) or 'no text encoding'}); "
        "check that the file is a CSV/XLSX of the expected form"
    )


def _sniff_delimiter(
    text: str, vocabulary: Vocabulary
) -> tuple[str, tuple[int, dict[str, int], tuple[str, ...]] | None]:
    """The delimiter under which the best header row appears, and that header."""
    best: tuple[str, tuple[int, dict[str, int], tuple[str, ...]] | None] = (",", None)
    for delimiter in (",", "\t", ";", "|"):
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
        found = _find_header(list(itertools.islice(reader, HEADER_SEARCH_ROWS)), vocabulary)
        if found and (best[1] is None or len(found[1]) > len(best[1][1])):
            best = (delimiter, found)
    return best


def _find_header(
    rows: Sequence[Sequence[Any]], vocabulary: Vocabulary
) -> tuple[int, dict[str, int], tuple[str, ...]] | None:
    best: tuple[int, dict[str, int], tuple[str, ...]] | None = None
    for index, row in enumerate(rows):
        columns: dict[str, int] = {}
        duplicates: list[str] = []
        for col, cell in enumerate(row):
            text = _cell_text(cell)
            if not text or len(text) > 40:
                continue  # a title line is long; a header cell is short
            name = vocabulary.field_for(text)
            if name is None:
                continue
            if name in columns:
                duplicates.append(text)
            else:
                columns[name] = col
        if len(columns) >= MIN_HEADER_MATCHES and (best is None or len(columns) > len(best[1])):
            best = (index, columns, tuple(duplicates))
    return best


def _cell_text(value: Any) -> str:
    """A spreadsheet value as the text a person sees in the cell."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, datetime):
        if value.time() == time(0):
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, date | time):
        return value.isoformat()
    return str(value)


def _read_xlsx(path: Path, data: bytes, vocabulary: Vocabulary, sheet: str | None) -> Table:
    try:
        from openpyxl import load_workbook

        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise TableError(f"{path.name}: not a readable .xlsx workbook ({exc})") from exc
    except Exception as exc:  # openpyxl raises many types for damaged workbooks
        raise TableError(f"{path.name}: not a readable .xlsx workbook ({exc})") from exc
    if sheet is not None:
        if sheet not in workbook.sheetnames:
            names = "、".join(workbook.sheetnames)
            raise TableError(f"{path.name}: no sheet named {sheet!r} (sheets: {names})")
        worksheet = workbook[sheet]
    else:
        worksheet = workbook.worksheets[0]
    worksheet.reset_dimensions()  # WPS and other writers often record wrong dimensions
    records = (
        (n, [_cell_text(v) for v in values])
        for n, values in enumerate(worksheet.iter_rows(values_only=True), start=1)
    )
    head: list[tuple[int, list[str]]] = []
    for record in records:
        head.append(record)
        if len(head) >= HEADER_SEARCH_ROWS:
            break
    found = _find_header([cells for _, cells in head], vocabulary)
    if found is None:
        raise TableError(
            f"{path.name}: sheet {worksheet.title!r} has no header row with known column names "
            f"in its first {HEADER_SEARCH_ROWS} rows"
        )
    header_index, columns, duplicates = found

    def rest() -> Iterator[tuple[int, list[str]]]:
        yield from head[header_index + 1 :]
        yield from records
        workbook.close()

    return Table(
        source=str(path),
        encoding="xlsx",
        header_row=head[header_index][0],
        headers=tuple(clean_cell(h) for h in head[header_index][1]),
        columns=columns,
        preamble=tuple(tuple(clean_cell(c) for c in cells) for _, cells in head[:header_index]),
        sheet=worksheet.title,
        duplicate_headers=duplicates,
        _records=rest(),
    )


def _read_json(path: Path, data: bytes, vocabulary: Vocabulary) -> Table:
    try:
        document = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise TableError(f"{path.name}: not valid UTF-8 JSON ({exc})") from exc
    if isinstance(document, dict):
        arrays = [v for v in document.values() if isinstance(v, list)]
        if len(arrays) != 1:
            raise TableError(f"{path.name}: expected a JSON array of objects")
        document = arrays[0]
    if not isinstance(document, list) or not all(isinstance(o, dict) for o in document):
        raise TableError(f"{path.name}: expected a JSON array of objects")
    headers: list[str] = []
    for obj in document:
        for key in obj:
            if key not in headers:
                headers.append(str(key))
    columns: dict[str, int] = {}
    for col, header in enumerate(headers):
        name = vocabulary.field_for(header)
        if name is not None and name not in columns:
            columns[name] = col
    if not columns and document:
        raise TableError(f"{path.name}: no known field names in the JSON objects")

    def records() -> Iterator[tuple[int, list[str]]]:
        for number, obj in enumerate(document, start=1):
            yield number, [_json_cell(obj.get(h)) for h in headers]

    return Table(
        source=str(path),
        encoding="json",
        header_row=0,
        headers=tuple(headers),
        columns=columns,
        preamble=(),
        row_label="item",
        _records=records(),
    )


def _json_cell(value: Any) -> str:
    if isinstance(value, list):
        return ";".join(_cell_text(v) for v in value)
    return _cell_text(value)
