"""Text made safe to show: control, bidirectional and zero-width characters, broken surrogates."""

from __future__ import annotations

import json
import os

import pytest

from scanner.safetext import (
    REPLACE_ERRORS,
    XLSX_CELL_LIMIT,
    clip,
    for_xlsx,
    has_hidden,
    json_safe,
    shown,
    shown_inline,
    shown_path,
    sound,
)

HOSTILE = {
    "esc": ("红\x1b[31m色", "红<U+001B>[31m色"),
    "nul": ("a\x00b", "a<U+0000>b"),
    "soh": ("\x01x", "<U+0001>x"),
    "del": ("x\x7f", "x<U+007F>"),
    "c1-csi": ("x\x9b2J", "x<U+009B>2J"),
    "rlo": ("学校\u202etxt.exe", "学校<U+202E>txt.exe"),
    "isolate": ("\u2066a\u2069", "<U+2066>a<U+2069>"),
    "zero-width": ("学\u200b习强国", "学<U+200B>习强国"),
    "bom-inside": ("a\ufeffb", "a<U+FEFF>b"),
    "line-separator": ("a\u2028b", "a<U+2028>b"),
    "surrogate": ("school-\udcff.csv", "school-\ufffd.csv"),
}


@pytest.mark.parametrize("case", HOSTILE)
def test_shown_makes_every_hidden_character_visible(case: str) -> None:
    raw, expected = HOSTILE[case]
    assert has_hidden(raw)
    assert shown(raw) == expected
    assert not has_hidden(shown(raw))
    shown(raw).encode("utf-8")  # whatever was there, the result can be written


def test_plain_text_tabs_and_line_breaks_are_left_alone() -> None:
    text = "第一中学\t家长群\n打卡、投票（自愿）· café"
    assert shown(text) is text
    assert not has_hidden(text)
    assert shown_inline(text) == "第一中学 家长群 打卡、投票（自愿）· café"
    assert shown_inline("a\r\x1b[2Kb") == "a <U+001B>[2Kb"


def test_for_xlsx_removes_what_a_sheet_cannot_hold() -> None:
    assert for_xlsx("红\x1b[31m色\x00\u202e\u200b") == "红[31m色"
    assert for_xlsx("line\nbreak\ttab") == "line\nbreak\ttab"
    assert for_xlsx("name-\udcff") == "name-\ufffd"


def test_for_xlsx_cuts_at_the_excel_cell_limit_with_a_mark() -> None:
    long = "长" * 200_000
    cut = for_xlsx(long)
    assert len(cut) == XLSX_CELL_LIMIT
    assert cut.endswith(" … [200,000 characters; the cell is cut at Excel's limit]")
    assert for_xlsx("长" * XLSX_CELL_LIMIT) == "长" * XLSX_CELL_LIMIT
    assert for_xlsx(long, "…〔{total}〕").endswith("…〔200,000〕")


def test_clip_keeps_short_text_and_marks_the_cut() -> None:
    assert clip("短", 5, "…({total})") == "短"
    assert clip("x" * 12, 5, "…({total})") == "xxxxx…(12)"


def test_json_safe_escapes_inside_strings_and_keeps_the_data() -> None:
    data = {"名称": "a\u202eb\u200bc\x9bd", "n": 1, "list": ["\ufeff"]}
    text = json_safe(json.dumps(data, ensure_ascii=False, indent=2))
    assert not has_hidden(text)
    assert json.loads(text) == data
    broken = json_safe(json.dumps({"source": "x\udcff"}, ensure_ascii=False))
    assert json.loads(broken) == {"source": "x\ufffd"}


def test_file_names_that_are_not_utf8() -> None:
    name = os.fsdecode(b"\xd1\xa7\xd0\xa3-\xff.csv")  # GBK bytes that are not all UTF-8
    assert shown_path(name) == "ѧУ-\ufffd.csv"
    assert sound("plain") == "plain"
    assert "x\udcff".encode("utf-8", REPLACE_ERRORS) == "x\ufffd".encode()


def test_every_character_shown_changes_is_unprintable() -> None:
    # `shown` and `for_xlsx` skip printable text without looking further.
    changed = [c for c in map(chr, range(0x110000)) if has_hidden(c)]
    assert len(changed) > 2000 and not any(c.isprintable() for c in changed)
