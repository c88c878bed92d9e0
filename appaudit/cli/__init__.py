"""The `appaudit` command line: parses, wires the library together, and picks exit codes."""

from __future__ import annotations

import logging
from typing import Annotated

import typer

from appaudit import __version__
from appaudit.cli import apk_cmd, registry_cmd, scan_cmd
from appaudit.cli.common import AppauditGroup

app = typer.Typer(
    cls=AppauditGroup,
    name="appaudit",
    help="Audit the apps and accounts schools require of parents, students and teachers "
    "against the district's registry of filed and adopted education apps.",
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


def _version(value: bool) -> None:
    if value:
        typer.echo(f"appaudit {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = False,
) -> None:
    """appaudit: 学校要求使用的APP、小程序、公众号与备案、选用登记的核对工具."""


def main() -> None:
    app()
