"""`findings.csv` and `findings.xlsx`: one row per finding, for Excel and WPS."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from policies.model import verdict_key
from policies.results import ScanResult
from reports.interface import ReportFormat
from reports.json_format import compact_json
from reports.text import check_lang, message, rule_text, strings
from scanner.writing import csv_cells, write_csv_lines, write_xlsx

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


def finding_rows(result: ScanResult, lang: str) -> Iterator[list[str]]:
    """Every finding as strings; rule ids, severities and kinds stay codes for filtering."""
    memo: dict[tuple[object, ...], tuple[str, str, str]] = {}
    for school in result.schools:
        for f in school.findings:
            key = verdict_key(f)
            shared = memo.get(key)
            if shared is None:
                shared = memo[key] = (
                    message(f, lang),
                    rule_text(f.rule, lang).basis_ref,
                    compact_json(f.evidence) if f.evidence else "",
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


def finding_lines(result: ScanResult, lang: str) -> Iterator[str]:
    """`finding_rows` already encoded as CSV, each verdict's cells encoded once.

    A school's cells and a verdict's cells repeat on many rows; quoting and escaping them
    (the evidence is JSON full of quotes) once each is most of the work saved.
    """
    memo: dict[tuple[object, ...], str] = {}
    for school in result.schools:
        sources: dict[str, str] = {}
        for f in school.findings:
            head = sources.get(f.source)
            if head is None:
                head = sources[f.source] = csv_cells([school.school, school.school_code, f.source])
            key = verdict_key(f)
            tail = memo.get(key)
            if tail is None:
                tail = memo[key] = csv_cells(
                    [
                        f.rule,
                        f.severity,
                        f.item,
                        f.kind,
                        message(f, lang),
                        rule_text(f.rule, lang).basis_ref,
                        compact_json(f.evidence) if f.evidence else "",
                    ]
                )
            yield f"{head},{'' if f.row is None else f.row},{tail}"


class CsvFormat(ReportFormat):
    """UTF-8 with a BOM so Excel reads the Chinese; cells that look like formulas neutralised."""

    name = "csv"
    file_name = "findings.csv"

    def write(self, result: ScanResult, out_dir: Path, lang: str) -> list[Path]:
        check_lang(lang)
        path = out_dir / self.file_name
        write_csv_lines(path, header(lang), finding_lines(result, lang))
        return [path]


class XlsxFormat(ReportFormat):
    """One sheet of string cells: nothing a school wrote can become a formula."""

    name = "xlsx"
    file_name = "findings.xlsx"

    def write(self, result: ScanResult, out_dir: Path, lang: str) -> list[Path]:
        check_lang(lang)
        path = out_dir / self.file_name
        write_xlsx(
            path,
            header(lang),
            finding_rows(result, lang),
            title=strings(lang).csv["sheet"],
            cut_mark=strings(lang)["cut_mark_xlsx"],
        )
        return [path]
