"""The 工作台账 (附件4) as the bureau sends it: what a clerk and a school see in Excel or WPS."""

from __future__ import annotations

import csv
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from ledgerfactory import item
from openpyxl import load_workbook

from registry.ledger import LedgerRecord
from reports.ledger_book import columns, sheet_title, write_book_csv, write_book_xlsx

HEADERS = [
    "序号", "问题编号", "学校", "学校标识码", "整治重点", "问题描述", "应用/账号", "依据",
    "发现方式", "发现日期", "整改时限", "责任股室/责任人", "整改措施", "进展", "佐证", "状态",
    "销号日期", "审核人",
]  # fmt: skip
TODAY = date(2026, 12, 1)


def district() -> list[LedgerRecord]:
    return [
        item(1),
        item(2, status="in_progress", progress="已通知家长", due=date(2026, 11, 1)),
        item(3, "示例第二中学", "3135000002", status="closed", closed_by="王科长",
             closed_at=datetime(2026, 11, 30, 17, 0, tzinfo=UTC)),
        item(4, "示例第二中学", "3135000002", rule="QUOTA", basis=("工作措施（三）",)),
        item(5, "示例第四中学", "", status="to_verify", rule="PROOF-SCREENSHOT",
             basis=("工作措施（一）", "附件2（四）3")),
    ]  # fmt: skip


def rows_of(sheet: object, first: int = 4) -> list[tuple[object, ...]]:
    return list(sheet.iter_rows(min_row=first, values_only=True))  # type: ignore[attr-defined]


def test_the_workbook_has_a_summary_and_one_sheet_per_school(tmp_path: Path) -> None:
    path = tmp_path / "台账.xlsx"
    write_book_xlsx(path, district(), today=TODAY)
    book = load_workbook(path)
    assert book.sheetnames == ["汇总", "示例实验小学", "示例第二中学", "示例第四中学"]
    sheet = book["示例实验小学"]
    assert sheet["A1"].value == "社会事务加重中小学师生负担问题专项整治工作台账"
    assert [c.value for c in sheet[3]] == HEADERS
    assert sheet.freeze_panes == "C4"
    first, second = rows_of(sheet)
    assert first[:5] == (1, "2026-0001", "示例实验小学", "3135000001", "（三）")
    assert first[7] == "《工作方案》“整治重点”第（三）项；《工作方案》附件2第（三）项第3条"
    assert first[8] == "扫描" and first[15] == "待整改"
    assert first[9] == datetime(2026, 11, 30)  # found on the bureau's day, as a date cell
    assert sheet["J4"].number_format == "yyyy-mm-dd"
    assert second[13] == "已通知家长" and second[15] == "整改中"
    closed = rows_of(book["示例第二中学"])[0]
    assert closed[15] == "已销号" and closed[16] == datetime(2026, 12, 1) and closed[17] == "王科长"
    assert rows_of(book["示例第二中学"])[1][4] == "（二）"  # 工作措施（三） serves 整治重点（二）
    assert rows_of(book["示例第四中学"])[0][4] == "（四）"


def test_the_summary_counts_each_school_by_status_and_overdue(tmp_path: Path) -> None:
    path = tmp_path / "台账.xlsx"
    write_book_xlsx(path, district(), today=TODAY)
    summary = load_workbook(path)["汇总"]
    assert [c.value for c in summary[3]] == [
        "学校", "学校标识码", "待整改", "整改中", "待核验", "已销号", "不予认定", "合计", "逾期",
    ]  # fmt: skip
    assert rows_of(summary) == [
        ("示例实验小学", "3135000001", 1, 1, 0, 0, 0, 2, 1),
        ("示例第二中学", "3135000002", 1, 0, 0, 1, 0, 2, 0),
        ("示例第四中学", None, 0, 0, 1, 0, 0, 1, 0),
        ("合计", None, 2, 1, 1, 1, 0, 5, 1),
    ]


def test_status_and_found_by_have_drop_down_lists(tmp_path: Path) -> None:
    path = tmp_path / "台账.xlsx"
    write_book_xlsx(path, district()[:2], today=TODAY, per_school=False)
    book = load_workbook(path)
    assert book.sheetnames == ["示例实验小学"]  # one school asked for: one sheet, no 汇总
    rules = {str(v.sqref): v for v in book.active.data_validations.dataValidation}
    assert rules["P4:P5"].type == "list"
    assert rules["P4:P5"].formula1 == '"待整改,整改中,待核验,已销号,不予认定"'
    assert rules["I4:I5"].formula1 == '"扫描,自查,抽查,线索"'


def test_the_school_sees_every_column_and_its_own_are_not_shaded(tmp_path: Path) -> None:
    path = tmp_path / "台账.xlsx"
    write_book_xlsx(path, district()[:1], today=TODAY, per_school=False)
    sheet = load_workbook(path).active
    school_columns = {c.header("zh") for c in columns() if c.school}
    assert school_columns == {"责任股室/责任人", "整改措施", "进展", "佐证", "状态"}
    for index, header in enumerate(HEADERS, start=1):
        letter = sheet.cell(row=3, column=index).column_letter
        dimension = sheet.column_dimensions[letter]
        assert not dimension.hidden and dimension.width >= 6
        fill = sheet.cell(row=4, column=index).fill
        shaded = fill.fill_type == "solid"
        assert shaded == (header not in school_columns), header
    assert sheet["F4"].alignment.wrap_text


def test_nothing_a_school_wrote_becomes_a_formula(tmp_path: Path) -> None:
    hostile = item(1, item='=HYPERLINK("http://x","点我")', progress="+1-2", owner="@SUM(A1)")
    xlsx, text = tmp_path / "台账.xlsx", tmp_path / "台账.csv"
    write_book_xlsx(xlsx, [hostile], today=TODAY, per_school=False)
    write_book_csv(text, [hostile])
    sheet = load_workbook(xlsx).active
    assert sheet["G4"].data_type == "s" and sheet["G4"].value.startswith("=HYPERLINK")
    with text.open(encoding="utf-8-sig", newline="") as handle:
        row = list(csv.reader(handle))[1]
    assert row[6] == '\'=HYPERLINK("http://x","点我")'
    assert row[13] == "'+1-2" and row[11] == "'@SUM(A1)"


def test_the_csv_has_the_same_columns_in_one_table(tmp_path: Path) -> None:
    path = tmp_path / "台账.csv"
    write_book_csv(path, district())
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    with path.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == HEADERS
    assert [r[1] for r in rows[1:]] == [f"2026-{n:04d}" for n in range(1, 6)]
    assert rows[1][9] == "2026-11-30" and rows[1][10] == "2026-12-30"


def test_english_headers_are_the_canonical_names(tmp_path: Path) -> None:
    path = tmp_path / "ledger.csv"
    write_book_csv(path, district()[:2], lang="en")
    with path.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0][:3] == ["seq", "number", "school"]
    assert rows[1][15] == "open" and rows[2][15] == "in_progress" and rows[1][8] == "scan"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("示例实验小学", "示例实验小学"),
        ("a/b:c*d?[e]", "abcde"),
        ("汇总", "汇总 (2)"),
        ("x" * 40, "x" * 31),
    ],
)
def test_sheet_titles_are_ones_excel_accepts(name: str, expected: str) -> None:
    assert sheet_title(name, {"汇总"}) == expected
