"""One district submission holding every kind of bad row at once — hostile APKs, tampered
and forged APKs, hostile cells — scanned the way a bureau would, against a stored registry
that knows the genuine signer: the scan completes, writes every report, and each bad row
gets exactly one finding saying what is wrong with it."""

from __future__ import annotations

import json
from pathlib import Path

import apkfactory
import hostileapks
from tablefactory import csv_bytes
from typer.testing import CliRunner, Result

from appaudit.cli import app

SCHOOL, CODE = "示例实验小学", "3135000001"
PACKAGE = "cn.edu.example.app"
HEADER = ["学校", "学校标识码", "类型", "名称", "包名", "要求对象", "要求内容", "安装包"]


def run(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def row(name: str, apk: str, package: str = "") -> list[str]:
    return [SCHOOL, CODE, "APP", name, package, "家长", "下载安装", apk]


def test_every_bad_row_of_a_district_gets_its_own_finding(tmp_path: Path) -> None:
    folder = tmp_path / "district"
    apks = folder / "apks"
    apks.mkdir(parents=True)
    signer = apkfactory.signing_key("示例出版社")
    genuine = apkfactory.simple_apk(
        apks / "genuine.apk", PACKAGE, signer=signer, schemes=("v1", "v2"), min_sdk=21
    )
    # Built hostile and tampered files, each behind its own row: name -> (file, rule).
    hostile = {
        "结束标记损坏": (hostileapks.end_element_apk(apks / "end.apk"), "APK-UNREADABLE"),
        "清单嵌套过深": (hostileapks.deep_manifest_apk(apks / "deep.apk"), "APK-UNREADABLE"),
        "两万个DEX": (hostileapks.many_dex_entries(apks / "many.apk", types=300), "APK-UNREADABLE"),
        "空文件": (apks / "empty.apk", "APK-UNREADABLE"),
        "签名块被截断": (
            apkfactory.truncate_block(genuine, apks / "truncated.apk"),
            "APK-SIGNATURE-INVALID",
        ),
        "去掉v2签名": (
            apkfactory.strip_block(genuine, apks / "stripped.apk"),
            "APK-SIGNATURE-INVALID",
        ),
        "伪造v2签名": (
            apkfactory.flip_block_byte(genuine, apks / "forged.apk", 60),
            "APK-SIGNATURE-INVALID",
        ),
    }
    (apks / "empty.apk").write_bytes(b"")
    cells = {
        "家目录": "~nosuchuser/x.apk",
        "超长路径": "a" * 5000 + ".apk",
        "坏网址": "http://[::1:bad/x.apk",
        "系统文件": "/etc/passwd",
        "不存在": "apks/missing.apk",
    }
    rows = [HEADER, row("正版应用", "apks/genuine.apk", PACKAGE)]
    rows += [row(name, f"apks/{path.name}", PACKAGE) for name, (path, _rule) in hostile.items()]
    rows += [row(name, cell) for name, cell in cells.items()]
    rows.append(row("控制\x1b[2J字符", ""))  # shown safely; not a bad row
    body = csv_bytes(rows, "utf-8-sig")
    broken = f'{SCHOOL},{CODE},APP,"未闭合引号,,家长,下载安装,\r\n'.encode()
    after = csv_bytes([row("学习强国", "", "cn.xuexi.android")], "utf-8")
    submission = folder / "district.csv"
    submission.write_bytes(body + broken + after)

    db = f"sqlite:///{tmp_path / 'registry.db'}"
    added = run("registry", "add", "--name", "正版应用", "--kind", "APP", "--package", PACKAGE,
                "--filing-no", "教APP备9900009号", "--category", "教学", "--db", db)  # fmt: skip
    assert added.exit_code == 0, added.stderr
    recorded = run("registry", "add-signer", "正版应用", "--from-apk", str(genuine), "--db", db)
    assert recorded.exit_code == 0, recorded.stderr
    config = tmp_path / "appaudit.toml"
    config.write_text("[apk]\nmemory_mb = 200\nseconds = 20\n", encoding="utf-8")
    out = tmp_path / "report"
    result = run("scan", str(submission), "--db", db, "--out", str(out), "--jobs", "2",
                 "--config", str(config), "--format", "html,json,csv,xlsx")  # fmt: skip

    assert result.exit_code == 1, result.stderr  # high findings, not an error
    assert "Traceback" not in result.stderr
    for name in ("index.html", "findings.json", "findings.csv", "findings.xlsx"):
        assert (out / name).is_file(), name
    doc = json.loads((out / "findings.json").read_text("utf-8"))
    assert doc["run_id"] is not None
    (school,) = doc["schools"]
    by_item: dict[str, list[str]] = {}
    for finding in school["findings"]:
        by_item.setdefault(finding["item"], []).append(finding["rule"])
    # Other findings may stand beside (an unsigned file of another package says so too).
    for name, (_path, rule) in hostile.items():
        assert by_item[name].count(rule) == 1, (name, by_item[name])
    for name in cells:
        assert by_item[name].count("APK-UNREADABLE") == 1, (name, by_item[name])
        assert not {"APK-UNSIGNED", "APK-SIGNATURE-INVALID"} & set(by_item[name]), name
    assert not [r for r in by_item.get("正版应用", []) if r.startswith("APK-")]
    # The unclosed quotation mark: its own row is a problem, the row it swallowed is read.
    assert [p["row"] for p in school["input_problems"]] == [len(rows) + 1]
    assert "学习强国" in by_item
