"""Writing tables for Excel and WPS: no cell is ever a formula, the file reads back as
written, a failed write leaves nothing, and XLSX sheets are laid out for clerks."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from openpyxl import load_workbook

from reports.spreadsheets import (
    XLSX_MAX_ROWS,
    Column,
    XlsxBook,
    csv_text,
    neutralise,
)
from reports.spreadsheets import write_csv as write_safe_csv
from reports.spreadsheets import write_xlsx as write_safe_xlsx
from scanner.tables import Vocabulary, read_table

VOCAB = Vocabulary.build({"name": ["名称"], "note": ["备注"]})


@pytest.mark.parametrize("value", ['=HYPERLINK("x")', "+1", "-2", "@SUM(A1)", "\tx", "'quoted"])
def test_csv_cells_are_neutralised_and_read_back(tmp_path: Path, value: str) -> None:
    assert neutralise(value).startswith("'")
    path = tmp_path / "out.csv"
    write_safe_csv(path, ["名称", "备注"], [["学习通", value]])
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    cells = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert cells[1][1] == "'" + value
    (row,) = list(read_table(path, VOCAB).rows())
    assert row.get("note") == " ".join(value.split())  # the original value, spaces cleaned


def test_csv_text_matches_file_output() -> None:
    assert csv_text(["a"], [["=x"]]) == "a\r\n'=x\r\n"


def test_xlsx_cells_are_strings_never_formulas(tmp_path: Path) -> None:
    path = tmp_path / "out.xlsx"
    write_safe_xlsx(path, ["名称", "备注"], [["学习通", "=1+1"]], title="条目")
    sheet = load_workbook(path).active
    assert sheet.title == "条目"
    assert sheet["B2"].value == "=1+1"
    assert sheet["B2"].data_type == "s"


def test_atomic_write_leaves_no_file_on_failure(tmp_path: Path) -> None:
    def rows():  # type: ignore[no-untyped-def]
        yield ["ok"]
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        write_safe_csv(tmp_path / "out.csv", ["a"], rows())
    assert list(tmp_path.iterdir()) == []


def test_a_book_lays_out_its_sheets_for_clerks(tmp_path: Path) -> None:
    path = tmp_path / "out.xlsx"
    book = XlsxBook(path)
    first = book.sheet("发现", ["学校", "行号", "说明"], [Column(20), Column(6), Column(40, True)])
    second = book.sheet("统计", ["学校", "高"])
    first.append(["一中", 3, "=cmd|' /c calc'!A0"])
    second.append(["一中", 1])  # sheets of one book are written side by side
    first.append(["二中", None, "较长的说明"])
    book.save()

    workbook = load_workbook(path)
    assert workbook.sheetnames == ["发现", "统计"]
    sheet = workbook["发现"]
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == "A1:C3"
    assert sheet.column_dimensions["A"].width == 20
    assert sheet.column_dimensions["C"].width == 40
    assert sheet["A1"].font.b
    assert sheet["C2"].alignment.wrap_text and not sheet["A2"].alignment.wrap_text
    assert sheet["B2"].value == 3 and sheet["B2"].data_type == "n"
    assert sheet["B3"].value is None
    assert sheet["C2"].data_type == "s" and sheet["C2"].value.startswith("=")
    assert [c.value for c in workbook["统计"][2]] == ["一中", 1]
    assert workbook["统计"].auto_filter.ref == "A1:B2"


def test_a_sheet_past_excels_row_limit_goes_on_in_another(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import reports.spreadsheets

    assert XLSX_MAX_ROWS == 1_048_576
    monkeypatch.setattr(reports.spreadsheets, "XLSX_MAX_ROWS", 3)
    path = tmp_path / "out.xlsx"
    write_safe_xlsx(path, ["名称"], [[str(n)] for n in range(5)], title="核查发现")
    workbook = load_workbook(path)
    assert workbook.sheetnames == ["核查发现", "核查发现 (2)", "核查发现 (3)"]
    rows = [[c.value for c in row] for sheet in workbook for row in sheet.iter_rows()]
    assert rows == [["名称"], ["0"], ["1"], ["名称"], ["2"], ["3"], ["名称"], ["4"]]
    assert workbook["核查发现 (3)"].auto_filter.ref == "A1:A2"
