"""The 整改通知书: what the school reads on one printed A4 page."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from html.parser import HTMLParser
from pathlib import Path

import pytest
from browser import CHROMIUM, pdf_pages, print_to_pdf
from examplereport import scan_examples
from ledgerfactory import item

from registry.db import open_database
from registry.ledger import Ledger, LedgerRecord
from reports.interface import ReportError
from reports.ledger_book import by_school
from reports.notice import (
    NoticeHeading,
    notice_html,
    open_items,
    reply_by,
    write_notice,
    write_notices,
)

TODAY = date(2026, 12, 1)
HEADING = NoticeHeading("泉州市丰泽区教育局", "张老师", "0595-22222222")


class Page(HTMLParser):
    """The parts of the notice a test looks at: the table's cells, the text, the tags."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.rows: list[list[str]] = []
        self.text: list[str] = []
        self._cell: list[str] | None = None
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append("".join(self._cell))
            self._cell = None

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._cell is not None:
            self._cell.append(data)

    @property
    def body(self) -> str:
        return "".join(self.text)


def ten_items() -> list[LedgerRecord]:
    return [
        item(n, rule="FILING-MISSING", basis=("附件2（三）1",), due=date(2026, 12, 20 + n % 5))
        for n in range(1, 11)
    ]


def test_the_notice_lists_the_open_items_with_what_to_do_and_by_when() -> None:
    html = notice_html(ten_items(), HEADING, today=TODAY, due_days=30)
    page = Page(html)
    header, *rows = page.rows
    assert header == ["问题编号", "应用/账号", "问题", "依据", "整改要求", "整改时限"]
    assert len(rows) == 10
    number, app, problem, basis, remediation, due = rows[0]
    assert (number, app, basis, due) == ("2026-0001", "国家反诈中心", "附件2（三）1", "2026-12-21")
    assert problem.startswith("“国家反诈中心”不是教育类APP")
    assert remediation.startswith("请提供者出具教育APP备案号")
    body = page.body
    assert "泉州市丰泽区教育局" in body and "示例实验小学：" in body
    assert "联系人：张老师" in body and "0595-22222222" in body
    # Reply by the earliest due date still ahead, in the 台账's own columns.
    assert "请于2026年12月20日前" in body and "“进展”" in body and "“佐证”" in body
    assert "2026年12月1日" in body  # the notice's date
    assert "@page" in html and "size: A4" in html
    assert "script" not in page.tags and "link" not in page.tags
    assert "http" not in html.replace("http-equiv", "")


def test_an_unconfigured_bureau_gets_general_wording_and_blanks_to_fill() -> None:
    page = Page(notice_html(ten_items()[:1], NoticeHeading(), today=TODAY, due_days=30))
    assert page.body.count("区教育局") >= 2
    assert "联系人：＿＿＿＿＿＿" in page.body


def test_text_from_the_field_is_escaped() -> None:
    hostile = item(1, school="<b>学校</b>", item="<script>alert(1)</script>")
    html = notice_html([hostile], HEADING, today=TODAY, due_days=30)
    assert "<script>alert" not in html and "&lt;script&gt;" in html
    assert "script" not in Page(html).tags and "b" not in Page(html).tags


def test_reply_by_is_the_earliest_due_date_ahead_else_due_days_from_today() -> None:
    records = [item(1, due=date(2026, 11, 1)), item(2, due=date(2026, 12, 9)), item(3, due=None)]
    assert reply_by(records, TODAY, 30) == date(2026, 12, 9)
    assert reply_by(records[:1], TODAY, 15) == date(2026, 12, 16)


def test_only_open_items_are_listed() -> None:
    records = [
        item(1),
        item(2, status="in_progress"),
        item(3, status="to_verify"),
        item(4, status="closed"),
        item(5, status="dismissed"),
    ]
    assert [r.number for r in open_items(records)] == ["2026-0001", "2026-0002", "2026-0003"]


def test_all_schools_one_file_each_written_as_one_folder(tmp_path: Path) -> None:
    records = [
        item(1),
        item(2, "示例第二中学", "3135000002", status="closed"),
        item(3, "示例第四中学", "", status="to_verify"),
    ]
    out = tmp_path / "notices"
    paths = write_notices(out, records, HEADING, today=TODAY, due_days=30)
    names = sorted(p.name for p in out.iterdir() if not p.name.startswith("."))
    assert names == sorted(p.name for p in paths) and len(names) == 2  # not the closed school
    assert "整改通知书-3135000001.html" in names
    # Written again (a month later), the folder is replaced as a whole.
    paths = write_notices(out, records[:1], HEADING, today=TODAY, due_days=30)
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == [
        "整改通知书-3135000001.html"
    ]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".notices")]


def test_a_folder_of_other_files_is_not_replaced(tmp_path: Path) -> None:
    out = tmp_path / "mine"
    out.mkdir()
    (out / "keep.txt").write_text("mine", "utf-8")
    with pytest.raises(ReportError):
        write_notices(out, [item(1)], HEADING, today=TODAY, due_days=30)
    assert (out / "keep.txt").read_text("utf-8") == "mine"


def test_one_school_notice_goes_into_a_folder_a_later_all_may_replace(tmp_path: Path) -> None:
    out = tmp_path / "notices"
    path = write_notice(out, [item(1)], HEADING, today=TODAY, due_days=30)
    assert path.parent == out and path.is_file()
    write_notices(out, [item(2, "示例第二中学", "3135000002")], HEADING, today=TODAY, due_days=30)
    assert not path.exists()


# --- printed -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def example_items(tmp_path_factory: pytest.TempPathFactory) -> list[LedgerRecord]:
    """The open items of the example school with the most, after a scan of the examples."""
    home = tmp_path_factory.mktemp("example")
    scan_examples(home)
    database = open_database(f"sqlite:///{home / 'example.db'}", create=False)
    try:
        return max(by_school(Ledger(database).items()), key=len)
    finally:
        database.close()


@pytest.mark.browser
@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium not installed")
def test_the_notice_prints_on_one_a4_page(
    example_items: list[LedgerRecord], tmp_path: Path, record_property: pytest.RecordProperty
) -> None:
    assert len(example_items) >= 10
    counts = {}
    for label, records in (("ten", example_items[:10]), ("example", example_items)):
        page = write_notice(tmp_path / label, records, HEADING, today=TODAY, due_days=30)
        pages = pdf_pages(print_to_pdf(page, tmp_path / f"{label}.pdf"))
        assert all(abs(w - 595) < 2 and abs(h - 842) < 2 for w, h in pages)
        counts[label] = len(pages)
    record_property("notice_pages", counts)
    print(f"notice pages: {counts} ({len(example_items)} items in the example)")
    assert counts["ten"] == 1


@pytest.mark.browser
@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium not installed")
def test_ten_items_with_long_texts_still_fit_one_page(tmp_path: Path) -> None:
    long = "要求家长每天登录并完成打卡、转发、截图上传到班级群，" * 2
    records = [replace(r, item="示例家校互动平台（家长端）", description=long) for r in ten_items()]
    page = write_notice(tmp_path / "n", records, HEADING, today=TODAY, due_days=30)
    assert len(pdf_pages(print_to_pdf(page, tmp_path / "n.pdf"))) == 1
