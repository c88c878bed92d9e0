"""`appaudit scan` writes CSV and XLSX for clerks, or for programs with `--headers en`."""

from __future__ import annotations

import csv
from pathlib import Path

from openpyxl import load_workbook
from typer.testing import CliRunner, Result

from appaudit.cli import app

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def scan(out: Path, *extra: str) -> Result:
    return CliRunner().invoke(
        app,
        ["scan", str(EXAMPLES / "submission.csv"), "--registry", str(EXAMPLES / "registry.csv"),
         "--registry", str(EXAMPLES / "adoptions.csv"), "--out", str(out), "--fail-on", "never",
         "--format", "csv,xlsx", *extra],
    )  # fmt: skip


def first_rows(out: Path) -> tuple[list[list[str]], list[tuple[object, ...]]]:
    text = (out / "findings.csv").read_text("utf-8-sig")
    table = list(csv.reader(text.splitlines()))
    sheet = load_workbook(out / "findings.xlsx", read_only=True).worksheets[0]
    return table, list(sheet.iter_rows(values_only=True))


def test_tables_are_chinese_by_default(tmp_path: Path) -> None:
    result = scan(tmp_path / "report")
    assert result.exit_code == 0, result.stderr
    table, sheet = first_rows(tmp_path / "report")
    assert table[0][:3] == ["学校", "学校标识码", "行号"] and "整改要求" in table[0]
    assert list(sheet[0]) == table[0]
    severity = table[0].index("严重程度")
    assert {row[severity] for row in table[1:]} <= {"高", "中", "需人工研判", "提示"}
    assert isinstance(sheet[1][2], int)  # 行号 is a number


def test_headers_en_gives_names_and_codes(tmp_path: Path) -> None:
    result = scan(tmp_path / "report", "--headers", "en")
    assert result.exit_code == 0, result.stderr
    table, sheet = first_rows(tmp_path / "report")
    assert table[0][:3] == ["school", "school_code", "row"] and list(sheet[0]) == table[0]
    severity = table[0].index("severity")
    assert {row[severity] for row in table[1:]} <= {"high", "medium", "review", "info"}
    message = table[0].index("message")
    assert any("已撤销" in row[message] for row in table[1:])  # texts stay in the report language


def test_an_unknown_header_language_is_a_usage_error(tmp_path: Path) -> None:
    result = scan(tmp_path / "report", "--headers", "fr")
    assert result.exit_code == 2
    assert "--headers" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "report").exists()
