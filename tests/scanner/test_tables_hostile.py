"""Spreadsheets as they go wrong in the field, built in code: cells of any length, quotation
marks never closed, rows in another encoding, workbooks that inflate beyond reason."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
from tablefactory import (
    SHEET_HEAD,
    SHEET_TAIL,
    csv_bytes,
    declare_size,
    inline_row,
    mixed_csv,
    replace_parts,
    write_csv,
    write_xlsx,
)

from scanner.tables import MiB, ReadLimits, Table, TableError, Vocabulary, read_table

VOCAB = Vocabulary.build(
    {
        "school": ["学校"],
        "name": ["名称"],
        "kind": ["类型"],
        "identifier": ["包名"],
        "note": ["备注"],
    }
)
HEADER = ["学校", "名称", "类型", "包名", "备注"]


def rows_of(table: Table) -> list[tuple[int, dict[str, str]]]:
    return [(row.number, dict(row.cells)) for row in table.rows()]


def names(table: Table) -> list[tuple[int, str]]:
    return [(number, cells["name"]) for number, cells in rows_of(table)]


# --- cells of any length ----------------------------------------------------------------


def test_a_cell_longer_than_the_csv_modules_default_limit_is_kept_whole(tmp_path: Path) -> None:
    note = "家长须每日在群内接龙打卡。" * 20_000  # 260,000 characters
    path = write_csv(tmp_path / "long.csv", [HEADER, ["一中", "家校通", "APP", "", note]])
    (row,) = read_table(path, VOCAB).rows()
    assert row.get("note") == note


@pytest.mark.parametrize("encoding", ["utf-8-sig", "gb18030"])
def test_a_very_wide_row_is_read_with_its_overflow_kept(tmp_path: Path, encoding: str) -> None:
    wide = ["一中", "家校通", "APP", "cn.edu.x", "备注", *(["多"] * 100_000)]
    path = write_csv(tmp_path / "wide.csv", [HEADER, wide], encoding)
    (row,) = read_table(path, VOCAB).rows()
    assert row.get("identifier") == "cn.edu.x"
    assert row.extra[""] == " | ".join(["多"] * 100_000)


# --- quotation marks ----------------------------------------------------------------------


def _lines(*lines: str, encoding: str = "utf-8") -> bytes:
    return "".join(line + "\r\n" for line in lines).encode(encoding)


def test_an_unclosed_quote_breaks_only_its_own_row(tmp_path: Path) -> None:
    path = tmp_path / "quote.csv"
    path.write_bytes(
        _lines(
            ",".join(HEADER),
            "一中,学习通,APP,com.chaoxing.mobile,",
            '一中,"坏名称,APP,cn.edu.bad,',  # row 3: the quotation mark is never closed
            "一中,国家反诈中心,APP,com.hicorenational.antifraud,",
            "二中,钉钉,APP,com.alibaba.android.rimet,要求,打卡",
        )
    )
    table = read_table(path, VOCAB)
    assert names(table) == [
        (2, "学习通"),
        (3, "坏名称,APP,cn.edu.bad,"),
        (4, "国家反诈中心"),
        (5, "钉钉"),
    ]
    note = table.broken_rows[3]
    assert (note.row, note.values) == (3, {"first": 4, "last": 5})
    assert "rows 4–5 ran into one of its cells" in note.text("en")
    assert "第4至5行" in note.text("zh")
    assert set(table.broken_rows) == {3}


def test_a_quote_closed_by_a_later_cell_still_names_the_rows_it_swallowed(
    tmp_path: Path,
) -> None:
    path = tmp_path / "quote.csv"
    path.write_bytes(
        _lines(
            ",".join(HEADER),
            '一中,"坏名称,APP,,',
            "一中,学习通,APP,,",
            '一中,"钉钉,企业版",APP,,',  # its opening quotation mark closes row 2's
            "一中,巧考,APP,,",
        )
    )
    table = read_table(path, VOCAB)
    assert names(table) == [(2, "坏名称,APP,,"), (3, "学习通"), (4, "钉钉,企业版"), (5, "巧考")]
    assert table.broken_rows[2].values == {"first": 3, "last": 4}


def test_cells_with_line_breaks_from_excel_are_not_broken(tmp_path: Path) -> None:
    rows = [
        HEADER,
        ["一中", "家校通", "APP", "", "第一条，要求\n第二条,转发\n第三条"],
        ["一中", '"引号"里的名称', "APP", "", ""],
        ["一中", "巧考", "APP", "", ""],
    ]
    table = read_table(write_csv(tmp_path / "excel.csv", rows), VOCAB)
    assert names(table) == [(2, "家校通"), (3, '"引号"里的名称'), (4, "巧考")]
    assert not table.broken_rows and not table.notes


def test_text_after_a_closing_quote_on_one_line_is_kept_as_before(tmp_path: Path) -> None:
    path = tmp_path / "hand.csv"
    path.write_bytes(_lines(",".join(HEADER), '一中,"某某"平台,APP,,', "一中,巧考,APP,,"))
    table = read_table(path, VOCAB)
    assert names(table) == [(2, "某某平台"), (3, "巧考")]
    assert not table.broken_rows


# --- mixed encodings ------------------------------------------------------------------------

MIXED_ROWS = [
    HEADER,
    ["实验小学", "学习通", "APP", "com.chaoxing.mobile", ""],
    ["实验小学", "家长群打卡", "小程序", "", "每天打卡"],
    ["实验小学", "国家反诈中心", "APP", "", "注册截图"],
]


@pytest.mark.parametrize(
    ("encoding", "other", "label"),
    [("gb18030", "utf-8", "gb18030"), ("utf-8", "gbk", "utf-8"), ("gbk", "utf-8", "gb18030")],
)
def test_a_row_in_another_encoding_is_decoded_on_its_own_and_named(
    tmp_path: Path, encoding: str, other: str, label: str
) -> None:
    path = tmp_path / "mixed.csv"
    path.write_bytes(mixed_csv(MIXED_ROWS, encoding, {3: other}))
    table = read_table(path, VOCAB)
    assert table.encoding == label
    assert names(table) == [(2, "学习通"), (3, "家长群打卡"), (4, "国家反诈中心")]
    (note,) = table.notes
    assert (note.key, note.rows) == ("mixed_encoding", (3,))
    assert "row(s) 3 are in" in note.text("en")


def test_a_utf8_row_that_gb18030_decodes_without_error_is_not_left_as_mojibake(
    tmp_path: Path,
) -> None:
    row = ["实验小学", "学校", "APP", "", ""]
    assert csv_bytes([row], "utf-8").decode("gb18030")  # decodes, into nonsense
    path = tmp_path / "mojibake.csv"
    path.write_bytes(mixed_csv([HEADER, row, MIXED_ROWS[1]], "gb18030", {2: "utf-8"}))
    table = read_table(path, VOCAB)
    assert names(table) == [(2, "学校"), (3, "学习通")]
    assert [(n.key, n.rows) for n in table.notes] == [("mixed_encoding", (2,))]


def test_a_short_gbk_row_that_is_valid_utf8_in_a_utf8_file(tmp_path: Path) -> None:
    assert "学校".encode("gbk").decode("utf-8") == "ѧУ"
    path = tmp_path / "short-gbk.csv"
    path.write_bytes(
        mixed_csv([HEADER, MIXED_ROWS[1], ["一中", "学校", "", "", ""]], "utf-8", {3: "gbk"})
    )
    table = read_table(path, VOCAB)
    assert table.encoding == "utf-8"
    assert names(table) == [(2, "学习通"), (3, "学校")]
    assert [(n.key, n.rows) for n in table.notes] == [("mixed_encoding", (3,))]


def test_a_line_in_neither_encoding_is_shown_with_replacement_characters(tmp_path: Path) -> None:
    path = tmp_path / "broken.csv"
    path.write_bytes(
        csv_bytes(MIXED_ROWS[:2], "utf-8-sig") + b"\xe4\xb8,\xff\xfe\x80,APP,,\r\n"
        + csv_bytes(MIXED_ROWS[2:3], "utf-8")
    )  # fmt: skip
    table = read_table(path, VOCAB)
    assert table.encoding == "utf-8-sig"
    rows = rows_of(table)
    assert [n for n, _ in rows] == [2, 3, 4] and "\ufffd" in rows[1][1]["name"]
    assert [(n.key, n.rows) for n in table.notes] == [("undecodable", (3,))]


def test_encoding_rows_are_rows_as_the_sheet_shows_them(tmp_path: Path) -> None:
    # A cell over two lines comes first: the foreign line 5 is row 4.
    rows = [HEADER, ["一中", "家校通", "APP", "", "第一行\n第二行"], *MIXED_ROWS[1:3]]
    path = tmp_path / "lines.csv"
    path.write_bytes(mixed_csv(rows, "gb18030", {4: "utf-8"}))
    table = read_table(path, VOCAB)
    assert names(table) == [(2, "家校通"), (3, "学习通"), (4, "家长群打卡")]
    assert [(n.key, n.rows) for n in table.notes] == [("mixed_encoding", (4,))]


def test_a_whole_gb18030_file_is_not_mistaken_for_utf8_by_its_short_words(
    tmp_path: Path,
) -> None:
    path = tmp_path / "gb.csv"
    path.write_bytes("学校,名称\n学校,学校\n".encode("gb18030"))
    table = read_table(path, VOCAB)
    assert (table.encoding, names(table), table.notes) == ("gb18030", [(2, "学校")], [])


# --- workbooks within limits -----------------------------------------------------------------


def _workbook(tmp_path: Path, name: str = "s.xlsx") -> Path:
    return write_xlsx(tmp_path / name, [HEADER, ["一中", "学习通", "APP", "", ""]])


def _long_sheet(megabytes: float) -> bytes:
    """A sheet of ordinary rows that inflates to about `megabytes` (about 20:1, as sheets do)."""
    rows = [inline_row(1, dict(zip("ABCDE", HEADER, strict=True)))]
    size, number = 0, 2
    while size < megabytes * MiB:
        rows.append(inline_row(number, {"A": "一中", "B": f"应用{number}", "C": "APP"}))
        size += len(rows[-1])
        number += 1
    return SHEET_HEAD + b"".join(rows) + SHEET_TAIL


def test_a_sheet_inflating_beyond_the_cap_is_refused_before_parsing(tmp_path: Path) -> None:
    path = replace_parts(_workbook(tmp_path), {"xl/worksheets/sheet1.xml": _long_sheet(3)})
    with pytest.raises(TableError, match=r"inflating 3 MB of XML, more than the limit of 2 MB"):
        read_table(path, VOCAB, limits=ReadLimits(max_inflated=2 * MiB))
    assert names(read_table(path, VOCAB))[0] == (2, "应用2")  # within the default cap


def test_shared_strings_that_inflate_like_a_bomb_are_refused(tmp_path: Path) -> None:
    strings = b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    strings += b" " * (64 * MiB) + b"</sst>"
    path = replace_parts(_workbook(tmp_path), {"xl/sharedStrings.xml": strings})
    info = zipfile.ZipFile(path).getinfo("xl/sharedStrings.xml")
    assert info.file_size / info.compress_size > 500
    with pytest.raises(TableError, match=r"would inflate [\d,]+ times"):
        read_table(path, VOCAB)


def test_a_part_whose_declared_size_lies_ends_its_rows_with_a_note(tmp_path: Path) -> None:
    sheet = _long_sheet(1)
    path = replace_parts(_workbook(tmp_path), {"xl/worksheets/sheet1.xml": sheet})
    declare_size(path, "xl/worksheets/sheet1.xml", len(sheet) // 2)  # less than it inflates to
    table = read_table(path, VOCAB)
    read = rows_of(table)
    assert 1000 < len(read) < sheet.count(b"<row ") - 1
    (note,) = table.notes
    assert note.key == "sheet_broken" and note.values["after"] == read[-1][0]
    assert "cannot be read beyond row" in note.text("en")


def test_cells_beyond_the_columns_read_are_named(tmp_path: Path) -> None:
    rows = inline_row(1, dict(zip("ABCDE", HEADER, strict=True)))
    rows += b"".join(inline_row(n, {"A": "一中", "B": f"应用{n}", "IW": "远处"}) for n in (2, 3))
    rows += inline_row(4, {"A": "一中", "B": "巧考", "XFD": "最远处"})
    path = replace_parts(
        _workbook(tmp_path), {"xl/worksheets/sheet1.xml": SHEET_HEAD + rows + SHEET_TAIL}
    )
    table = read_table(path, VOCAB)
    assert names(table) == [(2, "应用2"), (3, "应用3"), (4, "巧考")]
    assert [(n.key, n.rows) for n in table.notes] == [("columns_beyond_rows", (2, 3, 4))]
    assert "beyond column 256" in table.notes[0].text("en")


def test_json_escapes_of_lone_surrogates_become_replacement_characters(tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    path.write_text(json.dumps([{"学校": "一中", "名称": "学\ud800习"}]), "utf-8")
    assert names(read_table(path, VOCAB)) == [(1, "学\ufffd习")]
