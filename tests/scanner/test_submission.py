"""Reading school submissions: every row kept, as an item or as a problem with its row number."""

from __future__ import annotations

from pathlib import Path

import pytest
from tablefactory import ENCODINGS, write_csv, write_xlsx

from appaudit.vocabulary import submission_vocabulary
from registry import values
from scanner.submission import InputProblem, RequiredItem, Submission, word_key

HEADER = ["学校", "学校标识码", "类型", "名称", "包名/原始ID", "备案号", "要求对象", "要求内容", "指标要求",
          "布置单位", "集体决策依据", "安装包", "备注"]  # fmt: skip


def read(path: Path, **kwargs: object) -> list[RequiredItem | InputProblem]:
    return list(Submission(path, submission_vocabulary(), **kwargs).items())  # type: ignore[arg-type]


@pytest.mark.parametrize("encoding", sorted(ENCODINGS))
def test_each_encoding(tmp_path: Path, encoding: str) -> None:
    rows = [HEADER, ["示例实验小学", "3135000001", "APP", "学习通", "com.chaoxing.mobile", "", "家长、学生",
                     "下载安装，注册；打卡", "参与率100%", "区教育局", "", "", ""]]  # fmt: skip
    (it,) = read(write_csv(tmp_path / "s.csv", rows, encoding))
    assert isinstance(it, RequiredItem)
    assert (it.school, it.school_code, it.kind, it.name) == (
        "示例实验小学",
        "3135000001",
        "app",
        "学习通",
    )
    assert it.audience == ("家长", "学生") and it.actions == ("下载安装", "注册", "打卡")
    assert (it.row, it.quota, it.requested_by) == (2, "参与率100%", "区教育局")
    # Made as a tuple directly: every field is there, as the constructor would make it.
    assert len(it) == len(RequiredItem._fields) and it == RequiredItem(*it)
    assert it.identified == ("package", "com.chaoxing.mobile") and it.filing == ""


def test_xlsx_first_sheet_or_chosen(tmp_path: Path) -> None:
    path = write_xlsx(
        tmp_path / "s.xlsx",
        [["附件3 自查表"], ["填报单位（盖章）：示例区教育局"], HEADER, ["一中", "", "公众号", "某号", "gh_0123456789ab"]],
        extra_sheets={"二中": [["学校", "名称", "类型"], ["二中", "巧考", "APP"]]},
    )  # fmt: skip
    (first,) = read(path)
    assert isinstance(first, RequiredItem) and first.row == 4 and first.kind == "official_account"
    (second,) = read(path, sheet="二中")
    assert isinstance(second, RequiredItem) and second.school == "二中"


def test_bad_rows_become_problems_with_row_numbers(tmp_path: Path) -> None:
    rows = [
        HEADER,
        ["一中", "", "APP", "学习通"],
        ["一中", "", "电话", "某热线"],
        ["一中", "", "", "某应用"],
        ["一中", "", "APP", ""],
        ["", "", "", "", "gh_0123456789ab"],
        [],
        ["一中", "", "", "某站", "https://www.example.com"],
    ]
    got = read(write_csv(tmp_path / "s.csv", rows, "gb18030"))
    assert [(type(r).__name__, r.row) for r in got] == [
        ("RequiredItem", 2),
        ("InputProblem", 3),
        ("InputProblem", 4),
        ("InputProblem", 5),
        ("RequiredItem", 6),
        ("RequiredItem", 8),
    ]
    assert "unknown kind '电话'" in got[1].message and "电话" in got[1].message_zh  # type: ignore[union-attr]
    assert "kind (类型) is empty" in got[2].message  # type: ignore[union-attr]
    assert "name (名称) is empty" in got[3].message  # type: ignore[union-attr]
    # a row with no school under a school's rows is a merged cell: it belongs to that school
    assert (
        isinstance(got[4], RequiredItem)
        and got[4].school == "一中"
        and got[4].kind == "official_account"
    )
    assert got[4].name == "gh_0123456789ab"
    assert isinstance(got[5], RequiredItem) and got[5].kind == "platform"


def test_school_from_the_filing_unit_line(tmp_path: Path) -> None:
    rows = [
        ["填报单位（盖章）：示例第三小学", "", "填报人：王老师"],
        ["类型", "名称"],
        ["APP", "巧考"],
    ]
    (it,) = read(write_csv(tmp_path / "s.csv", rows))
    assert isinstance(it, RequiredItem) and it.school == "示例第三小学" and it.row == 3


def test_a_file_without_school_or_name_column_is_one_problem(tmp_path: Path) -> None:
    rows = [["类型", "备案号"], ["APP", "教APP备1100819号"], ["APP", ""]]
    submission = Submission(write_csv(tmp_path / "s.csv", rows), submission_vocabulary())
    (problem,) = list(submission.items())
    assert isinstance(problem, InputProblem) and problem.row is None
    assert "none of its rows can be checked" in problem.message
    assert submission.info().rows == 2


def test_numbered_empty_template_rows_are_skipped(tmp_path: Path) -> None:
    rows = [["序号", *HEADER], ["1", "一中", "", "APP", "巧考"], ["2"], ["3"]]
    got = read(write_csv(tmp_path / "s.csv", rows))
    assert len(got) == 1


def test_unknown_columns_are_kept_in_the_note(tmp_path: Path) -> None:
    rows = [["学校", "类型", "名称", "联系人", "备注"], ["一中", "APP", "巧考", "张老师", "原备注"]]
    (it,) = read(write_csv(tmp_path / "s.csv", rows))
    assert isinstance(it, RequiredItem) and it.note == "原备注；联系人: 张老师"


def test_file_info_has_digest_and_counts(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "s.csv", [HEADER, ["一中", "", "APP", "巧考"], ["一中", "", "??", "x"]]
    )
    submission = Submission(path, submission_vocabulary())
    list(submission.items())
    info = submission.info()
    assert info.rows == 2 and info.problems == 1 and len(info.sha256) == 64
    assert info.encoding == "utf-8-sig" and info.header_row == 1


def test_intake_and_registry_fold_words_the_same_way() -> None:
    for word in ("公 众 号", "ＡＰＰ", "Mini-Program", "平台（网站）"):
        assert word_key(word) == values.word_key(word)


def test_kinds_written_as_longer_phrases(tmp_path: Path) -> None:
    rows = [HEADER, ["一中", "", "手机APP", "学习通"], ["一中", "", "微信服务号", "某号"]]
    got = read(write_csv(tmp_path / "s.csv", rows))
    assert [(r.kind, r.kind_text) for r in got] == [  # type: ignore[union-attr]
        ("app", "手机APP"),
        ("official_account", "微信服务号"),
    ]


def test_marks_around_a_whole_name_are_left_out(tmp_path: Path) -> None:
    """The reports quote names themselves: a name written “国家反诈中心” or 《学习强国》 is
    read without its marks, which would show twice; marks around parts of it stay."""
    names = ["“国家反诈中心”", "《学习强国》", "“一起作业”和“作业帮”", "作业帮（家长版）"]
    rows = [HEADER, *(["一中", "", "APP", name] for name in names)]
    got = read(write_csv(tmp_path / "s.csv", rows))
    assert [r.name for r in got] == [  # type: ignore[union-attr]
        "国家反诈中心", "学习强国", "“一起作业”和“作业帮”", "作业帮(家长版)"
    ]  # fmt: skip


@pytest.mark.parametrize(
    "kind", ["H5链接", "H5", "网页", "链接", "问卷链接", "小程序码", "H5页面链接", ""]
)
def test_links_are_platform_rows(tmp_path: Path, kind: str) -> None:
    rows = [
        HEADER,
        ["一中", "", kind, "https://www.wjx.cn/vm/abc.aspx", "", "", "家长", "填写问卷"],
    ]
    [got] = read(write_csv(tmp_path / "s.csv", rows, "utf-8"))
    assert isinstance(got, RequiredItem) and got.kind == "platform", got
    assert got.identified == ("url", "https://www.wjx.cn/vm/abc.aspx")


def test_a_link_written_as_the_kind_is_a_platform_row(tmp_path: Path) -> None:
    rows = [HEADER, ["一中", "", "https://wj.qq.com/s2/123", "家长满意度调查"]]
    [got] = read(write_csv(tmp_path / "s.csv", rows, "utf-8"))
    assert isinstance(got, RequiredItem) and got.kind == "platform"
    assert got.identified == ("url", "https://wj.qq.com/s2/123")


def test_cells_are_parsed_once_at_intake(tmp_path: Path) -> None:
    rows = [HEADER, ["一中", "", "APP", "闽教高分", " com.zhl.mjqk.aphone ", "教APP备１１００８１９号",
                     "家长", "下载安装，每天打卡；不要求截图"],
            ["一中", "", "APP", "某某", "", "教APP备12号"]]  # fmt: skip
    first, second = read(write_csv(tmp_path / "s.csv", rows, "utf-8"))
    assert isinstance(first, RequiredItem) and isinstance(second, RequiredItem)
    assert first.identified == ("package", "com.zhl.mjqk.aphone")
    assert first.filing == "教APP备1100819号" and not first.filing_malformed
    assert first.action_text == "下载安装,每天打卡;不要求截图"  # kept whole (width folded)
    assert first.actions == ("下载安装", "每天打卡", "不要求截图")
    assert second.filing == "" and second.filing_malformed


def test_a_requirement_repeated_over_rows_reads_the_same_as_alone(tmp_path: Path) -> None:
    """What a row's kind, name, identifier and filing number come to is worked out once for
    all the rows that repeat them; each row still gets its own school and problems."""
    requirement = ["", "某站", "https://www.example.com/x", "教APP备1100819号"]
    unknown = ["电话", "某热线", "", ""]
    rows = [
        HEADER[:6],
        ["一中", "3135000001", *requirement],
        ["二中", "3135000002", *unknown],
        ["二中", "3135000002", *requirement],
        ["三中", "3135000003", *unknown],
    ]
    got = read(write_csv(tmp_path / "s.csv", rows, "utf-8-sig"))
    alone = [read(write_csv(tmp_path / f"{n}.csv", [HEADER[:6], row], "utf-8-sig"))[0]
             for n, row in enumerate(rows[1:])]  # fmt: skip
    for many, one in zip(got, alone, strict=True):
        if isinstance(one, RequiredItem):
            assert isinstance(many, RequiredItem)
            assert many._replace(source="", row=0) == one._replace(source="", row=0)
        else:
            assert isinstance(many, InputProblem)
            assert (many.message, many.message_zh, many.school) == (
                one.message,
                one.message_zh,
                one.school,
            )
    first, again = got[0], got[2]
    assert isinstance(first, RequiredItem) and isinstance(again, RequiredItem)
    assert (first.school, again.school, first.kind) == ("一中", "二中", "platform")
    assert first.identified == again.identified is not None and first.filing == again.filing
