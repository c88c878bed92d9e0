"""The database: migrations on first use, models matching migrations, concurrent writers."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text
from tablefactory import write_csv

from registry.db import (
    SQLITE_PAGE_SIZE,
    DatabaseError,
    head_revision,
    open_database,
    resolve_url,
)
from registry.models import Base
from registry.service import Registry


def test_first_use_creates_the_schema_at_head(db_url: str) -> None:
    database = open_database(db_url)
    with database.engine.connect() as conn:
        assert MigrationContext.configure(conn).get_current_heads() == (head_revision(),)
        tables = set(inspect(conn).get_table_names())
    assert {
        "entries",
        "signers",
        "schools",
        "adoptions",
        "changes",
        "scan_runs",
        "apk_facts",
    } <= tables
    open_database(db_url).close()  # a second open finds it current and changes nothing
    database.close()


def test_models_and_migrations_agree(db_url: str) -> None:
    database = open_database(db_url)
    with database.engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    database.close()
    assert diffs == []


def test_a_database_newer_than_this_code_is_refused(sqlite_url: str) -> None:
    database = open_database(sqlite_url)
    with database.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    database.close()
    with pytest.raises(DatabaseError, match="newer than this appaudit knows"):
        open_database(sqlite_url)


def test_chinese_text_round_trips(db_url: str) -> None:
    registry = Registry(open_database(db_url), actor="测试员")
    registry.add({"name": "示例家校通〔试行〕", "kind": "APP", "note": "😀 全角（括号）"})
    (entry,) = registry.entries()
    assert entry.name == "示例家校通〔试行〕" and entry.note == "😀 全角(括号)"
    assert registry.history()[0].actor == "测试员"


def test_a_new_sqlite_file_has_large_pages_and_an_old_one_keeps_its_own(tmp_path: Path) -> None:
    """New files get 32 KiB pages (a scan's ledger writes are a quarter faster in them); a
    file made with SQLite's default pages is opened, read and written as it is."""
    new = tmp_path / "new.db"
    Registry(open_database(f"sqlite:///{new}")).add({"name": "示例家校通", "kind": "APP"})
    old = tmp_path / "old.db"
    with contextlib.closing(sqlite3.connect(old)) as connection:
        connection.execute("PRAGMA page_size = 4096")
        connection.execute("CREATE TABLE made_before (x)")
        connection.commit()
    registry = Registry(open_database(f"sqlite:///{old}"))
    registry.add({"name": "示例家校通", "kind": "APP"})
    assert [e.name for e in registry.entries()] == ["示例家校通"]
    for path, size in ((new, SQLITE_PAGE_SIZE), (old, 4096)):
        with contextlib.closing(sqlite3.connect(path)) as connection:
            assert connection.execute("PRAGMA page_size").fetchone() == (size,)
    assert SQLITE_PAGE_SIZE == 32768


def test_plain_paths_mean_sqlite(tmp_path: Path) -> None:
    assert resolve_url(str(tmp_path / "r.db")) == f"sqlite:///{tmp_path / 'r.db'}"


def _rows(prefix: str, count: int) -> list[list[str]]:
    return [["名称", "类型", "包名"]] + [
        [f"{prefix}应用{i}", "APP", f"org.example.{prefix}.app{i}"] for i in range(count)
    ]


def test_two_processes_importing_at_once_lose_nothing(db_url: str, tmp_path: Path) -> None:
    open_database(db_url).close()
    files = [write_csv(tmp_path / f"{p}.csv", _rows(p, 150), "gb18030") for p in ("a", "b")]
    env = {**os.environ, "APPAUDIT_DB": db_url}
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "appaudit", "registry", "import", str(f)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for f in files
    ]
    for proc in procs:
        _out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        assert "新增 150，" in err
    registry = Registry(open_database(db_url))
    names = {e.name for e in registry.entries()}
    assert len(names) == 300 and {"a应用0", "b应用149"} <= names
    assert len([c for c in registry.history() if c.action == "add"]) == 300


def test_two_processes_adding_the_same_entries_make_one_each(db_url: str, tmp_path: Path) -> None:
    open_database(db_url).close()
    path = write_csv(tmp_path / "same.csv", _rows("same", 80))
    env = {**os.environ, "APPAUDIT_DB": db_url}
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "appaudit", "registry", "import", str(path)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [proc.communicate(timeout=120)[1] for proc in procs]
    assert all(proc.returncode == 0 for proc in procs), outputs
    assert sorted("新增 80，" in o for o in outputs) == [False, True]
    assert any("未变 80，" in o for o in outputs)
    assert len(Registry(open_database(db_url)).entries()) == 80
