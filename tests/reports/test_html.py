"""The HTML report, read back as a browser would parse it."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import resultfactory

from policies.model import catalogue
from policies.results import ApkPanel, ScanResult, SchoolResult
from reports.html_format import HtmlFormat
from reports.text import strings

Parse = Callable[[Path | str], Any]  # returns the conftest's Node tree

EXTERNAL = re.compile(r"^\s*([a-zA-Z][a-zA-Z0-9+.-]*:|//|\\\\)")


def _school_pages(report: Path, parse: Parse) -> dict[str, tuple[Path, object]]:
    """Every school's page, found by following the index's links."""
    index = parse(report / "index.html")
    pages = {}
    for row in index.find("table", id="schools").find("tbody").find_all("tr"):
        link = row.find("a")
        href = link.get("href")
        assert href and not EXTERNAL.match(href) and not href.startswith("/")
        target = (report / href).resolve()
        assert target.is_file(), href
        assert report.resolve() in target.parents
        pages[link.text()] = (target, parse(target))
    return pages


def test_the_index_lists_every_school_with_its_counts(
    report: Path, result: ScanResult, parse: Parse
) -> None:
    index = parse(report / "index.html")
    body = index.find("table", id="schools").find("tbody")
    rows = body.find_all("tr")
    assert len(rows) == len(result.schools)
    for row, school in zip(rows, result.schools, strict=True):
        cells = row.find_all("td")
        counts = school.counts()
        expected = [
            school.school,
            school.school_code,
            str(counts["high"]),
            str(counts["medium"]),
            str(counts["review"]),
            str(counts["info"]),
            str(len(school.items)),
            str(len(school.problems)),
        ]
        assert [c.text() for c in cells] == expected
        assert [c.get("data-v") for c in cells] == expected  # sorting reads these
        assert school.school.lower() in row.get("data-search")
    first = rows[0].find_all("td")
    assert [c.text() for c in first[2:]] == ["5", "2", "0", "2", "4", "0"]
    middle = rows[2].find_all("td")
    assert [c.text() for c in middle[2:6]] == ["2", "2", "1", "0"]
    assert "nonzero-review" in (middle[4].get("class") or "").split()


def test_every_link_of_the_index_opens_that_schools_page(report: Path, parse: Parse) -> None:
    pages = _school_pages(report, parse)
    assert len(pages) == 4
    for name, (path, page) in pages.items():
        assert page.find("h1").text() == name
        back = page.find("nav", cls="nav").find("a").get("href")
        assert (path.parent / back).resolve() == (report / "index.html").resolve()
    assert len(list((report / "schools").iterdir())) == 4


def test_every_finding_appears_on_its_schools_page(
    report: Path, result: ScanResult, parse: Parse
) -> None:
    pages = _school_pages(report, parse)
    whole_school = strings("zh")["whole_school"]
    for school in result.schools:
        _path, page = pages[school.school]
        articles = page.find_all("article", cls="finding")
        assert len(articles) == len(school.findings)
        for finding in school.findings:
            row = "" if finding.row is None else str(finding.row)
            groups = [
                g
                for g in page.find_all("section", cls="item", data_row=row)
                if g.find("h3").text() == (finding.item or whole_school)
            ]
            assert len(groups) == 1, (school.school, finding.rule, row)
            group = groups[0]
            if finding.row is not None:
                assert f"第{finding.row}行" in group.find("div", cls="meta").text()
            matching = [
                a
                for a in group.find_all("article", cls="finding")
                if a.find("code", cls="rule").text() == finding.rule
            ]
            assert len(matching) == 1
            article = matching[0]
            assert article.find("p", cls="message").text() == catalogue().message(finding, "zh")
            spec = catalogue()[finding.rule]
            assert spec.title["zh"] in article.find("h4").text()
            assert spec.remediation["zh"] in article.find("p", cls="remediation").text()
            refs = [n.text() for n in article.find_all("strong", cls="basis-ref")]
            assert refs == [c.ref for c in spec.basis]
            quoted = [q.text() for q in article.find_all("blockquote", cls="clause")]
            assert [any(c.text in q for q in quoted) for c in spec.basis] == [True] * len(
                spec.basis
            )
            evidence = article.find_all("dl", cls="evidence")
            assert [dt.text() for dt in evidence[0].find_all("dt")][
                : len(finding.evidence)
            ] == list(finding.evidence)


def test_badges_say_their_severity_in_words(
    report: Path, report_en: Path, result: ScanResult, parse: Parse
) -> None:
    first = result.schools[0]
    zh = _school_pages(report, parse)[first.school][1]
    en = _school_pages(report_en, parse)[first.school][1]
    zh_badges = [b.text() for b in zh.find("ul", cls="badges").find_all("li")]
    en_badges = [b.text() for b in en.find("ul", cls="badges").find_all("li")]
    assert zh_badges[:4] == ["高 5", "中 2", "需人工研判 0", "提示 2"]
    assert en_badges[:4] == ["high 5", "medium 2", "needs review 0", "info 2"]
    assert "核查事项 4" in zh_badges and "Items checked 4" in en_badges
    index_badges = [b.text() for b in parse(report / "index.html").find_all("li", cls="badge")]
    counts = result.counts()
    assert index_badges == [
        f"高 {counts['high']}",
        f"中 {counts['medium']}",
        f"需人工研判 {counts['review']}",
        f"提示 {counts['info']}",
    ]


def test_chinese_by_default_and_english_on_request(
    report: Path, report_en: Path, result: ScanResult, parse: Parse
) -> None:
    for folder, lang, html_lang in ((report, "zh", "zh-CN"), (report_en, "en", "en")):
        words = strings(lang)
        index = parse(folder / "index.html")
        assert index.find("html").get("lang") == html_lang
        assert index.find("h1").text() == words["district_title"]
        heads = [th.text() for th in index.find("table", id="schools").find_all("th")]
        assert heads[:3] == [words["school"], words["school_code"], words["severity_high"]]
        page = _school_pages(folder, parse)[result.schools[0].school][1]
        assert page.find("html").get("lang") == html_lang
        assert page.find("nav").text() == words["back_to_index"]
        titles = [t.text() for t in page.find_all("span", cls="title")]
        assert catalogue()["NON-EDU-APP"].title[lang] in titles
        messages = [m.text() for m in page.find_all("p", cls="message")]
        assert catalogue().message(result.schools[0].findings[0], lang) in messages
    assert strings("zh")["back_to_index"] != strings("en")["back_to_index"]


def test_text_from_submissions_stays_text(report: Path, parse: Parse) -> None:
    index_text = (report / "index.html").read_text("utf-8")
    assert "<script>alert" not in index_text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in index_text
    index = parse(report / "index.html")
    scripts = index.find_all("script")
    assert len(scripts) == 1 and "alert" not in scripts[0].text()
    names = [a.text() for a in index.find("table", id="schools").find_all("a")]
    assert resultfactory.SCRIPT_SCHOOL in names
    top_names = [
        r.find_all("td")[1].text() for r in index.find("table", id="top-items").find_all("tr")[1:]
    ]
    assert resultfactory.SCRIPT_APP in top_names and resultfactory.QUOTED_APP in top_names

    _path, page = _school_pages(report, parse)[resultfactory.SCRIPT_SCHOOL]
    assert page.find_all("script") == []
    assert page.find_all("img") == [] and page.find_all("b") == []
    assert page.find("h1").text() == resultfactory.SCRIPT_SCHOOL
    assert resultfactory.SCRIPT_SCHOOL in page.find("title").text()
    headings = [h.text() for h in page.find_all("h3")]
    for name in (resultfactory.SCRIPT_APP, resultfactory.QUOTED_APP, resultfactory.FORMULA_ITEM):
        assert name in headings
    evidence = " ".join(d.text() for d in page.find_all("dd"))
    assert "<img src=x onerror=alert(2)>" in evidence
    for folder_page in [index, page]:
        for node in folder_page.iter():
            assert not [a for a in node.attrs if a.startswith("on")], node.tag


def test_nothing_is_fetched_from_outside(report: Path, parse: Parse) -> None:
    pages = [report / "index.html", *sorted((report / "schools").iterdir())]
    for path in pages:
        doc = parse(path)
        assert doc.find_all("link") == [] and doc.find_all("iframe") == []
        for node in doc.iter():
            for attr in ("src", "href", "action", "srcset", "data", "poster"):
                value = node.get(attr)
                if value is not None:
                    assert not EXTERNAL.match(value), (path.name, node.tag, value)
            for attr, value in node.attrs.items():
                assert "http" not in value or attr.startswith("data-"), (attr, value)
        styles = " ".join(s.text() for s in doc.find_all("style"))
        assert "url(" not in styles and "@import" not in styles and "@font-face" not in styles
        for script in doc.find_all("script"):
            assert script.get("src") is None
            assert not re.search(r"https?:|fetch\(|XMLHttpRequest|import\(", script.text())


def test_the_font_stack_has_cjk_fonts(report: Path, parse: Parse) -> None:
    style = parse(report / "index.html").find("style").text()
    stack = re.search(r"html \{[^}]*font-family:([^;]+);", style)
    assert stack is not None
    for font in ("Noto Sans CJK SC", "WenQuanYi Micro Hei", "Microsoft YaHei", "PingFang SC"):
        assert f'"{font}"' in stack.group(1)
    assert stack.group(1).strip().endswith("sans-serif")


def test_pages_print_well(report: Path, parse: Parse) -> None:
    for path in (report / "index.html", next((report / "schools").iterdir())):
        style = " ".join(parse(path).find("style").text().split())
        assert "@page { size: A4;" in style
        print_block = style[style.index("@media print") :]
        assert "thead { display: table-header-group; }" in print_block
        assert re.search(r"tr, article\.finding[^{]*\{ break-inside: avoid;", print_block)
        assert re.search(r"\.filter[^{]*\{ display: none !important; \}", print_block)
        assert "th button.sort::after { content: none !important; }" in print_block


def test_the_school_table_sorts_and_filters_through_the_url(report: Path, parse: Parse) -> None:
    index = parse(report / "index.html")
    table = index.find("table", id="schools")
    heads = table.find("thead").find_all("th")
    assert [h.get("data-col") for h in heads] == [
        "school",
        "code",
        "high",
        "medium",
        "review",
        "info",
        "items",
        "problems",
    ]
    assert all(h.find("button", cls="sort") for h in heads)
    for row in table.find("tbody").find_all("tr"):
        for cell, head in zip(row.find_all("td"), heads, strict=True):
            if head.get("data-type") == "num":
                assert cell.get("data-v").isdigit()
    assert index.find("input", id="filter").get("type") == "search"
    script = index.find("script").text()
    assert "location.hash" in script and "data-v" in script and "replaceState" in script


def test_the_most_required_offending_apps(report: Path, parse: Parse) -> None:
    rows = parse(report / "index.html").find("table", id="top-items").find_all("tr")[1:]
    table = [[c.text() for c in r.find_all("td")] for r in rows]
    # "国家反诈中心" and "国家 反诈中心" are the same app at two schools.
    assert table[0][1:5] == ["国家反诈中心", "APP", "2", "4"]
    assert table[0][6].split() == ["NON-EDU-APP", "QUOTA", "PROOF-SCREENSHOT"]
    assert [int(r[3]) for r in table] == sorted((int(r[3]) for r in table), reverse=True)
    assert "作业帮帮" in [r[1] for r in table]
    # Findings about a whole school or an unreadable row are not offending apps.
    assert not {"TOO-MANY-APPS", "INPUT-INVALID"} & {rule for r in table for rule in r[6].split()}


def test_the_summary_shows_inputs_and_file_problems(
    report: Path, result: ScanResult, parse: Parse
) -> None:
    index = parse(report / "index.html")
    inputs = index.find("table", cls="inputs").find("tbody").find_all("tr")
    assert [[c.text() for c in r.find_all("td")][1] for r in inputs] == [
        f.sha256 for f in result.inputs
    ]
    assert inputs[0].find_all("td")[4].text() == "9"
    problems = index.find("table", cls="file-problems").find("tbody").find_all("tr")
    assert [c.text() for c in problems[0].find_all("td")] == [
        "东海学校.xlsx",
        "",
        "文件缺少“学校”列，无法核查其中任何一行",
    ]
    assert index.find("dd", id="total-schools").text() == "4"


def test_input_problems_are_listed_with_their_rows(report: Path, parse: Parse) -> None:
    page = _school_pages(report, parse)["丰泽区实验中学"][1]
    rows = page.find("section", cls="problems").find("tbody").find_all("tr")
    assert [c.text() for c in rows[0].find_all("td")][:2] == ["7", "类型为空，且无法从标识判断"]
    clean = _school_pages(report, parse)["清源山小学"][1]
    assert (
        clean.find("section", cls="problems").find("p").text() == strings("zh")["no_input_problems"]
    )
    assert clean.find("section", cls="findings").find("p").text() == strings("zh")["no_findings"]


def test_apk_panels(report: Path, parse: Parse) -> None:
    page = _school_pages(report, parse)["泉州市丰泽区第一实验小学"][1]
    panel = page.find("div", cls="apk")
    facts = dict(
        zip(
            [dt.text() for dt in panel.find("dl", cls="facts").find_all("dt")],
            [dd.text() for dd in panel.find("dl", cls="facts").find_all("dd")],
            strict=True,
        )
    )
    assert facts["包名"] == "com.example.study"
    assert facts["应用名称"] == "智学网"
    assert facts["版本"] == "5.2.1"
    assert facts["签名方案"] == "v1, v2"
    assert facts["文件大小"].startswith("25,431,552 字节")
    sdk_names = [
        r.find("td").text() for r in panel.find("table", cls="sdks").find("tbody").find_all("tr")
    ]
    assert sdk_names == ["友盟统计", "极光推送"]
    assert panel.find("p", cls="caveat").text() == strings("zh")["sdk_caveat"]
    permissions = [li.text() for li in panel.find("ul", cls="permissions").find_all("li")]
    assert "android.permission.READ_CONTACTS" in permissions
    assert "a1" * 32 in panel.text()

    failed = _school_pages(report, parse)["丰泽区实验中学"][1].find("div", cls="apk")
    assert "下载失败：HTTP 404" in failed.find("p", cls="apk-failure").text()
    assert failed.find_all("dl") == []

    assert _school_pages(report, parse)["清源山小学"][1].find_all("section", cls="apks") == []


def test_apk_facts_of_unexpected_shape_are_shown_not_fatal(tmp_path: Path, parse: Parse) -> None:
    school = SchoolResult("测试学校", "T1")
    resultfactory.item(school, 2, "某应用", apk="x.apk")
    odd = {
        "package": "com.odd",
        "size": "很大",
        "signers": ["ab" * 32, {"sha256": "cd" * 32, "schemes": "v2"}],
        "sdks": [{"name": "<b>广告</b>", "where": "dex"}, "bare-sdk"],
        "permissions": "android.permission.CAMERA",
        "problems": "manifest unreadable",
        "version_code": None,
        "future_field": {"nested": True},
    }
    school.apks.append(ApkPanel(row=2, item="某应用", source="x.apk", facts=odd))
    HtmlFormat().write(resultfactory.scan_result([school]), tmp_path, "en")
    page = parse(next((tmp_path / "schools").iterdir()))
    panel = page.find("div", cls="apk")
    assert "很大" in panel.text() and "com.odd" in panel.text()
    assert "ab" * 32 in panel.text() and "cd" * 32 in panel.text()
    assert [r.find("td").text() for r in panel.find("table", cls="sdks").find_all("tr")[1:]] == [
        "<b>广告</b>",
        "bare-sdk",
    ]
    assert [li.text() for li in panel.find("ul", cls="permissions").find_all("li")] == [
        "android.permission.CAMERA"
    ]
    assert "manifest unreadable" in panel.text()
    assert panel.find_all("b") == []


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_district_without_findings_or_inputs(tmp_path: Path, parse: Parse, lang: str) -> None:
    HtmlFormat().write(resultfactory.scan_result([]), tmp_path, lang)
    index = parse(tmp_path / "index.html")
    assert index.find("table", id="schools").find("tbody").find_all("tr") == []
    assert (
        index.find("section", cls="top-items").find("p", cls="none").text()
        == strings(lang)["no_top_items"]
    )
