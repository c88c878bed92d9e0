"""The command line starts without loading what its command does not need: `--help` and
the registry's everyday commands never load the APK reader, the spreadsheet library or the
report templates (`python benchmarks/bench_startup.py` measures the time)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import typer
import typer.main
from typer.core import TyperGroup

from appaudit import cli
from registry.db import open_database

REPO = Path(__file__).resolve().parents[2]
HEAVY = ("androguard", "openpyxl", "jinja2", "cryptography", "reports", "pydantic")
"""`pydantic` too: typer checks values with it, our plain options are read without it."""

PROBE = """
import json, sys
args = json.loads(sys.argv[1])
if args is not None:
    sys.argv = ["appaudit", *args]
    from appaudit.cli import main
    try:
        main()
    except SystemExit:
        pass
else:
    import appaudit.cli
print(json.dumps(sorted(sys.modules)), file=sys.stderr)
"""


def modules_after(args: list[str] | None) -> set[str]:
    """The modules a fresh process has imported after running `appaudit ARGS` (or after
    only importing the command line, for None)."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(args)],
        capture_output=True, text=True, cwd=REPO, check=True, timeout=60,
    )  # fmt: skip
    return set(json.loads(done.stderr.strip().splitlines()[-1]))


def loaded(args: list[str] | None) -> set[str]:
    """The top-level packages of `modules_after(args)`."""
    return {name.split(".")[0] for name in modules_after(args)}


@pytest.mark.parametrize(
    "args",
    [
        None,
        ["--help"],
        ["registry", "--help"],
        ["scan", "--help"],
        ["--bogus"],
        ["scan", "-j", "x"],
    ],
)
def test_help_loads_no_heavy_library_and_no_database(args: list[str] | None) -> None:
    modules = loaded(args)
    assert not modules & {*HEAVY, "sqlalchemy", "alembic"}, sorted(modules & set(HEAVY))
    assert "appaudit" in modules


def test_registry_list_loads_no_heavy_library_nor_alembic(tmp_path: Path) -> None:
    path = tmp_path / "registry.db"
    open_database(str(path)).close()  # migrated already: the usual case
    everything = modules_after(["registry", "list", "--db", str(path)])
    modules = {name.split(".")[0] for name in everything}
    assert "sqlalchemy" in modules  # it did read the registry
    assert not modules & {*HEAVY, "alembic"}, sorted(modules & {*HEAVY, "alembic"})
    # Nor SQLAlchemy's ORM, nor the other commands' modules.
    others = {"sqlalchemy.orm", "registry.models", "registry.service", "appaudit.cli.scan_cmd",
              "appaudit.cli.apk_cmd", "appaudit.cli.ledger_cmd"}  # fmt: skip
    assert not everything & others, sorted(everything & others)


def command_names(app: typer.Typer) -> set[str]:
    group = typer.main.get_command(app)
    assert isinstance(group, TyperGroup)
    return set(group.commands)


def test_each_command_is_built_by_its_part_and_all_by_the_rest() -> None:
    """`main` builds only the part of the command line the command belongs to; without a
    command (or with one no part has) it builds all of it, as `app` is."""
    everything = command_names(cli.app)
    assert everything == command_names(cli.build()) == command_names(cli.build("registr"))
    assert everything == {"scan", "rules", "runs", "waive", "notice", "registry", "apk",
                          "ledger", "waivers"}  # fmt: skip
    for name in everything:
        assert name in command_names(cli.build(name))
    assert command_names(cli.build("registry")) == {"registry"}
    ledger = typer.main.get_command(cli.build("ledger"))
    assert isinstance(ledger, TyperGroup)
    group = ledger.commands["ledger"]
    assert isinstance(group, TyperGroup)
    assert {"export", "import", "list"} <= set(group.commands)
