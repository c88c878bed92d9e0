"""The HTML report, read back as a browser would parse it."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import resultfactory
from examplereport import (
    EXAMPLE_SCHOOLS,
    english_words,
    input_words,
    registry_words,
    scan_examples,
    texts,
)

from policies.model import catalogue
from policies.results import ApkPanel, ScanResult, SchoolResult
from reports import write_reports
from reports.html_format import HtmlFormat
from reports.text import rule_text, strings
from scanner.apk.facts import ApkFacts

Parse = Callable[[Path | str], Any]  # returns the conftest's Node tree

EXTERNAL = re.compile(r"^\s*([a-zA-Z][a-zA-Z0-9+.-]*:|//|\\\\)")


def _school_pages(report: Path, parse: Parse) -> dict[str, tuple[Path, Any]]:
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


def _title(article: Any) -> str:
    """A finding's title: its heading's own text, besides the badge and the list numbers."""
    return "".join(c for c in article.find("h4").children if isinstance(c, str)).strip()


def _cells(row: Any) -> list[str]:
    return [c.text().strip() for c in row.find_all("td")]


# --- the example district, scanned end to end ------------------------------------------------


@pytest.fixture(scope="module")
def example_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return scan_examples(tmp_path_factory.mktemp("example"))


@pytest.fixture
def example_pages(example_report: Path, parse: Parse) -> dict[str, tuple[Path, Any]]:
    return _school_pages(example_report, parse)


def test_example_pages_speak_chinese(example_pages: dict[str, tuple[Path, Any]]) -> None:
    assert set(example_pages) == set(EXAMPLE_SCHOOLS)
    for school, (_path, page) in example_pages.items():
        words = english_words(page, input_words() | registry_words(page))
        assert not words, (school, sorted(words))
        seen = set(re.findall(r"\w+", " ".join(texts(page))))
        assert not {"matched_by", "registry_entry", "true", "false", "None", "none"} & seen


TODO_COLUMNS = ["序号", "问题编号", "应用/账号", "行号", "问题", "严重程度", "整改要求", "依据"]


def _todo_lines(page: Any) -> list[dict[str, Any]]:
    """The rectification list line by line, each with a cell for every column: cells that
    span several lines (a problem, or an item within it) are given to each of them."""
    table = page.find("table", cls="todo")
    columns = [th.text() for th in table.find("thead").find_all("th")]
    pending: dict[int, tuple[Any, int]] = {}  # column -> (cell, lines it still covers)
    lines = []
    for tr in table.find("tbody").find_all("tr"):
        cells = iter(tr.find_all("td"))
        line = {}
        for at, name in enumerate(columns):
            if at in pending:
                cell, left = pending.pop(at)
            else:
                cell = next(cells)
                left = int(cell.get("rowspan") or 1)
            line[name] = cell
            if left > 1:
                pending[at] = (cell, left - 1)
        assert next(cells, None) is None
        lines.append(line)
    assert not pending
    return lines


def test_example_pages_open_with_the_rectification_list(
    example_pages: dict[str, tuple[Path, Any]], example_report: Path
) -> None:
    import json

    doc = json.loads((example_report / "findings.json").read_text("utf-8"))
    by_school = {s["school"]: s["findings"] for s in doc["schools"]}
    words = strings("zh")
    for school, (_path, page) in example_pages.items():
        body = page.find("body")
        sections = [n for n in body.children if not isinstance(n, str) and n.tag == "section"]
        assert sections[0].get("class") == "todo", school
        assert sections[0].find("h2").text() == words["todo"]
        header = [th.text() for th in sections[0].find("thead").find_all("th")]
        assert header == TODO_COLUMNS
        lines = _todo_lines(page)
        assert [line["序号"].text() for line in lines] == [str(n) for n in range(1, len(lines) + 1)]
        # The example is scanned against a database: every line names its ledger item, but
        # an unreadable row, which is corrected in the next submission, not in the ledger.
        # After a first scan every item is 待整改 with one due date: the list says so once,
        # above it, and each line gives only its number.
        ledger_ids = {f.get("ledger_id") for f in by_school[school]}
        intro = sections[0].find("p").text()
        assert re.search(r"均为“待整改”，整改时限均为\d{4}-\d{2}-\d{2}。", intro), intro
        for line in lines:
            if line["问题"].text() == rule_text("INPUT-INVALID", "zh").title:
                assert line["问题编号"].text() == "—"
                continue
            number = line["问题编号"].text()
            assert re.fullmatch(r"\d{4}-\d{4,}", number), number
            assert number in ledger_ids
        shown = sorted(
            (line["应用/账号"].text(), line["行号"].text(), line["问题"].text()) for line in lines
        )
        expected = sorted(
            (
                f["item"] or words["whole_school"],
                "—" if f["row"] is None else str(f["row"]),
                catalogue()[f["rule"]].title["zh"],
            )
            for f in by_school[school]
        )
        assert shown == expected, school
        sign = sections[0].find("div", cls="sign").text()
        assert "学校负责人（签字）" in sign and "日期" in sign
        # The school's name comes before the list, on its first printed page.
        assert body.find("h1").text() == school


def test_each_line_of_the_list_says_what_to_do_and_why(
    example_pages: dict[str, tuple[Path, Any]],
) -> None:
    _path, page = example_pages["示例第三小学"]
    ids = {n.get("id") for n in page.iter() if n.get("id")}
    lines = _todo_lines(page)
    seen: dict[str, list[tuple[str, ...]]] = {}
    for line in lines:
        assert line["应用/账号"].find("a").get("href").lstrip("#") in ids  # the item's details
        for link in line["依据"].find_all("a"):
            assert link.get("href").lstrip("#") in ids  # the quoted clause
        rule = line["问题"].get("title")
        seen.setdefault(rule, []).append(
            tuple(line[c].text() for c in ("问题", "严重程度", "整改要求", "依据"))
        )
    (revoked,) = set(seen["FILING-REVOKED"])
    assert revoked == (
        "备案已撤销或注销",
        "高",
        catalogue()["FILING-REVOKED"].remediation["zh"],
        "《工作方案》附件2第（三）项第1条",
    )
    # The remediation of each finding's own cause: tasks on a revoked app, on an unlisted one.
    tasks = {line[2] for line in seen["TASK-PROHIBITED"]}
    spec = catalogue()["TASK-PROHIBITED"]
    assert tasks == {spec.remediation_of("revoked")["zh"], spec.remediation["zh"]}
    assert {line[3] for line in seen["TOO-MANY-APPS"]} == {"《工作方案》“工作措施”第（四）项"}


def test_each_clause_is_quoted_once_per_page(example_pages: dict[str, tuple[Path, Any]]) -> None:
    notice = catalogue().notice
    for school, (path, page) in example_pages.items():
        text = path.read_text("utf-8")
        quoted = page.find("section", cls="basis").find("dl", cls="clauses")
        keys = [dt.get("id") for dt in quoted.find_all("dt")]
        assert len(keys) == len(set(keys))
        for clause in catalogue().clauses.values():
            assert text.count(clause.text) == (1 if clause.ref in keys else 0), (school, clause.ref)
        cited = {a.get("href").lstrip("#") for a in page.find("table", cls="todo").find_all("a")}
        assert {k for k in cited if not k.startswith("i")} == set(keys)
        assert text.count(notice["reference"]) == 1, school
        assert notice["title"] in page.find("section", cls="basis").text()


def test_the_registry_entry_is_shown_once_per_item(
    example_pages: dict[str, tuple[Path, Any]],
) -> None:
    _path, page = example_pages["示例实验小学"]
    (item,) = [
        s for s in page.find_all("section", cls="item") if s.find("h3").text() == "国家反诈中心"
    ]
    assert len(item.find_all("article", cls="finding")) == 4
    entries = item.find_all("dl", cls="entry")
    assert len(entries) == 1 and entries[0] in item.find("header").iter()
    facts = dict(
        zip(
            (dt.text() for dt in entries[0].find_all("dt")),
            (dd.text() for dd in entries[0].find_all("dd")),
            strict=True,
        )
    )
    assert facts == {
        "登记表条目": "国家反诈中心（APP，按包名匹配）",
        "备案号": "未登记",
        "类别": "反诈",
    }
    assert "com.hicorenational.antifraud" in item.find("p", cls="meta").text()
    (task,) = [a for a in item.find_all("article") if a.get("data-rule") == "TASK-PROHIBITED"]
    assert task.find("dl", cls="ev").find("dt").text() == "要求内容"
    assert task.find("mark").text() == "答题"

    _path, second = example_pages["示例第二中学"]
    (community,) = [
        s for s in second.find_all("section", cls="item") if s.find("h3").text() == "示例成长记录"
    ]
    entry = community.find("dl", cls="entry").text()
    assert "示例成长记录（公众号，按原始ID匹配）" in entry and "提供者示例文化传媒有限公司" in entry


def test_example_times_are_local(
    example_pages: dict[str, tuple[Path, Any]], example_report: Path, parse: Parse
) -> None:
    stamp = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \+08:00$")
    for _path, page in example_pages.values():
        assert stamp.match(page.find("span", cls="generated").text())
    index = parse(example_report / "index.html")
    assert stamp.match(index.find("span", cls="generated").text())


# --- the realistic district built in code ------------------------------------------------------


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


def test_every_finding_is_on_the_list_and_in_its_items_details(
    report: Path, result: ScanResult, parse: Parse
) -> None:
    pages = _school_pages(report, parse)
    whole_school = strings("zh")["whole_school"]
    for school in result.schools:
        _path, page = pages[school.school]
        lines = page.find("section", cls="todo").find_all("tr")[1:]
        assert len(lines) == len(school.findings)
        articles = page.find_all("article", cls="finding")
        assert len(articles) == len(school.findings)  # no two read the same here
        numbers = sorted(int(a.find("small").text().removeprefix("序号")) for a in articles)
        assert numbers == list(range(1, len(school.findings) + 1))
        for finding in school.findings:
            row = "" if finding.row is None else str(finding.row)
            groups = [
                g
                for g in page.find_all("section", cls="item", data_rows=row)
                if g.find("h3").text() == (finding.item or whole_school)
            ]
            assert len(groups) == 1, (school.school, finding.rule, row)
            group = groups[0]
            if finding.row is not None:
                assert f"第{finding.row}行" in group.find("p", cls="meta").text()
            (article,) = [
                a for a in group.find_all("article") if a.get("data-rule") == finding.rule
            ]
            assert article.find("p").text() == catalogue().message(finding, "zh")
            assert _title(article) == rule_text(finding.rule, "zh").title


def test_findings_that_read_the_same_on_several_rows_are_shown_once(
    tmp_path: Path, parse: Parse
) -> None:
    school = SchoolResult("测试小学", "T1")
    entry = {
        "name": "学习强国",
        "kind": "app",
        "filing_no": "",
        "status": "none",
        "category": "政务",
    }
    for row in (3, 5, 9):
        resultfactory.item(school, row, "学习强国", identifier="cn.xuexi.android")
        resultfactory.finding(
            "NON-EDU-APP",
            school,
            item="学习强国",
            row=row,
            evidence={"matched_by": "package", "registry_entry": entry},
            params={"category": "政务"},
        )
    HtmlFormat().write(resultfactory.scan_result([school]), tmp_path, "zh")
    page = parse(next((tmp_path / "schools").iterdir()))
    assert len(page.find("table", cls="todo").find("tbody").find_all("tr")) == 3
    (item,) = page.find_all("section", cls="item")
    assert item.find("p", cls="meta").text().startswith("第3、5、9行")
    (article,) = item.find_all("article")
    assert article.find("small").text() == "序号1～3"  # no rows: those of the whole item


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
        assert page.find("section", cls="todo").find("h2").text() == words["todo"]
        titles = [_title(a) for a in page.find_all("article", cls="finding")]
        assert catalogue()["NON-EDU-APP"].title[lang] in titles
        messages = [a.find("p").text() for a in page.find_all("article", cls="finding")]
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

    path, page = _school_pages(report, parse)[resultfactory.SCRIPT_SCHOOL]
    assert page.find_all("script") == []
    assert page.find_all("img") == [] and page.find_all("b") == []
    assert page.find("h1").text() == resultfactory.SCRIPT_SCHOOL
    assert resultfactory.SCRIPT_SCHOOL in page.find("title").text()
    headings = [h.text() for h in page.find_all("h3")]
    for name in (resultfactory.SCRIPT_APP, resultfactory.QUOTED_APP, resultfactory.FORMULA_ITEM):
        assert name in headings
    listed = [
        r.find_all("td")[1].find("a").text()
        for r in page.find("table", cls="todo").find_all("tr")[1:]
    ]
    assert resultfactory.SCRIPT_APP in listed
    assert "&lt;script&gt;alert(&quot;app&quot;)&lt;/script&gt;" in path.read_text("utf-8") or (
        '&lt;script&gt;alert("app")&lt;/script&gt;' in path.read_text("utf-8")
    )
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
        # A finding is not split across pages; a whole item may be.
        avoid = re.search(
            r"([^{}]*)\{ break-inside: avoid; page-break-inside: avoid; \}", print_block
        )
        assert avoid is not None
        kept = {s.strip() for s in avoid.group(1).split(",")}
        assert {"tr", "article.finding", ".sign"} <= kept and "section.item" not in kept
        assert re.search(r"\.nav[^{]*details\.raw[^{]*\{ display: none !important; \}", print_block)
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
    rules = rows[0].find_all("td")[6].find_all("span", cls="rule")
    assert [r.get("title") for r in rules] == ["NON-EDU-APP", "QUOTA", "PROOF-SCREENSHOT"]
    assert [r.text() for r in rules] == [
        "与教育教学无关的APP",
        "设置参与率、达标率等硬性指标",
        "以截图、照片、视频留痕",
    ]
    assert [int(r[3]) for r in table] == sorted((int(r[3]) for r in table), reverse=True)
    assert "作业帮帮" in [r[1] for r in table]
    # Findings about a whole school or an unreadable row are not offending apps.
    codes = {s.get("title") for r in rows for s in r.find_all("span", cls="rule")}
    assert not {"TOO-MANY-APPS", "INPUT-INVALID"} & codes


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
    assert clean.find("section", cls="todo").find("p").text() == strings("zh")["no_findings"]
    assert clean.find_all("div", cls="sign") == []
    # Items without findings are listed; those with findings are on the list above.
    checked = clean.find("table", cls="items").find("tbody").find_all("tr")
    assert [_cells(r)[:2] for r in checked] == [["10", "智慧中小学"]]


def test_apk_panels_in_plain_words(report: Path, parse: Parse) -> None:
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
    assert facts["文件大小"] == "24.3 MB（25,431,552 字节）"
    sdks = [_cells(r) for r in panel.find("table", cls="sdks").find("tbody").find_all("tr")]
    assert sdks == [
        ["友盟统计", "友盟+", "统计分析", "代码"],
        ["极光推送", "极光", "消息推送", "代码、清单文件"],
    ]
    assert panel.find("p", cls="caveat").text() == strings("zh")["sdk_caveat"]
    permissions = [li.text() for li in panel.find("ul", cls="permissions").find_all("li")]
    assert permissions[:3] == ["精确位置 敏感", "读取通讯录 敏感", "相机 敏感"]
    assert "访问网络" in permissions
    # The Android names, hashes and certificates are there for whoever checks, folded away.
    raw = panel.find("details", cls="raw")
    assert raw.get("open") is None
    assert "android.permission.READ_CONTACTS" in raw.text() and "a1" * 32 in raw.text()
    assert "2019-01-01 08:00 +08:00 – 2049-01-01 08:00 +08:00" in raw.text()  # local time
    assert "android.permission" not in panel.find("ul", cls="permissions").text()
    assert "resources.arsc" in raw.text()

    failed = _school_pages(report, parse)["丰泽区实验中学"][1].find("div", cls="apk")
    assert "下载失败：服务器返回错误代码 404" in failed.find("p", cls="apk-failure").text()
    assert failed.find_all("dl", cls="facts") == [] or "HTTP 404" in failed.text()

    assert _school_pages(report, parse)["清源山小学"][1].find_all("section", cls="apks") == []


def test_an_apk_that_cannot_be_read_claims_nothing_about_its_contents(
    tmp_path: Path, parse: Parse
) -> None:
    school = SchoolResult("测试学校", "T1")
    resultfactory.item(school, 2, "某应用", apk="x.apk")
    broken = ApkFacts(
        sha256="ab" * 32, size=9, readable=False, problems=("not a zip archive (too short)",)
    )
    school.apks.append(ApkPanel(row=2, item="某应用", source="x.apk", facts=broken))
    HtmlFormat().write(resultfactory.scan_result([school]), tmp_path, "zh")
    page = parse(next((tmp_path / "schools").iterdir()))
    panel = page.find("div", cls="apk")
    assert "文件已损坏或不是安装包" in panel.text()
    assert "not a zip archive (too short)" in panel.find("details", cls="raw").text()
    # No verdict on a signature that was never read, no "no SDK found", no permissions.
    assert "签名" not in panel.find("dl", cls="facts").text()
    assert panel.find_all("h4") == []  # neither 第三方SDK nor 权限: they were never read


def test_unreadable_apks_are_explained_in_chinese(tmp_path: Path, parse: Parse) -> None:
    school = SchoolResult("测试学校", "T1")
    resultfactory.item(school, 2, "某应用", apk="apks/missing.apk")
    reason = "file not found: apks/missing.apk"
    resultfactory.finding(
        "APK-UNREADABLE",
        school,
        item="某应用",
        row=2,
        evidence={"apk": "apks/missing.apk", "reason": reason},
        params={
            "reason": reason,
            "reason_zh": "找不到安装包文件“apks/missing.apk”",
            "reason_en": reason,
        },
    )
    school.apks.append(
        ApkPanel(row=2, item="某应用", source="apks/missing.apk", facts=None, failure=reason)
    )
    HtmlFormat().write(resultfactory.scan_result([school]), tmp_path, "zh")
    page = parse(next((tmp_path / "schools").iterdir()))
    article = page.find("article", cls="finding")
    assert (
        article.find("p").text() == "“某应用”的安装包无法读取：找不到安装包文件“apks/missing.apk”。"
    )
    assert reason in article.find("details", cls="raw").text()
    panel = page.find("div", cls="apk")
    assert panel.find("p", cls="apk-failure").text().endswith("找不到安装包文件“apks/missing.apk”")
    assert english_words(panel.find("p", cls="apk-failure"), {"apks/missing.apk"}) == set()


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_district_without_findings_or_inputs(tmp_path: Path, parse: Parse, lang: str) -> None:
    HtmlFormat().write(resultfactory.scan_result([]), tmp_path, lang)
    index = parse(tmp_path / "index.html")
    assert index.find("table", id="schools").find("tbody").find_all("tr") == []
    assert (
        index.find("section", cls="top-items").find("p", cls="none").text()
        == strings(lang)["no_top_items"]
    )


def test_times_are_shown_in_the_bureaus_zone(
    tmp_path: Path, result: ScanResult, parse: Parse
) -> None:
    write_reports(result, tmp_path / "cst", formats=("html",))
    page = next((tmp_path / "cst" / "schools").iterdir())
    assert parse(page).find("span", cls="generated").text() == "2024-05-20 09:30:15 +08:00"
    footer = parse(page).find("footer").text()
    assert "2024-05-20 09:30:15 +08:00" in footer and "+00:00" not in footer

    write_reports(replace(result, timezone="UTC"), tmp_path / "utc", formats=("html",))
    index = parse(tmp_path / "utc" / "index.html")
    assert index.find("span", cls="generated").text() == "2024-05-20 01:30:15 +00:00"


def test_an_empty_registry_is_announced_on_every_page(
    tmp_path: Path, result: ScanResult, parse: Parse
) -> None:
    empty = replace(result, registry=replace(result.registry, entries=0, adoptions=0))
    write_reports(empty, tmp_path / "empty", formats=("html",))
    pages = [tmp_path / "empty" / "index.html", *(tmp_path / "empty" / "schools").iterdir()]
    assert len(pages) == 5
    for path in pages:
        banner = parse(path).find_all("p", cls="banner")
        assert len(banner) == 1, path.name
        assert banner[0].find("strong").text() == "登记表为空：所有应用都将被判为未登记"
    write_reports(result, tmp_path / "full", formats=("html",))
    for path in [tmp_path / "full" / "index.html", *(tmp_path / "full" / "schools").iterdir()]:
        assert parse(path).find_all("p", cls="banner") == []


def test_a_school_in_two_files_says_which_file_each_row_is_in(tmp_path: Path, parse: Parse) -> None:
    school = SchoolResult("两表小学", "T2")
    for source in ("/data/春季/填报.csv", "/data/秋季/补报.xlsx"):
        resultfactory.item(school, 3, "学习强国", identifier="cn.xuexi.android", source=source)
        resultfactory.finding("NON-EDU-APP", school, item="学习强国", row=3, source=source)
    resultfactory.item(school, 4, "智慧中小学", source="/data/秋季/补报.xlsx")
    HtmlFormat().write(resultfactory.scan_result([school]), tmp_path, "zh")
    page = parse(next((tmp_path / "schools").iterdir()))
    assert "填报.csv、补报.xlsx" in page.find("header", cls="page").text()
    assert "/data" not in page.find("body").text()  # file names, not this machine's folders
    lines = _todo_lines(page)
    assert sorted(line["行号"].text() for line in lines) == ["3（填报.csv）", "3（补报.xlsx）"]
    assert len(page.find_all("section", cls="item")) == 2
    clean = page.find("table", cls="items").find("tbody").find_all("tr")
    assert [_cells(r)[:2] for r in clean] == [["4（补报.xlsx）", "智慧中小学"]]


def test_the_index_names_each_files_encoding_as_people_do(
    report: Path, report_en: Path, parse: Parse
) -> None:
    def encodings(folder: Path) -> list[str]:
        table = parse(folder / "index.html").find("table", cls="inputs")
        return [row.find_all("td")[2].text() for row in table.find("tbody").find_all("tr")]

    assert encodings(report) == ["GB18030（GBK）", "XLSX 工作簿"]
    assert encodings(report_en) == ["GB18030 (GBK)", "XLSX workbook"]
