"""The rectification ledger through the command line, on SQLite and PostgreSQL: scans open,
see again, propose for closing and reopen items; staff update, close and dismiss them;
waivers set findings apart until their last day; two people at once lose nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

from examplereport import EXAMPLES, SUBMISSION, filled, run
from openpyxl import load_workbook
from typer.testing import Result

from reports.times import today as today_in_bureau

REPO = EXAMPLES.parent
ENCODING = "gb18030"


def submission_without(tmp_path: Path, name: str, *, dropped: str) -> Path:
    """The example submission without the rows naming `dropped`."""
    lines = SUBMISSION.read_bytes().decode(ENCODING).splitlines(keepends=True)
    kept = [line for line in lines if f",{dropped}," not in line]
    assert len(kept) < len(lines)
    path = tmp_path / name
    path.write_bytes("".join(kept).encode(ENCODING))
    return path


def scan(db_url: str, submission: Path, out: Path) -> Result:
    result = run("scan", str(submission), "--out", str(out), "--db", db_url, "--fail-on", "never")
    assert result.exit_code == 0, result.stderr
    return result


def items(db_url: str, *args: str) -> list[dict[str, Any]]:
    result = run("ledger", "list", "--format", "json", "--db", db_url, *args)
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def findings(out: Path) -> list[dict[str, Any]]:
    data = json.loads((out / "findings.json").read_text("utf-8"))
    return [f for school in data["schools"] for f in school["findings"]]


def test_the_whole_cycle(db_url: str, tmp_path: Path) -> None:
    db = filled(db_url)
    first = scan(db, SUBMISSION, tmp_path / "r1")
    opened = items(db)
    keys = {(i["school"], i["item"], i["rule"]) for i in opened}
    assert opened and len(keys) == len(opened)
    assert {i["status"] for i in opened} == {"open"}
    assert f"新增 {len(opened)} 项" in first.stderr
    reported = [f for f in findings(tmp_path / "r1") if f["rule"] != "INPUT-INVALID"]
    assert {f["ledger_id"] for f in reported} == {i["id"] for i in opened}

    # The same submission again: nothing new, every item seen in the second run.
    again = scan(db, SUBMISSION, tmp_path / "r2")
    assert items(db) == [i | {"last_seen_run": 2, "last_seen_at": j["last_seen_at"]}
                         for i, j in zip(opened, items(db), strict=True)]  # fmt: skip
    assert "新增 0 项" in again.stderr

    # The school drops an app: its items are proposed for closing, not closed.
    fewer = submission_without(tmp_path, "fewer.csv", dropped="国家反诈中心")
    scan(db, fewer, tmp_path / "r3")
    gone = [i for i in items(db) if i["item"] == "国家反诈中心"]
    assert gone and {i["status"] for i in gone} == {"to_verify"}
    assert {i["status"] for i in items(db) if i["item"] != "国家反诈中心"} == {"open"}
    page = (tmp_path / "r3" / "schools").glob("*.html")
    assert any("国家反诈中心" in p.read_text("utf-8") and "拟销号" in p.read_text("utf-8")
               for p in page)  # fmt: skip

    # Staff close one after checking, with a reason; it is closed with who and when.
    number = gone[0]["id"]
    closed = run("ledger", "close", number, "--reason", "已核实卸载", "--actor", "李四", "--db", db)
    assert closed.exit_code == 0, closed.stderr
    shown = json.loads(run("ledger", "show", number, "--format", "json", "--db", db).stdout)
    assert shown["status"] == "closed" and shown["closed_by"] == "李四" and shown["closed_at"]
    assert [c["action"] for c in shown["history"]] == ["open", "propose-close", "close"]
    assert shown["history"][-1]["reason"] == "已核实卸载"

    # The app comes back: the closed item is reopened (复发), the others back to open.
    back = scan(db, SUBMISSION, tmp_path / "r4")
    reopened = {i["id"]: i for i in items(db)}[number]
    assert reopened["status"] == "open" and reopened["reopened"] == 1
    assert "复发 1 项" in back.stderr
    reopening = json.loads(run("ledger", "show", number, "--format", "json", "--db", db).stdout)
    undone = reopening["history"][-1]  # the closing it undoes, as it was
    assert undone["action"] == "reopen" and undone["before"]["closed_by"] == "李四"
    assert (
        undone["before"]["closed_at"] == shown["closed_at"] and undone["after"]["closed_by"] == ""
    )
    assert len(items(db)) == len(opened)
    # The items no longer share one state: each line of the list gives its own.
    page = (tmp_path / "r4" / "schools" / "3135000001.html").read_text("utf-8")
    todo = page[
        page.index('<table class="todo">') : page.index(
            "</table>", page.index('<table class="todo">')
        )
    ]
    assert f'{number}</span> <small class="flag">复发</small>' in todo
    assert "待整改 · " in todo

    # The school's 台账: exported, 进展 filled in the workbook, imported back with history.
    book = tmp_path / "示例实验小学.xlsx"
    exported = run("ledger", "export", str(book), "--school", "示例实验小学", "--db", db)
    assert exported.exit_code == 0, exported.stderr
    workbook = load_workbook(book)
    sheet = workbook.active
    header = [c.value for c in sheet[3]]
    line = next(r for r in range(4, sheet.max_row + 1)
                if sheet.cell(r, header.index("问题编号") + 1).value == number)  # fmt: skip
    sheet.cell(line, header.index("进展") + 1).value = "已通知家长卸载，正在回收截图"
    workbook.save(tmp_path / "filled.xlsx")
    imported = run("ledger", "import", str(tmp_path / "filled.xlsx"), "--actor", "示例实验小学",
                   "--db", db)  # fmt: skip
    assert imported.exit_code == 0, imported.stderr
    shown = json.loads(run("ledger", "show", number, "--format", "json", "--db", db).stdout)
    assert shown["progress"] == "已通知家长卸载，正在回收截图"
    assert shown["history"][-1]["action"] == "import"
    assert shown["history"][-1]["actor"] == "示例实验小学"

    # A forbidden edit (the problem's text rewritten): nothing changes, the row is named.
    sheet.cell(line, header.index("问题描述") + 1).value = "没有问题"
    workbook.save(tmp_path / "forbidden.xlsx")
    before = items(db)
    refused = run("ledger", "import", str(tmp_path / "forbidden.xlsx"), "--db", db)
    assert refused.exit_code == 2
    assert f"第{line}行" in refused.stderr and "问题描述" in refused.stderr
    assert items(db) == before


def test_staff_changes_follow_the_lifecycle(sqlite_url: str, tmp_path: Path) -> None:
    db = filled(sqlite_url)
    scan(db, SUBMISSION, tmp_path / "r1")
    number = items(db)[0]["id"]
    refused = run("ledger", "close", number, "--reason", "x", "--db", db)
    assert refused.exit_code == 2
    assert "只有“待核验”的问题可以销号" in refused.stderr
    no_reason = run("ledger", "update", number, "--progress", "x", "--reason", " ", "--db", db)
    assert no_reason.exit_code == 2 and "--reason" in no_reason.stderr
    updated = run("ledger", "update", number, "--status", "整改中", "--due", "2027/1/15",
                  "--owner", "德育处", "--progress", "已通知家长卸载", "--reason", "学校反馈",
                  "--db", db)  # fmt: skip
    assert updated.exit_code == 0, updated.stderr
    item = json.loads(run("ledger", "show", number, "--format", "json", "--db", db).stdout)
    assert (item["status"], item["due"], item["owner"], item["progress"]) == (
        "in_progress", "2027-01-15", "德育处", "已通知家长卸载")  # fmt: skip
    assert item["history"][-1]["before"]["status"] == "open"
    assert item["history"][-1]["after"]["status"] == "in_progress"
    forced = run("ledger", "close", number, "--force", "--reason", "现场核实", "--db", db)
    assert forced.exit_code == 0, forced.stderr
    after = run("ledger", "dismiss", number, "--reason", "x", "--db", db)
    assert after.exit_code == 2 and "只有未销号的问题可以不予认定" in after.stderr
    other = items(db)[1]["id"]
    assert (
        run("ledger", "dismiss", other, "--reason", "经核实为国家平台", "--db", db).exit_code == 0
    )
    assert [i["id"] for i in items(db, "--status", "不予认定")] == [other]
    assert [i["id"] for i in items(db, "--status", "closed")] == [number]
    assert run("ledger", "show", "2026-9999", "--db", db).exit_code == 2


def test_overdue_items_are_listed_apart(sqlite_url: str, tmp_path: Path) -> None:
    db = filled(sqlite_url)
    scan(db, SUBMISSION, tmp_path / "r1")
    number = items(db)[0]["id"]
    past = (today_in_bureau() - timedelta(days=3)).isoformat()
    run("ledger", "update", number, "--due", past, "--reason", "补录时限", "--db", db)
    assert [i["id"] for i in items(db, "--overdue")] == [number]
    table = run("ledger", "list", "--overdue", "--db", db)
    assert "（逾期）" in table.stdout


def test_a_waiver_sets_its_findings_apart_until_its_last_day(db_url: str, tmp_path: Path) -> None:
    db = filled(db_url)
    today = today_in_bureau()
    baseline = scan(db, SUBMISSION, tmp_path / "r0")
    assert "已豁免" not in baseline.stderr
    before = findings(tmp_path / "r0")
    waived_rule = next(f["rule"] for f in before if f["item"] == "国家反诈中心")
    in_scope = [f for f in before if f["item"] == "国家反诈中心" and f["rule"] == waived_rule]
    added = run("waive", "--school", "示例实验小学", "--item", "国家反诈中心", "--rule", waived_rule,
                "--reason", "区局专题会议同意暂缓", "--until", today.isoformat(),
                "--actor", "王五", "--db", db)  # fmt: skip
    assert added.exit_code == 0, added.stderr
    scan(db, SUBMISSION, tmp_path / "r1")
    after = findings(tmp_path / "r1")
    waived = [f for f in after if "waived" in f]
    assert len(waived) == len(in_scope)
    assert {(f["item"], f["rule"]) for f in waived} == {("国家反诈中心", waived_rule)}
    assert waived[0]["waived"]["approved_by"] == "王五"
    assert waived[0]["waived"]["until"] == today.isoformat()
    data = json.loads((tmp_path / "r1" / "findings.json").read_text("utf-8"))
    assert sum(data["counts"].values()) == len(after) - len(waived)
    assert sum(data["counts"].values()) == len(before) - len(waived)
    # Listed with its state; a waiver whose last day has passed is listed as expired.
    listing = json.loads(run("waivers", "--all", "--format", "json", "--db", db).stdout)
    assert [w["state"] for w in listing] == ["active"]
    refused = run("waive", "--school", "全区", "--reason", "x",
                  "--until", (today - timedelta(days=1)).isoformat(), "--db", db)  # fmt: skip
    assert refused.exit_code == 2
    revoked = run("waivers", "revoke", str(listing[0]["id"]), "--reason", "期满前撤回", "--db", db)
    assert revoked.exit_code == 0, revoked.stderr
    scan(db, SUBMISSION, tmp_path / "r2")
    assert not [f for f in findings(tmp_path / "r2") if "waived" in f]
    assert run("waivers", "--db", db).stdout.strip() == "没有有效的豁免"


def test_a_scan_of_a_registry_file_says_the_ledger_was_not_updated(tmp_path: Path) -> None:
    result = run("scan", str(SUBMISSION), "--out", str(tmp_path / "r"),
                 "--registry", str(EXAMPLES / "registry.csv"), "--fail-on", "never")  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert "问题台账未更新" in result.stderr
    assert all("ledger_id" not in f for f in findings(tmp_path / "r"))


UPDATER = """
import sys
from registry.db import open_database
from registry.ledger import Ledger

url, number, field, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
ledger = Ledger(open_database(url, create=False), actor=field)
for n in range(count):
    ledger.change(number, lambda r, n=n: {field: f"{field} {n}"}, reason=f"{field} {n}")
"""


def test_two_people_updating_one_item_at_once_lose_nothing(pg_url: str, tmp_path: Path) -> None:
    db = filled(pg_url)
    scan(db, SUBMISSION, tmp_path / "r1")
    number = items(db)[0]["id"]
    count = 25
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    workers = [
        subprocess.Popen([sys.executable, "-c", UPDATER, db, number, field, str(count)], env=env)
        for field in ("progress", "measure")
    ]
    assert [w.wait(timeout=300) for w in workers] == [0, 0]
    item = json.loads(run("ledger", "show", number, "--format", "json", "--db", db).stdout)
    assert item["progress"] == f"progress {count - 1}"
    assert item["measure"] == f"measure {count - 1}"
    history = item["history"][1:]
    assert sorted(c["reason"] for c in history) == sorted(
        f"{field} {n}" for field in ("progress", "measure") for n in range(count)
    )


def test_a_school_is_found_by_its_name_or_its_code(sqlite_url: str, tmp_path: Path) -> None:
    db = filled(sqlite_url)
    scan(db, SUBMISSION, tmp_path / "r1")
    by_name = items(db, "--school", "示例实验小学")
    by_code = items(db, "--school", "3135000001")
    assert by_name and by_name == by_code
    assert {i["school"] for i in by_name} == {"示例实验小学"}
    assert items(db, "--school", "示例 实验小学") == by_name
    assert items(db, "--school", "没有这所学校") == []


def test_the_findings_table_names_each_ledger_item(sqlite_url: str, tmp_path: Path) -> None:
    import csv

    db = filled(sqlite_url)
    scan(db, SUBMISSION, tmp_path / "r1")
    with (tmp_path / "r1" / "findings.csv").open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    numbers = {i["id"] for i in items(db)}
    tracked = [r for r in rows if r["规则"] != "INPUT-INVALID"]
    assert tracked and {r["问题编号"] for r in tracked} == numbers
    assert {r["问题编号"] for r in rows if r["规则"] == "INPUT-INVALID"} <= {""}
