"""`findings.csv` and `findings.xlsx`: one row per finding, for Excel and WPS."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from policies.model import VerdictMemo
from policies.results import ScanResult, SchoolResult
from reports.interface import ReportFormat, SchoolWriter
from reports.json_format import compact_json
from reports.text import check_lang, finding_rule_text, message, strings
from scanner.writing import CsvLines, XlsxSheet, csv_cells

COLUMNS = (
    "school",
    "school_code",
    "source",
    "row",
    "rule",
    "severity",
    "item",
    "kind",
    "message",
    "basis_ref",
    "evidence",
)
"""The columns, in order; their headers are in the report language."""


def header(lang: str) -> list[str]:
    words = strings(lang).csv
    return [words[column] for column in COLUMNS]


def school_rows(
    school: SchoolResult, lang: str, memo: VerdictMemo[tuple[str, str, str]]
) -> Iterator[list[str]]:
    """A school's findings as strings; rule ids, severities and kinds stay codes for filtering."""
    for f in school.findings:
        shared = memo.get(f)
        if shared is None:
            shared = memo.put(
                f,
                (
                    message(f, lang),
                    finding_rule_text(f, lang).basis_ref,
                    compact_json(f.evidence) if f.evidence else "",
                ),
            )
        yield [
            school.school,
            school.school_code,
            f.source,
            "" if f.row is None else str(f.row),
            f.rule,
            f.severity,
            f.item,
            f.kind,
            *shared,
        ]


def finding_rows(result: ScanResult, lang: str) -> Iterator[list[str]]:
    """Every finding of every school, as `school_rows` gives them."""
    memo: VerdictMemo[tuple[str, str, str]] = VerdictMemo()
    for school in result.schools:
        yield from school_rows(school, lang, memo)


def school_lines(school: SchoolResult, lang: str, memo: VerdictMemo[str]) -> Iterator[str]:
    """`school_rows` already encoded as CSV, each verdict's cells encoded once.

    A school's cells and a verdict's cells repeat on many rows; quoting and escaping them
    (the evidence is JSON full of quotes) once each is most of the work saved.
    """
    sources: dict[str, str] = {}
    for f in school.findings:
        head = sources.get(f.source)
        if head is None:
            head = sources[f.source] = csv_cells([school.school, school.school_code, f.source])
        tail = memo.get(f)
        if tail is None:
            tail = memo.put(
                f,
                csv_cells(
                    [
                        f.rule,
                        f.severity,
                        f.item,
                        f.kind,
                        message(f, lang),
                        finding_rule_text(f, lang).basis_ref,
                        compact_json(f.evidence) if f.evidence else "",
                    ]
                ),
            )
        yield f"{head},{'' if f.row is None else f.row},{tail}"


def finding_lines(result: ScanResult, lang: str) -> Iterator[str]:
    """Every finding of every school, as `school_lines` encodes them."""
    memo: VerdictMemo[str] = VerdictMemo()
    for school in result.schools:
        yield from school_lines(school, lang, memo)


class CsvFormat(ReportFormat):
    """UTF-8 with a BOM so Excel reads the Chinese; cells that look like formulas neutralised."""

    name = "csv"
    file_name = "findings.csv"

    def open(self, result: ScanResult, out_dir: Path, lang: str) -> SchoolWriter:
        check_lang(lang)
        return _CsvWriter(CsvLines(out_dir / self.file_name, header(lang)), lang)


class _CsvWriter(SchoolWriter):
    def __init__(self, target: CsvLines, lang: str) -> None:
        self.target = target
        self.lang = lang
        self.memo: VerdictMemo[str] = VerdictMemo()

    def add(self, school: SchoolResult) -> None:
        for line in school_lines(school, self.lang, self.memo):
            self.target.write(line)

    def close(self) -> list[Path]:
        self.target.commit()
        return [self.target.file.path]

    def abort(self) -> None:
        self.target.discard()


class XlsxFormat(ReportFormat):
    """One sheet of string cells: nothing a school wrote can become a formula."""

    name = "xlsx"
    file_name = "findings.xlsx"

    def open(self, result: ScanResult, out_dir: Path, lang: str) -> SchoolWriter:
        check_lang(lang)
        sheet = XlsxSheet(
            out_dir / self.file_name,
            header(lang),
            title=strings(lang).csv["sheet"],
            cut_mark=strings(lang)["cut_mark_xlsx"],
        )
        return _XlsxWriter(sheet, lang)


class _XlsxWriter(SchoolWriter):
    def __init__(self, sheet: XlsxSheet, lang: str) -> None:
        self.sheet = sheet
        self.lang = lang
        self.memo: VerdictMemo[tuple[str, str, str]] = VerdictMemo()

    def add(self, school: SchoolResult) -> None:
        for row in school_rows(school, self.lang, self.memo):
            self.sheet.append(row)

    def close(self) -> list[Path]:
        self.sheet.save()
        return [self.sheet.path]
