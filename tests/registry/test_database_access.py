"""Opening the registry: WAL, readers during a long import, named files that do not exist."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from appaudit.cli import app
from registry.db import describe, open_database, redact
from registry.service import Registry

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"

# Imports one entry, then holds its write transaction open until a line arrives on stdin.
HOLDING_IMPORT = """
import sys
from registry.db import open_database
from registry.service import Registry

def rows():
    yield 2, {"name": "慢导入应用", "kind": "APP", "package": "org.example.slow"}
    print("holding", flush=True)
    sys.stdin.readline()

report = Registry(open_database(sys.argv[1])).import_entries(rows(), ["name", "kind", "package"])
print(f"added {len(report.added)}", flush=True)
"""


def run(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(app, list(args), env=env)


def one_line(result: Result) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


def appaudit(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "appaudit", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
    )


@pytest.fixture
def holding_import(db_url: str) -> Iterator[subprocess.Popen[str]]:
    """Another process in the middle of an import: its write transaction is open."""
    Registry(open_database(db_url)).add({"name": "已有应用", "kind": "APP"})
    writer = subprocess.Popen(
        [sys.executable, "-c", HOLDING_IMPORT, db_url],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    assert writer.stdout is not None and writer.stdin is not None
    try:
        assert writer.stdout.readline().strip() == "holding", writer.stderr.read()
        yield writer
    finally:
        if writer.poll() is None:
            writer.stdin.write("go\n")
            writer.stdin.flush()
        writer.communicate(timeout=60)


def impatient(db_url: str) -> str:
    """The same database, for a client that gives up after 1 s of waiting for a lock."""
    if db_url.startswith("sqlite"):
        return f"{db_url}?timeout=1"
    return f"{db_url}?options=-c%20lock_timeout%3D1000"


def test_sqlite_registry_is_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "registry.db"
    open_database(str(path)).close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_reads_do_not_wait_for_a_long_import(
    db_url: str, holding_import: subprocess.Popen[str]
) -> None:
    url = impatient(db_url)
    listed = run("registry", "list", "--format", "json", "--db", url)
    assert listed.exit_code == 0, listed.stderr
    assert "已有应用" in listed.stdout and "慢导入应用" not in listed.stdout
    shown = run("registry", "show", "已有应用", "--db", url)
    assert shown.exit_code == 0, shown.stderr
    for command in (["registry", "history"], ["registry", "adoptions"], ["runs"]):
        result = run(*command, "--db", url)
        assert result.exit_code == 0, (command, result.stderr)
        assert "locked" not in result.stderr
    assert holding_import.poll() is None  # the import was open the whole time

    assert holding_import.stdin is not None
    holding_import.stdin.write("go\n")
    holding_import.stdin.flush()
    out, err = holding_import.communicate(timeout=60)
    assert holding_import.returncode == 0 and "added 1" in out, err
    after = run("registry", "list", "--format", "json", "--db", url)
    assert "慢导入应用" in after.stdout


READ_COMMANDS = [
    ["registry", "list"],
    ["registry", "show", "学习通"],
    ["registry", "adoptions"],
    ["registry", "history"],
    ["registry", "export", "-"],
    ["registry", "edit", "学习通", "--note", "x"],
    ["registry", "revoke", "学习通"],
    ["registry", "restore", "学习通"],
    ["registry", "unadopt", "示例小学", "学习通"],
    ["registry", "add-signer", "学习通", "--sha256", "ab" * 32],
    ["runs"],
    ["scan", str(EXAMPLES / "submission.csv")],
]


@pytest.mark.parametrize("command", READ_COMMANDS, ids=lambda c: " ".join(c[:2]))
def test_a_named_database_that_does_not_exist_is_refused(
    tmp_path: Path, command: list[str]
) -> None:
    path = tmp_path / "typo" / "regsitry.db"
    extra = ["--out", str(tmp_path / "report")] if command[0] == "scan" else []
    result = run(*command, *extra, "--db", str(path))
    assert result.exit_code == 2
    line = one_line(result)
    assert f"{path} 处没有登记表数据库" in line and "registry import" in line
    assert not path.exists() and not path.parent.exists()
    assert not (tmp_path / "report").exists()


def test_appaudit_db_naming_a_missing_file_is_refused_too(tmp_path: Path) -> None:
    path = tmp_path / "missing.db"
    result = run("registry", "list", env={"APPAUDIT_DB": str(path)})
    assert result.exit_code == 2 and f"{path} 处没有登记表数据库" in one_line(result)
    assert not path.exists()


def test_commands_that_add_create_the_named_database(tmp_path: Path) -> None:
    added = tmp_path / "added.db"
    result = run("registry", "add", "--name", "学习通", "--kind", "APP", "--db", str(added))
    assert result.exit_code == 0, result.stderr
    assert added.is_file()
    adopted = run("registry", "adopt", "全区", "学习通", "--db", str(added))
    assert adopted.exit_code == 0, adopted.stderr

    imported = tmp_path / "imported.db"
    result = run("registry", "import", str(EXAMPLES / "registry.csv"), "--db", str(imported))
    assert result.exit_code == 0, result.stderr
    listed = run("registry", "list", "--format", "json", "--db", str(imported))
    assert listed.exit_code == 0 and "闽教高分" in listed.stdout


def test_a_dry_run_import_creates_nothing(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    result = run(
        "registry", "import", "--dry-run", str(EXAMPLES / "registry.csv"), "--db", str(path)
    )
    assert result.exit_code == 0, result.stderr
    assert "尚不存在：试运行按空登记表比较" in result.stderr and "将新增" in result.stderr
    assert not path.exists()


def test_the_default_database_is_still_created_on_first_use(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    result = run("registry", "list")
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / "xdg" / "appaudit" / "registry.db").exists()


@pytest.mark.parametrize(
    "url",
    [
        "~nosuchuser-appaudit/registry.db",
        "postgresql+psycopg://user:topsecret@127.0.0.1:notaport/none",
        "postgresql+psycopg://user:top@secret@127.0.0.1:1/none",
        "postgresql+psycopg://user@127.0.0.1:1/none?password=topsecret",
    ],
)
def test_bad_database_urls_are_one_line_without_credentials(url: str) -> None:
    result = run("registry", "add", "--name", "学习通", "--kind", "APP", "--db", url)
    assert result.exit_code == 2
    line = one_line(result)
    assert "secret" not in result.stderr and "secret" not in result.stdout, line


@pytest.mark.parametrize(
    ("text", "shown", "brief"),
    [
        ("postgresql+psycopg://u:pw1@h/db", "PostgreSQL db", "PostgreSQL db"),
        ("postgresql+psycopg://u:p@w1@h:5/db", "PostgreSQL db", "PostgreSQL db"),
        ("postgresql://u@h/db?password=pw1&sslmode=require", "PostgreSQL db", "PostgreSQL db"),
        ("sqlite:////srv/audit/registry.db", "SQLite /srv/audit/registry.db", "SQLite registry.db"),
        ("sqlite://", "SQLite :memory:", "SQLite :memory:"),
    ],
)
def test_describe_names_the_kind_and_the_database_only(text: str, shown: str, brief: str) -> None:
    """No password, user, host or port: a report that leaves the office names only which
    database (and a SQLite file only by its name)."""
    assert describe(text) == shown and describe(text, brief=True) == brief


def test_describe_hides_the_password_of_a_url_it_cannot_parse() -> None:
    described = describe("postgresql+psycopg://user:topsecret@127.0.0.1:notaport/none")
    assert "topsecret" not in described and "***" in described


def test_redact_hides_passwords_inside_messages() -> None:
    message = 'connection to "postgresql://u:pw1@h/db" failed; dsn host=h password=pw1 user=u'
    assert "pw1" not in redact(message)
    assert "host=h" in redact(message) and "u:***@h/db" in redact(message)


def test_a_read_only_connection_still_reads(tmp_path: Path) -> None:
    path = tmp_path / "registry.db"
    Registry(open_database(str(path))).add({"name": "学习通", "kind": "APP"})
    url = f"sqlite:///file:{path}?mode=ro&uri=true"
    result = run("registry", "list", "--format", "json", "--db", url)
    assert result.exit_code == 0, result.stderr
    assert "学习通" in result.stdout
    refused = run("registry", "add", "--name", "巧考", "--kind", "APP", "--db", url)
    assert refused.exit_code == 2 and "readonly" in one_line(refused).replace("-", "")


def test_a_scan_during_a_long_import_reads_and_reports(
    db_url: str, holding_import: subprocess.Popen[str], tmp_path: Path
) -> None:
    out = tmp_path / "report"
    # The import holds the write lock until this scan is over; the scan reads without
    # waiting, then gives up storing its run after 1 s, and still writes its report.
    scan = appaudit("scan", str(EXAMPLES / "submission.csv"), "--out", str(out),
                    "--db", impatient(db_url))  # fmt: skip
    assert scan.returncode == 1, scan.stderr
    assert "Traceback" not in scan.stderr
    (warning,) = [line for line in scan.stderr.splitlines() if "警告" in line]
    assert "本次核查未能存入" in warning and "lock" in warning
    doc = json.loads((out / "findings.json").read_text("utf-8"))
    assert doc["registry"]["entries"] == 1 and doc["run_id"] is None  # read before the import
    assert holding_import.poll() is None
