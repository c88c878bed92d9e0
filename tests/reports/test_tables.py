"""`findings.csv` and `findings.xlsx`: Chinese columns and values a clerk can file, the
canonical names and codes with `--headers en`, and never a formula."""

from __future__ import annotations

import codecs
import csv
import io
from pathlib import Path

import pytest
import resultfactory

from policies.model import SEVERITIES
from policies.results import ScanResult, SchoolResult
from reports import FORMATS, ReportError, write_reports
from reports.evidence import as_text
from reports.text import finding_rule_text, message
from scanner.tables import clean_cell

ZH_HEADER = ["学校", "学校标识码", "行号", "应用/账号", "类型", "规则", "问题", "严重程度",
             "问题说明", "整改要求", "依据", "证据", "来源文件", "问题编号"]  # fmt: skip
EN_HEADER = ["school", "school_code", "row", "item", "kind", "rule", "title", "severity",
             "message", "remediation", "basis", "evidence", "source", "ledger_id"]  # fmt: skip
COUNTS_ZH = ["学校", "学校标识码", "高", "中", "需人工研判", "提示", "填报问题"]
COUNTS_EN = ["school", "school_code", "high", "medium", "review", "info", "input_problems"]
SEVERITY_ZH = {"high": "高", "medium": "中", "review": "需人工研判", "info": "提示"}
KIND_ZH = {
    "app": "APP",
    "official_account": "公众号",
    "miniprogram": "小程序",
    "platform": "平台（网站）",
}
COL = {name: n for n, name in enumerate(EN_HEADER)}


def _csv_rows(path: Path) -> list[list[str]]:
    raw = path.read_bytes()
    assert raw.startswith(codecs.BOM_UTF8)
    return list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline="")))


def _by_column(row: list[str]) -> dict[str, str]:
    return dict(zip(EN_HEADER, row, strict=True))


def test_csv_speaks_to_clerks_by_default(report: Path, result: ScanResult) -> None:
    rows = _csv_rows(report / "findings.csv")
    assert rows[0] == ZH_HEADER
    findings = result.findings()
    assert len(rows) == 1 + len(findings)
    for row, finding in zip(rows[1:], findings, strict=True):
        cells = _by_column(row)
        assert cells["school"] == finding.school
        assert cells["row"] == ("" if finding.row is None else str(finding.row))
        assert cells["rule"] == finding.rule
        assert cells["severity"] == SEVERITY_ZH[finding.severity]
        assert cells["kind"] == KIND_ZH.get(finding.kind, finding.kind)
        text = finding_rule_text(finding, "zh")
        assert cells["title"] == text.title
        assert cells["remediation"] == text.remediation
        assert cells["message"] == message(finding, "zh")
        assert cells["evidence"] == as_text(finding, "zh")
        assert not cells["evidence"].startswith("{")  # words, not a JSON dump
    first = _by_column(rows[1])
    assert first["school"] == "泉州市丰泽区第一实验小学" and first["school_code"] == "3505030001"
    assert first["item"] == "国家反诈中心" and first["kind"] == "APP"
    assert first["message"].startswith("“国家反诈中心”不是教育类APP")
    assert first["basis"] == "《工作方案》“整治重点”第（三）项；《工作方案》附件2第（三）项第3条"
    assert first["source"] == resultfactory.SOURCE
    severities = {_by_column(r)["severity"] for r in rows[1:]}
    assert severities == {"高", "中", "需人工研判", "提示"}
    invalid = next(_by_column(r) for r in rows[1:] if _by_column(r)["rule"] == "INPUT-INVALID")
    assert invalid["basis"] == ""  # no clause: an empty cell, not a dash to filter around


def test_csv_with_english_headers_keeps_names_and_codes(tmp_path: Path, result: ScanResult) -> None:
    write_reports(result, tmp_path / "r", formats=("csv",), headers="en")
    rows = _csv_rows(tmp_path / "r" / "findings.csv")
    assert rows[0] == EN_HEADER
    first = _by_column(rows[1])
    assert first["severity"] == "high" and first["kind"] == "app"
    assert first["basis"] == "整治重点（三）; 附件2（三）3"  # the clause keys of findings.json
    assert "不是教育类APP" in first["message"]  # the texts stay in the report language
    assert {_by_column(r)["severity"] for r in rows[1:]} == set(SEVERITIES)


def test_english_reports_have_english_headers_and_texts(report_en: Path) -> None:
    rows = _csv_rows(report_en / "findings.csv")
    assert rows[0] == EN_HEADER
    first = _by_column(rows[1])
    assert "is not an education app" in first["message"]
    assert first["title"] == "App unrelated to teaching"
    assert first["severity"] == "high"


def test_a_cause_brings_its_own_remediation_and_basis(tmp_path: Path) -> None:
    school = SchoolResult("清源山小学", "3505030003")
    resultfactory.finding(
        "NON-EDU-APP",
        school,
        item="钉钉",
        row=2,
        severity="info",
        params={"variant": "general_tool", "audience_zh": "教师", "audience_en": "teachers"},
    )
    write_reports(resultfactory.scan_result([school]), tmp_path / "r", formats=("csv",))
    cells = _by_column(_csv_rows(tmp_path / "r" / "findings.csv")[1])
    assert cells["severity"] == "提示"
    assert cells["remediation"].startswith("仅用于学校内部办公的不在此列")
    assert "是通用工具" in cells["message"]


def test_csv_cells_that_look_like_formulas_are_neutralised(report: Path) -> None:
    rows = _csv_rows(report / "findings.csv")
    cells = [cell for row in rows for cell in row]
    assert not [c for c in cells if c[:1] in ("=", "+", "-", "@")]
    item = COL["item"]
    formula_rows = [r for r in rows if r[item].startswith("'=")]
    assert len(formula_rows) == 1
    assert formula_rows[0][item] == "'" + resultfactory.FORMULA_ITEM
    # Read back the way the project reads spreadsheets, the text is what the school wrote.
    assert clean_cell(formula_rows[0][item]) == resultfactory.FORMULA_ITEM
    script_rows = [r for r in rows if r[item] == resultfactory.SCRIPT_APP]
    assert script_rows and script_rows[0][0] == resultfactory.SCRIPT_SCHOOL


def test_xlsx_opens_as_a_clerk_expects(report: Path, result: ScanResult) -> None:
    from openpyxl import load_workbook

    workbook = load_workbook(report / "findings.xlsx")
    assert workbook.sheetnames == ["核查发现", "各校统计"]
    sheet = workbook["核查发现"]
    rows = list(sheet.iter_rows())
    assert [c.value for c in rows[0]] == ZH_HEADER
    assert len(rows) == 1 + len(result.findings())
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == f"A1:N{len(rows)}"
    widths = {c: sheet.column_dimensions[c].width for c in "ABCDEFGHIJKLM"}
    assert widths["C"] < widths["A"] < widths["I"]  # 行号 narrow, 问题说明 wide
    assert rows[0][0].font.b
    message_cell = rows[1][COL["message"]]
    assert message_cell.alignment.wrap_text
    values = []
    for row, finding in zip(rows[1:], result.findings(), strict=True):
        number = row[COL["row"]]
        assert number.value == finding.row  # a number Excel sorts as one, or empty
        assert finding.row is None or number.data_type == "n"
        assert row[COL["severity"]].value == SEVERITY_ZH[finding.severity]
        for index, cell in enumerate(row):
            if cell.value is not None and index != COL["row"]:
                assert cell.data_type == "s", (cell.coordinate, cell.value)
                values.append(cell.value)
    assert resultfactory.FORMULA_ITEM in values  # kept as text, never a formula
    assert "3505030001" in values  # a code stays text, not a number


def test_xlsx_counts_each_school(report: Path, result: ScanResult) -> None:
    from openpyxl import load_workbook

    sheet = load_workbook(report / "findings.xlsx")["各校统计"]
    rows = [[c.value for c in row] for row in sheet.iter_rows()]
    assert rows[0] == COUNTS_ZH
    assert sheet.freeze_panes == "A2" and sheet.auto_filter.ref == f"A1:G{len(rows)}"
    expected = [
        [s.school, s.school_code, *(s.counts()[v] for v in SEVERITIES), len(s.problems)]
        for s in result.schools
    ]
    assert rows[1:] == [[v if v != "" else None for v in row] for row in expected]
    middle = next(r for r in rows if r[0] == "丰泽区实验中学")
    assert middle[COUNTS_ZH.index("需人工研判")] == 1 and middle[-1] == 1


def test_xlsx_with_english_headers(tmp_path: Path, result: ScanResult) -> None:
    from openpyxl import load_workbook

    write_reports(result, tmp_path / "r", formats=("xlsx",), headers="en")
    workbook = load_workbook(tmp_path / "r" / "findings.xlsx")
    assert workbook.sheetnames == ["findings", "counts"]
    findings = list(workbook["findings"].iter_rows(values_only=True))
    assert list(findings[0]) == EN_HEADER
    assert findings[1][COL["severity"]] == "high" and findings[1][COL["kind"]] == "app"
    assert list(next(workbook["counts"].iter_rows(values_only=True))) == COUNTS_EN


def test_an_unknown_header_language_is_refused(tmp_path: Path, result: ScanResult) -> None:
    with pytest.raises(ReportError, match="header language 'fr'"):
        write_reports(result, tmp_path / "r", formats=tuple(FORMATS), headers="fr")
    assert not (tmp_path / "r").exists()


def test_csv_lines_equal_the_rows_written_cell_by_cell() -> None:
    from reports.spreadsheets import neutralise
    from reports.table_format import finding_lines, finding_rows

    result = resultfactory.realistic_result()
    for lang, headers in (("zh", None), ("en", None), ("zh", "en")):
        lines = list(csv.reader(list(finding_lines(result, lang, headers))))
        rows = [
            [neutralise("" if c is None else str(c)) for c in row]
            for row in finding_rows(result, lang, headers)
        ]
        assert lines == rows and rows
