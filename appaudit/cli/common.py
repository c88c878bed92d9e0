"""What every command shares: options, the language, error handling, and plain-text output."""

from __future__ import annotations

import errno
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
from typer.core import TyperCommand, TyperGroup

from appaudit.cli import usage
from appaudit.errors import LANGUAGES, AppauditError, Message
from appaudit.messages import current, env_lang, h, m, t, use
from scanner.safetext import clip, json_safe, shown, shown_inline

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_ERROR = 2
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143

DbOption = Annotated[
    str | None,
    typer.Option("--db", envvar="APPAUDIT_DB", help=h("db"), show_default=False),
]
ActorOption = Annotated[str | None, typer.Option("--actor", help=h("actor"))]
ReasonOption = Annotated[str, typer.Option("--reason", help=h("reason"))]
LangOption = Annotated[str | None, typer.Option("--lang", help=h("lang"), show_default=False)]
"""The language of what a command says (and writes); default: $APPAUDIT_LANG, else zh."""


class UserError(AppauditError):
    """A usage problem found by the CLI itself."""


def speak(lang: str | None) -> str:
    """Take a command's `--lang` (None: $APPAUDIT_LANG, else Chinese) and speak it."""
    chosen = choice(lang, LANGUAGES, "--lang") or env_lang()
    use(chosen)
    return chosen


# What OSError's strerror says in English, for the errors a user meets with files.
_OS_ERRORS = ("ENOENT", "EACCES", "EPERM", "ENOSPC", "EROFS", "EISDIR", "ENOTDIR", "EEXIST",
              "ENAMETOOLONG", "EBUSY", "EDQUOT")  # fmt: skip


def error_message(error: BaseException) -> Message:
    """A caught error as one sentence in every language."""
    if isinstance(error, AppauditError):
        return error.message
    if isinstance(error, OSError):
        name = errno.errorcode.get(error.errno or 0, "")
        reason = m(f"os_{name}") if name in _OS_ERRORS else Message(error.strerror or str(error))
        if error.filename:
            return m("os_error_file", reason=reason, file=shown(str(error.filename)))
        return reason
    if _is_database_error(error):
        from registry.db import first_line

        return m("database_error", reason=first_line(error))
    return Message(str(error))


def error_line(error: BaseException) -> str:
    return error_message(error).text(current())


def _is_database_error(error: BaseException) -> bool:
    # sqlalchemy is imported only by the commands that open a database: a command that did
    # not cannot have raised one of its errors.
    exc = sys.modules.get("sqlalchemy.exc")
    return exc is not None and isinstance(error, exc.SQLAlchemyError)


def _caught(error: Exception) -> bool:
    """The domain's errors mean "the input or the environment is wrong", not "appaudit is
    broken": one line and exit code 2; anything else is a bug and keeps its traceback. A
    closed pipe (`appaudit … --help | head`) is left to typer, which ends quietly."""
    if isinstance(error, OSError) and error.errno == errno.EPIPE:
        return False
    return isinstance(error, AppauditError | OSError) or _is_database_error(error)


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


def _localised_help_option(option: Any) -> Any:
    if option is not None:
        option.help = h("opt_help")
        option.metavar = ""  # a flag takes no value: nothing to name
    return option


class _Localised:
    """What a command and a group share: help, usage line and usage mistakes in the help's
    language, and values read without pydantic (see `usage`)."""

    def get_help_option(self, ctx: Any) -> Any:
        return _localised_help_option(super().get_help_option(ctx))  # type: ignore[misc]

    def format_help(self, ctx: Any, formatter: Any) -> None:
        usage.localise_rich_words()
        usage.name_values(self.get_params(ctx))  # type: ignore[attr-defined]
        super().format_help(ctx, formatter)  # type: ignore[misc]

    def format_usage(self, ctx: Any, formatter: Any) -> None:
        usage.name_values(self.get_params(ctx))  # type: ignore[attr-defined]
        pieces = " ".join(self.collect_usage_pieces(ctx))  # type: ignore[attr-defined]
        formatter.write_usage(ctx.command_path, pieces, prefix=h("usage_prefix"))

    def make_context(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().make_context(*args, **kwargs)  # type: ignore[misc]
        except usage.UsageError as error:
            raise usage.localised(error) from None

    def parse_args(self, ctx: Any, args: list[str]) -> Any:
        params = self.get_params(ctx)  # type: ignore[attr-defined]
        usage.read_plainly(params)
        usage.name_values(params)
        return super().parse_args(ctx, args)  # type: ignore[misc]


class AppauditCommand(_Localised, TyperCommand):
    """A command whose help screen speaks the language of its help text."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.options_metavar = h("usage_options")


class AppauditGroup(_Localised, TyperGroup):
    """Catches domain errors once, for every command: one line on stderr and exit code 2."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.options_metavar = h("usage_options")
        self.subcommand_metavar = h("usage_command")

    def invoke(self, ctx: Any) -> Any:
        use(None)  # each run starts in the environment's language, until a --lang says more
        try:
            with _sigterm_unwinds():
                return super().invoke(ctx)
        except usage.UsageError as error:
            raise usage.localised(error) from None
        except Exception as error:
            if not _caught(error):
                raise
            say(t("error", message=error_line(error)))
            raise typer.Exit(EXIT_ERROR) from None
        except KeyboardInterrupt:
            typer.echo(t("interrupted"), err=True)
            raise typer.Exit(EXIT_INTERRUPTED) from None
        except Terminated:
            typer.echo(t("terminated"), err=True)
            raise typer.Exit(EXIT_TERMINATED) from None


def fail(message: str | Message) -> NoReturn:
    raise UserError(message)


SAY_LIMIT = 2000
"""Longest message shown on the terminal; a longer one (a pasted cell) is cut with a mark."""


def say(message: str) -> None:
    """A line for the human reading the terminal: stderr, so stdout stays machine output.

    No control or escape sequence reaches the terminal (they are shown as <U+001B> …),
    undecodable bytes of file names become �, and a very long message is cut with a mark.
    """
    typer.echo(clip(shown(message), SAY_LIMIT, t("cut_mark")), err=True)


LISTED = 20
"""Lines of an import listed one by one before the rest are only counted (see --verbose)."""


def say_listed(lines: Sequence[str], verbose: bool) -> None:
    """An import's lines: the first `LISTED` of them, or all with --verbose, then how many
    more there are."""
    shown = lines if verbose else lines[:LISTED]
    for line in shown:
        say(line)
    if len(lines) > len(shown):
        say(t("import_more", count=len(lines) - len(shown)))


def warn(message: str) -> None:
    """A warning line: the run goes on, and its outcome stands."""
    say(t("warning", message=message))


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
        fail(m("bad_choice", option=option, allowed=", ".join(allowed), value=value))
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


def quoted_list(names: Sequence[str], lang: str) -> str:
    """Names quoted and listed as the language writes them: “填报说明”、“选项”."""
    quoted = "“{}”" if lang == "zh" else "'{}'"
    return t("list_sep").join(quoted.format(name) for name in names)


def headers(*keys: str) -> list[str]:
    """Column headers of a table, in the current language."""
    return [t(f"col_{key}") for key in keys]


Handler = Callable[..., Any]
