"""APK downloads in a scan: a deadline per download, several at once, no partial file left."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import apkfactory
import pytest
from httpfolder import serve_folder
from tablefactory import write_csv
from typer.testing import CliRunner

from appaudit.cli import app

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
HEADER = ["学校", "类型", "名称", "包名", "要求内容", "安装包"]


@pytest.fixture
def apk_server(tmp_path: Path) -> Iterator[str]:
    """Serves built APKs from a folder, and /trickle.apk one byte every 50 ms."""
    root = tmp_path / "www"
    root.mkdir()
    for name in ("a", "b", "c"):
        apkfactory.simple_apk(
            root / f"{name}.apk", f"org.example.{name}", classes=[f"org.example.{name}.Main"]
        )

    with serve_folder(root) as base:
        yield base


def submission(tmp_path: Path, base: str, slow: int = 1) -> Path:
    rows = [
        ["示例小学", "APP", f"慢应用{n}", "", "下载安装", f"{base}/trickle?{n}"]
        for n in range(slow)
    ]
    rows += [
        ["示例小学", "APP", f"应用{x}", f"org.example.{x}", "下载安装", f"{base}/{x}.apk"]
        for x in ("a", "b", "c")
    ]
    return write_csv(tmp_path / "s.csv", [HEADER, *rows])


def parts(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.glob(".part-*")) if folder.is_dir() else []


def wait_for(condition: Callable[[], object], seconds: float = 30.0) -> None:
    give_up = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > give_up:
            pytest.fail("the condition was not reached in time")
        time.sleep(0.05)


def test_a_trickling_server_fails_its_row_at_the_deadline_and_the_others_download(
    apk_server: str, tmp_path: Path
) -> None:
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (downloads / f".part-{dead.pid}-left0ver.apk").write_bytes(b"from a killed scan")
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    running = downloads / f".part-{sleeper.pid}-writing.apk"
    running.write_bytes(b"a scan running now")
    out = tmp_path / "report"
    try:
        result = CliRunner().invoke(
            app,
            ["scan", str(submission(tmp_path, apk_server)), "--out", str(out),
             "--registry", str(EXAMPLES / "registry.csv"), "--fail-on", "never", "--jobs", "1",
             "--download-dir", str(downloads), "--download-deadline", "1",
             "--download-jobs", "4"],
        )  # fmt: skip
    finally:
        sleeper.kill()
        sleeper.wait()
    assert result.exit_code == 0, result.stderr
    doc = json.loads((out / "findings.json").read_text("utf-8"))
    unreadable = {
        f["row"]: f["evidence"]["reason"]
        for s in doc["schools"]
        for f in s["findings"]
        if f["rule"] == "APK-UNREADABLE"
    }
    assert list(unreadable) == [2]
    assert "download deadline of 1 s" in unreadable[2]
    assert "安装包：填报 4 个，不同文件 3 个，新分析 3 个" in result.stderr
    assert parts(downloads) == [running.name]  # the dead scan's part is gone, the live one kept


@pytest.mark.parametrize(
    ("sent", "code", "said"),
    [(signal.SIGTERM, 143, "appaudit：已终止"), (signal.SIGINT, 130, "appaudit：已中断")],
)
def test_an_interrupted_scan_leaves_no_partial_download(
    apk_server: str, tmp_path: Path, sent: signal.Signals, code: int, said: str
) -> None:
    downloads = tmp_path / "downloads"
    out = tmp_path / "report"
    scan = subprocess.Popen(
        [sys.executable, "-m", "appaudit", "scan", str(submission(tmp_path, apk_server, slow=3)),
         "--out", str(out), "--registry", str(EXAMPLES / "registry.csv"),
         "--download-dir", str(downloads), "--download-deadline", "120", "--download-jobs", "4"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
        env={**os.environ, "PYTHONFAULTHANDLER": "1"},
    )  # fmt: skip
    try:
        wait_for(lambda: len(parts(downloads)) == 3)
        scan.send_signal(sent)
        try:
            _out, err = scan.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            # Where every thread of a scan that does not end stands (faulthandler prints
            # their stacks on SIGABRT), for whoever meets this.
            scan.send_signal(signal.SIGABRT)
            _out, err = scan.communicate(timeout=30)
            pytest.fail(f"the scan did not end within 30 s of {sent.name}:\n{err[-6000:]}")
    finally:
        if scan.poll() is None:
            scan.kill()
            scan.wait()
    assert scan.returncode == code, err
    assert err.strip().splitlines()[-1] == said and "Traceback" not in err
    assert parts(downloads) == []
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".report")] == []


def test_download_options_are_checked(tmp_path: Path) -> None:
    for option, value in (("--download-jobs", "0"), ("--download-deadline", "0")):
        result = CliRunner().invoke(
            app, ["scan", str(EXAMPLES / "submission.csv"), option, value, "--out", str(tmp_path)]
        )
        assert result.exit_code == 2 and option in result.stderr
    assert os.listdir(tmp_path) == []


def test_every_scan_removes_the_partial_downloads_of_a_killed_one(tmp_path: Path) -> None:
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (downloads / f".part-{dead.pid}-left0ver.apk").write_bytes(b"from a killed scan")
    result = CliRunner().invoke(
        app,
        ["scan", str(EXAMPLES / "submission.csv"), "--out", str(tmp_path / "report"),
         "--registry", str(EXAMPLES / "registry.csv"), "--download-dir", str(downloads)],
    )  # fmt: skip
    assert result.exit_code == 1, result.stderr
    assert parts(downloads) == []
