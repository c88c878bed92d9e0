"""Submissions that are hostile as files or in their cells, scanned end to end: the scan
completes, writes every report, and each bad row or file gets its own problem."""

from __future__ import annotations

import json
from pathlib import Path

from tablefactory import csv_bytes, replace_parts, write_xlsx
from typer.testing import CliRunner, Result

from appaudit.cli import app

REPO = Path(__file__).resolve().parents[2]
HEADER = ["学校", "学校标识码", "类型", "名称", "包名", "要求对象", "要求内容", "安装包", "备注"]
SCHOOL = "示例实验小学"
CODE = "3135000001"


def run(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def row(name: str, apk: str = "", note: str = "", package: str = "") -> list[str]:
    return [SCHOOL, CODE, "APP", name, package, "家长", "下载安装", apk, note]


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
    assert f"{bomb}: refused: the part xl/sharedStrings.xml would inflate" in result.stderr
    doc = json.loads((out / "findings.json").read_text("utf-8"))
    assert [p["source"] for p in doc["file_problems"]] == [str(bomb)]
    assert doc["schools"][0]["findings"]

    alone = run("scan", str(bomb), "--out", str(tmp_path / "alone"), *registry)
    assert alone.exit_code == 2 and "would inflate" in alone.stderr
    assert len(alone.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "alone").exists()


def test_a_workbook_beyond_the_limits_is_refused_by_registry_import(
    tmp_path: Path, sqlite_url: str
) -> None:
    bomb = _bomb(tmp_path / "registry.xlsx")
    result = run("registry", "import", str(bomb), "--db", sqlite_url)
    assert result.exit_code == 2
    (line,) = result.stderr.strip().splitlines()
    assert "refused: the part xl/sharedStrings.xml would inflate" in line


def test_the_inflation_cap_is_read_from_appaudit_toml(tmp_path: Path) -> None:
    rows = [HEADER, *(row(f"应用{n}", note="备注" * 20) for n in range(4000))]
    path = write_xlsx(tmp_path / "big.xlsx", rows)
    config = tmp_path / "appaudit.toml"
    config.write_text("[intake]\nmax_inflated_mb = 1\n", "utf-8")
    registry = ("--registry", str(REPO / "examples" / "registry.csv"))
    refused = run(
        "scan", str(path), "--out", str(tmp_path / "r"), "--config", str(config), *registry
    )
    assert refused.exit_code == 2 and "more than the limit of 1 MB" in refused.stderr
    allowed = run("scan", str(path), "--out", str(tmp_path / "r"), *registry, "--fail-on", "never")
    assert allowed.exit_code == 0, allowed.stderr
