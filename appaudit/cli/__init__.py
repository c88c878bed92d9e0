"""The `appaudit` command line: parses, wires the library together, and picks exit codes.

Chinese by default, English with APPAUDIT_LANG=en (or a command's --lang en). Each command
imports the library it needs when it runs, so that `--help` and the registry's everyday
commands start quickly.
"""

from __future__ import annotations

import logging
from typing import Annotated

import typer

from appaudit.cli import apk_cmd, ledger_cmd, ledger_files_cmd, registry_cmd, scan_cmd
from appaudit.cli.common import AppauditGroup
from appaudit.messages import h

app = typer.Typer(
    cls=AppauditGroup,
    name="appaudit",
    help=h("app"),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
# A database driver that logs what it ignores while closing a failed batch would print it
# beside the one line the error handler gives; its errors reach the user through that.
logging.getLogger("psycopg").setLevel(logging.ERROR)

app.add_typer(registry_cmd.app, name="registry")
scan_cmd.register(app)
app.add_typer(apk_cmd.app, name="apk")
ledger_cmd.register(app)
ledger_files_cmd.register(ledger_cmd.app, app)


def _version(value: bool) -> None:
    if value:
        from appaudit import __version__

        typer.echo(f"appaudit {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help=h("opt_version")),
    ] = False,
) -> None:
    pass


def main() -> None:
    app()
