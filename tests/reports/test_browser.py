"""The report in a real browser: headless Chromium draws the Chinese and runs the table script."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import resultfactory
from browser import CHROMIUM, chromium
from examplereport import EXAMPLE_SCHOOLS, english_words, input_words, registry_words, scan_examples

from policies.results import ScanResult, SchoolResult
from reports import write_reports


def _cjk_fonts() -> str:
    if shutil.which("fc-list") is None:
        return ""
    found = subprocess.run(["fc-list", ":lang=zh"], capture_output=True, text=True, timeout=30)
    return found.stdout.strip()


pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        CHROMIUM is None, reason="headless Chromium not installed (apt-get install chromium)"
    ),
    pytest.mark.skipif(
        CHROMIUM is not None and not _cjk_fonts(),
        # document.fonts.check() says true even then, so ask fontconfig.
        reason="no CJK font (fc-list :lang=zh is empty; apt-get install fonts-wqy-microhei)",
    ),
]


def _screenshot(tmp: Path, page: Path, name: str, size: str = "1200,900") -> Path:
    out = tmp / f"{name}.png"
    chromium(tmp, page.as_uri(), f"--window-size={size}", f"--screenshot={out}")
    assert out.is_file()
    return out


def test_a_school_page_renders(tmp_path: Path, result: ScanResult) -> None:
    from PIL import Image

    report = tmp_path / "report"
    write_reports(result, report)
    page = report / "schools" / "3505030001.html"
    image = Image.open(_screenshot(tmp_path, page, "school")).convert("RGB")
    assert image.size == (1200, 900)
    colours = image.getcolors(maxcolors=1_000_000)
    assert colours is not None
    assert len(colours) > 100  # text, badges and borders, not a blank or error page
    background = max(colours)[0] / (1200 * 900)
    assert 0.5 < background < 0.98
    # The red "high" badges and finding borders are drawn.
    pixels = image.load()
    assert any(
        r > 150 and g < 80 and b < 80
        for x in range(0, 1200, 2)
        for y in range(0, 900, 2)
        for r, g, b in [pixels[x, y]]
    )


def _glyph_page(folder: Path, char: str, font_family: str) -> Path:
    page = folder / f"glyph-{ord(char):x}.html"
    page.write_text(
        '<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8"><style>'
        f"html {{ font-family: {font_family}; background: #fff; color: #000; }}"
        "body { margin: 0; font-size: 300px; line-height: 1; }"
        f"</style></head><body>{char}</body></html>",
        encoding="utf-8",
    )
    return page


def test_chinese_is_drawn_with_a_real_font_not_boxes(tmp_path: Path, result: ScanResult) -> None:
    from PIL import Image, ImageChops

    report = tmp_path / "report"
    write_reports(result, report)
    style = (report / "index.html").read_text("utf-8")
    stack = re.search(r"html \{[^}]*font-family:([^;]+);", style)
    assert stack is not None
    shots = []
    for char in ("学", "校"):
        shot = _screenshot(
            tmp_path, _glyph_page(tmp_path, char, stack.group(1)), f"g{ord(char):x}", "400,400"
        )
        image = Image.open(shot).convert("L")
        ink = sum(image.histogram()[:128])
        assert ink > 2000, f"{char} drew almost nothing"
        shots.append(image)
    # Missing glyphs are drawn as identical boxes (the same ink, no pixel changed); two real
    # characters differ.
    difference = ImageChops.difference(*shots)
    changed = sum(difference.histogram()[65:])
    assert changed > 2000


def _rows_after_script(
    tmp: Path, index: Path, fragment: str, parse: Callable[[str], Any], column: str = "high"
) -> list[tuple[str, str, bool]]:
    """Each row's school, its value in `column` and whether it is hidden, as the page shows
    them once its script has run."""
    dom = chromium(
        tmp, index.as_uri() + fragment, "--dump-dom", "--virtual-time-budget=3000"
    ).stdout
    table = parse(dom).find("table", id="schools")
    cols = [th.get("data-col") for th in table.find("thead").find_all("th")]
    at = cols.index(column)
    rows = []
    for row in table.find("tbody").find_all("tr"):
        cells = row.find_all("td")
        rows.append((cells[0].get("data-v"), cells[at].get("data-v"), "hidden" in row.attrs))
    return rows


def test_sorting_and_filtering_follow_the_url(tmp_path: Path, parse: Callable[[str], Any]) -> None:
    schools = []
    for number, high in enumerate([3, 0, 7, 1, 5]):
        school = SchoolResult(f"第{number + 1}小学", f"35050300{number:02d}")
        for row in range(high):
            resultfactory.finding("NON-EDU-APP", school, item=f"应用{row}", row=row + 2)
        schools.append(school)
    report = tmp_path / "report"
    index = write_reports(resultfactory.scan_result(schools), report, formats=("html",))

    plain = _rows_after_script(tmp_path, index, "", parse)
    assert [r[0] for r in plain] == [s.school for s in schools]

    by_high = _rows_after_script(tmp_path, index, "#sort=high&dir=desc", parse)
    assert [int(r[1]) for r in by_high] == [7, 5, 3, 1, 0]
    assert not any(r[2] for r in by_high)

    filtered = _rows_after_script(tmp_path, index, "#sort=school&dir=asc&q=第3", parse)
    visible = [r[0] for r in filtered if not r[2]]
    assert visible == ["第3小学"]


def test_the_review_column_sorts_like_the_others(
    tmp_path: Path, parse: Callable[[str], Any]
) -> None:
    schools = []
    for number, review in enumerate([1, 4, 0, 2]):
        school = SchoolResult(f"第{number + 1}中学", f"35050301{number:02d}")
        for row in range(review):
            resultfactory.finding(
                "NON-EDU-APP", school, item=f"应用{row}", row=row + 2, severity="review"
            )
        schools.append(school)
    index = write_reports(
        resultfactory.scan_result(schools), tmp_path / "report", formats=("html",)
    )
    by_review = _rows_after_script(tmp_path, index, "#sort=review&dir=desc", parse, "review")
    assert [(r[0], int(r[1])) for r in by_review] == [
        ("第2中学", 4),
        ("第4中学", 2),
        ("第1中学", 1),
        ("第3中学", 0),
    ]
    ascending = _rows_after_script(tmp_path, index, "#sort=review&dir=asc", parse, "review")
    assert [int(r[1]) for r in ascending] == [0, 1, 2, 4]


@pytest.fixture(scope="module")
def example_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return scan_examples(tmp_path_factory.mktemp("example"))


def test_example_pages_as_the_browser_shows_them(
    tmp_path: Path, example_report: Path, parse: Callable[[str], Any]
) -> None:
    """Each example school's page as Chromium builds it: in Chinese but for identifiers, its
    rectification list first, its clauses' links landing on their quotations."""
    pages = sorted((example_report / "schools").glob("*.html"))
    assert len(pages) == len(EXAMPLE_SCHOOLS)
    allowed = input_words()
    for page in pages:
        dom = parse(chromium(tmp_path, page.as_uri(), "--dump-dom").stdout)
        assert dom.find("h1").text() in EXAMPLE_SCHOOLS
        words = english_words(dom, allowed | registry_words(dom))
        assert not words, (page.name, sorted(words))
        sections = [s.get("class") for s in dom.find("body").find_all("section")]
        assert sections[0] == "todo" and "basis" in sections
        ids = {n.get("id") for n in dom.iter() if n.get("id")}
        for link in dom.find("table", cls="todo").find_all("a"):
            assert link.get("href").lstrip("#") in ids


def test_the_list_is_on_the_first_screen(tmp_path: Path, example_report: Path) -> None:
    from PIL import Image

    page = next((example_report / "schools").glob("3135000001.html"))
    shot = Image.open(_screenshot(tmp_path, page, "list", "1200,900")).convert("RGB")
    # The severity badges of the list's lines are drawn in the first screen (red "高").
    pixels = shot.load()
    red = sum(
        1
        for x in range(0, 1200, 3)
        for y in range(300, 900, 3)
        for r, g, b in [pixels[x, y]]
        if r > 150 and g < 80 and b < 80
    )
    assert red > 20
