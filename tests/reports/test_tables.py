"""`findings.csv` and `findings.xlsx`: Excel reads the Chinese and never runs a formula."""

from __future__ import annotations

import codecs
import csv
import io
import json
from pathlib import Path

import resultfactory

from policies.results import ScanResult
from scanner.tables import clean_cell

ZH_HEADER = [
    "学校",
    "学校标识码",
    "来源文件",
    "行号",
    "规则",
    "严重程度",
    "名称",
    "类型",
    "说明",
    "依据条款",
    "证据",
]
EN_HEADER = [
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
]


def _csv_rows(path: Path) -> list[list[str]]:
    raw = path.read_bytes()
    assert raw.startswith(codecs.BOM_UTF8)
    return list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline="")))


def test_csv_one_row_per_finding_with_a_bom(report: Path, result: ScanResult) -> None:
    rows = _csv_rows(report / "findings.csv")
    assert rows[0] == ZH_HEADER
    body = rows[1:]
    findings = result.findings()
    assert len(body) == len(findings)
    for row, finding in zip(body, findings, strict=True):
        assert row[0] == finding.school
        assert row[3] == ("" if finding.row is None else str(finding.row))
        assert row[4] == finding.rule
        assert row[5] == finding.severity
        assert json.loads(row[10]) == dict(finding.evidence)
    first = body[0]
    assert first[:3] == ["泉州市丰泽区第一实验小学", "3505030001", resultfactory.SOURCE]
    assert first[8].startswith("“国家反诈中心”不是教育类APP")
    assert first[9] == "整治重点（三）; 附件2（三）3"


def test_csv_headers_and_messages_follow_the_language(report_en: Path) -> None:
    rows = _csv_rows(report_en / "findings.csv")
    assert rows[0] == EN_HEADER
    assert "is not an education app" in rows[1][8]


def test_csv_cells_that_look_like_formulas_are_neutralised(report: Path) -> None:
    rows = _csv_rows(report / "findings.csv")
    cells = [cell for row in rows for cell in row]
    assert not [c for c in cells if c[:1] in ("=", "+", "-", "@")]
    formula_rows = [r for r in rows if r[6].startswith("'=")]
    assert len(formula_rows) == 1
    assert formula_rows[0][6] == "'" + resultfactory.FORMULA_ITEM
    # Read back the way the project reads spreadsheets, the text is what the school wrote.
    assert clean_cell(formula_rows[0][6]) == resultfactory.FORMULA_ITEM
    script_rows = [r for r in rows if r[6] == resultfactory.SCRIPT_APP]
    assert script_rows and script_rows[0][0] == resultfactory.SCRIPT_SCHOOL


def test_xlsx_cells_are_strings(report: Path, result: ScanResult) -> None:
    from openpyxl import load_workbook

    workbook = load_workbook(report / "findings.xlsx")
    sheet = workbook.worksheets[0]
    assert sheet.title == "核查发现"
    rows = list(sheet.iter_rows())
    assert [c.value for c in rows[0]] == ZH_HEADER
    assert len(rows) == 1 + len(result.findings())
    values = []
    for row in rows:
        for cell in row:
            if cell.value is not None:
                assert cell.data_type == "s", (cell.coordinate, cell.value)
                values.append(cell.value)
    assert resultfactory.FORMULA_ITEM in values  # kept as text, never a formula
    assert "3505030001" in values  # a code stays text, not a number


def test_csv_lines_equal_the_rows_written_cell_by_cell(tmp_path: Path) -> None:
    from reports.table_format import finding_lines, finding_rows
    from scanner.writing import neutralise

    result = resultfactory.realistic_result()
    for lang in ("zh", "en"):
        lines = list(csv.reader(list(finding_lines(result, lang))))
        rows = [[neutralise(c) for c in row] for row in finding_rows(result, lang)]
        assert lines == rows and rows
