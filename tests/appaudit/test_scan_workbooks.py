"""Workbooks as schools send them: instructions before the form, a form per school, group
labels over merged header cells. Every sheet with a header is read; a sheet with content but
no header is named, never silently passed over."""

from __future__ import annotations

import json
from pathlib import Path

from tablefactory import write_xlsx
from typer.testing import CliRunner

from appaudit.cli import app

HEADER = ["学校", "学校标识码", "类型", "名称", "包名", "要求对象", "要求内容"]
REGISTRY = [
    ["名称", "类型", "备案号", "备案状态", "包名", "类别"],
    ["闽教高分", "APP", "教APP备1100819号", "有效", "com.zhl.mjqk.aphone", "教学"],
]


def scan(tmp_path: Path, workbook: Path, *extra: str) -> tuple[int, str, dict]:  # type: ignore[type-arg]
    registry = tmp_path / "registry.csv"
    registry.write_text("\n".join(",".join(r) for r in REGISTRY), "utf-8")
    out = tmp_path / "report"
    result = CliRunner().invoke(
        app,
        ["scan", str(workbook), "--registry", str(registry), "--out", str(out),
         "--fail-on", "never", "--format", "json,html", *extra],
    )  # fmt: skip
    report = json.loads((out / "findings.json").read_text("utf-8")) if out.exists() else {}
    return result.exit_code, result.stderr, report


def test_every_sheet_with_a_header_is_read_and_the_others_are_named(tmp_path: Path) -> None:
    workbook = write_xlsx(
        tmp_path / "district.xlsx",
        [["填报说明：每所学校一张工作表，按表头填写"], ["类型可选：APP、小程序、公众号"]],
        sheet="填报说明",
        extra_sheets={
            "一小": [HEADER, ["第一小学", "3135000001", "APP", "学习强国", "cn.xuexi.android",
                            "家长", "下载安装"]],
            "二小": [["附件3 情况表"], HEADER,
                   ["第二小学", "3135000002", "APP", "闽教高分", "com.zhl.mjqk.aphone", "学生",
                    "下载安装"],
                   ["第二小学", "3135000002", "APP", "学习强国", "cn.xuexi.android", "家长",
                    "下载安装"]],
            "空表": [],
            "下拉选项": [["类型", "要求对象", "要求内容"], ["APP", "家长", "下载安装"]],
        },
        hidden=["下拉选项"],
    )  # fmt: skip
    code, stderr, report = scan(tmp_path, workbook)
    assert code == 0, stderr
    schools = {s["school"]: s for s in report["schools"]}
    assert set(schools) == {"第一小学", "第二小学"}
    # Rows keep the numbers their own sheet shows; the source names the sheet.
    rows = {
        (Path(f.get("source", s["sources"][0])).name, f["row"], f["item"])
        for s in schools.values()
        for f in s["findings"]
    }
    assert ("district.xlsx[一小]", 2, "学习强国") in rows
    assert ("district.xlsx[二小]", 4, "学习强国") in rows
    inputs = report["inputs"]
    assert [(Path(i["path"]).name, i["sheet"], i["header_row"], i["rows"]) for i in inputs] == [
        ("district.xlsx", "一小", 1, 1),
        ("district.xlsx", "二小", 2, 2),
    ]
    # The empty sheet has nothing to read; the hidden one (the template's choices) is
    # neither read nor named.
    assert inputs[0]["sheets_not_read"] == ["填报说明"]
    assert "已核查 1 个文件共 3 行：2 所学校" in stderr
    assert "district.xlsx：未读取工作表“填报说明”（前 20 行中没有可识别的表头" in stderr
    index = (tmp_path / "report" / "index.html").read_text("utf-8")
    assert "未读取的工作表（前20行中没有可识别的表头）：填报说明" in index


def test_sheets_left_in_many_files_are_said_once(tmp_path: Path) -> None:
    """A district's template puts its 填报说明 in every school's workbook: the summary
    names it once, with the number of files, not a line per file."""
    files = []
    for n in range(1, 4):
        row = [f"第{n}小学", f"313500000{n}", "APP", "学习强国", "cn.xuexi.android", "家长", "安装"]
        files.append(
            write_xlsx(
                tmp_path / f"{n}.xlsx",
                [["说明：按表头填写"]],
                sheet="填报说明",
                extra_sheets={"填报表": [HEADER, row]},
            )
        )
    code, stderr, report = scan(tmp_path, files[0], *map(str, files[1:]))
    assert code == 0, stderr
    assert len(report["schools"]) == 3
    lines = [line for line in stderr.splitlines() if "填报说明" in line]
    assert lines == [
        "3 个文件中有工作表未读取（前 20 行中没有可识别的表头）：“填报说明”（3 个文件）；"
        "各文件见报告首页“填报文件”"
    ]


def test_a_named_sheet_is_the_only_one_read(tmp_path: Path) -> None:
    workbook = write_xlsx(
        tmp_path / "w.xlsx",
        [HEADER, ["第一小学", "3135000001", "APP", "学习强国", "cn.xuexi.android", "家长", "安装"]],
        sheet="一小",
        extra_sheets={"二小": [HEADER, ["第二小学", "3135000002", "APP", "学习强国",
                                       "cn.xuexi.android", "家长", "安装"]]},
    )  # fmt: skip
    code, stderr, report = scan(tmp_path, workbook, "--sheet", "二小")
    assert code == 0, stderr
    assert [s["school"] for s in report["schools"]] == ["第二小学"]
    assert [Path(p).name for p in report["schools"][0]["sources"]] == ["w.xlsx"]


def test_a_workbook_without_any_header_is_an_input_error(tmp_path: Path) -> None:
    workbook = write_xlsx(
        tmp_path / "w.xlsx",
        [["说明"]],
        sheet="说明",
        extra_sheets={"数据": [["甲", "乙"], ["1", "2"]]},
    )
    code, stderr, _ = scan(tmp_path, workbook)
    assert code == 2
    assert stderr.strip().splitlines() == [
        "appaudit：错误：w.xlsx：各工作表（“说明”、“数据”）前 20 行中都找不到含已知列名的表头行"
    ]


def test_group_labels_over_merged_cells_are_read_as_one_header(tmp_path: Path) -> None:
    workbook = write_xlsx(
        tmp_path / "form.xlsx",
        [["附件3 学校要求使用的APP情况表"],
         ["学校", "学校标识码", "应用信息", None, None, "要求对象", "要求内容"],
         [None, None, "类型", "名称", "包名", None, None],
         ["第一小学", "3135000001", "APP", "学习强国", "cn.xuexi.android", "家长", "下载安装"]],
        merge=["A1:G1", "C2:E2", "A2:A3", "B2:B3", "F2:F3", "G2:G3"],
    )  # fmt: skip
    code, stderr, report = scan(tmp_path, workbook)
    assert code == 0, stderr
    (school,) = report["schools"]
    assert {(f["row"], f["item"], f["rule"]) for f in school["findings"]} >= {
        (4, "学习强国", "NON-EDU-APP")
    }
    assert report["inputs"][0]["header_row"] == 2


def registry_workbook(path: Path) -> Path:
    """Entries and adoptions on sheets of their own, the way a bureau keeps them, and a
    hidden sheet of the choices its columns offer (never read as entries)."""
    return write_xlsx(
        path,
        REGISTRY,
        sheet="登记表",
        extra_sheets={
            "选用记录": [["学校", "学校标识码", "应用", "决策依据"],
                     ["第一小学", "3135000001", "闽教高分", "2024年第3次校务会议纪要"]],
            "选项": [["类型", "类别"], ["APP", "教学"], ["公众号", "管理"]],
        },
        hidden=["选项"],
    )  # fmt: skip


def test_a_registry_workbook_is_read_sheet_by_sheet(tmp_path: Path) -> None:
    """`--registry` reads entries and adoptions from their own sheets: the adoption on the
    second sheet counts, so the app it adopts is no finding."""
    registry = registry_workbook(tmp_path / "registry.xlsx")
    submission = write_xlsx(
        tmp_path / "s.xlsx",
        [
            HEADER,
            ["第一小学", "3135000001", "APP", "闽教高分", "com.zhl.mjqk.aphone", "学生", "使用"],
        ],
    )
    out = tmp_path / "report"
    result = CliRunner().invoke(
        app,
        ["scan", str(submission), "--registry", str(registry), "--out", str(out),
         "--fail-on", "never", "--format", "json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    report = json.loads((out / "findings.json").read_text("utf-8"))
    assert report["registry"]["adoptions"] == 1
    (school,) = report["schools"]
    assert not [f for f in school["findings"] if f["rule"].startswith("ADOPTION")]


def test_registry_import_says_which_sheets_it_left(tmp_path: Path) -> None:
    registry = registry_workbook(tmp_path / "registry.xlsx")
    db = str(tmp_path / "r.db")
    result = CliRunner().invoke(app, ["registry", "import", str(registry), "--db", db])
    assert result.exit_code == 0, result.stderr
    assert (
        "registry.xlsx：只导入了工作表“登记表”；工作表“选用记录”也有表头，未导入" in result.stderr
    )
    result = CliRunner().invoke(
        app, ["registry", "import", str(registry), "--sheet", "选用记录", "--db", db]
    )
    assert result.exit_code == 0, result.stderr
    assert "未导入" not in result.stderr
