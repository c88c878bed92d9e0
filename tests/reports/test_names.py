"""School page names: safe on every file system, stable across runs, never shared."""

from __future__ import annotations

import re

from policies.results import SchoolResult
from reports.names import base_name, page_names

SAFE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*\.html$")


def _names(*schools: tuple[str, str]) -> list[str]:
    return page_names([SchoolResult(name, code) for name, code in schools])


def test_a_plain_school_code_names_the_page() -> None:
    assert _names(("泉州市丰泽区第一实验小学", "3505030001")) == ["3505030001.html"]
    assert _names(("Test School", "ab-12_C")) == ["ab-12_C.html"]


def test_unsafe_codes_and_missing_codes_give_a_hash_of_the_school() -> None:
    schools = [
        ("<script>alert(1)</script>小学", ""),
        ("丰泽区实验中学", "../../etc/passwd"),
        ("东海学校", "丰泽-01"),
        ("清源山小学", "C:\\x"),
        ("某学校", "CON"),
        ("另一学校", "-rf"),
        ("长代码学校", "9" * 80),
    ]
    names = _names(*schools)
    for name in names:
        assert SAFE.match(name), name
        assert name.startswith("s-") and len(name) == len("s-0123456789.html")
    assert len(set(names)) == len(names)


def test_names_do_not_change_between_runs_or_with_order() -> None:
    schools = [("第一小学", ""), ("第二小学", ""), ("第三中学", "3505030009"), ("第四中学", "x/y")]
    first = dict(zip(schools, _names(*schools), strict=True))
    again = dict(zip(schools, _names(*schools), strict=True))
    reordered = list(reversed(schools))
    backwards = dict(zip(reordered, _names(*reordered), strict=True))
    assert first == again == backwards
    assert first[("第一小学", "")] == base_name("第一小学", "") + ".html"
    assert first[("第一小学", "")] != first[("第二小学", "")]


def test_colliding_schools_get_distinct_names() -> None:
    same_code = _names(("第一小学", "3505030001"), ("第一小学分校", "3505030001"))
    assert len(set(same_code)) == 2
    assert all(n.startswith("3505030001-") and SAFE.match(n) for n in same_code)
    # Windows and macOS do not tell "AB12.html" from "ab12.html".
    by_case = _names(("甲校", "AB12"), ("乙校", "ab12"))
    assert len({n.lower() for n in by_case}) == 2
    # The same school listed twice still gets two pages.
    twice = _names(("第一小学", "1"), ("第一小学", "1"), ("第一小学", "1"))
    assert len({n.lower() for n in twice}) == 3
    # A collision elsewhere in the district does not rename an unrelated school.
    assert _names(("丙校", "777"), ("甲校", "AB12"), ("乙校", "ab12"))[0] == "777.html"
