"""The command line starts without loading what its command does not need: `--help` and
the registry's everyday commands never load the APK reader, the spreadsheet library or the
report templates (`python benchmarks/bench_startup.py` measures the time)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

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
print(json.dumps(sorted({name.split(".")[0] for name in sys.modules})), file=sys.stderr)
"""


def loaded(args: list[str] | None) -> set[str]:
    """The top-level packages a fresh process has imported after running `appaudit ARGS`
    (or after only importing the command line, for None)."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(args)],
        capture_output=True, text=True, cwd=REPO, check=True, timeout=60,
    )  # fmt: skip
    return set(json.loads(done.stderr.strip().splitlines()[-1]))


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
    modules = loaded(["registry", "list", "--db", str(path)])
    assert "sqlalchemy" in modules  # it did read the registry
    assert not modules & {*HEAVY, "alembic"}, sorted(modules & {*HEAVY, "alembic"})
