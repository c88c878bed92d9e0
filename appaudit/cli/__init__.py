"""The `appaudit` command line: parses, wires the library together, and picks exit codes.

Chinese by default, English with APPAUDIT_LANG=en (or a command's --lang en). Each command
imports the library it needs when it runs, and `appaudit <command>` builds only the part of
the command line that command belongs to, so that `--help` and the registry's everyday
commands start quickly. `app` is the whole command line.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Sequence
from functools import cache
from types import ModuleType
from typing import Annotated, Any

import typer

from appaudit.cli.common import AppauditGroup
from appaudit.messages import h

# A database driver that logs what it ignores while closing a failed batch would print it
# beside the one line the error handler gives; its errors reach the user through that.
logging.getLogger("psycopg").setLevel(logging.ERROR)


def _version(value: bool) -> None:
    if value:
        from appaudit import __version__

        typer.echo(f"appaudit {__version__}")
        raise typer.Exit()


def root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help=h("opt_version")),
    ] = False,
) -> None:
    pass


@cache
def _ledger_modules() -> tuple[ModuleType, ModuleType]:
    """The ledger's command modules, its group given `export` and `import` once."""
    from appaudit.cli import ledger_cmd, ledger_files_cmd

    ledger_files_cmd.extend(ledger_cmd.app)
    return ledger_cmd, ledger_files_cmd


def _registry(app: typer.Typer) -> None:
    from appaudit.cli import registry_cmd

    app.add_typer(registry_cmd.app, name="registry")


def _scan(app: typer.Typer) -> None:
    from appaudit.cli import scan_cmd

    scan_cmd.register(app)


def _apk(app: typer.Typer) -> None:
    from appaudit.cli import apk_cmd

    app.add_typer(apk_cmd.app, name="apk")


def _ledger(app: typer.Typer) -> None:
    _ledger_modules()[0].register(app)


def _notice(app: typer.Typer) -> None:
    _ledger_modules()[1].register(app)


_PARTS: list[tuple[Callable[[typer.Typer], None], tuple[str, ...]]] = [
    (_registry, ("registry",)),
    (_scan, ("scan", "rules", "runs")),
    (_apk, ("apk",)),
    (_ledger, ("ledger", "waive", "waivers")),
    (_notice, ("notice",)),
]
"""Each part of the command line, in the order `--help` lists them, and its commands."""


def build(command: str | None = None) -> typer.Typer:
    """The command line, or only the part that has `command` (all of it when no part has
    it: the root's help and errors name every command)."""
    app = typer.Typer(
        cls=AppauditGroup,
        name="appaudit",
        help=h("app"),
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        add_completion=False,
    )
    app.callback()(root)
    wanted = [add for add, names in _PARTS if command in names]
    for add in wanted or [add for add, _names in _PARTS]:
        add(app)
    return app


def _command(arguments: Sequence[str]) -> str | None:
    """The command named on the command line (the root takes no option before it but
    --help and --version, which want all of it)."""
    if not arguments or arguments[0].startswith("-"):
        return None
    return arguments[0]


@cache
def _whole() -> typer.Typer:
    return build()


def __getattr__(name: str) -> Any:
    if name == "app":
        return _whole()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def main() -> None:
    build(_command(sys.argv[1:]))()
