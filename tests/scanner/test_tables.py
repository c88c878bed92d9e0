"""Reading field spreadsheets: encodings, header search, row numbers, cleaning."""

from __future__ import annotations

from pathlib import Path

import pytest
from tablefactory import ENCODINGS, csv_bytes, write_csv, write_xlsx

from scanner.tables import TableError, Vocabulary, clean_cell, read_table

VOCAB = Vocabulary.build(
    {
        "school": ["学校", "学校名称"],
        "name": ["名称", "应用名称"],
        "kind": ["类型"],
        "identifier": ["包名", "原始ID", "标识"],
        "note": ["备注"],
    }
)

ROWS = [
    ["学校", "名称", "类型", "包名"],
    ["示例实验小学", "学习通", "APP", "com.chaoxing.mobile"],
    ["示例第二中学", "国家反诈中心", "APP", "com.hicorenational.antifraud"],
]


def read_all(path: Path, **kwargs: object) -> tuple[object, list[tuple[int, dict[str, str]]]]:
    table = read_table(path, VOCAB, **kwargs)  # type: ignore[arg-type]
    return table, [(row.number, dict(row.cells)) for row in table.rows()]


@pytest.mark.parametrize("encoding", sorted(ENCODINGS))
def test_every_field_encoding_reads_the_same(tmp_path: Path, encoding: str) -> None:
    path = write_csv(tmp_path / "school.csv", ROWS, encoding)
    table, rows = read_all(path)
    assert rows == [
        (
            2,
            {
                "school": "示例实验小学",
                "name": "学习通",
                "kind": "APP",
                "identifier": "com.chaoxing.mobile",
            },
        ),
        (
            3,
            {
                "school": "示例第二中学",
                "name": "国家反诈中心",
                "kind": "APP",
                "identifier": "com.hicorenational.antifraud",
            },
        ),
    ]
    assert table.header_row == 1  # type: ignore[attr-defined]


def test_short_gb18030_file_with_header_and_one_row(tmp_path: Path) -> None:
    # A generic detector reads this as cp949 or big5; the header words decide instead.
    path = tmp_path / "short.csv"
    path.write_bytes("学校,名称\n一中,学习通\n".encode("gb18030"))
    table, rows = read_all(path)
    assert table.encoding == "gb18030"  # type: ignore[attr-defined]
    assert rows == [(2, {"school": "一中", "name": "学习通"})]


def test_gb18030_header_only_file_has_no_rows(tmp_path: Path) -> None:
    path = tmp_path / "header.csv"
    path.write_bytes("学校,名称,类型\n".encode("gb18030"))
    table, rows = read_all(path)
    assert table.columns == {"school": 0, "name": 1, "kind": 2}  # type: ignore[attr-defined]
    assert rows == []


def test_utf16_without_bom_is_read(tmp_path: Path) -> None:
    path = tmp_path / "u16.txt"
    path.write_bytes("学校\t名称\n一中\t学习通\n".encode("utf-16-le"))
    _, rows = read_all(path)
    assert rows == [(2, {"school": "一中", "name": "学习通"})]


def test_title_rows_above_header_keep_sheet_row_numbers(tmp_path: Path) -> None:
    rows = [
        ["附件3 社会事务进校园和检查评比考核事项自查整治情况表"],
        ["填报单位（盖章）：示例实验小学", "", "填报人：张老师"],
        [],
        *ROWS,
        [],
        ["", "", "", ""],
    ]
    path = write_csv(tmp_path / "titled.csv", rows, "gb18030")
    table, data = read_all(path)
    assert table.header_row == 4  # type: ignore[attr-defined]
    assert [n for n, _ in data] == [5, 6]
    assert table.preamble_value("填报单位") == "示例实验小学"  # type: ignore[attr-defined]


def test_xlsx_with_merged_title_and_chosen_sheet(tmp_path: Path) -> None:
    path = write_xlsx(
        tmp_path / "s.xlsx",
        [["情况表"], [None], *ROWS, [35050000123, 1.0, None, None]],
        sheet="汇总",
        merge=["A1:D1"],
        extra_sheets={"说明": [["学校", "名称"], ["别的学校", "别的应用"]]},
    )
    table, rows = read_all(path)
    assert table.sheet == "汇总"  # type: ignore[attr-defined]
    assert table.sheets == ("汇总", "说明")  # type: ignore[attr-defined]  # the caller reads both
    assert [n for n, _ in rows] == [4, 5, 6]
    assert rows[-1][1] == {"school": "35050000123", "name": "1", "kind": "", "identifier": ""}
    _, other = read_all(path, sheet="说明")
    assert other == [(2, {"school": "别的学校", "name": "别的应用"})]
    with pytest.raises(TableError, match="no sheet named"):
        read_table(path, VOCAB, sheet="没有")


TWO_LEVEL = [
    ["附件3 学校要求使用的APP情况表"],
    ["学校", "应用信息", None, None, "备注"],
    [None, "名称", "类型", "联系人", None],
    ["示例实验小学", "学习通", "APP", "张老师", "家长群通知"],
    [None, "国家反诈中心", "APP", None, None],
]


@pytest.mark.parametrize("kind", ["xlsx", "csv"])
def test_a_two_level_header_is_read_as_one(tmp_path: Path, kind: str) -> None:
    """Group labels over merged cells (应用信息 over 名称, 类型, 联系人) above sub-headers, the
    columns without a group merged over both rows: the header is both rows, and the data
    starts below them, numbered as the sheet shows."""
    if kind == "xlsx":
        path = write_xlsx(
            tmp_path / "t.xlsx", TWO_LEVEL, merge=["A1:E1", "B2:D2", "A2:A3", "E2:E3"]
        )
    else:
        path = write_csv(tmp_path / "t.csv", TWO_LEVEL, "gb18030")
    table = read_table(path, VOCAB)
    assert table.header_row == 2
    assert table.columns == {"school": 0, "name": 1, "kind": 2, "note": 4}
    assert table.headers == ("学校", "名称", "类型", "应用信息/联系人", "备注")
    rows = list(table.rows())
    assert [r.number for r in rows] == [4, 5]
    assert rows[0].cells == {"school": "示例实验小学", "name": "学习通", "kind": "APP",
                             "note": "家长群通知"}  # fmt: skip
    assert rows[0].extra == {"应用信息/联系人": "张老师"}
    assert rows[1].cells["name"] == "国家反诈中心"


def test_a_data_row_is_never_taken_for_sub_headers(tmp_path: Path) -> None:
    """Below a header, a row with a value under a known column is data, even when its
    other cells read like header words."""
    rows = [["学校", "名称", "备注"], ["一中", "类型", "包名"], ["二中", "学习通", ""]]
    table = read_table(write_csv(tmp_path / "d.csv", rows), VOCAB)
    assert table.header_row == 1 and table.columns == {"school": 0, "name": 1, "note": 2}
    assert [r.number for r in table.rows()] == [2, 3]


def test_a_title_naming_a_column_is_no_header_row(tmp_path: Path) -> None:
    """A title above a header whose first column is empty names 学校 in passing: it is not
    the upper row of a two-level header."""
    rows = [
        ["示例区各学校要求使用的应用情况汇总表"],
        [None, "学校", "名称"],
        [None, "一中", "学习通"],
    ]
    table = read_table(write_csv(tmp_path / "t.csv", rows), VOCAB)
    assert table.header_row == 2 and table.columns == {"school": 1, "name": 2}
    assert [r.number for r in table.rows()] == [3]


def test_forgiving_headers(tmp_path: Path) -> None:
    rows = [
        [" 学校名称 ", "ＡＰＰ名称（全称）", "包名/原始ID", "备注*"],
        ["一中", "学习通", "gh_0123456789ab", ""],
    ]
    _, data = read_all(write_csv(tmp_path / "h.csv", rows))
    assert data == [
        (2, {"school": "一中", "name": "学习通", "identifier": "gh_0123456789ab", "note": ""})
    ]


def test_cells_are_cleaned_not_rejected() -> None:
    assert clean_cell("  教APP备１１００８１９号 ") == "教APP备1100819号"
    assert clean_cell("家长，学生") == "家长,学生"
    assert clean_cell("a\n  b") == "a b"
    assert clean_cell("'=1+1") == "=1+1"


def test_unknown_columns_and_overflow_are_kept(tmp_path: Path) -> None:
    rows = [["学校", "名称", "联系人"], ["一中", "学习通", "张三", "多出来的"]]
    table = read_table(write_csv(tmp_path / "x.csv", rows), VOCAB)
    (row,) = list(table.rows())
    assert row.extra == {"联系人": "张三", "": "多出来的"}


def test_a_file_without_known_headers_is_an_error(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "bad.csv", [["foo", "bar"], ["1", "2"]])
    with pytest.raises(TableError, match="no header row"):
        read_table(path, VOCAB)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1rest", "old Excel"),
        (b"PK\x03\x04garbage", "not a readable .xlsx"),
        (b"[1, 2", "not valid UTF-8 JSON"),
    ],
)
def test_unreadable_files_say_why(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "f.bin"
    path.write_bytes(content)
    with pytest.raises(TableError, match=message):
        read_table(path, VOCAB)


def test_missing_file_is_a_table_error(tmp_path: Path) -> None:
    with pytest.raises(TableError, match="cannot read"):
        read_table(tmp_path / "nope.csv", VOCAB)


def test_json_array_rows_are_numbered_as_items(tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    path.write_text(
        '[{"学校": "一中", "名称": "学习通"}, {"学校": "二中", "名称": "巧考", "类型": "APP"}]',
        "utf-8",
    )
    table, rows = read_all(path)
    assert table.row_label == "item"  # type: ignore[attr-defined]
    assert rows == [
        (1, {"school": "一中", "name": "学习通", "kind": ""}),
        (2, {"school": "二中", "name": "巧考", "kind": "APP"}),
    ]


def test_encoding_table_covers_what_excel_writes() -> None:
    assert csv_bytes([["学校"]], "utf-16").startswith(b"\xff\xfe")
    assert csv_bytes([["学校"]], "utf-8-sig").startswith(b"\xef\xbb\xbf")


def test_every_file_error_is_worded_in_both_languages() -> None:
    import tomllib
    from importlib import resources

    raw = tomllib.loads(resources.files("scanner").joinpath("data/table-notes.toml").read_text())
    for key, texts in raw["errors"].items():
        assert texts.get("zh") and texts.get("en"), key
        assert "{name}" in texts["zh"] or "{path}" in texts["zh"], key


def test_a_file_error_reads_in_chinese_and_english(tmp_path: Path) -> None:
    empty = tmp_path / "空.csv"
    empty.write_bytes(b"   \n")
    with pytest.raises(TableError) as caught:
        read_table(empty, VOCAB)
    assert caught.value.text("zh") == "空.csv：文件是空的"
    assert caught.value.text("en") == "空.csv: the file is empty"


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
def test_cells_kept_as_written_when_asked(tmp_path: Path, kind: str) -> None:
    text = "已通知家长卸载，正在回收截图；\n下周复查（第２次）"
    rows = [["名称", "备注"], ["示例ＡＰＰ", f"  {text}  "]]
    path = (
        write_csv(tmp_path / "t.csv", rows, "gb18030")
        if kind == "csv"
        else write_xlsx(tmp_path / "t.xlsx", rows)
    )
    vocabulary = Vocabulary.build({"name": ["名称"], "note": ["备注"]})
    folded = read_table(path, vocabulary)
    ((_n, cells),) = list(folded.records())
    assert cells[:2] == [clean_cell("示例ＡＰＰ"), clean_cell(text)]
    assert "，" not in cells[1]
    kept = read_table(path, vocabulary)
    kept.keep_text = True
    ((_n, cells),) = list(kept.records())
    assert cells[:2] == ["示例ＡＰＰ", text]
