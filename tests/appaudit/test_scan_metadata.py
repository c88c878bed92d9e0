"""What a report says about its own run: the stored run's id, which registry (by kind and
name only), and a warning when that registry is empty."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import make_url
from typer.testing import CliRunner, Result

from appaudit.cli import app
from registry.db import open_database

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
SUBMISSION = EXAMPLES / "submission.csv"
EMPTY_WARNING = (
    "appaudit：警告：登记表为空（{source}）：所有应用都将被判为未登记；"
    "请用 --db 或 APPAUDIT_DB 指定登记表"
)


def run(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(app, list(args), env=env)


def scan(out: Path, *args: str, env: dict[str, str] | None = None) -> Result:
    result = run("scan", str(SUBMISSION), "--out", str(out), *args, env=env)
    assert result.exit_code == 1, result.stderr
    return result


def doc(out: Path) -> dict[str, object]:
    return json.loads((out / "findings.json").read_text("utf-8"))  # type: ignore[no-any-return]


def database_name(db_url: str) -> str:
    url = make_url(db_url)
    name = url.database or ""
    return (
        f"SQLite {Path(name).name}" if url.get_backend_name() == "sqlite" else f"PostgreSQL {name}"
    )


def test_each_report_carries_the_id_of_its_stored_run(db_url: str, tmp_path: Path) -> None:
    run("registry", "import", str(EXAMPLES / "registry.csv"), "--db", db_url)
    for expected in (1, 2):
        out = tmp_path / f"report{expected}"
        scan(out, "--db", db_url)
        assert doc(out)["run_id"] == expected
        runs = json.loads(run("runs", "--format", "json", "--db", db_url).stdout)
        assert runs[0]["id"] == expected  # newest first
    without = tmp_path / "files"
    scan(without, "--registry", str(EXAMPLES / "registry.csv"))
    assert doc(without)["run_id"] is None  # nothing stored without a database


def test_the_report_names_the_database_by_kind_and_name(db_url: str, tmp_path: Path) -> None:
    run("registry", "import", str(EXAMPLES / "registry.csv"), "--db", db_url)
    out = tmp_path / "report"
    scan(out, "--db", db_url)
    registry = doc(out)["registry"]
    assert isinstance(registry, dict)
    assert registry["source"] == database_name(db_url)
    assert str(tmp_path) not in registry["source"]  # a SQLite file by its name, not its folder
    assert registry["entries"] == 25


def test_an_empty_registry_is_warned_about_once(sqlite_url: str, tmp_path: Path) -> None:
    open_database(sqlite_url).close()  # exists, holds nothing: a newcomer who forgot --db
    result = scan(tmp_path / "zh", "--db", sqlite_url)
    warnings = [line for line in result.stderr.splitlines() if "警告" in line]
    assert warnings == [EMPTY_WARNING.format(source="SQLite registry.db")]
    english = scan(tmp_path / "en", "--db", sqlite_url, env={"APPAUDIT_LANG": "en"})
    assert "appaudit: warning: the registry is empty (SQLite registry.db)" in english.stderr
    assert doc(tmp_path / "zh")["registry"]["entries"] == 0  # type: ignore[index]


def test_the_default_registry_when_empty_is_warned_about(tmp_path: Path) -> None:
    result = scan(tmp_path / "report")
    assert EMPTY_WARNING.format(source="SQLite registry.db") in result.stderr


def test_a_filled_registry_gives_no_warning(sqlite_url: str, tmp_path: Path) -> None:
    run("registry", "import", str(EXAMPLES / "registry.csv"), "--db", sqlite_url)
    result = scan(tmp_path / "report", "--db", sqlite_url)
    assert "警告" not in result.stderr and "登记表为空" not in result.stderr


def test_a_database_error_names_the_database_without_its_password(db_url: str) -> None:
    if db_url.startswith("sqlite"):
        url = "postgresql+psycopg://clerk:Topsecret9@127.0.0.1:1/appaudit"
    else:
        url = make_url(db_url).set(password="Topsecret9", port=1).render_as_string(False)
    result = run("registry", "list", "--db", url)
    assert result.exit_code == 2
    (line,) = result.stderr.splitlines()
    database = make_url(url).database
    assert line.startswith(f"appaudit：错误：无法打开数据库 PostgreSQL {database}：")
    assert "Topsecret9" not in result.stderr and "clerk:" not in result.stderr
