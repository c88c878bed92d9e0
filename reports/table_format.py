"""`findings.csv` and `findings.xlsx`: one row per finding, for Excel and WPS.

Headers and coded values (severity, kind, citations) are Chinese for the clerks who file
them, or with `headers="en"` the canonical names and codes programs rely on; the texts
(title, message, remediation, evidence) are in the report language either way.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from policies.model import SEVERITIES, Finding, VerdictMemo
from policies.results import ScanResult, SchoolResult
from reports.evidence import as_text
from reports.interface import ReportError, ReportFormat, SchoolWriter
from reports.spreadsheets import Cell, Column, CsvLines, XlsxBook, XlsxSheet, csv_cells
from reports.text import LANGUAGES, check_lang, finding_rule_text, message, strings

CODES = "en"
"""The header language whose headers and values are the canonical names and codes."""


@cache
def _layout() -> dict[str, Any]:
    text = resources.files("reports").joinpath("templates/tables.toml").read_text("utf-8")
    return tomllib.loads(text)


COLUMNS: tuple[str, ...] = tuple(c["key"] for c in _layout()["findings"]["columns"])
"""The columns of `findings.csv` and the findings sheet, in order (their canonical names)."""


def header(headers: str) -> list[str]:
    """The findings columns' headers in `headers` (zh, or en for the canonical names)."""
    return [c[check_lang(headers)] for c in _layout()["findings"]["columns"]]


def _columns(table: str) -> list[Column]:
    return [Column(c.get("width"), c.get("wrap", False)) for c in _layout()[table]["columns"]]


def counts_header(headers: str) -> list[str]:
    """The headers of the counts sheet: the school, each severity, its unreadable rows."""
    out: list[str] = []
    for column in _layout()["counts"]["columns"]:
        if column["key"] == "severities":
            out.extend(_severity(s, headers) for s in SEVERITIES)
        else:
            out.append(column[check_lang(headers)])
    return out


def _counts_columns() -> list[Column]:
    out: list[Column] = []
    for column, spec in zip(_columns("counts"), _layout()["counts"]["columns"], strict=True):
        out.extend([column] * (len(SEVERITIES) if spec["key"] == "severities" else 1))
    return out


def sheet_title(table: str, headers: str) -> str:
    return str(_layout()[table]["sheet"][check_lang(headers)])


def _severity(severity: str, headers: str) -> str:
    return severity if headers == CODES else strings(headers).severity(severity)


def _kind(kind: str, headers: str) -> str:
    return kind if headers == CODES else strings(headers).kind(kind)


def basis_cell(finding: Finding, lang: str, headers: str) -> str:
    """The finding's citations: as documents cite them (《工作方案》附件2第（三）项第3条), or
    with the canonical headers their clause keys (附件2（三）3), as `findings.json` has them."""
    clauses = finding_rule_text(finding, lang).clauses
    sep = str(_layout()["separators"]["basis"][headers])
    if headers == CODES:
        return sep.join(c.ref for c in clauses)
    return sep.join(c.cite or c.ref for c in clauses)


@dataclass(frozen=True)
class _Options:
    lang: str
    headers: str


def _verdict_cells(f: Finding, o: _Options) -> tuple[str, ...]:
    """The cells every row of one verdict shares: from the item to the evidence."""
    text = finding_rule_text(f, o.lang)
    return (
        f.item,
        _kind(f.kind, o.headers),
        f.rule,
        text.title,
        _severity(f.severity, o.headers),
        message(f, o.lang),
        text.remediation,
        basis_cell(f, o.lang, o.headers),
        as_text(f, o.lang),
    )


def school_rows(
    school: SchoolResult, lang: str, headers: str, memo: VerdictMemo[tuple[str, ...]]
) -> Iterator[list[Cell]]:
    """A school's findings as the cells of `COLUMNS`; the row number stays a number."""
    options = _Options(lang, headers)
    for f, number in zip(school.findings, _ledger_ids(school), strict=True):
        shared = memo.get(f)
        if shared is None:
            shared = memo.put(f, _verdict_cells(f, options))
        yield [school.school, school.school_code, f.row, *shared, f.source, number]


def _ledger_ids(school: SchoolResult) -> list[str]:
    """Each finding's 问题编号 ('' without a ledger, or for a finding it does not track)."""
    if not school.ledger_tags:
        return [""] * len(school.findings)
    return [tag.number if tag else "" for tag in school.ledger_tags]


def finding_rows(result: ScanResult, lang: str, headers: str | None = None) -> Iterator[list[Cell]]:
    """Every finding of every school, as `school_rows` gives them."""
    memo: VerdictMemo[tuple[str, ...]] = VerdictMemo()
    for school in result.schools:
        yield from school_rows(school, lang, headers or lang, memo)


def school_lines(
    school: SchoolResult, lang: str, headers: str, memo: VerdictMemo[str]
) -> Iterator[str]:
    """`school_rows` already encoded as CSV lines, each verdict's cells encoded once.

    A school's cells and a verdict's cells repeat on many rows; quoting and escaping them
    once each is most of the work saved.
    """
    options = _Options(lang, headers)
    head = csv_cells([school.school, school.school_code])
    sources: dict[str, str] = {}
    known = memo.by_number.get
    for f, number in zip(school.findings, _ledger_ids(school), strict=True):
        tail = known(f.verdict)
        if tail is None:
            tail = memo.get(f)
            if tail is None:
                tail = memo.put(f, csv_cells(_verdict_cells(f, options)))
        source = sources.get(f.source)
        if source is None:
            source = sources[f.source] = csv_cells([f.source])
        yield f"{head},{'' if f.row is None else f.row},{tail},{source},{number}"


def school_csv(school: SchoolResult, lang: str, headers: str, memo: VerdictMemo[bytes]) -> bytes:
    """`school_lines` in UTF-8, each line ended with CRLF: the pieces (the school's cells, a
    verdict's cells, the file's cell) encoded once each, joined once for the school."""
    options = _Options(lang, headers)
    head = (csv_cells([school.school, school.school_code]) + ",").encode("utf-8")
    ends: dict[str, bytes] = {}
    known = memo.by_number.get
    parts: list[bytes] = []
    add = parts.append
    row: int | None = -1
    start = b""
    numbers = _ledger_ids(school)
    for f, number in zip(school.findings, numbers, strict=True):
        tail = known(f.verdict)
        if tail is None:
            tail = memo.get(f)
            if tail is None:
                cells = csv_cells(_verdict_cells(f, options))
                tail = memo.put(f, f",{cells},".encode())
        end = ends.get(f.source)
        if end is None:
            end = ends[f.source] = (csv_cells([f.source]) + ",").encode("utf-8")
        if f.row != row:
            row = f.row
            start = head if row is None else b"%b%d" % (head, row)
        add(start)
        add(tail)
        add(end)
        if number:
            add(number.encode("ascii"))
        add(b"\r\n")
    return b"".join(parts)


def finding_lines(result: ScanResult, lang: str, headers: str | None = None) -> Iterator[str]:
    """Every finding of every school, as `school_lines` encodes them."""
    memo: VerdictMemo[str] = VerdictMemo()
    for school in result.schools:
        yield from school_lines(school, lang, headers or lang, memo)


def counts_row(school: SchoolResult) -> list[Cell]:
    """A school's line of the counts sheet."""
    counts: Mapping[str, int] = school.counts()
    return [
        school.school,
        school.school_code,
        *(counts[s] for s in SEVERITIES),
        len(school.problems),
    ]


class _TableFormat(ReportFormat):
    def _headers(self, lang: str) -> str:
        check_lang(lang)
        headers = self.headers or lang
        if headers not in LANGUAGES:
            raise ReportError(
                f"unknown header language {headers!r} (choose from {', '.join(LANGUAGES)})"
            )
        return headers


class CsvFormat(_TableFormat):
    """UTF-8 with a BOM so Excel reads the Chinese; cells that look like formulas neutralised."""

    name = "csv"
    file_name = "findings.csv"

    def open(self, result: ScanResult, out_dir: Path, lang: str) -> SchoolWriter:
        headers = self._headers(lang)
        return _CsvWriter(CsvLines(out_dir / self.file_name, header(headers)), lang, headers)


class _CsvWriter(SchoolWriter):
    def __init__(self, target: CsvLines, lang: str, headers: str) -> None:
        self.target = target
        self.lang = lang
        self.headers = headers
        self.memo: VerdictMemo[bytes] = VerdictMemo()

    def add(self, school: SchoolResult) -> None:
        self.target.write_encoded(school_csv(school, self.lang, self.headers, self.memo))

    def close(self) -> list[Path]:
        self.target.commit()
        return [self.target.file.path]

    def abort(self) -> None:
        self.target.discard()


class XlsxFormat(_TableFormat):
    """The findings with a frozen, filtered header row and wrapped text, then a sheet of
    counts per school. Text cells are strings: nothing a school wrote can become a formula."""

    name = "xlsx"
    file_name = "findings.xlsx"

    def open(self, result: ScanResult, out_dir: Path, lang: str) -> SchoolWriter:
        headers = self._headers(lang)
        book = XlsxBook(out_dir / self.file_name, cut_mark=strings(lang)["cut_mark_xlsx"])
        findings = book.sheet(
            sheet_title("findings", headers), header(headers), _columns("findings")
        )
        counts = book.sheet(
            sheet_title("counts", headers), counts_header(headers), _counts_columns()
        )
        return _XlsxWriter(book, findings, counts, lang, headers)


class _XlsxWriter(SchoolWriter):
    def __init__(
        self, book: XlsxBook, findings: XlsxSheet, counts: XlsxSheet, lang: str, headers: str
    ) -> None:
        self.book = book
        self.findings = findings
        self.counts = counts
        self.lang = lang
        self.headers = headers
        self.memo: VerdictMemo[tuple[str, ...]] = VerdictMemo()

    def add(self, school: SchoolResult) -> None:
        for row in school_rows(school, self.lang, self.headers, self.memo):
            self.findings.append(row)
        self.counts.append(counts_row(school))

    def close(self) -> list[Path]:
        self.book.save()
        return [self.book.path]
