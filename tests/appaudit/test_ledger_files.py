"""The 工作台账 round trip with schools through the command line, and the 整改通知书.

A scan of the example district opens the ledger's items; the bureau exports the 台账, a
school fills it in Excel (here openpyxl) or saves it as a GBK CSV, and the bureau imports it
back: all of it, or nothing when any row is wrong.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from typer.testing import CliRunner, Result

from appaudit.cli import app
from policies.ledger import dismissing
from registry.db import open_database
from registry.ledger import Ledger, LedgerRecord

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
SCHOOL = "示例实验小学"
FIRST = 4
"""The first item's row in an exported sheet: title, instructions, header above it."""


def run(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


@pytest.fixture
def db(db_url: str, tmp_path: Path) -> str:
    """A database in which a scan of the example district opened the ledger's items."""
    for name in ("registry.csv", "adoptions.csv"):
        done = run("registry", "import", str(EXAMPLES / name), "--db", db_url)
        assert done.exit_code == 0, done.stderr
    done = run(
        "scan", str(EXAMPLES / "submission.csv"), "--db", db_url, "--fail-on", "never",
        "--out", str(tmp_path / "report"),
    )  # fmt: skip
    assert done.exit_code == 0, done.stderr
    return db_url


def items(db_url: str) -> list[LedgerRecord]:
    database = open_database(db_url, create=False)
    try:
        return Ledger(database).items()
    finally:
        database.close()


def ledger(db_url: str, actor: str = "区教育局") -> Ledger:
    return Ledger(open_database(db_url, create=False), actor)


def export(db_url: str, path: Path, *args: str) -> Path:
    done = run("ledger", "export", str(path), "--db", db_url, *args)
    assert done.exit_code == 0, done.stderr
    assert path.is_file()
    return path


def school_book(db_url: str, tmp_path: Path) -> Path:
    return export(db_url, tmp_path / "台账.xlsx", "--school", SCHOOL)


def edit_book(path: Path, out: Path, change: Callable[[Any], None]) -> Path:
    book = load_workbook(path)
    change(book.active)
    book.save(out)
    return out


# --- the round trip ----------------------------------------------------------------------------


def test_a_school_fills_progress_and_the_import_keeps_it_with_its_history(
    db: str, tmp_path: Path
) -> None:
    book = school_book(db, tmp_path)
    first = load_workbook(book).active.cell(row=FIRST, column=2).value

    def fill(sheet: Any) -> None:
        sheet.cell(row=FIRST, column=12).value = "德育处 李老师"
        sheet.cell(row=FIRST, column=13).value = "已在家长群通知停止要求下载"
        sheet.cell(row=FIRST, column=14).value = "已全部撤回通知"
        sheet.cell(row=FIRST, column=15).value = "撤回通知截图"
        sheet.cell(row=FIRST, column=16).value = "待核验"

    filled = edit_book(book, tmp_path / "实验小学报送.xlsx", fill)
    done = run("ledger", "import", str(filled), "--db", db, "--actor", "实验小学张老师")
    assert done.exit_code == 0, done.stderr
    assert f"{first}：更新" in done.stderr and "更新 1 项" in done.stderr
    record = ledger(db).get(first)
    assert record.progress == "已全部撤回通知" and record.status == "to_verify"
    assert record.owner == "德育处 李老师" and record.evidence == "撤回通知截图"
    last = ledger(db).history(first)[-1]
    assert last.actor == "实验小学张老师" and last.action == "import"
    assert last.reason == "学校报送台账 实验小学报送.xlsx"
    assert last.before == {
        "owner": "", "measure": "", "progress": "", "evidence": "", "status": "open"
    }  # fmt: skip
    assert last.after is not None and last.after["progress"] == "已全部撤回通知"
    # The same file again changes nothing more.
    again = run("ledger", "import", str(filled), "--db", db, "--reason", "重复报送")
    assert again.exit_code == 0 and "更新 0 项" in again.stderr
    assert len(ledger(db).history(first)) == 2


def _cell(column: int, value: Any, row: int = FIRST) -> Callable[[Any], None]:
    def change(sheet: Any) -> None:
        sheet.cell(row=row, column=column).value = value

    return change


def _append(column: int, text: str) -> Callable[[Any], None]:
    def change(sheet: Any) -> None:
        cell = sheet.cell(row=FIRST, column=column)
        cell.value = f"{cell.value}{text}"

    return change


def _copy_number(sheet: Any) -> None:
    sheet.cell(row=FIRST + 1, column=2).value = sheet.cell(row=FIRST, column=2).value


FORBIDDEN = {
    "unknown number": (_cell(2, "2026-9999"), FIRST, "台账中没有问题编号 2026-9999"),
    "closing": (_cell(16, "已销号"), FIRST, "不能由学校销号"),
    "dismissing": (_cell(16, "不予认定"), FIRST, "不能由学校改为“不予认定”"),
    "another school's row": (_cell(3, "示例第二中学"), FIRST, "学校不能填报其他学校的问题"),
    "another school's code": (_cell(4, "3135000002"), FIRST, "学校不能填报其他学校的问题"),
    "changed problem": (_append(6, "（已整改）"), FIRST, "“问题描述”被修改"),
    "moved due date": (_cell(11, date(2027, 6, 30)), FIRST, "学校不能更改整改时限"),
    "unreadable due date": (_cell(11, "下个月"), FIRST, "无法识别为日期"),
    "duplicate number": (_copy_number, FIRST + 1, "重复：台账.xlsx 第4行 已有此编号"),
    "unknown status": (_cell(16, "差不多了"), FIRST, "状态“差不多了”无法识别"),
}


@pytest.mark.parametrize("case", FORBIDDEN)
def test_a_forbidden_edit_changes_nothing_and_names_its_row_and_reason(
    db: str, tmp_path: Path, case: str
) -> None:
    change, row, reason = FORBIDDEN[case]
    before = items(db)

    def edits(sheet: Any) -> None:
        # A good edit elsewhere in the file, which must not be taken either.
        sheet.cell(row=FIRST + 2, column=14).value = "已通知家长"
        change(sheet)

    book = edit_book(school_book(db, tmp_path), tmp_path / "台账.xlsx", edits)
    done = run("ledger", "import", str(book), "--db", db)
    assert done.exit_code == 2, done.stderr
    lines = [line for line in done.stderr.splitlines() if f"第{row}行" in line]
    assert lines and reason in lines[0], done.stderr
    assert "未导入任何内容" in done.stderr and "Traceback" not in done.stderr
    assert items(db) == before


def test_the_school_may_only_say_in_progress_or_to_verify(db: str, tmp_path: Path) -> None:
    number = items(db)[0].number
    ledger(db).change(number, lambda r: {"status": "to_verify"}, reason="扫描未再发现")
    book = edit_book(school_book(db, tmp_path), tmp_path / "回退.xlsx", _cell(16, "待整改"))
    done = run("ledger", "import", str(book), "--db", db)
    assert done.exit_code == 2
    assert "状态不能由学校从“待核验”改为“待整改”" in done.stderr


def test_a_settled_item_is_no_longer_filled_in(db: str, tmp_path: Path) -> None:
    number = items(db)[0].number
    ledger(db).change(number, dismissing, reason="经核实不构成问题", action="dismiss")
    book = edit_book(school_book(db, tmp_path), tmp_path / "x.xlsx", _cell(14, "继续整改"))
    done = run("ledger", "import", str(book), "--db", db)
    assert done.exit_code == 2 and f"问题 {number} 已不予认定，不能再填写" in done.stderr


def test_in_english(db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APPAUDIT_LANG", "en")
    book = edit_book(school_book(db, tmp_path), tmp_path / "x.xlsx", _cell(16, "已销号"))
    done = run("ledger", "import", str(book), "--db", db)
    assert done.exit_code == 2
    assert f"x.xlsx row {FIRST}: a school cannot close" in done.stderr
    assert "nothing was imported" in done.stderr


def test_a_dry_run_says_what_would_change_and_changes_nothing(db: str, tmp_path: Path) -> None:
    before = items(db)
    book = edit_book(school_book(db, tmp_path), tmp_path / "x.xlsx", _cell(14, "已撤回"))
    done = run("ledger", "import", str(book), "--db", db, "--dry-run")
    assert done.exit_code == 0, done.stderr
    assert "将更新进展" in done.stderr and "试运行" in done.stderr
    assert items(db) == before


def test_a_gbk_csv_from_excel_or_wps_round_trips(db: str, tmp_path: Path) -> None:
    exported = export(db, tmp_path / "台账.csv", "--school", SCHOOL)
    with exported.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle))
    header = rows[0]
    rows[1][header.index("进展")] = "已停止要求并在家长群通知"
    rows[1][header.index("状态")] = "整改中"
    buffer = io.StringIO(newline="")
    csv.writer(buffer).writerows(rows)
    returned = tmp_path / "报送.csv"
    returned.write_bytes(buffer.getvalue().encode("gb18030"))  # Excel's "CSV", WPS's default
    done = run("ledger", "import", str(returned), "--db", db)
    assert done.exit_code == 0, done.stderr
    record = ledger(db).get(rows[1][1])
    assert (record.progress, record.status) == ("已停止要求并在家长群通知", "in_progress")
    assert f"未变 {len(rows) - 2} 项" in done.stderr


def test_the_whole_district_workbook_reads_every_school_sheet_but_the_summary(
    db: str, tmp_path: Path
) -> None:
    book = export(db, tmp_path / "全区.xlsx")
    names = load_workbook(book).sheetnames
    assert names[0] == "汇总" and len(names) == 5
    done = run("ledger", "import", str(book), "--db", db)
    assert done.exit_code == 0, done.stderr
    assert f"未变 {len(items(db))} 项" in done.stderr

    def other(workbook: Any) -> None:
        workbook["示例第二中学"].cell(row=FIRST, column=16).value = "已销号"

    edited = load_workbook(book)
    other(edited)
    edited.save(tmp_path / "改.xlsx")
    done = run("ledger", "import", str(tmp_path / "改.xlsx"), "--db", db)
    assert done.exit_code == 2
    assert f"改.xlsx 工作表“示例第二中学”第{FIRST}行" in done.stderr


def test_a_school_returning_the_district_file_may_not_touch_other_schools(
    db: str, tmp_path: Path
) -> None:
    book = export(db, tmp_path / "全区.xlsx")
    done = run("ledger", "import", str(book), "--db", db, "--school", "3135000001")
    assert done.exit_code == 2
    assert "不是报送学校“3135000001”的问题" in done.stderr


def test_export_filters_and_refuses_what_it_cannot_write(db: str, tmp_path: Path) -> None:
    done = run("ledger", "export", str(tmp_path / "x.xlsx"), "--status", "已销号", "--db", db)
    assert done.exit_code == 0 and "未写出文件" in done.stderr
    assert not (tmp_path / "x.xlsx").exists()
    done = run("ledger", "export", str(tmp_path / "x.xlsx"), "--status", "差不多", "--db", db)
    assert done.exit_code == 2 and "状态“差不多”无法识别" in done.stderr
    done = run("ledger", "export", str(tmp_path / "x.txt"), "--db", db)
    assert done.exit_code == 2 and ".xlsx 或 .csv" in done.stderr
    export(db, tmp_path / "open.xlsx", "--school", "3135000002", "--status", "open")
    assert load_workbook(tmp_path / "open.xlsx").sheetnames == ["示例第二中学"]


# --- the notice --------------------------------------------------------------------------------


def test_a_school_notice_and_every_school_notice(db: str, tmp_path: Path) -> None:
    out = tmp_path / "notices"
    done = run("notice", SCHOOL, "--db", db, "--out", str(out))
    assert done.exit_code == 0, done.stderr
    (page,) = out.glob("*.html")
    assert SCHOOL in page.read_text("utf-8") and "整改通知书" in page.name
    done = run("notice", "--all", "--db", db, "--out", str(out))
    assert done.exit_code == 0, done.stderr
    assert len(list(out.glob("*.html"))) == 4 and "4 所学校" in done.stderr


def test_a_school_with_nothing_open_gets_one_line_and_an_unknown_one_an_error(
    db: str, tmp_path: Path
) -> None:
    fourth = [r for r in items(db) if r.school == "示例第四中学"]
    for record in fourth:
        ledger(db).change(record.number, dismissing, reason="经核实", action="dismiss")
    out = tmp_path / "notices"
    done = run("notice", "示例第四中学", "--db", db, "--out", str(out))
    assert done.exit_code == 0 and "没有未销号的问题" in done.stderr
    assert not out.exists()
    done = run("notice", "--all", "--db", db, "--out", str(out))
    assert done.exit_code == 0 and len(list(out.glob("*.html"))) == 3
    done = run("notice", "不存在的学校", "--db", db, "--out", str(out))
    assert done.exit_code == 2 and "台账中没有学校“不存在的学校”" in done.stderr
    done = run("notice", "--db", db)
    assert done.exit_code == 2 and "--all" in done.stderr


def test_the_heading_comes_from_the_configuration(db: str, tmp_path: Path) -> None:
    config = tmp_path / "appaudit.toml"
    config.write_text(
        '[notice]\n"发文单位" = "泉州市丰泽区教育局"\n"联系人" = "张老师"\nphone = "0595-22222222"\n'
        "[ledger]\ndue_days = 10\n",
        "utf-8",
    )
    out = tmp_path / "n"
    done = run("notice", "3135000001", "--db", db, "--out", str(out), "--config", str(config))
    assert done.exit_code == 0, done.stderr
    html = next(out.glob("*.html")).read_text("utf-8")
    assert "泉州市丰泽区教育局" in html and "张老师" in html and "0595-22222222" in html


def test_a_sheet_of_the_school_own_notes_is_left_out_and_said_so(db: str, tmp_path: Path) -> None:
    book = load_workbook(school_book(db, tmp_path))
    book.active.cell(row=FIRST, column=14).value = "已撤回"
    notes = book.create_sheet("说明")
    notes.append(["备注", "内容"])
    notes.append(["联系人", "张老师"])
    book.save(tmp_path / "带说明.xlsx")
    done = run("ledger", "import", str(tmp_path / "带说明.xlsx"), "--db", db)
    assert done.exit_code == 0, done.stderr
    assert "工作表“说明”没有“问题编号”列，未读取" in done.stderr
    assert "更新 1 项" in done.stderr
