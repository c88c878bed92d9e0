"""The command line as a whole: help for every command, documented in the README."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer.main
from typer.testing import CliRunner

import appaudit
from appaudit.cli import app

README = Path(__file__).resolve().parents[2] / "README.md"


def all_commands() -> list[tuple[str, Any]]:
    root = typer.main.get_command(app)
    found: list[tuple[str, Any]] = []

    def walk(prefix: str, command: Any) -> None:
        if hasattr(command, "commands"):  # a group
            for name, sub in command.commands.items():
                walk(f"{prefix} {name}".strip(), sub)
        else:
            found.append((prefix, command))

    walk("", root)
    return found


def test_there_are_commands() -> None:
    names = [name for name, _ in all_commands()]
    assert "registry import" in names and "registry history" in names


@pytest.mark.parametrize("name", [name for name, _ in all_commands()])
def test_every_command_has_help_and_is_in_the_readme(name: str) -> None:
    command = dict(all_commands())[name]
    assert (command.help or "").strip(), f"{name} has no help text"
    result = CliRunner().invoke(app, [*name.split(), "--help"])
    assert result.exit_code == 0
    assert f"appaudit {name}" in README.read_text("utf-8"), (
        f"README does not mention `appaudit {name}`"
    )


def test_python_dash_m_and_version() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "appaudit", "--version"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0 and result.stdout.startswith("appaudit ")


@pytest.mark.skipif(not os.environ.get("APPAUDIT_TEST_INSTALLED"), reason="only checked in CI")
def test_ci_tests_the_installed_package_not_the_source_tree() -> None:
    # A non-editable install proves that templates, catalogues and migrations are package data.
    assert "site-packages" in Path(appaudit.__file__).parts
