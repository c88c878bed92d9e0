"""A scan of a submission whose rows hold every kind of hostile cell, end to end: it
completes, writes every report, and each bad row gets its own finding or input problem."""

from __future__ import annotations

import csv
import io
import json
import os
import re
from pathlib import Path

import apkfactory
import pytest
from openpyxl import load_workbook
from tablefactory import csv_bytes, replace_parts, write_xlsx
from typer.testing import CliRunner, Result

from appaudit.cli import app

REPO = Path(__file__).resolve().parents[2]
HEADER = ["学校", "学校标识码", "类型", "名称", "包名", "要求对象", "要求内容", "安装包", "备注"]
SCHOOL = "示例实验小学"
CODE = "3135000001"
LONG_NOTE = "家长须每日在群内接龙打卡并截图上传。" * 12_000  # 216,000 characters
HIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e]")


def run(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def row(name: str, apk: str = "", note: str = "", package: str = "") -> list[str]:
    return [SCHOOL, CODE, "APP", name, package, "家长", "下载安装", apk, note]


@pytest.fixture
def submission(tmp_path: Path) -> tuple[Path, dict[int, str]]:
    """A GBK-free UTF-8 submission with a non-UTF-8 file name; its bad rows by number."""
    school = tmp_path / "school"
    apkfactory.simple_apk(school / "apks" / "good.apk", "cn.edu.good")
    secret = apkfactory.simple_apk(tmp_path / "private" / "secret.apk", "cn.edu.secret")
    (school / "apks" / "link.apk").symlink_to(secret)
    rows = [
        HEADER,
        row("好应用", "apks/good.apk", package="cn.edu.good"),  # 2
        row("家目录", "~nosuchuser/x.apk"),  # 3
        row("超长路径", "a" * 5000 + ".apk"),  # 4
        row("坏网址", "http://[::1:bad/x.apk"),  # 5
        row("不存在", "apks/missing.apk"),  # 6
        row("系统文件", "/etc/passwd"),  # 7
        row("上级目录", "../private/secret.apk"),  # 8
        row("链接出去", "apks/link.apk"),  # 9
        row("外部文件夹", str(secret.parent), package="cn.edu.secret"),  # 10
        row("空字符\x00路径", "apks/a\x00b.apk"),  # 11
        row("控制\x1b[2J字符\u202e名称\u200b", note="\x01\x07备注\x9b"),  # 12: shown, not bad
        row("长备注", note=LONG_NOTE),  # 13: kept whole, not bad
        [*row("很宽的行"), *(["多"] * 50_000)],  # 14: not bad
    ]
    bad = {n: "APK-UNREADABLE" for n in range(3, 12)}
    body = csv_bytes(rows, "utf-8-sig")
    gbk_row = csv_bytes([row("国家反诈中心", package="com.hicorenational.antifraud")], "gbk")  # 15
    quote = '示例实验小学,3135000001,APP,"未闭合引号,,家长,下载安装,,\r\n'.encode()  # 16
    after = csv_bytes([row("学习强国", package="cn.xuexi.android")], "utf-8")  # 17
    bad[16] = "INPUT-INVALID"
    path = school / os.fsdecode("填报".encode() + b"-\xff\xfe.csv")
    path.write_bytes(body + gbk_row + quote + after)
    return path, bad


def test_every_hostile_cell_ends_in_its_own_rows_finding(
    submission: tuple[Path, dict[int, str]], db_url: str, tmp_path: Path
) -> None:
    path, bad = submission
    assert run("registry", "import", str(REPO / "examples" / "registry.csv"), "--db", db_url
               ).exit_code == 0  # fmt: skip
    out = tmp_path / os.fsdecode(b"report-\xff")  # the report folder's name is no UTF-8 either
    result = run("scan", str(path), "--out", str(out), "--db", db_url, "--jobs", "1",
                 "--format", "html,json,csv,xlsx")  # fmt: skip
    assert result.exit_code in (0, 1), result.stderr
    assert "Traceback" not in result.stderr and not HIDDEN.search(result.stderr)
    assert "填报-\ufffd\ufffd.csv" in result.stderr  # the file name, as it can be shown

    doc = json.loads((out / "findings.json").read_text("utf-8"))
    (school,) = doc["schools"]
    by_row: dict[int, list[str]] = {}
    for finding in school["findings"]:
        by_row.setdefault(finding["row"], []).append(finding["rule"])
    for number, rule in bad.items():
        assert by_row[number].count(rule) == 1, (number, by_row.get(number))
    assert "APK-UNREADABLE" not in by_row.get(2, [])  # the good APK was read
    for number in (12, 13, 14, 15, 17):  # checked as rows, with no problem of their own
        assert "INPUT-INVALID" not in by_row.get(number, []) and by_row.get(number), number
    assert "NON-EDU-APP" in by_row[15] and "NON-EDU-APP" in by_row[17]
    problems = {p["row"]: p["message"] for p in school["input_problems"]}
    assert set(problems) == {16}
    assert "rows 17–17" in problems[16] or "第17至17行" in problems[16]
    (file_problem,) = doc["file_problems"]
    assert file_problem["row"] is None and "15" in file_problem["message"]
    assert doc["inputs"][0]["path"].endswith("填报-\ufffd\ufffd.csv")

    apk = {f["row"]: f for f in school["findings"] if f["rule"] == "APK-UNREADABLE"}
    for number in (7, 8, 9, 10):  # refused: nothing about the file itself
        evidence = apk[number]["evidence"]
        assert evidence["reason"].startswith("refused: the path leads outside")
        assert not {"sha256", "package", "label", "apk_file"} & set(evidence)
    (page_path,) = (out / "schools").glob("*.html")
    page = page_path.read_text("utf-8")
    for number in (7, 8, 9, 10):  # the APK panel of a refused row: the refusal, and no facts
        panel = page.split(f'<div class="apk" data-row="{number}">')[1].split("</div>")[0]
        assert "refused: the path leads outside" in panel
        assert 'class="facts"' not in panel and "SHA-256" not in panel
    good = page.split('<div class="apk" data-row="2">')[1].split("</div>")[0]
    assert "cn.edu.good" in good and 'class="facts"' in good
    assert not HIDDEN.search(page.replace("\n", ""))
    assert "控制&lt;U+001B&gt;[2J字符&lt;U+202E&gt;名称&lt;U+200B&gt;" in page
    assert LONG_NOTE not in page

    csv_text = (out / "findings.csv").read_text("utf-8-sig")
    assert not HIDDEN.search(csv_text.replace("\r\n", "").replace("\n", ""))
    assert list(csv.reader(io.StringIO(csv_text)))
    sheet = load_workbook(out / "findings.xlsx", read_only=True).worksheets[0]
    cells = [c for r in sheet.iter_rows(values_only=True) for c in r if isinstance(c, str)]
    assert cells and not any(HIDDEN.search(c) for c in cells)
    assert "控制[2J字符名称" in cells

    runs = json.loads(run("runs", "--format", "json", "--db", db_url).stdout)
    assert runs[0]["inputs"][0]["path"].endswith("填报-\ufffd\ufffd.csv")
    assert runs[0]["out_dir"].endswith("report-\ufffd")

    # The ledger holds the hostile rows too (PostgreSQL's text takes no NUL), and knows
    # them again: a second scan opens nothing new.
    assert "问题台账：新增" in result.stderr and "台账未更新" not in result.stderr
    items = json.loads(run("ledger", "list", "--format", "json", "--db", db_url).stdout)
    assert "空字符\ufffd路径" in {i["item"] for i in items}
    again = run("scan", str(path), "--out", str(out), "--db", db_url, "--jobs", "1")
    assert "问题台账：新增 0 项" in again.stderr, again.stderr


def _bomb(path: Path) -> Path:
    """An XLSX of a few dozen KB whose shared strings inflate to 64 MB."""
    write_xlsx(path, [HEADER, row("学习通")])
    strings = b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    return replace_parts(path, {"xl/sharedStrings.xml": strings + b" " * (64 << 20) + b"</sst>"})


def test_a_workbook_beyond_the_limits_is_a_file_problem_and_the_others_are_scanned(
    tmp_path: Path,
) -> None:
    bomb = _bomb(tmp_path / "bomb.xlsx")
    assert bomb.stat().st_size < 200_000
    good = tmp_path / "good.csv"
    good.write_bytes(
        csv_bytes([HEADER, row("国家反诈中心", package="com.hicorenational.antifraud")])
    )
    out = tmp_path / "report"
    registry = ("--registry", str(REPO / "examples" / "registry.csv"))
    result = run("scan", str(bomb), str(good), "--out", str(out), *registry)
    assert result.exit_code == 1, result.stderr  # the good file's findings
    assert f"{bomb}：无法读取此文件：拒绝读取：其中部件 xl/sharedStrings.xml" in result.stderr
    doc = json.loads((out / "findings.json").read_text("utf-8"))
    assert [p["source"] for p in doc["file_problems"]] == [str(bomb)]
    assert doc["schools"][0]["findings"]

    alone = run("scan", str(bomb), "--out", str(tmp_path / "alone"), *registry)
    assert alone.exit_code == 2 and "解压后将膨胀" in alone.stderr
    assert len(alone.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "alone").exists()


def test_a_workbook_beyond_the_limits_is_refused_by_registry_import(
    tmp_path: Path, sqlite_url: str
) -> None:
    bomb = _bomb(tmp_path / "registry.xlsx")
    result = run("registry", "import", str(bomb), "--db", sqlite_url)
    assert result.exit_code == 2
    (line,) = result.stderr.strip().splitlines()
    assert "拒绝读取：其中部件 xl/sharedStrings.xml 解压后将膨胀" in line


def test_the_inflation_cap_is_read_from_appaudit_toml(tmp_path: Path) -> None:
    rows = [HEADER, *(row(f"应用{n}", note="备注" * 20) for n in range(4000))]
    path = write_xlsx(tmp_path / "big.xlsx", rows)
    config = tmp_path / "appaudit.toml"
    config.write_text("[intake]\nmax_inflated_mb = 1\n", "utf-8")
    registry = ("--registry", str(REPO / "examples" / "registry.csv"))
    refused = run(
        "scan", str(path), "--out", str(tmp_path / "r"), "--config", str(config), *registry
    )
    assert refused.exit_code == 2 and "超过上限 1 MB" in refused.stderr
    allowed = run("scan", str(path), "--out", str(tmp_path / "r"), *registry, "--fail-on", "never")
    assert allowed.exit_code == 0, allowed.stderr


def test_apk_dir_and_allow_any_path_let_cells_name_files_outside(tmp_path: Path) -> None:
    shelf = tmp_path / "shelf"
    apk = apkfactory.simple_apk(shelf / "good.apk", "cn.edu.good")
    elsewhere = apkfactory.simple_apk(tmp_path / "elsewhere" / "other.apk", "cn.edu.other")
    school = tmp_path / "school"
    school.mkdir()
    path = school / "s.csv"
    path.write_bytes(
        csv_bytes([HEADER, row("书架", str(apk)), row("别处", str(elsewhere))], "utf-8-sig")
    )
    registry = ("--registry", str(REPO / "examples" / "registry.csv"), "--fail-on", "never")

    def reasons(*extra: str) -> dict[int, str]:
        out = tmp_path / "report"
        result = run("scan", str(path), "--out", str(out), "--jobs", "1", *registry, *extra)
        assert result.exit_code == 0, result.stderr
        doc = json.loads((out / "findings.json").read_text("utf-8"))
        findings = doc["schools"][0]["findings"]
        return {
            f["row"]: f["evidence"]["reason"] for f in findings if f["rule"] == "APK-UNREADABLE"
        }

    assert set(reasons()) == {2, 3}
    assert set(reasons("--apk-dir", str(shelf))) == {3}
    assert reasons("--allow-any-path") == {}
    missing = run(
        "scan", str(path), "--out", str(tmp_path / "x"), "--apk-dir", str(tmp_path / "no")
    )
    assert missing.exit_code == 2 and "--apk-dir：文件夹不存在" in missing.stderr


def test_registry_import_refuses_a_broken_row_and_names_rows_in_another_encoding(
    tmp_path: Path, sqlite_url: str
) -> None:
    header = "名称,类型,备案号,备案状态,包名\r\n"
    good = "闽教高分,APP,教APP备1100819号,有效,com.zhl.mjqk.aphone\r\n"
    later = "示例家校通,APP,,,org.example.jiaxiao\r\n"
    other = "巧考,APP,教APP备1100871号,有效,com.zhl.qk.aphone\r\n"

    def names() -> list[str]:
        listed = run("registry", "list", "--format", "json", "--db", sqlite_url)
        return sorted(e["name"] for e in json.loads(listed.stdout))

    first = tmp_path / "first.csv"
    first.write_bytes((header + good).encode())
    assert run("registry", "import", str(first), "--db", sqlite_url).exit_code == 0
    broken = tmp_path / "broken.csv"
    broken.write_bytes((header + '"' + other + later).encode())
    result = run("registry", "import", str(broken), "--db", sqlite_url)
    assert result.exit_code == 2
    (line,) = result.stderr.strip().splitlines()
    assert "broken.csv：第2行有一个未闭合的英文双引号" in line and "第3至3行" in line
    assert names() == ["闽教高分"]  # nothing was imported

    mixed = tmp_path / "mixed.csv"
    mixed.write_bytes((header + later).encode("gbk") + other.encode("utf-8"))
    result = run("registry", "import", str(mixed), "--db", sqlite_url)
    assert result.exit_code == 0, result.stderr
    note = "mixed.csv：提示：文件按 gb18030 编码读取，但第3行是 utf-8 编码"
    assert note in result.stderr
    assert names() == sorted(["巧考", "闽教高分", "示例家校通"])
