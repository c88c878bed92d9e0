"""What every command shares: options, error handling, and plain-text output."""

from __future__ import annotations

import json
import signal
import sys
import threading
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from types import FrameType
from typing import Annotated, Any, NoReturn

import typer
from sqlalchemy.exc import SQLAlchemyError
from typer.core import TyperGroup

from appaudit.errors import AppauditError
from registry.db import first_line
from scanner.safetext import clip, json_safe, shown, shown_inline

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_ERROR = 2
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143

DbOption = Annotated[
    str | None,
    typer.Option(
        "--db",
        envvar="APPAUDIT_DB",
        help="Registry database: an SQLAlchemy URL or a SQLite file path "
        "(default: registry.db in the user data folder).",
        show_default=False,
    ),
]
ActorOption = Annotated[
    str | None,
    typer.Option("--actor", help="Who makes the change, for the change log (default: OS user)."),
]
ReasonOption = Annotated[str, typer.Option("--reason", help="Why, for the change log.")]


class UserError(AppauditError):
    """A usage problem found by the CLI itself."""


def error_line(error: BaseException) -> str:
    if isinstance(error, SQLAlchemyError):
        return f"database error: {first_line(error)}"
    if isinstance(error, OSError):
        where = f" {error.filename}" if error.filename else ""
        return f"{error.strerror or error}{':' if where else ''}{where}"
    return str(error)


# The domain's errors mean "the input or the environment is wrong", not "appaudit is broken".
_CAUGHT: tuple[type[BaseException], ...] = (AppauditError, SQLAlchemyError, OSError)


class Terminated(BaseException):
    """SIGTERM arrived: unwinds like Ctrl-C, so that partial files and folders are removed."""


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise Terminated()


@contextmanager
def _sigterm_unwinds() -> Iterator[None]:
    """While a command runs, SIGTERM raises `Terminated` instead of ending the process
    where it stands (which would leave partial downloads and report folders behind)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


class AppauditGroup(TyperGroup):
    """Catches domain errors once, for every command: one line on stderr and exit code 2."""

    def invoke(self, ctx: Any) -> Any:
        try:
            with _sigterm_unwinds():
                return super().invoke(ctx)
        except _CAUGHT as error:
            say(f"appaudit: error: {error_line(error)}")
            raise typer.Exit(EXIT_ERROR) from None
        except KeyboardInterrupt:
            typer.echo("appaudit: interrupted", err=True)
            raise typer.Exit(EXIT_INTERRUPTED) from None
        except Terminated:
            typer.echo("appaudit: terminated", err=True)
            raise typer.Exit(EXIT_TERMINATED) from None


def fail(message: str) -> NoReturn:
    raise UserError(message)


SAY_LIMIT = 2000
"""Longest message shown on the terminal; a longer one (a pasted cell) is cut with a mark."""


def say(message: str) -> None:
    """A line for the human reading the terminal: stderr, so stdout stays machine output.

    No control or escape sequence reaches the terminal (they are shown as <U+001B> …),
    undecodable bytes of file names become �, and a very long message is cut with a mark.
    """
    typer.echo(clip(shown(message), SAY_LIMIT, " … ({total} characters)"), err=True)


def emit(text: str) -> None:
    """Text output (tables, CSV, listings) to stdout, shown as `say` shows it, never cut."""
    _write_stdout(shown(text))


def emit_json(data: Any) -> None:
    """JSON to stdout; invisible characters inside strings written as \\u escapes."""
    _write_stdout(json_safe(json.dumps(data, ensure_ascii=False, indent=2, default=str)))


def _write_stdout(text: str) -> None:
    sys.stdout.write(text if text.endswith("\n") else text + "\n")


def choice(value: str | None, allowed: Sequence[str], option: str) -> str | None:
    if value is not None and value not in allowed:
        fail(f"{option} must be one of {', '.join(allowed)}, not {value!r}")
    return value


def display_width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def format_table(header: Sequence[str], rows: Sequence[Sequence[str]], max_width: int = 40) -> str:
    """A plain aligned table that counts CJK characters as two columns and never wraps."""

    def fit(text: str) -> str:
        text = shown_inline(text)
        if display_width(text) <= max_width:
            return text
        out = ""
        for char in text:
            if display_width(out + char) > max_width - 1:
                return out + "…"
            out += char
        return out

    table = [[fit(c) for c in header], *[[fit(str(c)) for c in row] for row in rows]]
    widths = [max(display_width(r[i]) for r in table) for i in range(len(header))]
    lines = []
    for n, row in enumerate(table):
        cells = [c + " " * (widths[i] - display_width(c)) for i, c in enumerate(row)]
        lines.append("  ".join(cells).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


Handler = Callable[..., Any]
