"""Every `appaudit registry` command end to end, on SQLite and on PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tablefactory import ENCODINGS, write_csv, write_xlsx
from typer.testing import CliRunner, Result

from appaudit.cli import app
from registry.db import open_database

HEADER = [
    "名称",
    "类型",
    "备案号",
    "备案状态",
    "包名",
    "原始ID",
    "AppID",
    "类别",
    "使用对象",
    "备注",
]
ENTRIES = [
    [
        "闽教高分",
        "APP",
        "教APP备1100819号",
        "有效",
        "com.zhl.mjqk.aphone",
        "",
        "",
        "教学",
        "学生、家长",
        "",
    ],
    ["巧考", "APP", "教APP备1100871号", "有效", "com.zhl.qk.aphone", "", "", "教学", "学生", ""],
    ["国家反诈中心", "APP", "", "", "com.hicorenational.antifraud", "", "", "反诈", "", "非教育类"],
    ["示例区教育局", "公众号", "", "", "", "gh_5a3c0e9b7d21", "", "管理", "家长", ""],
    [
        "示例作业打卡",
        "小程序",
        "教APP备9900001号",
        "有效",
        "",
        "",
        "wx5e8f1a2b3c4d5e6f",
        "教学",
        "学生",
        "",
    ],
    [
        "示例口算练习",
        "APP",
        "教APP备9900002号",
        "撤销",
        "org.example.kousuan",
        "",
        "",
        "教学",
        "学生",
        "",
    ],
]


def cli(db: str, *args: str) -> Result:
    return CliRunner().invoke(app, [*args, "--db", db])


def ok(db: str, *args: str) -> Result:
    result = cli(db, *args)
    assert result.exit_code == 0, f"{args}: {result.stdout}{result.stderr}"
    return result


def listed(db: str) -> list[dict[str, object]]:
    return json.loads(ok(db, "registry", "list", "--format", "json").stdout)


def registry_file(
    tmp_path: Path, encoding: str = "utf-8-sig", rows: list[list[str]] = ENTRIES
) -> Path:
    return write_csv(tmp_path / f"registry-{encoding}.csv", [HEADER, *rows], encoding)


def test_import_then_list(db_url: str, tmp_path: Path) -> None:
    result = ok(db_url, "registry", "import", str(registry_file(tmp_path)))
    assert "登记条目：新增 6，更新 0，未变 0，未通过 0" in result.stderr
    assert "第2行：新增：闽教高分" in result.stderr and "第7行：新增：示例口算练习" in result.stderr
    entries = listed(db_url)
    assert [e["name"] for e in entries] == [row[0] for row in ENTRIES]
    first = entries[0]
    assert first["kind"] == "app" and first["status"] == "active"
    assert first["filing_no"] == "教APP备1100819号" and first["audience"] == ["学生", "家长"]
    assert (
        entries[3]["kind"] == "official_account" and entries[3]["original_id"] == "gh_5a3c0e9b7d21"
    )
    assert entries[5]["status"] == "revoked"
    table = ok(db_url, "registry", "list").stdout
    assert "闽教高分" in table and "com.zhl.mjqk.aphone" in table


@pytest.mark.parametrize("encoding", sorted(ENCODINGS))
def test_import_every_encoding(db_url: str, tmp_path: Path, encoding: str) -> None:
    ok(db_url, "registry", "import", str(registry_file(tmp_path, encoding)))
    assert [e["name"] for e in listed(db_url)] == [row[0] for row in ENTRIES]


def test_import_short_gb18030_file_with_chinese_headers(db_url: str, tmp_path: Path) -> None:
    path = tmp_path / "short.csv"
    path.write_bytes("名称,类型,包名\n学习通,APP,com.chaoxing.mobile\n".encode("gb18030"))
    ok(db_url, "registry", "import", str(path))
    (entry,) = listed(db_url)
    assert (entry["name"], entry["package"]) == ("学习通", "com.chaoxing.mobile")


def test_import_xlsx_with_title_rows(db_url: str, tmp_path: Path) -> None:
    path = write_xlsx(
        tmp_path / "r.xlsx", [["区教育APP备案登记表"], [], HEADER, *ENTRIES], sheet="登记表"
    )
    ok(db_url, "registry", "import", str(path))
    assert len(listed(db_url)) == len(ENTRIES)


def test_english_headers_and_values(db_url: str, tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "en.csv",
        [["Name", "Kind", "Filing No", "Status", "Package name", "Category"],
         ["Seewo", "app", "教APP备1100001号", "active", "com.seewo.easinote", "teaching"]],
    )  # fmt: skip
    ok(db_url, "registry", "import", str(path))
    (entry,) = listed(db_url)
    assert (entry["kind"], entry["status"], entry["category"]) == ("app", "active", "教学")


def test_a_bad_row_is_rejected_with_its_row_number_and_nothing_changes(
    db_url: str, tmp_path: Path
) -> None:
    ok(db_url, "registry", "import", str(registry_file(tmp_path)))
    before = listed(db_url)
    bad = [
        ["学习通", "APP", "", "", "com.chaoxing.mobile", "", "", "教学", "", ""],
        [
            "巧考",
            "APP",
            "教APP备1100871号",
            "有效",
            "com.zhl.qk.aphone",
            "",
            "",
            "教学",
            "学生",
            "改了备注",
        ],
        ["坏行", "APP", "教APP备12号", "有效", "not a package", "", "", "教学", "", ""],
    ]
    result = cli(db_url, "registry", "import", str(registry_file(tmp_path / "..", "gb18030", bad)))
    assert result.exit_code == 2
    assert "第4行：未通过" in result.stderr
    assert "备案号“教APP备12号”格式不正确" in result.stderr
    assert "安卓包名“not a package”格式不正确" in result.stderr
    assert "未导入任何内容" in result.stderr
    assert listed(db_url) == before
    assert "Traceback" not in result.stderr + result.stdout


def test_skip_invalid_imports_the_good_rows(db_url: str, tmp_path: Path) -> None:
    rows = [*ENTRIES[:2], ["坏行", "火箭", "", "", "", "", "", "", "", ""]]
    result = cli(
        db_url, "registry", "import", "--skip-invalid", str(registry_file(tmp_path, rows=rows))
    )
    assert result.exit_code == 0
    assert "第4行：未通过：无法识别的类型“火箭”" in result.stderr
    assert len(listed(db_url)) == 2


def test_duplicate_rows_are_rejected(db_url: str, tmp_path: Path) -> None:
    rows = [ENTRIES[0], ENTRIES[1], [*ENTRIES[0][:9], "again"]]
    result = cli(db_url, "registry", "import", str(registry_file(tmp_path, rows=rows)))
    assert result.exit_code == 2
    assert "第4行：未通过：与第2行重复（闽教高分）" in result.stderr
    assert listed(db_url) == []


def test_dry_run_changes_nothing(db_url: str, tmp_path: Path) -> None:
    open_database(db_url).close()
    result = ok(db_url, "registry", "import", "--dry-run", str(registry_file(tmp_path)))
    assert "第2行：将新增：闽教高分" in result.stderr and "试运行" in result.stderr
    assert listed(db_url) == []
    assert json.loads(ok(db_url, "registry", "history", "--format", "json").stdout) == []


def test_reimport_updates_and_counts_unchanged(db_url: str, tmp_path: Path) -> None:
    ok(db_url, "registry", "import", str(registry_file(tmp_path)))
    rows = [list(r) for r in ENTRIES]
    rows[1][9] = "新备注"
    result = ok(db_url, "registry", "import", str(registry_file(tmp_path, "gbk", rows)))
    assert "新增 0，更新 1，未变 5，未通过 0" in result.stderr
    assert "第3行：更新：巧考（备注）" in result.stderr
    assert listed(db_url)[1]["note"] == "新备注"


def test_reimport_without_status_column_keeps_a_revocation(db_url: str, tmp_path: Path) -> None:
    ok(db_url, "registry", "import", str(registry_file(tmp_path)))
    path = write_csv(tmp_path / "partial.csv", [["名称", "类型", "备案号", "包名"],
                                                ["示例口算练习", "APP", "教APP备9900002号", "org.example.kousuan"]])  # fmt: skip
    ok(db_url, "registry", "import", str(path))
    assert listed(db_url)[5]["status"] == "revoked"


def test_add_edit_show(db_url: str) -> None:
    ok(db_url, "registry", "add", "--name", "希沃白板", "--kind", "APP", "--package", "com.seewo.easinote",
       "--filing-no", "教APP备4400001号", "--category", "教学", "--audience", "教师", "--actor", "张三")  # fmt: skip
    ok(
        db_url,
        "registry",
        "edit",
        "com.seewo.easinote",
        "--note",
        "区统一采购",
        "--reason",
        "补充说明",
    )
    shown = json.loads(ok(db_url, "registry", "show", "希沃白板", "--format", "json").stdout)
    assert (
        shown["note"] == "区统一采购"
        and shown["status"] == "active"
        and shown["educational"] is True
    )
    assert [c["action"] for c in shown["history"]] == ["add", "edit"]
    assert shown["history"][0]["actor"] == "张三"
    assert shown["history"][1]["before"] == {"note": ""} and shown["history"][1]["after"] == {
        "note": "区统一采购"
    }
    text = ok(db_url, "registry", "show", "1").stdout
    assert "希沃白板" in text and "教APP备4400001号" in text


def test_add_refuses_a_duplicate_and_a_bad_value(db_url: str) -> None:
    ok(
        db_url,
        "registry",
        "add",
        "--name",
        "学习通",
        "--kind",
        "APP",
        "--package",
        "com.chaoxing.mobile",
    )
    again = cli(
        db_url,
        "registry",
        "add",
        "--name",
        "学习通2",
        "--kind",
        "APP",
        "--package",
        "com.chaoxing.mobile",
    )
    assert again.exit_code == 2 and "登记表中已有此条目" in again.stderr
    bad = cli(db_url, "registry", "add", "--name", "x", "--kind", "公众号", "--original-id", "gh_1")
    assert bad.exit_code == 2 and "公众号原始ID“gh_1”格式不正确" in bad.stderr


def test_edit_refuses_taking_another_entrys_identifier(db_url: str, tmp_path: Path) -> None:
    ok(db_url, "registry", "import", str(registry_file(tmp_path)))
    result = cli(db_url, "registry", "edit", "巧考", "--package", "com.zhl.mjqk.aphone")
    assert result.exit_code == 2 and "已属于 #1 闽教高分" in result.stderr


def test_list_filters_and_formats(db_url: str, tmp_path: Path) -> None:
    ok(db_url, "registry", "import", str(registry_file(tmp_path)))

    def names(*args):
        return [
            e["name"]
            for e in json.loads(ok(db_url, "registry", "list", "-f", "json", *args).stdout)
        ]

    assert names("--kind", "公众号") == ["示例区教育局"]
    assert names("--kind", "miniprogram") == ["示例作业打卡"]
    assert names("--status", "撤销") == ["示例口算练习"]
    assert names("--category", "非教育") == ["国家反诈中心"]
    assert names("--category", "管理") == ["示例区教育局"]
    assert names("--search", "kousuan") == ["示例口算练习"]
    assert names("--search", "教app备1100871") == ["巧考"]
    csv_out = ok(db_url, "registry", "list", "--format", "csv").stdout.splitlines()
    assert csv_out[0].startswith("id,name,kind,provider,filing_no,status") and len(csv_out) == 7
    bad = cli(db_url, "registry", "list", "--format", "yaml")
    assert bad.exit_code == 2 and "--format 只能是" in bad.stderr


def test_revoke_and_restore(db_url: str, tmp_path: Path) -> None:
    ok(db_url, "registry", "import", str(registry_file(tmp_path)))
    ok(db_url, "registry", "revoke", "教APP备1100819号", "--reason", "ICP 备案缺失")
    assert listed(db_url)[0]["status"] == "revoked"
    again = cli(db_url, "registry", "revoke", "闽教高分")
    assert again.exit_code == 2 and "备案状态已是“撤销”" in again.stderr
    ok(db_url, "registry", "revoke", "巧考", "--cancelled")
    assert listed(db_url)[1]["status"] == "cancelled"
    ok(db_url, "registry", "restore", "闽教高分", "--reason", "已补齐")
    assert listed(db_url)[0]["status"] == "active"
    nofiling = cli(db_url, "registry", "revoke", "国家反诈中心")
    assert nofiling.exit_code == 2 and "没有备案号" in nofiling.stderr
    changes = json.loads(
        ok(db_url, "registry", "history", "--entry", "闽教高分", "-f", "json").stdout
    )
    assert [(c["action"], c["reason"]) for c in changes] == [
        ("add", ""),
        ("revoke", "ICP 备案缺失"),
        ("restore", "已补齐"),
    ]
    assert changes[1]["before"] == {"status": "active"} and changes[1]["after"] == {
        "status": "revoked"
    }


def test_adopt_unadopt_and_adoptions(db_url: str, tmp_path: Path) -> None:
    ok(db_url, "registry", "import", str(registry_file(tmp_path)))
    ok(db_url, "registry", "adopt", "示例实验小学", "闽教高分", "--decision", "2024年第3次校务会议纪要",
       "--date", "2024/9/2", "--audience", "学生、家长", "--school-code", "3135000001")  # fmt: skip
    ok(
        db_url,
        "registry",
        "adopt",
        "全区",
        "wx5e8f1a2b3c4d5e6f",
        "--decision",
        "区教育局〔2024〕12号",
    )
    adoptions = json.loads(ok(db_url, "registry", "adoptions", "-f", "json").stdout)
    assert [(a["school"], a["app"], a["decided_on"]) for a in adoptions] == [
        ("示例实验小学", "闽教高分", "2024-09-02"),
        ("全区", "示例作业打卡", ""),
    ]
    missing = cli(db_url, "registry", "unadopt", "示例第二中学", "闽教高分")
    assert missing.exit_code == 2 and "没有 #1 闽教高分 的选用记录" in missing.stderr
    ok(db_url, "registry", "unadopt", "示例实验小学", "闽教高分", "--reason", "停用")
    assert len(json.loads(ok(db_url, "registry", "adoptions", "-f", "json").stdout)) == 1
    actions = [
        c["action"] for c in json.loads(ok(db_url, "registry", "history", "-f", "json").stdout)
    ]
    assert actions[-3:] == ["adopt", "adopt", "unadopt"]


def test_import_adoptions_detected_from_headers(db_url: str, tmp_path: Path) -> None:
    ok(db_url, "registry", "import", str(registry_file(tmp_path)))
    path = write_csv(
        tmp_path / "adoptions.csv",
        [["学校", "学校标识码", "应用", "备案号", "决策依据", "决策日期"],
         ["示例实验小学", "3135000001", "闽教高分", "", "校务会议纪要", "2024年9月2日"],
         ["示例第二中学", "3135000002", "", "教APP备1100871号", "校行政会〔2024〕5号", "2024-09-10"],
         ["全区", "", "示例区教育局", "", "区教育局〔2024〕12号", ""]],
        "gb18030",
    )  # fmt: skip
    result = ok(db_url, "registry", "import", str(path))
    assert "选用记录：新增 3" in result.stderr
    again = ok(db_url, "registry", "import", str(path))
    assert "新增 0，更新 0，未变 3" in again.stderr
    unknown = write_csv(tmp_path / "a2.csv", [["学校", "应用"], ["示例实验小学", "不存在的应用"]])
    bad = cli(db_url, "registry", "import", str(unknown))
    assert (
        bad.exit_code == 2 and "第2行：未通过：登记表中没有与“不存在的应用”相符的条目" in bad.stderr
    )


def test_history_shows_every_change(db_url: str, tmp_path: Path) -> None:
    ok(
        db_url,
        "registry",
        "import",
        str(registry_file(tmp_path)),
        "--actor",
        "导入员",
        "--reason",
        "首次导入",
    )
    ok(db_url, "registry", "edit", "巧考", "--category", "管理")
    ok(db_url, "registry", "revoke", "巧考", "--reason", "撤销")
    ok(db_url, "registry", "adopt", "一中", "巧考")
    ok(db_url, "registry", "add-signer", "巧考", "--sha256", "ab" * 32)
    ok(db_url, "registry", "unadopt", "一中", "巧考")
    changes = json.loads(ok(db_url, "registry", "history", "-f", "json").stdout)
    assert [c["action"] for c in changes] == ["add"] * 6 + [
        "edit",
        "revoke",
        "adopt",
        "add-signer",
        "unadopt",
    ]
    assert {c["actor"] for c in changes[:6]} == {"导入员"} and changes[0]["reason"] == "首次导入"
    assert len({c["batch"] for c in changes[:6]}) == 1
    assert all(c["at"] for c in changes)
    only = json.loads(ok(db_url, "registry", "history", "巧考", "-f", "json").stdout)
    assert [c["action"] for c in only] == [
        "add",
        "edit",
        "revoke",
        "adopt",
        "add-signer",
        "unadopt",
    ]
    assert only[1]["before"] == {"category": "教学"} and only[1]["after"] == {"category": "管理"}
    assert len(json.loads(ok(db_url, "registry", "history", "-n", "2", "-f", "json").stdout)) == 2
    text = ok(db_url, "registry", "history").stdout
    assert "类别：教学 → 管理" in text and "原因：撤销" in text


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "json"])
@pytest.mark.parametrize("headers", ["zh", "en"])
def test_export_import_round_trip_is_lossless(
    db_url: str, sqlite_url: str, tmp_path: Path, fmt: str, headers: str
) -> None:
    ok(db_url, "registry", "import", str(registry_file(tmp_path)))
    ok(db_url, "registry", "add-signer", "闽教高分", "--sha256", "ab" * 32)
    ok(db_url, "registry", "add-signer", "闽教高分", "--sha256", "cd" * 32)
    ok(db_url, "registry", "edit", "巧考", "--note", '=HYPERLINK("http://x")')
    ok(db_url, "registry", "adopt", "示例实验小学", "闽教高分", "--decision", "纪要", "--date", "2024-09-02",
       "--school-code", "3135000001", "--audience", "学生")  # fmt: skip
    ok(db_url, "registry", "adopt", "全区", "示例区教育局", "--decision", "区文件")
    entries_file = tmp_path / f"entries.{fmt}"
    adoptions_file = tmp_path / f"adoptions.{fmt}"
    ok(db_url, "registry", "export", str(entries_file), "--headers", headers)
    ok(
        db_url,
        "registry",
        "export",
        str(adoptions_file),
        "--what",
        "adoptions",
        "--headers",
        headers,
    )
    other = sqlite_url
    ok(other, "registry", "import", str(entries_file))
    ok(other, "registry", "import", str(adoptions_file))
    assert listed(other) == listed(db_url)
    assert listed(other)[1]["note"] == '=HYPERLINK("http://x")'
    adoptions = lambda db: json.loads(ok(db, "registry", "adoptions", "-f", "json").stdout)  # noqa: E731
    assert adoptions(other) == adoptions(db_url)
    again = ok(other, "registry", "import", str(entries_file))
    assert f"新增 0，更新 0，未变 {len(ENTRIES)}" in again.stderr


def test_export_to_stdout(db_url: str, tmp_path: Path) -> None:
    ok(db_url, "registry", "import", str(registry_file(tmp_path)))
    data = json.loads(ok(db_url, "registry", "export", "-").stdout)
    assert len(data) == len(ENTRIES) and "id" not in data[0]
    csv_text = ok(db_url, "registry", "export", "-", "--format", "csv").stdout
    assert csv_text.splitlines()[0].startswith("名称,类型,提供者,备案号")
    bad = cli(db_url, "registry", "export", str(tmp_path / "x.txt2"))
    assert bad.exit_code == 2 and "无法从“" in bad.stderr and "判断导出格式" in bad.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["registry", "import", "/nonexistent/registry.csv"],
            "文件不存在：/nonexistent/registry.csv",
        ),
        (["registry", "show", "不存在"], "登记表中没有与“不存在”相符的条目"),
        (["registry", "edit", "不存在", "--note", "x"], "登记表中没有与“不存在”相符的条目"),
        (
            ["registry", "import", "--what", "things", "x.csv"],
            "--what 只能是 entries, adoptions 之一",
        ),
    ],
)
def test_errors_are_one_line_and_exit_2(db_url: str, args: list[str], message: str) -> None:
    open_database(db_url).close()  # an existing, empty registry
    result = cli(db_url, *args)
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("nosuchdb://x/y", "不支持的数据库地址"),
        ("postgresql+psycopg://nobody@127.0.0.1:1/none", "无法打开数据库 PostgreSQL none："),
        (
            "sqlite:////proc/no/such/dir/registry.db",
            "/proc/no/such/dir/registry.db 处没有登记表数据库",
        ),
        ("postgresql+psycopg://user:secret@127.0.0.1:1/none", "无法打开数据库 PostgreSQL none："),
    ],
)
def test_a_wrong_database_url_is_one_clear_line(url: str, message: str) -> None:
    result = CliRunner().invoke(app, ["registry", "list", "--db", url])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr
    assert "secret" not in result.stderr


def test_db_from_environment_and_plain_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "sub" / "reg.db"
    monkeypatch.setenv("APPAUDIT_DB", str(path))
    result = CliRunner().invoke(app, ["registry", "add", "--name", "学习通", "--kind", "APP"])
    assert result.exit_code == 0, result.stderr
    assert path.exists()


def test_default_database_lives_in_the_user_data_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    result = CliRunner().invoke(app, ["registry", "add", "--name", "学习通", "--kind", "APP"])
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / "xdg" / "appaudit" / "registry.db").exists()


def test_long_imports_list_the_first_rows_unless_verbose(sqlite_url: str, tmp_path: Path) -> None:
    rows = [["名称", "类型", "包名"]] + [
        [f"应用{i}", "APP", f"org.example.app{i}"] for i in range(25)
    ]
    path = write_csv(tmp_path / "many.csv", rows)
    short = ok(sqlite_url, "registry", "import", "--dry-run", str(path))
    assert "……另有 5 行（加 --verbose 可全部列出）" in short.stderr
    assert "第26行：将新增" not in short.stderr
    full = ok(sqlite_url, "registry", "import", "--verbose", str(path))
    assert "第26行：新增：应用24" in full.stderr and "另有" not in full.stderr
