"""The review severity (需人工研判) in every report: counted apart, ordered, labelled, explained."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import resultfactory

from policies.model import SEVERITIES
from policies.results import ScanResult, SchoolResult
from reports import FORMATS, write_reports
from reports.text import LANGUAGES, strings

Parse = Callable[[Path | str], Any]

REVIEW_NOTE = "需人工研判：涉及国家明确规定或党组织安排等情形，请结合实际核实后认定。"
MIDDLE = "丰泽区实验中学"  # the realistic district's school with a review finding


def _mixed_school() -> SchoolResult:
    """One row with a finding of every severity, made in no particular order."""
    school = SchoolResult("丰泽区第二实验小学", "3505030009")
    resultfactory.item(school, 2, "学习强国", identifier="cn.xuexi.android")
    for rule, severity in (
        ("APK-TRACKER-SDK", None),
        ("NON-EDU-APP", "review"),
        ("QUOTA", None),
        ("PROOF-SCREENSHOT", None),
    ):
        resultfactory.finding(rule, school, item="学习强国", row=2, severity=severity)
    return school


@pytest.fixture
def mixed(tmp_path: Path) -> Path:
    out = tmp_path / "mixed"
    result = resultfactory.scan_result([_mixed_school(), SchoolResult("清源山小学", "3505030003")])
    write_reports(result, out, formats=tuple(FORMATS))
    return out


def _page(report: Path, parse: Parse, school: str) -> Any:
    index = parse(report / "index.html")
    for link in index.find("table", id="schools").find_all("a"):
        if link.text() == school:
            return parse(report / link.get("href"))
    raise AssertionError(f"no page for {school}")


def test_every_severity_has_a_label_in_every_language() -> None:
    for lang in LANGUAGES:
        labels = [strings(lang).severity(s) for s in SEVERITIES]
        assert len(set(labels)) == len(SEVERITIES), labels
    assert strings("zh").severity("review") == "需人工研判"
    assert strings("en").severity("review") == "needs review"
    assert strings("zh")["severity_note_review"] == REVIEW_NOTE


def test_the_index_has_a_sortable_review_column_between_medium_and_info(
    report: Path, result: ScanResult, parse: Parse
) -> None:
    table = parse(report / "index.html").find("table", id="schools")
    heads = table.find("thead").find_all("th")
    assert [h.text() for h in heads[2:6]] == ["高", "中", "需人工研判", "提示"]
    review = heads[4]
    assert review.get("data-col") == "review" and review.get("data-type") == "num"
    assert review.find("button", cls="sort")
    cells = {
        row.find("a").text(): row.find_all("td")[4] for row in table.find("tbody").find_all("tr")
    }
    for school in result.schools:
        count = school.counts()["review"]
        assert cells[school.school].get("data-v") == cells[school.school].text() == str(count)
    assert cells[MIDDLE].text() == "1"


def test_the_index_counts_review_in_its_summary_and_explains_it(
    report: Path, report_en: Path, parse: Parse
) -> None:
    index = parse(report / "index.html")
    badge = index.find("li", cls="badge", data_severity="review")
    assert badge.text() == "需人工研判 1" and "sev-review" in badge.get("class").split()
    note = index.find("section", cls="summary").find("p", cls="severity-note")
    assert note.text() == REVIEW_NOTE
    english = parse(report_en / "index.html").find("p", cls="severity-note")
    assert english.text().startswith("Needs review:")


def test_no_explanation_where_there_is_nothing_to_judge(mixed: Path, parse: Parse) -> None:
    clean = _page(mixed, parse, "清源山小学")
    assert clean.find_all("p", cls="severity-note") == []
    badge = clean.find("li", cls="badge", data_severity="review")
    assert badge.text() == "需人工研判 0" and "zero" in badge.get("class").split()


def test_the_school_page_counts_and_explains_review(report: Path, parse: Parse) -> None:
    page = _page(report, parse, MIDDLE)
    badges = page.find("ul", cls="badges").find_all("li")
    counted = [(b.get("data-severity"), b.text()) for b in badges if b.get("data-severity")]
    assert counted == [
        ("high", "高 2"),
        ("medium", "中 2"),
        ("review", "需人工研判 1"),
        ("info", "提示 0"),
    ]
    assert page.find("p", cls="severity-note").text() == REVIEW_NOTE
    (article,) = page.find_all("article", cls="sev-review")
    assert "finding" in article.get("class").split()
    assert article.find("span", cls="badge").text() == "需人工研判"
    group = page.find("section", cls="item", data_rows="10")
    assert group.find("h3").text() == "学习强国"
    first = _page(report, parse, "泉州市丰泽区第一实验小学")
    assert first.find_all("p", cls="severity-note") == []


def test_findings_go_from_high_to_medium_to_review_to_info(mixed: Path, parse: Parse) -> None:
    page = _page(mixed, parse, "丰泽区第二实验小学")
    group = page.find("section", cls="item", data_rows="2")
    order = [a.get("class").split()[1] for a in group.find_all("article", cls="finding")]
    assert order == ["sev-high", "sev-medium", "sev-review", "sev-info"]
    labels = [a.find("span", cls="badge").text() for a in group.find_all("article", cls="finding")]
    assert labels == ["高", "中", "需人工研判", "提示"]


def test_the_most_required_apps_show_review_as_their_worst(mixed: Path, parse: Parse) -> None:
    school = SchoolResult("丰泽区第三小学", "3505030010")
    resultfactory.finding("NON-EDU-APP", school, item="学习强国", row=2, severity="review")
    resultfactory.finding("APK-TRACKER-SDK", school, item="学习强国", row=2)
    out = mixed.parent / "worst"
    write_reports(resultfactory.scan_result([school]), out, formats=("html",))
    row = parse(out / "index.html").find("table", id="top-items").find("tbody").find("tr")
    badge = row.find("span", cls="badge")
    assert badge.text() == "需人工研判" and "sev-review" in badge.get("class").split()


def test_the_review_badge_reads_in_black_and_white(report: Path) -> None:
    # Outlined and dashed on white: grey print still tells it from the tinted badges.
    css = (report / "index.html").read_text("utf-8")
    css += next((report / "schools").iterdir()).read_text("utf-8")
    rule = next(line for line in css.splitlines() if line.startswith(".badge.sev-review"))
    assert "dashed" in rule and "background: #fff" in rule
    assert "article.finding.sev-review" in css and ".nonzero-review" in css


def test_json_counts_review_per_school_and_overall(report: Path, result: ScanResult) -> None:
    doc = json.loads((report / "findings.json").read_text("utf-8"))
    assert list(doc["counts"]) == list(SEVERITIES)
    assert doc["counts"] == result.counts() and doc["counts"]["review"] == 1
    by_school = {s["school"]: s for s in doc["schools"]}
    for school in result.schools:
        counts = by_school[school.school]["counts"]
        assert list(counts) == list(SEVERITIES)  # review is there, 0 when absent
        assert counts == school.counts()
    assert by_school["清源山小学"]["counts"]["review"] == 0
    assert by_school[MIDDLE]["counts"]["review"] == 1
    reviewed = [f for f in by_school[MIDDLE]["findings"] if f["severity"] == "review"]
    assert [(f["rule"], f["row"], f["item"]) for f in reviewed] == [("NON-EDU-APP", 10, "学习强国")]


def test_json_of_a_district_without_review_still_has_the_key(tmp_path: Path) -> None:
    school = SchoolResult("清源山小学", "3505030003")
    resultfactory.finding("QUOTA", school, item="某应用", row=2)
    write_reports(resultfactory.scan_result([school]), tmp_path / "r", formats=("json",))
    doc = json.loads((tmp_path / "r" / "findings.json").read_text("utf-8"))
    assert doc["counts"] == {"high": 1, "medium": 0, "review": 0, "info": 0}
    assert doc["schools"][0]["counts"]["review"] == 0
