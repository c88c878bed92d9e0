"""The writers' per-verdict shortcuts give exactly what the plain path gives, also on schools
rebuilt from the result store, whose findings are known by their verdict's number."""

from __future__ import annotations

import csv
from typing import Any

import pytest
from districtfactory import district_rows, stored_schools
from jinja2 import DictLoader
from markupsafe import Markup
from policyfactory import VIEW

from policies.config import PolicyConfig
from policies.engine import Engine
from policies.model import VerdictMemo
from reports.json_format import VerdictJson, compact_json, school_dict, school_json
from reports.spreadsheets import neutralise
from reports.table_format import school_csv, school_lines, school_rows


def test_findings_json_of_stored_schools_is_the_dumped_school_dict() -> None:
    for seed in range(3):
        for lang in ("zh", "en"):
            fast = VerdictJson(lang)  # one for the district: verdicts shared across schools
            for school in stored_schools(seed):
                assert (
                    school_json(school, lang, fast)
                    == compact_json(school_dict(school, lang)).encode()
                )


def test_csv_lines_of_stored_schools_equal_the_rows_cell_by_cell() -> None:
    for lang, headers in (("zh", "zh"), ("en", "en")):
        lines_memo: VerdictMemo[str] = VerdictMemo()
        rows_memo: VerdictMemo[tuple[str, ...]] = VerdictMemo()
        for school in stored_schools(1):
            lines = list(csv.reader(list(school_lines(school, lang, headers, lines_memo))))
            rows = [
                [neutralise("" if c is None else str(c)) for c in row]
                for row in school_rows(school, lang, headers, rows_memo)
            ]
            assert lines == rows and rows


def test_csv_bytes_of_stored_schools_are_their_lines_encoded() -> None:
    for lang, headers in (("zh", "zh"), ("en", "en")):
        bytes_memo: VerdictMemo[bytes] = VerdictMemo()
        lines_memo: VerdictMemo[str] = VerdictMemo()
        for school in stored_schools(0):
            text = "".join(
                f"{line}\r\n" for line in school_lines(school, lang, headers, lines_memo)
            )
            assert school_csv(school, lang, headers, bytes_memo) == text.encode("utf-8")


def test_school_pages_with_memos_shared_across_a_district_equal_pages_made_alone() -> None:
    from reports.html_school import school_page

    for lang in ("zh", "en"):
        memo: VerdictMemo[Any] = VerdictMemo()
        match_memo: VerdictMemo[Any] = VerdictMemo()
        for school in stored_schools(2, rows=400):
            shared = school_page(school, lang, memo, match_memo)
            assert shared == school_page(school, lang)
            assert shared.findings == len(school.findings) > 0
            assert shared.todo_html.text.count("<tr>") == len(school.findings)


def test_rows_joined_into_their_words_read_as_the_words_filled_in(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A row number is joined into the words around its field (第6、9行, 学习通（第6行）) when
    the words hold that one field only; pages and the CSV's evidence read as the words
    filled in by `str.format`."""
    from reports import evidence, html_school
    from reports.html_school import school_page
    from reports.text import around_field

    assert around_field("第{rows}行", "rows") == ("第", "行")
    assert around_field("row {rows}", "rows") == ("row ", "")
    assert around_field("{rows} of {total}", "rows") is None
    assert around_field("{{rows}} {rows}", "rows") is None
    assert around_field("rows", "rows") is None
    # Schools over a low limit of apps: their 要求使用的APP过多 lists each app and its row.
    schools, _ = Engine(VIEW, PolicyConfig(max_apps=3)).evaluate(district_rows(300, 0))
    assert any("apps" in f.evidence for school in schools for f in school.findings)

    def made(lang: str) -> tuple[list[Any], list[str]]:
        memo: VerdictMemo[str] = VerdictMemo()
        pages = [school_page(school, lang) for school in schools]
        lines = [line for school in schools for line in school_lines(school, lang, lang, memo)]
        return pages, lines

    for lang in ("zh", "en"):
        joined = made(lang)
        with monkeypatch.context() as patch:
            for module in (html_school, evidence):
                patch.setattr(module, "around_field", lambda template, name: None)
            assert made(lang) == joined
        assert any('<p class="meta">' in str(page.details_html) for page in joined[0])


def test_pages_with_their_words_written_in_read_as_pages_that_print_them() -> None:
    """The school page's template has the words it prints as they are written into it once
    per language; its pages read exactly as the plain template's, which prints each."""
    from reports import html_parts
    from reports.html_parts import page_words, stylesheet, template, words_template
    from reports.html_school import school_page

    env = html_parts.environment()
    assert env.loader is not None
    plain_source = env.loader.get_source(env, "school.html.j2")[0]
    loader = html_parts._WordsLoader(env.loader, page_words("zh"))
    written = loader.get_source(env, "school.html.j2")[0]
    assert written.count("{{ t.") < plain_source.count("{{ t.") // 4
    assert str(page_words("zh")["todo"]) in written
    odd = html_parts._WordsLoader(
        DictLoader({"p": "{{ t.a }}|{{ t.b }}|{{ t.c }}|{{ t.d }}|{{- t.c }}"}),
        {"a": Markup("{{ x }}"), "b": Markup(" "), "c": Markup("好")},
    )
    # Kept for the template: syntax, blank space, an unknown word, whitespace control.
    assert odd.get_source(env, "p")[0] == "{{ t.a }}|{{ t.b }}|好|{{ t.d }}|{{- t.c }}"
    meta = {"version": "0", "generated_at": "2026-11-30 10:00+08:00", "run_id": 1,
            "registry_source": "SQLite r.db", "registry_counts": "25", "registry_digest": "a",
            "catalogue_digest": "b", "registry_empty": True}  # fmt: skip
    for lang in ("zh", "en"):
        for school in stored_schools(3):
            context = {
                "t": page_words(lang), "lang": lang, "meta": meta, "notice": "《方案》",
                "css": stylesheet("school"), "page": school_page(school, lang),
                "index_href": "../index.html",
            }  # fmt: skip
            assert words_template("school.html.j2", lang).render(context) == template(
                "school.html.j2"
            ).render(context)
