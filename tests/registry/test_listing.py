"""The filing status apart from the bureau's own list (准入), and the certified owner (认证主体).

Whitelists of official accounts and mini-programs mark them 有效 or 正常 without a filing
number: they are not filed as education apps, and such a list is the bureau's, so it
imports (read as listed, with one warning line) instead of being refused.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tablefactory import write_csv
from typer.testing import CliRunner, Result

from appaudit.cli import app
from registry.db import open_database
from registry.service import Registry

WHITELIST = [
    ["序号", "名称", "类型", "原始ID", "AppID", "认证主体", "小程序ICP备案号", "状态"],
    ["1", "示例区教育局", "公众号", "gh_5a3c0e9b7d21", "", "示例区教育局（虚构）", "", "有效"],
    ["2", "示例作业打卡", "小程序", "", "wx5e8f1a2b3c4d5e6f", "示例教育科技有限公司（虚构）",
     "闽ICP备12345678号-3X", "正常"],
    ["3", "示例家长学校", "公众号", "gh_0123456789ab", "", "示例区家庭教育指导中心（虚构）", "", "准入"],
    ["4", "示例阅读小程序", "小程序", "", "wx0a1b2c3d4e5f6a7b", "示例文化传媒有限公司（虚构）",
     "", "暂停"],
    ["5", "示例校园通", "APP", "", "", "", "", "有效"],
]  # fmt: skip
"""A bureau's whitelist as it is kept: a 状态 column, no 备案号 column at all."""

WARNING_ZH = "第2、3、6行：状态为“有效/正常”但无备案号，按“准入”（列入本局名单）读取，不视为已备案"
WARNING_EN = "rows 2, 3, 6: 有效/正常 (active) with no filing number, read as listed (准入)"


def cli(db: str, *args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(app, [*args, "--db", db], env=env)


def ok(db: str, *args: str, env: dict[str, str] | None = None) -> Result:
    result = cli(db, *args, env=env)
    assert result.exit_code == 0, f"{args}: {result.stdout}{result.stderr}"
    return result


def entries(db: str, *args: str) -> dict[str, dict[str, object]]:
    listed = json.loads(ok(db, "registry", "list", "--format", "json", *args).stdout)
    return {e["name"]: e for e in listed}


def history(db: str) -> list[dict[str, object]]:
    return json.loads(ok(db, "registry", "history", "--format", "json").stdout)


@pytest.mark.parametrize("encoding", ["utf-8-sig", "gbk"])
def test_a_whitelist_with_a_status_column_imports_with_one_warning(
    db_url: str, tmp_path: Path, encoding: str
) -> None:
    path = write_csv(tmp_path / "白名单.csv", WHITELIST, encoding)
    result = ok(db_url, "registry", "import", str(path))
    assert "登记条目：新增 5，更新 0，未变 0，未通过 0" in result.stderr
    warnings = [line for line in result.stderr.splitlines() if "无备案号" in line]
    assert warnings == [f"白名单.csv：{WARNING_ZH}"]
    found = entries(db_url)
    assert {n: (e["status"], e["listing"]) for n, e in found.items()} == {
        "示例区教育局": ("none", "listed"),
        "示例作业打卡": ("none", "listed"),
        "示例家长学校": ("none", "listed"),
        "示例阅读小程序": ("none", "suspended"),
        "示例校园通": ("none", "listed"),  # on the bureau's list, but not filed
    }
    assert found["示例区教育局"]["certified_entity"] == "示例区教育局(虚构)"
    assert found["示例作业打卡"]["icp"] == "闽ICP备12345678号-3X"


def test_the_warning_speaks_english_when_asked(db_url: str, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "whitelist.csv", WHITELIST)
    result = ok(db_url, "registry", "import", "--dry-run", str(path), "--lang", "en")
    assert f"whitelist.csv: {WARNING_EN}" in result.stderr
    result = ok(db_url, "registry", "import", str(path), env={"APPAUDIT_LANG": "en"})
    assert WARNING_EN in result.stderr and "无备案号" not in result.stderr


def test_revoked_removed_and_a_mixed_status_column(db_url: str, tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "mixed.csv",
        [["名称", "类型", "备案号", "包名", "状态", "准入状态", "准入日期", "准入依据"],
         ["闽教高分", "APP", "教APP备1100819号", "com.zhl.mjqk.aphone", "有效", "", "", ""],
         ["示例口算练习", "APP", "教APP备9900002号", "org.example.kousuan", "撤销", "", "", ""],
         ["示例家校通", "APP", "", "org.example.jiaxiao", "正常", "", "", ""],
         ["示例阅读", "APP", "教APP备9900004号", "org.example.yuedu", "暂停", "", "", ""],
         ["示例商城", "小程序", "", "", "", "移出", "2025-03-01", "区教育局〔2025〕3号"]],
        "gbk",
    )  # fmt: skip
    # The 商城 row names no identifier: its AppID column is absent, the kind tells it.
    result = ok(db_url, "registry", "import", str(path))
    warnings = [line for line in result.stderr.splitlines() if "无备案号" in line]
    assert len(warnings) == 1 and warnings[0].startswith("mixed.csv：第4行：")
    found = entries(db_url)
    assert (found["闽教高分"]["status"], found["闽教高分"]["listing"]) == ("active", "")
    assert (found["示例口算练习"]["status"], found["示例口算练习"]["listing"]) == ("revoked", "")
    assert (found["示例家校通"]["status"], found["示例家校通"]["listing"]) == ("none", "listed")
    assert (found["示例阅读"]["status"], found["示例阅读"]["listing"]) == ("active", "suspended")
    shop = found["示例商城"]
    assert (shop["status"], shop["listing"], shop["listing_date"], shop["listing_ref"]) == (
        "none",
        "removed",
        "2025-03-01",
        "区教育局〔2025〕3号",
    )
    # --status keeps filtering the filing; --listing filters the bureau's list.
    assert list(entries(db_url, "--status", "有效")) == ["闽教高分", "示例阅读"]
    assert list(entries(db_url, "--status", "撤销")) == ["示例口算练习"]
    assert list(entries(db_url, "--listing", "暂停")) == ["示例阅读"]
    assert list(entries(db_url, "--listing", "removed")) == ["示例商城"]
    assert list(entries(db_url, "--listing", "无")) == ["闽教高分", "示例口算练习"]


def test_a_whitelist_reimport_changes_the_listing_and_keeps_the_filing(
    db_url: str, tmp_path: Path
) -> None:
    ok(db_url, "registry", "add", "--name", "闽教高分", "--kind", "APP", "--package",
       "com.zhl.mjqk.aphone", "--filing-no", "教APP备1100819号")  # fmt: skip
    ok(db_url, "registry", "add", "--name", "示例口算练习", "--kind", "APP", "--package",
       "org.example.kousuan", "--filing-no", "教APP备9900002号", "--status", "撤销")  # fmt: skip
    path = write_csv(
        tmp_path / "list.csv",
        [["名称", "类型", "状态"], ["闽教高分", "APP", "有效"], ["示例口算练习", "APP", "暂停"]],
    )
    result = ok(db_url, "registry", "import", str(path))
    assert "无备案号" not in result.stderr  # 闽教高分 is filed: its 有效 tells nothing new
    found = entries(db_url)
    assert (found["闽教高分"]["status"], found["闽教高分"]["listing"]) == ("active", "listed")
    assert found["示例口算练习"]["status"] == "revoked"
    assert found["示例口算练习"]["listing"] == "suspended"


def test_add_edit_show_list_and_history_carry_the_new_fields(db_url: str) -> None:
    ok(db_url, "registry", "add", "--name", "示例作业打卡", "--kind", "小程序", "--appid",
       "wx5e8f1a2b3c4d5e6f", "--certified-entity", "示例教育科技有限公司", "--icp",
       "闽ICP备12345678号-3X", "--listing", "准入", "--listing-date", "2025/3/1",
       "--listing-ref", "区教育局〔2025〕3号")  # fmt: skip
    ok(db_url, "registry", "edit", "示例作业打卡", "--listing", "暂停", "--listing-date",
       "2025年6月1日", "--listing-ref", "区教育局〔2025〕9号", "--reason", "家长投诉")  # fmt: skip
    shown = json.loads(ok(db_url, "registry", "show", "示例作业打卡", "-f", "json").stdout)
    assert (shown["listing"], shown["listing_date"], shown["listing_ref"]) == (
        "suspended",
        "2025-06-01",
        "区教育局〔2025〕9号",
    )
    assert shown["certified_entity"] == "示例教育科技有限公司"
    add, edit = shown["history"]
    assert add["after"]["listing"] == "listed" and add["after"]["listing_date"] == "2025-03-01"
    assert edit["before"] == {
        "listing": "listed",
        "listing_date": "2025-03-01",
        "listing_ref": "区教育局〔2025〕3号",
    }
    assert edit["after"] == {
        "listing": "suspended",
        "listing_date": "2025-06-01",
        "listing_ref": "区教育局〔2025〕9号",
    }
    text = ok(db_url, "registry", "show", "示例作业打卡").stdout
    lines = [line.split() for line in text.splitlines()]
    assert ["准入状态", "暂停"] in lines and ["认证主体", "示例教育科技有限公司"] in lines
    english = ok(db_url, "registry", "show", "示例作业打卡", "--lang", "en").stdout
    assert ["listing", "suspended"] in [line.split() for line in english.splitlines()]
    table = ok(db_url, "registry", "list").stdout
    assert "暂停" in table.splitlines()[2]
    assert "准入状态：准入 → 暂停" in ok(db_url, "registry", "history").stdout
    # A word of the bureau's list given as --status is the listing; the filing stays none.
    ok(db_url, "registry", "edit", "示例作业打卡", "--status", "移出")
    assert entries(db_url)["示例作业打卡"]["listing"] == "removed"
    assert entries(db_url)["示例作业打卡"]["status"] == "none"


def test_add_with_active_and_no_filing_number_says_it_is_read_as_listed(db_url: str) -> None:
    result = ok(db_url, "registry", "add", "--name", "示例校园通", "--kind", "APP", "--package",
                "org.example.xiaoyuan", "--status", "有效")  # fmt: skip
    assert "按“准入”（列入本局名单）读取，不视为已备案" in result.stderr
    entry = entries(db_url)["示例校园通"]
    assert (entry["status"], entry["listing"]) == ("none", "listed")
    restore = cli(db_url, "registry", "restore", "示例校园通")
    assert restore.exit_code == 2


def test_bad_listing_values_are_refused_with_their_row(db_url: str, tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "bad.csv",
        [["名称", "类型", "准入状态", "准入日期"],
         ["示例区教育局", "公众号", "撤销", ""],
         ["示例家长学校", "公众号", "准入", "明年"]],
    )  # fmt: skip
    result = cli(db_url, "registry", "import", str(path))
    assert result.exit_code == 2
    assert "第2行：未通过：无法识别的准入状态“撤销”" in result.stderr
    assert "第3行：未通过：无法识别的日期“明年”" in result.stderr
    assert "Traceback" not in result.stderr
    bad = cli(db_url, "registry", "list", "--listing", "火箭")
    assert bad.exit_code == 2 and "无法识别的准入状态“火箭”" in bad.stderr


FULL = [
    ["名称", "类型", "备案号", "备案状态", "准入状态", "准入日期", "准入依据", "包名", "AppID",
     "认证主体", "ICP备案号"],
    ["闽教高分", "APP", "教APP备1100819号", "有效", "暂停", "2025-06-01", "区教育局〔2025〕9号",
     "com.zhl.mjqk.aphone", "", "", ""],
    ["示例作业打卡", "小程序", "", "", "准入", "2025-03-01", "区教育局〔2025〕3号", "",
     "wx5e8f1a2b3c4d5e6f", "示例教育科技有限公司", "闽ICP备12345678号-3X"],
    ["示例商城", "小程序", "", "", "移出", "", "", "", "wx0a1b2c3d4e5f6a7b", "示例电商有限公司", ""],
    ["示例口算练习", "APP", "教APP备9900002号", "撤销", "", "", "", "org.example.kousuan", "", "", ""],
]  # fmt: skip


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "json"])
@pytest.mark.parametrize("headers", ["zh", "en"])
def test_export_then_import_of_every_new_field_changes_nothing(
    db_url: str, sqlite_url: str, tmp_path: Path, fmt: str, headers: str
) -> None:
    ok(db_url, "registry", "import", str(write_csv(tmp_path / "full.csv", FULL)))
    before = entries(db_url)
    logged = history(db_url)
    exported = tmp_path / f"entries.{fmt}"
    ok(db_url, "registry", "export", str(exported), "--headers", headers)
    again = ok(db_url, "registry", "import", str(exported))
    assert f"新增 0，更新 0，未变 {len(FULL) - 1}，未通过 0" in again.stderr
    assert history(db_url) == logged and entries(db_url) == before
    ok(sqlite_url, "registry", "import", str(exported))
    assert entries(sqlite_url) == before


def test_the_registry_digest_follows_the_new_fields(db_url: str) -> None:
    registry = Registry(open_database(db_url))
    registry.add({"name": "示例区教育局", "kind": "公众号", "original_id": "gh_5a3c0e9b7d21"})
    digests = [registry.snapshot().digest]
    for field, given, stored in [
        ("listing", "准入", "listed"),
        ("listing_date", "2025年3月1日", "2025-03-01"),
        ("listing_ref", "区教育局〔2025〕3号", "区教育局〔2025〕3号"),
        ("certified_entity", "示例区教育局", "示例区教育局"),
    ]:
        registry.edit("示例区教育局", {field: given})
        view = registry.snapshot()
        digests.append(view.digest)
        assert view.to_dict()["entries"][0][field] == stored
    assert len(set(digests)) == len(digests)
    (entry,) = registry.snapshot().entries
    assert (entry.listing, entry.certified_entity, entry.filed) == ("listed", "示例区教育局", False)
