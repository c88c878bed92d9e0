"""Registry files: reading imports, writing exports, and using an export as the registry.

The registry knows its fields and values; the spreadsheet reader knows encodings and
headers. This module is where the two meet, so neither has to import the other.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from appaudit.errors import AppauditError, Message
from appaudit.messages import m
from registry.index import EntryIndex
from registry.records import (
    ADOPTION_FIELDS,
    ADOPTION_HEADERS_ZH,
    ENTRY_FIELDS,
    ENTRY_HEADERS_ZH,
    AdoptionRecord,
    EntryRecord,
    parse_adoption,
    parse_entry,
)
from registry.service import AdoptionView, resolve_adoption_entry
from registry.snapshot import RegistryView
from registry.values import InvalidValue, vocabulary
from registry.wording import row_ref
from reports.spreadsheets import atomic_write, csv_text, write_csv, write_xlsx
from scanner.safetext import REPLACE_ERRORS
from scanner.tables import Table, TableError, Vocabulary, read_table, sheets_with_header

WHATS = ("entries", "adoptions")
EXPORT_FORMATS = ("csv", "xlsx", "json")


class RegistryFileError(AppauditError):
    """A registry file that cannot be used as a whole; the message is fit for a user."""


@dataclass
class RegistryFile:
    """A registry file opened for import: what it holds and its table."""

    what: str
    table: Table

    def rows(self) -> Iterator[tuple[int, Mapping[str, str]]]:
        """Every row; a row the reader could not take apart (a quotation mark never closed)
        makes the file unusable, since what it swallowed is not known for sure."""
        broken = self.table.broken_rows
        for row in self.table.rows():
            if broken and row.number in broken:
                problem = broken[row.number]
                raise RegistryFileError(
                    m(
                        "broken_row",
                        source=self.table.source,
                        row=row_ref(row.number, self.row_label),
                        problem=Message(problem.text("en"), problem.text("zh")),
                    )
                )
            yield row.number, row.cells

    def notes(self, lang: str) -> list[str]:
        """What the reader worked around in the file (rows in another encoding …), complete
        once the rows have been read."""
        return [note.text(lang) for note in self.table.notes]

    @property
    def row_label(self) -> str:
        return self.table.row_label


def entry_vocabulary() -> Vocabulary:
    return Vocabulary.build(vocabulary().entry_fields)


def adoption_vocabulary() -> Vocabulary:
    return Vocabulary.build(vocabulary().adoption_fields)


def open_registry_file(
    path: Path, what: str | None = None, sheet: str | None = None
) -> RegistryFile:
    """Open an import file; without `what`, a 学校 column means adoptions, else entries."""
    if what is not None and what not in WHATS:
        raise RegistryFileError(
            m("bad_choice", option="--what", allowed=", ".join(WHATS), value=what)
        )
    if what in (None, "adoptions"):
        try:
            table = read_table(path, adoption_vocabulary(), sheet=sheet)
        except TableError:
            if what == "adoptions":
                raise
        else:
            names = table.columns
            if what == "adoptions" or (
                "school" in names and {"app", "filing_no", "identifier"} & set(names)
            ):
                return RegistryFile("adoptions", table)
    table = read_table(path, entry_vocabulary(), sheet=sheet)
    missing = {"name"} - set(table.columns)
    if missing:
        raise RegistryFileError(
            m("no_name_column", file=path.name, columns=", ".join(table.headers))
        )
    return RegistryFile("entries", table)


def registry_sheets(path: Path) -> tuple[str, ...]:
    """The sheets of a workbook with a header of entries or adoptions, in order."""
    return sheets_with_header(path, [entry_vocabulary(), adoption_vocabulary()])


def open_registry_sheets(path: Path) -> list[RegistryFile]:
    """Every sheet of a file that has a header (a workbook may hold entries and adoptions
    on sheets of their own), each opened as `open_registry_file` opens a file."""
    sheets = registry_sheets(path)
    if len(sheets) <= 1:
        return [open_registry_file(path)]
    return [open_registry_file(path, sheet=name) for name in sheets]


def load_view(paths: Sequence[Path]) -> RegistryView:
    """A registry built in memory from export files (each sheet of a workbook that has a
    header), without any database.

    Entries files are read first so that adoptions can name them. A bad row makes the
    whole registry unusable: a scan against a half-read registry would mislead.
    """
    files = [f for p in paths for f in open_registry_sheets(p)]
    entries: list[EntryRecord] = []
    problems: list[Message] = []
    for file in (f for f in files if f.what == "entries"):
        for number, cells in file.rows():
            try:
                record = parse_entry(cells)
            except InvalidValue as error:
                problems.append(_row_problem(file, number, error))
                continue
            entries.append(record.with_changes(id=len(entries) + 1))
    index = EntryIndex(entries)
    adoptions: list[AdoptionRecord] = []
    for file in (f for f in files if f.what == "adoptions"):
        for number, cells in file.rows():
            try:
                row = parse_adoption(cells)
                entry = resolve_adoption_entry(index, row)
            except InvalidValue as error:
                problems.append(_row_problem(file, number, error))
                continue
            assert entry.id is not None
            adoptions.append(
                AdoptionRecord(
                    school=row.school,
                    school_code=row.school_code,
                    is_district=row.is_district,
                    entry_id=entry.id,
                    decision_ref=row.decision_ref,
                    decided_on=row.decided_on,
                    audience=row.audience,
                    note=row.note,
                )
            )
    if problems:
        more = m("and_more", count=len(problems) - 1) if len(problems) > 1 else Message("")
        raise RegistryFileError(m("registry_file_unusable", problem=problems[0], more=more))
    source = ", ".join(str(p) for p in paths)
    return RegistryView.build(entries, adoptions, source=source)


def _row_problem(file: RegistryFile, number: int, error: InvalidValue) -> Message:
    return m(
        "row_problem",
        source=file.table.source,
        row=row_ref(number, file.row_label),
        problem=error.message,
    )


def export_format(path: Path | None, requested: str | None) -> str:
    if requested:
        if requested not in EXPORT_FORMATS:
            raise RegistryFileError(
                m(
                    "bad_choice",
                    option="--format",
                    allowed=", ".join(EXPORT_FORMATS),
                    value=requested,
                )
            )
        return requested
    suffix = path.suffix.lower().lstrip(".") if path else ""
    if suffix in EXPORT_FORMATS:
        return suffix
    if suffix == "tsv" or suffix == "txt":
        return "csv"
    raise RegistryFileError(m("unknown_export_format", path=str(path)))


def entries_table(records: Sequence[EntryRecord], lang: str) -> tuple[list[str], list[list[str]]]:
    return _table(ENTRY_FIELDS, ENTRY_HEADERS_ZH, [r.cells(lang) for r in records], lang)


def adoptions_table(views: Sequence[AdoptionView], lang: str) -> tuple[list[str], list[list[str]]]:
    return _table(ADOPTION_FIELDS, ADOPTION_HEADERS_ZH, [v.cells(lang) for v in views], lang)


def _table(
    fields: Sequence[str],
    headers_zh: Mapping[str, str],
    cells: Sequence[Mapping[str, str]],
    lang: str,
) -> tuple[list[str], list[list[str]]]:
    """A header (Chinese or canonical names) and the rows in field order."""
    header = [headers_zh[f] if lang == "zh" else f for f in fields]
    return header, [[row[f] for f in fields] for row in cells]


def adoption_dicts(views: Sequence[AdoptionView]) -> list[dict[str, Any]]:
    out = []
    for view in views:
        cells: dict[str, Any] = dict(view.cells("en"))
        cells["audience"] = list(view.adoption.audience)
        out.append(cells)
    return out


def write_export(
    path: Path | None,
    fmt: str,
    header: list[str],
    rows: list[list[str]],
    objects: list[dict[str, Any]],
    *,
    sheet: str,
) -> str | None:
    """Write an export to `path`, or return its text when `path` is None (stdout)."""
    if fmt == "json":
        text = json.dumps(objects, ensure_ascii=False, indent=2) + "\n"
        if path is None:
            return text
        atomic_write(
            path, lambda handle: handle.write(text), encoding="utf-8", errors=REPLACE_ERRORS
        )
        return None
    if fmt == "xlsx":
        if path is None:
            raise RegistryFileError(m("xlsx_to_stdout"))
        write_xlsx(path, header, rows, title=sheet)
        return None
    if path is None:
        return csv_text(header, rows)
    write_csv(path, header, rows)
    return None
