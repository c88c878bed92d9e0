"""Storing a scan's run: the report names it, and a registry that refuses it costs no report."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import apkfactory
import pytest
from examplereport import EXAMPLES, SUBMISSION, filled, run
from sqlalchemy import make_url
from tablefactory import write_csv

from appaudit import registry_files
from registry.db import open_database
from registry.service import Registry

REPO = EXAMPLES.parent


def read_only(db_url: str) -> str:
    """The same database, opened so that the server or the library refuses every write."""
    if db_url.startswith("sqlite"):
        path = make_url(db_url).database
        return f"sqlite:///file:{path}?mode=ro&uri=true"
    return f"{db_url}?options=-c%20default_transaction_read_only%3Don"


def stored_runs(db_url: str) -> list[dict[str, object]]:
    result = run("runs", "--format", "json", "--db", db_url)
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def test_the_report_names_the_run_it_was_stored_as(db_url: str, tmp_path: Path) -> None:
    filled(db_url)
    out = tmp_path / "report"
    result = run("scan", str(SUBMISSION), "--out", str(out), "--db", db_url)
    assert result.exit_code == 1, result.stderr
    (stored,) = stored_runs(db_url)
    doc = json.loads((out / "findings.json").read_text("utf-8"))
    assert doc["run_id"] == stored["id"] == 1
    index = (out / "index.html").read_text("utf-8")
    assert re.search(r"核查批次</dt><dd>1</dd>", index)


@pytest.mark.parametrize(("fail_on", "code"), [("high", 1), ("never", 0)])
def test_a_read_only_registry_still_gets_its_report(
    db_url: str, tmp_path: Path, fail_on: str, code: int
) -> None:
    filled(db_url)
    out = tmp_path / "report"
    result = run(
        "scan", str(SUBMISSION), "--out", str(out), "--db", read_only(db_url), "--fail-on", fail_on
    )
    assert result.exit_code == code, result.stderr
    assert "Traceback" not in result.stderr
    warnings = [line for line in result.stderr.splitlines() if "警告" in line]
    assert len(warnings) == 1 and "本次核查未能存入" in warnings[0], result.stderr
    doc = json.loads((out / "findings.json").read_text("utf-8"))
    assert doc["run_id"] is None and len(doc["schools"]) == 4
    assert (out / "index.html").is_file()
    assert stored_runs(db_url) == []


def test_a_read_only_registry_does_not_stop_the_apk_stage(db_url: str, tmp_path: Path) -> None:
    filled(db_url)
    apk = apkfactory.simple_apk(tmp_path / "apps" / "zuoye.apk", "org.example.zuoye")
    rows = [
        ["学校", "类型", "名称", "包名", "要求内容", "安装包"],
        ["示例实验小学", "APP", "示例作业本", "org.example.zuoye", "下载安装", "apps/zuoye.apk"],
    ]
    submission = write_csv(tmp_path / "s.csv", rows)
    assert apk.is_file()
    out = tmp_path / "report"
    result = run(
        "scan", str(submission), "--out", str(out), "--db", read_only(db_url), "--jobs", "1"
    )
    assert result.exit_code == 1, result.stderr  # the APK is unsigned: a high finding
    assert "Traceback" not in result.stderr
    assert "本次核查未能存入" in result.stderr
    assert "安装包分析结果未能缓存" in result.stderr
    doc = json.loads((out / "findings.json").read_text("utf-8"))
    rules = {f["rule"] for s in doc["schools"] for f in s["findings"]}
    assert "APK-UNSIGNED" in rules


def test_an_out_folder_that_would_be_refused_stops_the_scan_before_it_is_stored(
    db_url: str, tmp_path: Path
) -> None:
    filled(db_url)
    precious = tmp_path / "mine"
    precious.mkdir()
    (precious / "notes.txt").write_text("keep")
    result = run("scan", str(SUBMISSION), "--out", str(precious), "--db", db_url)
    assert result.exit_code == 2 and "不是 appaudit 生成的报告文件夹" in result.stderr
    assert stored_runs(db_url) == []
    assert (precious / "notes.txt").read_text() == "keep"


def test_a_password_in_the_database_url_appears_in_no_output(db_url: str, tmp_path: Path) -> None:
    if db_url.startswith("sqlite"):
        pytest.skip("SQLite URLs carry no password")
    # The test server trusts local connections, so any password is accepted, and kept.
    url = make_url(db_url).set(password="Topsecret9").render_as_string(hide_password=False)
    filled(url)
    out = tmp_path / "report"
    outputs = [run("scan", str(SUBMISSION), "--out", str(out), "--db", url)]
    outputs += [run("runs", "--db", url), run("runs", "--format", "json", "--db", url)]
    outputs += [run("runs", "--show", "1", "--db", url), run("registry", "list", "--db", url)]
    outputs += [run("scan", str(SUBMISSION), "--out", str(out), "--db", read_only(url))]
    for result in outputs:
        assert result.exit_code in (0, 1), result.stderr
        assert "Topsecret9" not in result.stdout + result.stderr
    assert "未能存入" in outputs[-1].stderr
    written = [p for p in out.rglob("*") if p.is_file()]
    assert written and all(b"Topsecret9" not in p.read_bytes() for p in written)
    # The report names the database by kind and name: no user, host or port either.
    database = make_url(url).database
    doc = json.loads((out / "findings.json").read_text("utf-8"))
    assert doc["registry"]["source"] == f"PostgreSQL {database}"
    assert all(b"postgres@" not in p.read_bytes() for p in written)
    index = (out / "index.html").read_text("utf-8")
    assert f"PostgreSQL {database}" in index and "127.0.0.1" not in index


READ_ONLY_MOUNT = 'mount --bind "$1" "$2" && mount -o remount,bind,ro "$2" && shift 2 && "$@"'


def test_a_registry_on_a_read_only_disk_is_read_and_the_scan_reports(tmp_path: Path) -> None:
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("mounting a read-only file system needs root and unshare")
    folder, mounted = tmp_path / "registry", tmp_path / "mnt"
    mounted.mkdir()
    database = open_database(str(folder / "registry.db"))
    registry = Registry(database)
    entries = registry_files.open_registry_file(EXAMPLES / "registry.csv", None, None)
    registry.import_entries(entries.rows(), entries.table.columns.keys())
    adoptions = registry_files.open_registry_file(EXAMPLES / "adoptions.csv", None, None)
    registry.import_adoptions(adoptions.rows())
    database.close()
    # Closed cleanly: no write-ahead log or shared-memory file beside it, as it is copied.
    assert sorted(p.name for p in folder.iterdir()) == ["registry.db"]
    out = tmp_path / "report"
    probe = subprocess.run(["unshare", "-m", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"no private mount namespace here: {probe.stderr.decode().strip()}")
    result = subprocess.run(
        ["unshare", "-m", "sh", "-c", READ_ONLY_MOUNT, "sh", str(folder), str(mounted),
         sys.executable, "-m", "appaudit", "scan", str(SUBMISSION), "--out", str(out),
         "--db", str(mounted / "registry.db")],
        capture_output=True, text=True, cwd=REPO, timeout=120,
    )  # fmt: skip
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    warnings = [line for line in result.stderr.splitlines() if "警告" in line]
    assert len(warnings) == 1 and "readonly database" in warnings[0], result.stderr
    doc = json.loads((out / "findings.json").read_text("utf-8"))
    assert doc["registry"]["entries"] == 25 and doc["run_id"] is None
    assert stored_runs(str(folder / "registry.db")) == []


def test_school_names_no_column_can_hold_are_stored_fitted(db_url: str, tmp_path: Path) -> None:
    """A 300-character school name and one with a NUL byte: PostgreSQL refuses both as
    they are, and the run must be stored all the same."""
    filled(db_url)
    rows = [
        ["学校", "类型", "名称"],
        ["长" * 300, "APP", "学习强国"],
        ["一中\x00分校", "APP", "学习强国"],
    ]
    submission = write_csv(tmp_path / "school.csv", rows, "utf-8-sig")
    result = run("scan", str(submission), "--out", str(tmp_path / "report"), "--db", db_url)
    assert result.exit_code == 1, result.stderr
    assert "未能存入" not in result.stderr
    (stored,) = stored_runs(db_url)
    shown = run("runs", "--show", str(stored["id"]), "--db", db_url)
    schools = [s["school"] for s in json.loads(shown.stdout)["schools"]]
    assert len(schools[0]) == 200 and schools[0].endswith("…")
    assert schools[1] == "一中\ufffd分校"
