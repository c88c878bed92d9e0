"""Reading the spreadsheets the field sends: CSV in any encoding, XLSX and JSON.

Schools and bureaus export from Excel or WPS: GBK/GB18030 without a BOM, UTF-8 with a BOM,
UTF-16 tab-separated ("Unicode 文本") or .xlsx, often with a title row and a "填报单位" line
above the real header. This module finds the header, maps its columns to canonical field
names through a vocabulary of aliases, and yields the rows with the row numbers the sheet
shows. What a field *means* is up to the caller; this module only knows headers and cells.

Files come as people and tools left them, so reading works around what it can and says so
in `TableNote`s instead of failing or guessing silently: a line in another encoding than
the rest of the file is decoded on its own; a quotation mark that is never closed (which
would swallow every following row into one cell) breaks only its own row; a cell of any
length is kept whole. What cannot be read within bounds — a workbook that inflates beyond
`ReadLimits` — is refused before it is parsed.
"""

from __future__ import annotations

import collections
import csv
import hashlib
import io
import itertools
import json
import re
import sys
import tomllib
import unicodedata
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from functools import cache, cached_property
from importlib import resources
from pathlib import Path
from typing import Any, NamedTuple

from appaudit.errors import AppauditError, Message, phrase
from scanner.decoding import Decoded, decode_candidates
from scanner.safetext import shown_path, sound

HEADER_SEARCH_ROWS = 20
"""How many rows from the top may hold title lines before the real header."""

MIN_HEADER_MATCHES = 2
"""A row is a header only if at least this many of its cells are known header words."""

_PARENTHETICAL = re.compile(r"[\(\[【<《][^\)\]】>》]*[\)\]】>》]")
_HEADER_JUNK = re.compile(r"[\s*:_\-.#]+")
_HEADER_SPLIT = re.compile(r"[/|\\、,;]|或")
_WHITESPACE = re.compile(r"\s+")


MiB = 1 << 20

XLSX_MAX_COLUMNS = 256
"""Columns read from a sheet: the old .xls format's own limit, far beyond any form. Asking
for no more keeps a sheet whose rows reach column XFD from costing 16,384 cells a row."""

# A cell may be as long as the file: Python's default cap (131,072 characters) turned one
# long cell, or a long line read under the wrong delimiter, into an error for the file.
csv.field_size_limit(min(sys.maxsize, 2**31 - 1))


class TableError(AppauditError):
    """A file that cannot be read as a table at all (as opposed to a bad row in it)."""


@dataclass(frozen=True)
class ReadLimits:
    """Caps that keep one spreadsheet from costing unbounded memory or time."""

    max_inflated: int = 512 * MiB
    """Largest inflated size of what reading a workbook parses: the sheet that is read and
    every part read on opening it (shared strings, styles …)."""
    max_ratio: int = 500
    """Largest inflated/compressed ratio of one part; sheets written by Excel, WPS or
    openpyxl stay below 30, a zip bomb reaches 1,000."""
    ratio_applies_above: int = 1 * MiB
    """Small parts may compress very well without being a threat."""


DEFAULT_READ_LIMITS = ReadLimits()


@cache
def _note_texts() -> dict[str, dict[str, str]]:
    text = resources.files("scanner").joinpath("data/table-notes.toml").read_text("utf-8")
    return tomllib.loads(text)


def _error(key: str, **params: Any) -> Message:
    """Why a whole file cannot be read, in each language (`[errors]` of table-notes.toml)."""
    errors: Mapping[str, Mapping[str, str]] = _note_texts()["errors"]  # type: ignore[assignment]
    return phrase(errors[key], **params)


LISTED_ROWS = 20
"""Rows named one by one in a note before the rest are only counted."""


def _row_list(rows: Sequence[int], lang: str) -> str:
    words = _note_texts()["rows"]
    shown = words["sep_" + lang].join(str(r) for r in rows[:LISTED_ROWS])
    if len(rows) > LISTED_ROWS:
        shown += words["more_" + lang].format(count=len(rows) - LISTED_ROWS, total=len(rows))
    return shown


@dataclass(frozen=True)
class TableNote:
    """Something the reader had to work around, said for the person reading the report."""

    row: int | None
    """The row it concerns, as the sheet shows it; None for the file as a whole."""
    key: str
    """Its message in `scanner/data/table-notes.toml`."""
    values: Mapping[str, Any] = field(default_factory=dict)
    rows: tuple[int, ...] = ()
    """Rows it names (listed in the message as `{rows}`)."""

    def text(self, lang: str) -> str:
        template = _note_texts()[self.key][lang]
        return template.format(**self.values, row=self.row, rows=_row_list(self.rows, lang))


def _clean(value: str) -> str:
    if not value.isascii():
        # A lone surrogate (from a JSON escape) is no character at all: nothing can write it.
        value = unicodedata.normalize("NFKC", sound(value))
    if value.startswith("'") and len(value) > 1:
        # Excel's text marker, and what our own CSV exports put before = + - @.
        value = value[1:]
    return _WHITESPACE.sub(" ", value).strip()


_CLEANED: dict[str, str] = {"": ""}
_CLEANED_MAX = 1 << 18
_CLEANED_LONGEST = 256
"""Longer cells (notes, pasted text) rarely repeat; remembering them would only cost memory."""


def clean_cell(value: str) -> str:
    """Normalise a cell the way a person reads it: full-width forms folded, spaces collapsed."""
    if not value:
        return ""
    # District files repeat the same school names, app names and requirements on thousands
    # of rows; remembering recent answers makes cleaning nearly free.
    found = _CLEANED.get(value)
    if found is None:
        if len(value) > _CLEANED_LONGEST:
            return _clean(value)
        if len(_CLEANED) >= _CLEANED_MAX:
            _CLEANED.clear()
            _CLEANED[""] = ""
        found = _CLEANED[value] = _clean(value)
    return found


def kept_cell(value: str) -> str:
    """A cell as its writer wrote it: full-width punctuation and line breaks kept; only the
    spaces around it, Excel's text marker and characters nothing can write are taken off."""
    if not value:
        return ""
    value = sound(value).replace("\r\n", "\n").replace("\r", "\n")
    if value.startswith("'") and len(value) > 1:
        value = value[1:]
    return value.strip()


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
        for alias, name in self._longest_first:
            if alias in key:
                return name
        return None

    @cached_property
    def _longest_first(self) -> tuple[tuple[str, str], ...]:
        """Aliases of two characters or more, longest first (in their order when equal)."""
        long = [(alias, name) for alias, name in self.aliases.items() if len(alias) >= 2]
        return tuple(sorted(long, key=lambda pair: -len(pair[0])))


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
    sheets: tuple[str, ...] = ()
    """Of a workbook read without a sheet named: every sheet with a header, in order, this
    table's first (the caller reads the others)."""
    sheets_not_read: tuple[str, ...] = ()
    """Its visible sheets with content but no header in their first rows (instructions, or
    a form whose header is not understood), which are not read. Hidden sheets (a template's
    lists of choices) are neither read nor named."""
    row_label: str = "row"
    duplicate_headers: tuple[str, ...] = ()
    _records: Iterator[tuple[int, list[str]]] | None = None
    sha256: str = ""
    """Of the file's bytes, as read."""
    notes: list[TableNote] = field(default_factory=list)
    """What the reader worked around in the file as a whole (a line in another encoding,
    columns beyond those read); complete once the rows have been read."""
    broken_rows: dict[int, TableNote] = field(default_factory=dict)
    """Rows that could not be taken apart as the file meant them, by number; a row is
    entered here before `records()` yields it."""
    keep_text: bool = False
    """Give the cells as written (trimmed, nothing folded): for text a person wrote that is
    kept and shown again (a 台账's 进展), not matched against names."""

    def records(self) -> Iterator[tuple[int, list[str]]]:
        """Every non-empty row after the header, once: its number and its cleaned cells.

        The cells are padded to the header's width plus one: the last cell is always "",
        so a missing column can be read at index -1.
        """
        if self._records is None:
            raise TableError("the rows of this table have already been read")
        records, self._records = self._records, None
        width = len(self.headers) + 1
        known = _CLEANED.get
        for number, raw in records:
            if self.keep_text:
                cells = [kept_cell(c) for c in raw]
            else:
                # Most cells were seen before: look them all up in one call, and clean only
                # the others (an empty cell is known as itself).
                cells = list(map(known, raw))  # type: ignore[arg-type]
                while None in cells:  # most rows miss one cell or none (their 序号)
                    at = cells.index(None)  # type: ignore[arg-type]
                    cells[at] = clean_cell(raw[at])
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
    limits: ReadLimits = DEFAULT_READ_LIMITS,
) -> Table:
    """Open a CSV, TSV, XLSX or JSON file and find its header row.

    Raises TableError with a plain reason when the file cannot be read, is beyond
    `limits`, or has no header that the vocabulary recognises.
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise TableError(
            _error("cannot_read", path=shown_path(path), reason=exc.strerror or exc)
        ) from exc
    suffix = path.suffix.lower()
    if data[:4] == b"PK\x03\x04" or suffix in (".xlsx", ".xlsm"):
        table = _read_xlsx(path, data, vocabulary, sheet, limits)
    elif data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" or suffix == ".xls":
        raise TableError(_error("old_xls", name=_name(path)))
    elif suffix == ".json" or data.lstrip()[:1] in (b"[", b"{"):
        table = _read_json(path, data, vocabulary)
    else:
        table = _read_text(path, data, vocabulary)
    table.sha256 = hashlib.sha256(data).hexdigest()
    return table


def _name(path: Path) -> str:
    return shown_path(path.name)


def _read_text(path: Path, data: bytes, vocabulary: Vocabulary) -> Table:
    if not data.strip():
        raise TableError(_error("empty", name=_name(path)))
    tried: list[str] = []
    for decoded in decode_candidates(data):
        tried.append(decoded.encoding)
        text = decoded.text
        delimiter, found = _sniff_delimiter(text, vocabulary)
        if found is None:
            continue
        table = Table(
            source=shown_path(path),
            encoding=decoded.encoding,
            header_row=found.first + 1,
            headers=(),
            columns=found.columns,
            preamble=(),
            duplicate_headers=found.duplicates,
        )
        numbered = _text_records(text, delimiter, decoded, table)
        preamble = [next(numbered)[1] for _ in range(found.first)]
        header_rows = [next(numbered)[1] for _ in range(found.depth)]
        headers = found.labels([*preamble, *header_rows])
        table.headers = tuple(clean_cell(h) for h in headers)
        table.preamble = tuple(tuple(clean_cell(c) for c in line) for line in preamble)
        table._records = numbered
        return table
    raise TableError(
        _error(
            "no_header",
            name=_name(path),
            rows=HEADER_SEARCH_ROWS,
            tried=", ".join(tried) or "—",
        )
    )


_LINE = re.compile("[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+")
"""A line with its terminator (CRLF, CR or LF, as `newline=""` reads them), or the last one."""


def _lines(text: str) -> Iterator[str]:
    """The lines of `text` one at a time: a district file is never copied whole again."""
    return map(re.Match.group, _LINE.finditer(text))  # no Python frame per line


class _LineFeed:
    """Lines for a csv.reader, remembering those each record took, with a way to give
    lines back so that they are read again."""

    def __init__(self, lines: Iterator[str]) -> None:
        self._lines = lines
        self._back: collections.deque[str] = collections.deque()
        self.taken: list[str] = []

    def __iter__(self) -> _LineFeed:
        return self

    def __next__(self) -> str:
        line = self._back.popleft() if self._back else next(self._lines)
        self.taken.append(line)
        return line

    def took(self) -> list[str]:
        """The lines read since the last call."""
        taken, self.taken = self.taken, []
        return taken

    def give_back(self, lines: Sequence[str]) -> None:
        self._back.extendleft(reversed(lines))


def _text_records(
    text: str, delimiter: str, decoded: Decoded, table: Table
) -> Iterator[tuple[int, list[str]]]:
    """Every record of a delimited text with its row number, from the first.

    A record that runs over several lines is a cell with line breaks — unless a quotation
    mark opened in it is never closed as the format requires (at the end of the file, or
    followed by more text), which means it swallowed the rows after it. Such a row is
    entered in `table.broken_rows`, and reading starts again at its next line, so that
    the rows it swallowed are read as the rows they are.
    """
    marked = _LineRows(decoded)
    if '"' not in text:
        # Without quotation marks every line is one record: nothing to watch, and the
        # lines decoded otherwise are the rows of the same numbers. The reader takes the
        # lines straight from the text, without a feed that remembers them.
        yield from enumerate(csv.reader(_lines(text), delimiter=delimiter), start=1)
        marked.record(sys.maxsize, sys.maxsize, lambda line: line)
        marked.finish(table)
        return
    feed = _LineFeed(_lines(text))
    reader = csv.reader(feed, delimiter=delimiter)
    number = 0
    line = 0  # the last line read, counted over the whole text
    for cells in reader:
        number += 1
        taken = feed.took()
        first, line = line + 1, line + len(taken)
        if len(taken) > 1 and _quote_runs_over("".join(taken), delimiter):
            table.broken_rows[number] = TableNote(
                number, "unclosed_quote", {"first": number + 1, "last": number + len(taken) - 1}
            )
            if marked.pending:
                marked.record(number, first)
            own = taken[0].rstrip("\r\n")
            yield number, next(csv.reader([own], delimiter=delimiter), [])
            # The lines it swallowed are read again, as the rows they are.
            feed.give_back(taken[1:])
            reader = csv.reader(feed, delimiter=delimiter)
            line = first
            continue
        if marked.pending:
            marked.record(number, line)
        yield number, cells
    marked.finish(table)


def _quote_runs_over(record: str, delimiter: str) -> bool:
    """Whether a record that spans lines does so because a quotation mark opened in it is
    never closed properly: it reaches the end of the record, or text follows the closing
    quotation mark of a cell that spans lines (the mark of a later cell closed it)."""
    at = 0
    end = len(record)
    field_start = True
    stops = re.compile(f'["{re.escape(delimiter)}\r\n]')
    while at < end:
        if field_start and record[at] == '"':
            close = at + 1
            while True:
                close = record.find('"', close, end)
                if close < 0:
                    return True  # still open at the end of the record
                if record[close + 1 : close + 2] == '"':
                    close += 2  # a doubled quotation mark stands for one
                    continue
                break
            after = record[close + 1 : close + 2]
            if after not in ("", delimiter, "\r", "\n") and _LINE_END.search(record, at, close):
                return True
            at, field_start = close + 1, False
            continue
        found = stops.search(record, at, end)
        if found is None:
            return False
        at = found.end()
        field_start = found.group() != '"'
    return False


_LINE_END = re.compile("\r\n|\r|\n")


class _LineRows:
    """Which rows hold the lines that were decoded otherwise, for the table's notes."""

    def __init__(self, decoded: Decoded) -> None:
        self.decoded = decoded
        self.pending = sorted({*decoded.foreign, *decoded.undecodable})
        self.rows: dict[int, int] = {}
        """line -> row"""

    def record(
        self, number: int, last_line: int, row_of: Callable[[int], int] | None = None
    ) -> None:
        """Row `number` ends on `last_line`: the pending lines up to it are in that row
        (or in the row `row_of` says)."""
        while self.pending and self.pending[0] <= last_line:
            line = self.pending.pop(0)
            self.rows[line] = number if row_of is None else row_of(line)

    def finish(self, table: Table) -> None:
        decoded = self.decoded
        values = {"encoding": decoded.encoding, "other": decoded.other}
        for key, lines in (
            ("mixed_encoding", decoded.foreign),
            ("undecodable", decoded.undecodable),
        ):
            rows = tuple(dict.fromkeys(self.rows[n] for n in lines if n in self.rows))
            if rows:
                table.notes.append(TableNote(None, key, values, rows))


def _sniff_delimiter(text: str, vocabulary: Vocabulary) -> tuple[str, _Header | None]:
    """The delimiter under which the best header row appears, and that header."""
    best: tuple[str, _Header | None] = (",", None)
    for delimiter in (",", "\t", ";", "|"):
        reader = csv.reader(_lines(text), delimiter=delimiter)
        found = _find_header(list(itertools.islice(reader, HEADER_SEARCH_ROWS)), vocabulary)
        if found and (best[1] is None or len(found.columns) > len(best[1].columns)):
            best = (delimiter, found)
    return best


class _Header(NamedTuple):
    """Where a table's header is and what its columns mean."""

    first: int
    """Its first row among the rows searched."""
    columns: dict[str, int]
    duplicates: tuple[str, ...]
    depth: int = 1
    """Its rows: 2 when group labels over merged cells (应用信息 over 类型, 名称, 包名) stand
    above the sub-headers, the columns without a group taking both rows."""

    def labels(self, rows: Sequence[Sequence[Any]]) -> list[Any]:
        """Each column's header as the sheet shows it: of a two-level header, the group's
        label and the sub-header (应用信息/联系人) where the sub-header means nothing known."""
        if self.depth == 1:
            return list(rows[self.first])
        upper, lower = rows[self.first], rows[self.first + 1]
        taken = set(self.columns.values())
        out = []
        group = ""  # the label over the sub-headers so far (a merged cell's text is its first)
        for col in range(max(len(upper), len(lower))):
            top = _cell_text(upper[col]) if col < len(upper) else ""
            sub = _cell_text(lower[col]) if col < len(lower) else ""
            if top:
                group = top if sub else ""
            elif not sub:
                group = ""
            out.append(f"{group}/{sub}" if group and sub and col not in taken else sub or top)
        return out


_SHORT_HEADER = 12
"""Longest header cell of the upper row of a two-level header that is taken as a column."""


def _find_header(rows: Sequence[Sequence[Any]], vocabulary: Vocabulary) -> _Header | None:
    """The header among the first rows: the row that names the most known columns, with
    the row above or below it when the two make a two-level header."""
    meaning: dict[str, str | None] = {}  # wide rows repeat their cells; look each up once

    def field_of(cell: Any) -> str | None:
        text = _cell_text(cell)
        if not text or len(text) > 40:
            return None  # a title line is long; a header cell is short
        if text not in meaning:
            meaning[text] = vocabulary.field_for(text)
        return meaning[text]

    fields = [[field_of(cell) for cell in row] for row in rows]
    best: _Header | None = None
    for index, row_fields in enumerate(fields):
        columns: dict[str, int] = {}
        duplicates: list[str] = []
        for col, name in enumerate(row_fields):
            if name is None:
                continue
            if name in columns:
                duplicates.append(_cell_text(rows[index][col]))
            else:
                columns[name] = col
        if len(columns) >= MIN_HEADER_MATCHES and (
            best is None or len(columns) > len(best.columns)
        ):
            best = _Header(index, columns, tuple(duplicates))
    if best is None:
        return None
    for upper in (best.first, best.first - 1):
        if upper < 0 or upper + 1 >= len(rows):
            continue
        two = _two_level(rows, fields, upper)
        if two is not None and len(two.columns) > len(best.columns):
            best = two
    return best


def _two_level(
    rows: Sequence[Sequence[Any]], fields: Sequence[Sequence[str | None]], upper: int
) -> _Header | None:
    """Rows `upper` and `upper + 1` as one header: group labels and single headers above,
    sub-headers below; None unless the lower row reads as sub-headers.

    Every cell of the lower row names a known column or stands under a cell that names
    none (a group label over merged cells, or nothing): a data row has values under the
    header's columns, and is never taken for sub-headers. A known column of the upper row
    counts where the lower row is empty (its header cell merged over both rows); above
    sub-headers it is a group's label and gives way to them.
    """
    top, sub = fields[upper], fields[upper + 1]
    lower_cells = rows[upper + 1]
    columns: dict[str, int] = {}
    duplicates: list[str] = []
    for col, cell in enumerate(lower_cells):
        name = sub[col] if col < len(sub) else None
        if name is None:
            above = top[col] if col < len(top) else None
            if _cell_text(cell) and above is not None:
                return None  # a value under a known column: a data row
            continue
        if name in columns:
            duplicates.append(_cell_text(cell))
        else:
            columns[name] = col
    if not columns:
        return None
    for col, name in enumerate(top):
        below = _cell_text(lower_cells[col]) if col < len(lower_cells) else ""
        if name is None or below or len(_cell_text(rows[upper][col])) > _SHORT_HEADER:
            continue  # a group's label, or a title that names a column in passing
        if name in columns:
            duplicates.append(_cell_text(rows[upper][col]))
        else:
            columns[name] = col
    return _Header(upper, dict(sorted(columns.items(), key=lambda c: c[1])), tuple(duplicates), 2)


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


_WORKSHEET = re.compile(r"^xl/worksheets/[^/]+\.xml$")


def _workbook_parts(path: Path, data: bytes, limits: ReadLimits) -> tuple[dict[str, Any], int]:
    """The workbook's parts as its zip directory declares them, and the inflated size of
    those read on opening it (every part but the worksheets), checked against `limits`
    before anything is inflated: zipfile never inflates a part beyond its declared size."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            parts = {info.filename: info for info in archive.infolist()}
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as exc:
        raise TableError(_error("bad_xlsx", name=_name(path), reason=exc)) from exc
    opened = [info for name, info in parts.items() if not _WORKSHEET.match(name)]
    for info in opened:
        _check_ratio(path, info, limits)
    total = sum(info.file_size for info in opened)
    _check_inflated(path, total, limits)
    return parts, total


def _check_ratio(path: Path, info: Any, limits: ReadLimits) -> None:
    size, packed = info.file_size, max(1, info.compress_size)
    if size > limits.ratio_applies_above and size > limits.max_ratio * packed:
        raise TableError(
            _error(
                "ratio",
                name=_name(path),
                part=shown_path(info.filename),
                times=f"{size // packed:,}",
                size=_amount(size),
                packed=_amount(packed),
                ratio=limits.max_ratio,
            )
        )


def _amount(size: int) -> str:
    return f"{size / MiB:,.0f} MB" if size >= MiB else f"{size / 1024:,.0f} KB"


def _check_inflated(path: Path, size: int, limits: ReadLimits) -> None:
    if size > limits.max_inflated:
        raise TableError(
            _error(
                "inflated",
                name=_name(path),
                size=f"{size / MiB:,.0f}",
                limit=f"{limits.max_inflated / MiB:,.0f}",
            )
        )


def _read_xlsx(
    path: Path, data: bytes, vocabulary: Vocabulary, sheet: str | None, limits: ReadLimits
) -> Table:
    parts, opened = _workbook_parts(path, data, limits)
    workbook = _open_workbook(path, data)
    with_header: tuple[str, ...] = ()
    skipped: list[str] = []
    if sheet is not None:
        if sheet not in workbook.sheetnames:
            names = "、".join(workbook.sheetnames)
            raise TableError(_error("no_sheet", name=_name(path), sheet=sheet, names=names))
        worksheet = workbook[sheet]
    elif len(workbook.worksheets) == 1:
        worksheet = workbook.worksheets[0]
    else:
        # A workbook may hold instructions before the form, or a form per school or grade:
        # every sheet with a header is read, and a sheet with content but none is named.
        found_in, skipped = _sheets_by_header(path, parts, opened, limits, workbook, [vocabulary])
        if not found_in:
            workbook.close()
            raise TableError(
                _error(
                    "no_header_sheets",
                    name=_name(path),
                    sheets="、".join(f"“{n}”" for n in workbook.sheetnames),
                    rows=HEADER_SEARCH_ROWS,
                )
            )
        worksheet = found_in[0]
        with_header = tuple(w.title for w in found_in)
    # openpyxl keeps where in the archive the sheet is; without it, count the largest one.
    part = parts.get(getattr(worksheet, "_worksheet_path", ""))
    sheets = [part] if part is not None else [i for n, i in parts.items() if _WORKSHEET.match(n)]
    for info in sheets:
        _check_ratio(path, info, limits)
    _check_inflated(path, opened + max((i.file_size for i in sheets), default=0), limits)
    far_rows = _rows_beyond_columns(data, part.filename) if part is not None else set()
    worksheet.reset_dimensions()  # WPS and other writers often record wrong dimensions
    table = Table(
        source=shown_path(path),
        encoding="xlsx",
        header_row=0,
        headers=(),
        columns={},
        preamble=(),
        sheet=worksheet.title,
        sheets=with_header,
        sheets_not_read=tuple(skipped),
    )
    rows = _SheetRows(worksheet, table, far_rows)
    records = rows.records()
    head: list[tuple[int, list[str]]] = []
    for record in records:
        head.append(record)
        if len(head) >= HEADER_SEARCH_ROWS:
            break
    found = _find_header([cells for _, cells in head], vocabulary)
    if found is None:
        workbook.close()
        raise TableError(
            _error(
                "no_header_sheet",
                name=_name(path),
                sheet=worksheet.title,
                rows=HEADER_SEARCH_ROWS,
            )
        )
    header_index = found.first
    table.header_row = head[header_index][0]
    labels = found.labels([cells for _, cells in head])
    table.headers = tuple(clean_cell(h) for h in labels)
    table.columns = found.columns
    table.preamble = tuple(tuple(clean_cell(c) for c in cells) for _, cells in head[:header_index])
    table.duplicate_headers = found.duplicates
    rows.width = len(table.headers)

    def rest() -> Iterator[tuple[int, list[str]]]:
        try:
            yield from head[header_index + found.depth :]
            yield from records
        finally:
            workbook.close()

    table._records = rest()
    return table


def sheets_with_header(
    path: Path, vocabularies: Sequence[Vocabulary], limits: ReadLimits = DEFAULT_READ_LIMITS
) -> tuple[str, ...]:
    """The visible sheets of a workbook whose first rows hold a header of any of
    `vocabularies`, in the workbook's order; () for a file that is no workbook."""
    try:
        data = path.read_bytes()
    except OSError:
        return ()  # reading the file itself says why
    if data[:4] != b"PK\x03\x04":
        return ()
    parts, opened = _workbook_parts(path, data, limits)
    workbook = _open_workbook(path, data)
    try:
        found, _skipped = _sheets_by_header(path, parts, opened, limits, workbook, vocabularies)
        return tuple(w.title for w in found)
    finally:
        workbook.close()


def _open_workbook(path: Path, data: bytes) -> Any:
    try:
        from openpyxl import load_workbook

        return load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for damaged workbooks
        raise TableError(_error("bad_xlsx", name=_name(path), reason=exc)) from exc


def _sheets_by_header(
    path: Path,
    parts: dict[str, Any],
    opened: int,
    limits: ReadLimits,
    workbook: Any,
    vocabularies: Sequence[Vocabulary],
) -> tuple[list[Any], list[str]]:
    """The visible sheets whose first rows hold a header of any of `vocabularies`, and the
    names of the visible sheets with content but none. Hidden sheets (a template's lists of
    choices, which the school never sees) are neither. Every sheet's first rows are parsed,
    so each sheet's part is checked first, as that of the sheet read is."""
    worksheets = [info for name, info in parts.items() if _WORKSHEET.match(name)]
    for info in worksheets:
        _check_ratio(path, info, limits)
    _check_inflated(path, opened + max((i.file_size for i in worksheets), default=0), limits)
    found: list[Any] = []
    skipped: list[str] = []
    for each in workbook.worksheets:
        if getattr(each, "sheet_state", "visible") != "visible":
            continue
        first_rows = _sheet_head(each)
        if any(_find_header(first_rows, v) is not None for v in vocabularies):
            found.append(each)
        elif any(any(cell is not None for cell in row) for row in first_rows):
            skipped.append(each.title)
    return found, skipped


def _sheet_head(worksheet: Any) -> list[tuple[Any, ...]]:
    """The first rows of a worksheet, where its header would be."""
    worksheet.reset_dimensions()  # WPS and other writers often record wrong dimensions
    try:
        return list(
            worksheet.iter_rows(
                max_row=HEADER_SEARCH_ROWS, max_col=XLSX_MAX_COLUMNS, values_only=True
            )
        )
    except Exception:  # a damaged sheet: it has no header to find; reading it says why
        return []


# A cell reference beyond column IV, the 256th: IW…IZ, JA…ZZ, or any three letters.
_FAR_CELL = re.compile(rb'<(?:\w+:)?c\s[^>]*?\br="(?:I[W-Z]|[J-Z][A-Z]|[A-Z]{3})(\d+)"')


def _rows_beyond_columns(data: bytes, member: str) -> set[int]:
    """The rows of a sheet with cells beyond the columns that are read, found in its XML.

    openpyxl never shows a cell beyond the columns asked for, so the sheet's XML is read
    once more, streaming, for their references (about a second for a 170 MB sheet, which
    openpyxl takes half a minute to parse). A sheet that cannot be read here is left to
    the reading proper to report.
    """
    rows: set[int] = set()
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive, archive.open(member) as stream:
            tail = b""
            while chunk := stream.read(MiB):
                block = tail + chunk
                rows.update(int(found.group(1)) for found in _FAR_CELL.finditer(block))
                # A tag cut at the chunk's end is read again with the next chunk.
                cut = block.rfind(b"<")
                tail = block[cut:] if cut >= 0 and len(block) - cut < 65536 else b""
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, zlib.error):
        pass
    return rows


class _SheetRows:
    """The rows of a worksheet as cell texts, with what could not be read noted.

    Only the first `XLSX_MAX_COLUMNS` columns are asked for (plus one, to see a row that
    fills them); the rows with cells beyond them, found beforehand in the sheet's XML, are
    named in a note. A sheet that breaks off (damaged XML, a part whose checksum fails)
    ends its rows with a note, not with an error that would stop the scan of other files.
    """

    def __init__(self, worksheet: Any, table: Table, far_rows: set[int]) -> None:
        self.worksheet = worksheet
        self.table = table
        self.width = 0
        """The header's width, once known: cells beyond it are looked at only when present."""
        self.wide_rows = set(far_rows)

    def records(self) -> Iterator[tuple[int, list[str]]]:
        number = 0
        values_in = self.worksheet.iter_rows(values_only=True, max_col=XLSX_MAX_COLUMNS + 1)
        try:
            for number, values in enumerate(values_in, start=1):
                yield number, self._cells(number, values)
        except Exception as exc:  # whatever a damaged sheet makes openpyxl or zipfile raise
            self.table.notes.append(
                TableNote(None, "sheet_broken", {"after": number, "reason": str(exc)[:200]})
            )
        if self.wide_rows:
            self.table.notes.append(
                TableNote(
                    None,
                    "columns_beyond_rows",
                    {"columns": XLSX_MAX_COLUMNS},
                    tuple(sorted(self.wide_rows)),
                )
            )

    def _cells(self, number: int, values: tuple[Any, ...]) -> list[str]:
        if len(values) > XLSX_MAX_COLUMNS and values[XLSX_MAX_COLUMNS] is not None:
            self.wide_rows.add(number)
            values = values[:XLSX_MAX_COLUMNS]
        beyond = values[self.width :]
        if self.width and beyond.count(None) == len(beyond):
            return [_cell_text(v) for v in values[: self.width]]
        last = len(values)
        while last and values[last - 1] is None:
            last -= 1
        return [_cell_text(v) for v in values[:last]]


def _read_json(path: Path, data: bytes, vocabulary: Vocabulary) -> Table:
    try:
        document = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise TableError(_error("bad_json", name=_name(path), reason=exc)) from exc
    if isinstance(document, dict):
        arrays = [v for v in document.values() if isinstance(v, list)]
        if len(arrays) != 1:
            raise TableError(_error("json_shape", name=_name(path)))
        document = arrays[0]
    if not isinstance(document, list) or not all(isinstance(o, dict) for o in document):
        raise TableError(_error("json_shape", name=_name(path)))
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
        raise TableError(_error("json_fields", name=_name(path)))

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
