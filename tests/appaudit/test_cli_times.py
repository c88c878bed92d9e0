"""Times people read are in the bureau's zone (Asia/Shanghai unless appaudit.toml says
otherwise); machine output keeps ISO 8601 with its offset."""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from typer.testing import CliRunner, Result

from appaudit.cli import app
from appaudit.pipeline import ScanOptions, run_scan
from appaudit.settings import ReportSettings, Settings

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"


def run(*args: str) -> Result:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code in (0, 1), result.stderr
    return result


@pytest.fixture
def scanned(db_url: str, tmp_path: Path) -> str:
    run("registry", "import", str(EXAMPLES / "registry.csv"), "--db", db_url)
    run("scan", str(EXAMPLES / "submission.csv"), "--out", str(tmp_path / "r"), "--db", db_url)
    return db_url


def local(iso: str, zone: str, seconds: bool = True) -> str:
    moment = datetime.fromisoformat(iso)
    assert moment.utcoffset() is not None, iso  # machine output says its offset
    at = moment.astimezone(ZoneInfo(zone))
    offset = at.strftime("%z")
    clock = at.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")
    return f"{clock} {offset[:3]}:{offset[3:]}"


def use_zone(monkeypatch: pytest.MonkeyPatch, folder: Path, zone: str) -> None:
    monkeypatch.chdir(folder)
    (folder / "appaudit.toml").write_text(f'[report]\ntimezone = "{zone}"\n', encoding="utf-8")


def test_runs_and_history_show_beijing_time(scanned: str) -> None:
    (stored,) = json.loads(run("runs", "--format", "json", "--db", scanned).stdout)
    table = run("runs", "--db", scanned).stdout.splitlines()
    shown = local(stored["started_at"], "Asia/Shanghai", seconds=False)
    assert shown.endswith("+08:00") and shown in table[2]

    changes = json.loads(run("registry", "history", "--format", "json", "--db", scanned).stdout)
    lines = run("registry", "history", "--db", scanned).stdout.splitlines()
    assert len(lines) == len(changes) == 25
    for change, line in zip(changes, lines, strict=True):
        assert line.startswith(local(change["at"], "Asia/Shanghai") + "  ")
    show = run("registry", "show", "1", "--db", scanned).stdout
    assert local(changes[0]["at"], "Asia/Shanghai") in show


def test_the_bureau_may_set_another_zone(
    scanned: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_zone(monkeypatch, tmp_path, "UTC")
    (stored,) = json.loads(run("runs", "--format", "json", "--db", scanned).stdout)
    table = run("runs", "--db", scanned).stdout
    assert local(stored["started_at"], "UTC", seconds=False) in table
    assert "+08:00" not in table and "+00:00" in table
    history = run("registry", "history", "--db", scanned).stdout
    assert "+08:00" not in history and history.count("+00:00") == 25


def test_an_unknown_zone_is_a_configuration_error(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run("registry", "import", str(EXAMPLES / "registry.csv"), "--db", sqlite_url)
    use_zone(monkeypatch, tmp_path, "Asia/Beijing")
    for args in (("registry", "history"), ("runs",),
                 ("scan", str(EXAMPLES / "submission.csv"), "--out", str(tmp_path / "r"))):  # fmt: skip
        result = CliRunner().invoke(app, [*args, "--db", sqlite_url])
        assert result.exit_code == 2, result.stderr
        assert result.stderr == (
            "appaudit：错误：appaudit.toml [report] timezone：未知的时区“Asia/Beijing”"
            "（应为 IANA 时区名，如 Asia/Shanghai）\n"
        )
    assert not (tmp_path / "r").exists()


def test_the_scan_hands_the_zone_to_the_reports(tmp_path: Path) -> None:
    options = ScanOptions(
        inputs=[EXAMPLES / "submission.csv"],
        out=tmp_path / "r",
        registry_files=[EXAMPLES / "registry.csv"],
        settings=Settings(report=ReportSettings(timezone="Asia/Urumqi")),
        formats=("json",),
        download_dir=tmp_path / "downloads",
    )
    outcome = run_scan(options)
    assert outcome.result.timezone == "Asia/Urumqi"
    assert ScanOptions(inputs=[]).settings.report.timezone == "Asia/Shanghai"
    doc = json.loads((tmp_path / "r" / "findings.json").read_text("utf-8"))
    assert re.search(r"[+-]\d\d:\d\d$", doc["generated_at"])  # ISO 8601 with its offset
