"""Cells that hold control characters, reversed text, zero-width marks, undecodable file
names or a whole book's worth of text: every format is written, none passes them on."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pytest
import resultfactory
from openpyxl import load_workbook

from policies.results import ApkPanel, ScanResult, SchoolResult
from reports import FORMATS, write_reports
from scanner.safetext import XLSX_CELL_LIMIT
from scanner.submission import InputFile, InputProblem

INVISIBLE = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]"
)
SCHOOL = "实验小学\x1b[2J\u202eevil"
ITEM = "学\u200b习\x00强国\x9b"
SOURCE = "填报-\udcff\udcfe.csv"  # a file name whose bytes are not UTF-8
LONG = "很长的备注" * 40_000  # 200,000 characters in one cell
csv.field_size_limit(1 << 30)  # for reading the CSV back: the cell is over the default limit


def hostile_result() -> ScanResult:
    school = SchoolResult(SCHOOL, "3505030001")
    resultfactory.item(school, 2, ITEM, identifier="cn.xuexi.android", source=SOURCE)
    resultfactory.finding(
        "TASK-PROHIBITED",
        school,
        item=ITEM,
        row=2,
        evidence={
            "clauses": [{"column": "note", "clause": LONG, "word": "备注"}],
            "label": "\x1b]0;title\x07",
        },
        source=SOURCE,
    )
    problem = InputProblem(SOURCE, 3, "unknown kind '\\x01'", "类型“\x01”无法识别", SCHOOL)
    school.problems.append(problem)
    resultfactory.finding(
        "INPUT-INVALID",
        school,
        row=3,
        evidence={"reason": LONG, "cells": {"name": "某应用", "note": LONG}},
        source=SOURCE,
    )
    facts = resultfactory.apk_facts(label="作业\x1b[31m")
    school.apks.append(ApkPanel(row=2, item=ITEM, source="apks/\u202egpj.apk", facts=facts))
    return resultfactory.scan_result(
        [school],
        inputs=[InputFile(SOURCE, "3c" * 32, "gb18030", None, 1, 2, 1, ())],
        file_problems=[InputProblem(SOURCE, None, "mixed \x1b encodings", "编码\x1b混用")],
    )


@pytest.fixture(params=["zh", "en"])
def hostile_report(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Path, str]:
    out = tmp_path / "report"
    write_reports(hostile_result(), out, formats=tuple(FORMATS), lang=request.param)
    return out, request.param


def test_xlsx_holds_no_character_a_sheet_cannot_and_cuts_at_excels_limit(
    hostile_report: tuple[Path, str],
) -> None:
    out, lang = hostile_report
    sheet = load_workbook(out / "findings.xlsx", read_only=True).worksheets[0]
    cells = [c for row in sheet.iter_rows(values_only=True) for c in row if isinstance(c, str)]
    assert cells and not any(INVISIBLE.search(c) for c in cells)
    assert "实验小学[2Jevil" in cells
    assert "填报-\ufffd\ufffd.csv" in cells
    longest = max(cells, key=len)
    assert len(longest) == XLSX_CELL_LIMIT
    mark = r"全文共 200,0\d\d 字，超出 Excel" if lang == "zh" else r"200,0\d\d characters in all"
    assert re.search(mark, longest[-150:])  # the evidence: JSON around the 200,000 characters


def test_csv_shows_them_visibly_and_keeps_long_cells_whole(
    hostile_report: tuple[Path, str],
) -> None:
    out, _ = hostile_report
    text = (out / "findings.csv").read_text("utf-8-sig")
    assert not INVISIBLE.search(text.replace("\r\n", "\n").replace("\n", ""))
    rows = list(csv.reader(io.StringIO(text, newline="")))
    flat = [c for row in rows for c in row]
    assert "实验小学<U+001B>[2J<U+202E>evil" in flat
    assert "填报-\ufffd\ufffd.csv" in flat
    assert any(LONG in c for c in flat)  # the data keeps the cell whole


def test_json_keeps_the_data_and_replaces_undecodable_names(
    hostile_report: tuple[Path, str],
) -> None:
    out, _ = hostile_report
    doc = json.loads((out / "findings.json").read_text("utf-8"))
    school = doc["schools"][0]
    assert school["school"] == SCHOOL
    assert school["sources"] == ["填报-\ufffd\ufffd.csv"]
    assert doc["inputs"][0]["path"] == "填报-\ufffd\ufffd.csv"
    assert any(f["evidence"].get("reason") == LONG for f in school["findings"])


def test_html_shows_them_visibly_and_cuts_long_text_for_display(
    hostile_report: tuple[Path, str], parse
) -> None:
    out, lang = hostile_report
    pages = [out / "index.html", *sorted((out / "schools").glob("*.html"))]
    for page in pages:
        text = page.read_text("utf-8")
        assert not INVISIBLE.search(text.replace("\n", "")), page.name
        assert "\ufffd" not in text or "填报-\ufffd\ufffd.csv" in text
        assert LONG[:5000] not in text  # no page carries the whole 200,000 characters
    school_page = pages[1].read_text("utf-8")
    assert "实验小学&lt;U+001B&gt;[2J&lt;U+202E&gt;evil" in school_page
    assert "学&lt;U+200B&gt;习&lt;U+0000&gt;强国&lt;U+009B&gt;" in school_page
    assert "作业&lt;U+001B&gt;[31m" in school_page  # the APK panel's label
    mark = r"〔全文共 200,0\d\d 字" if lang == "zh" else r"\[200,0\d\d characters in all"
    assert len(re.findall(mark, school_page)) == 2  # the note quoted in two findings' evidence
    tree = parse(pages[1])
    heading = tree.find("h1", cls="school-name").text()
    assert heading == "实验小学<U+001B>[2J<U+202E>evil"
    index = pages[0].read_text("utf-8")
    assert "编码&lt;U+001B&gt;混用" in index or "mixed &lt;U+001B&gt; encodings" in index
