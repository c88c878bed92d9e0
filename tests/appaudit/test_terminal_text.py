"""What reaches the terminal and the registry's exports: no escape sequence, no crash."""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

import pytest
from openpyxl import load_workbook
from typer.testing import CliRunner, Result

from appaudit.cli import app
from appaudit.cli.common import SAY_LIMIT, format_table
from registry.db import open_database

CLEAR_SCREEN = "\x1b[2J\x1b[H"
EVIL = f"家校通{CLEAR_SCREEN}\x01\u202eexe.txt\x9b31m"
EVIL_SHOWN = "家校通<U+001B>[2J<U+001B>[H<U+0001><U+202E>exe.txt<U+009B>31m"


def cli(db: str, *args: str) -> Result:
    return CliRunner().invoke(app, [*args, "--db", db])


def ok(db: str, *args: str) -> Result:
    result = cli(db, *args)
    assert result.exit_code == 0, result.stderr
    return result


def test_format_table_shows_control_characters_and_keeps_columns() -> None:
    table = format_table(["name", "id"], [[EVIL, "1"], ["a\tb\nc\rd", "2"]], max_width=80)
    assert "\x1b" not in table and "\u202e" not in table and "\x9b" not in table
    lines = table.splitlines()
    assert lines[2].startswith(EVIL_SHOWN)
    assert lines[3].startswith("a b c d")
    assert len(lines) == 4  # line breaks inside a cell never start a new line


@pytest.fixture
def evil_registry(db_url: str) -> str:
    ok(db_url, "registry", "add", "--name", EVIL, "--kind", "APP", "--package", "cn.edu.evil",
       "--filing-no", "教APP备9900003号", "--category", "教学", "--note", "备注\x07\x1b]0;x\x07")  # fmt: skip
    return db_url


def test_registry_list_and_show_pass_no_escape_sequence(evil_registry: str) -> None:
    for args in (("registry", "list"), ("registry", "show", "cn.edu.evil")):
        result = ok(evil_registry, *args)
        for stream in (result.stdout, result.stderr):
            assert "\x1b" not in stream and "\x07" not in stream and "\u202e" not in stream
        # The list cuts the name at its column's width; `show` prints it whole.
        assert (EVIL_SHOWN[:30] if args[1] == "list" else EVIL_SHOWN) in result.stdout
    listed = ok(evil_registry, "registry", "list", "--format", "json")
    assert "\x1b" not in listed.stdout and "\u202e" not in listed.stdout
    assert json.loads(listed.stdout)[0]["name"] == EVIL  # JSON escapes them: the data is whole


def test_registry_export_xlsx_csv_and_json_with_control_characters(
    evil_registry: str, tmp_path: Path
) -> None:
    ok(evil_registry, "registry", "export", str(tmp_path / "backup.xlsx"))
    rows = list(load_workbook(tmp_path / "backup.xlsx").worksheets[0].iter_rows(values_only=True))
    assert rows[1][0] == "家校通[2J[Hexe.txt31m"
    ok(evil_registry, "registry", "export", str(tmp_path / "backup.csv"))
    text = (tmp_path / "backup.csv").read_text("utf-8-sig")
    assert next(csv.reader(io.StringIO(text[text.index("\n") + 1 :])))[0] == EVIL_SHOWN
    ok(evil_registry, "registry", "export", str(tmp_path / "backup.json"))
    assert json.loads((tmp_path / "backup.json").read_text("utf-8"))[0]["name"] == EVIL


def test_long_messages_are_cut_on_the_terminal(sqlite_url: str) -> None:
    open_database(sqlite_url).close()  # an existing, empty registry: the name is not in it
    result = cli(sqlite_url, "registry", "show", "长" * 5000)
    assert result.exit_code == 2
    line = result.stderr.strip()
    assert "\n" not in line and len(line) < SAY_LIMIT + 40
    assert line.endswith("字）")


def test_file_names_that_are_not_utf8_in_cli_messages(sqlite_url: str, tmp_path: Path) -> None:
    name = os.fsdecode(b"registry-\xff\xfe.csv")
    result = cli(sqlite_url, "registry", "import", str(tmp_path / name))
    assert result.exit_code == 2
    assert "registry-\ufffd\ufffd.csv" in result.stderr and "Traceback" not in result.stderr
