"""The command line's own grammar in the reader's language: the usage line, the kind of value
each option takes, and the mistakes found before a command runs (an unknown option, a
missing argument, a number that is not one).

Values are read here too. Typer checks them through pydantic, which costs a tenth of a
second of every start; our parameters are plain text, paths, numbers and flags, so they are
read directly, and a value that does not fit is refused in the reader's language.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from difflib import get_close_matches
from pathlib import Path
from typing import Any, get_args, get_origin

from appaudit.messages import catalogue, env_lang, h, m

try:  # typer that carries its own click (0.2x on)
    from typer._click import exceptions as click_errors
except ImportError:  # pragma: no cover - older typer runs on click itself
    from click import exceptions as click_errors  # type: ignore[no-redef]

try:
    from typer._coercion import RuntimeParam, build_runtime_param
except ImportError:  # pragma: no cover - a typer that checks values without pydantic
    RuntimeParam = None  # type: ignore[assignment,misc]

UsageError = click_errors.UsageError

_PLAIN = (str, Path, int, float, bool)
_TYPE_WORDS = {str: "text", Path: "path", int: "whole", float: "number", bool: ""}


def _plain_type(param: Any) -> tuple[type, bool] | None:
    """The plain type a parameter takes (and whether it takes several), or None when typer
    must read it (choices, files, parsers, paths that must exist …)."""
    descriptor = getattr(param, "type_descriptor", None)
    if descriptor is None:
        return None
    info = descriptor.parameter_info
    annotation = descriptor.annotation
    several = get_origin(annotation) is list
    if several:
        (annotation,) = get_args(annotation)
    if annotation not in _PLAIN or descriptor.file_annotation is not None or info.parser:
        return None
    if annotation is Path and (info.exists or info.resolve_path or info.writable
                               or not info.file_okay or not info.dir_okay):  # fmt: skip
        return None
    if getattr(info, "clamp", False):
        return None
    return annotation, several


if RuntimeParam is not None:

    @dataclass(frozen=True)
    class _PlainValue(RuntimeParam):
        """Reads a text, path or number the way `int()`, `float()` and `Path()` do."""

        plain: type
        several: bool

        def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
            if self.several:
                return [self._one(item, param, ctx) for item in value]
            return self._one(value, param, ctx)

        def _one(self, value: Any, param: Any, ctx: Any) -> Any:
            if self.plain is bool:
                if isinstance(value, bool):
                    return value
                # A flag's value spelled out (from the environment): typer's own reading.
                return build_runtime_param(param.type_descriptor)._coerce_value(value, param, ctx)
            if self.plain is str:
                return str(value)
            if self.plain is Path:
                return value if isinstance(value, Path) else Path(value)
            try:
                number = self.plain(value)
            except (TypeError, ValueError):
                raise _bad_value(param, ctx, value, self.plain) from None
            low, high = self.parameter_info.min, self.parameter_info.max
            if (low is not None and number < low) or (high is not None and number > high):
                raise _bad_value(param, ctx, value, self.plain)
            return number


def read_plainly(params: list[Any]) -> None:
    """Let the parameters of plain types be read without pydantic (see the module's note)."""
    if RuntimeParam is None:
        return
    for param in params:
        if getattr(param, "_runtime_param", False) is not None:
            continue  # already read once, or a typer that works otherwise
        found = _plain_type(param)
        if found is not None:
            descriptor = param.type_descriptor
            param._runtime_param = _PlainValue(
                descriptor.parameter_info, descriptor.annotation, *found
            )


def _bad_value(param: Any, ctx: Any, value: Any, plain: type) -> Any:
    low, high = param.type_descriptor.parameter_info.min, param.type_descriptor.parameter_info.max
    kind = _TYPE_WORDS[plain]
    if low is not None and high is not None:
        expected = m(f"usage_{kind}_between", low=low, high=high)
    elif low is not None:
        expected = m(f"usage_{kind}_at_least", low=low)
    elif high is not None:
        expected = m(f"usage_{kind}_at_most", high=high)
    else:
        expected = m(f"usage_{kind}")
    text = m("usage_bad_value", param=_hint(param), value=value, expected=expected)
    return LocalisedUsageError(text.text(env_lang()), ctx)


# The mark typer shows beside an option for the kind of value it takes.
def _metavar(param: Any) -> str | None:
    found = _plain_type(param)
    if getattr(param, "is_flag", False) or _is_bool(param):
        return ""
    if found is None:
        return None
    if getattr(param, "param_type_name", "") == "argument":
        named = f"metavar_{param.name}"
        if named in catalogue()["help"]:
            return h(named)
        return h("metavar_file" if found[0] is Path else "metavar_text")
    return h(f"metavar_{_TYPE_WORDS[found[0]]}")


def _is_bool(param: Any) -> bool:
    descriptor = getattr(param, "type_descriptor", None)
    return descriptor is not None and descriptor.annotation is bool


def name_values(params: list[Any]) -> None:
    """Name the kind of value of every option in the help's language (文本, 路径, 整数 …;
    nothing for a flag), and every argument by what it is (文件, 条目 …)."""
    for param in params:
        if param is None or getattr(param, "_named", False):
            continue
        param._named = True
        if getattr(param, "param_type_name", "") == "argument":
            # An argument's name already says what it takes; typer would add its type.
            param.display_type_rich = lambda ctx: None
        if param.metavar is None:
            param.metavar = _metavar(param)


def localise_rich_words() -> None:
    """The words typer's help and error screens print around ours, in the help's language."""
    from typer import rich_utils

    rich_utils.ARGUMENTS_PANEL_TITLE = h("panel_arguments")
    rich_utils.OPTIONS_PANEL_TITLE = h("panel_options")
    rich_utils.COMMANDS_PANEL_TITLE = h("panel_commands")
    rich_utils.ERRORS_PANEL_TITLE = h("panel_error")
    rich_utils.DEFAULT_STRING = h("help_default")
    rich_utils.ENVVAR_STRING = h("help_envvar")
    rich_utils.REQUIRED_LONG_STRING = h("help_required")
    rich_utils.DEPRECATED_STRING = h("help_deprecated")
    rich_utils.ABORTED_TEXT = h("aborted")
    # Rich markup: the command is shown in colour, as typer shows it.
    rich_utils.RICH_HELP = h("usage_try_help", command="[blue]'{command_path} {help_option}'[/]")


class LocalisedUsageError(UsageError):
    """A usage mistake already worded in the reader's language."""

    def __init__(self, message: str, ctx: Any = None) -> None:
        localise_rich_words()
        super().__init__(message, ctx)

    def show(self, file: Any = None) -> None:  # without rich: the same words, plain
        import typer

        if self.ctx is not None:
            typer.echo(self.ctx.get_usage(), err=True)
            help_option = self.ctx.help_option_names[0]
            command = f"'{self.ctx.command_path} {help_option}'"
            typer.echo(h("usage_try_help", command=command), err=True)
        typer.echo(m("error", message=self.format_message()).text(env_lang()), err=True)


_EXTRA_ARGS = re.compile(r"Got unexpected extra argument(?:s|\(s\))? \((?P<args>.*)\)$", re.S)
_NO_COMMAND = re.compile(r"No such command (?P<name>.+?)\.(?: Did you mean .*)?$", re.S)


def localised(error: Any) -> Any:
    """The same mistake in the reader's language (the error itself when it is already, or
    is the help screen that `no_args_is_help` shows)."""
    if isinstance(error, LocalisedUsageError | click_errors.NoArgsIsHelpError):
        return error
    localise_rich_words()  # the frame around a mistake we have no words for, at least
    ctx = error.ctx
    text = _words(error, ctx)
    return error if text is None else LocalisedUsageError(text.text(env_lang()), ctx)


def _words(error: Any, ctx: Any) -> Any:
    if isinstance(error, click_errors.NoSuchOption):
        possible = sorted(error.possibilities or ())
        if not possible:
            possible = get_close_matches(error.option_name, _option_names(ctx))
        if possible:
            return m("usage_no_such_option_maybe", option=error.option_name,
                     possible=" ".join(possible))  # fmt: skip
        return m("usage_no_such_option", option=error.option_name)
    if isinstance(error, click_errors.MissingParameter):
        param = error.param
        if param is None:
            return None
        kind = "option" if param.param_type_name == "option" else "argument"
        return m(f"usage_missing_{kind}", param=_hint(param))
    if isinstance(error, click_errors.BadParameter):
        if error.param is None:
            return None
        return m("usage_bad_value_plain", param=_hint(error.param), reason=error.message)
    if isinstance(error, click_errors.BadOptionUsage):
        key = "does not take" in error.message and "usage_takes_no_value"
        return m(key or "usage_needs_value", option=error.option_name)
    message = str(error.message)
    if message.startswith("Missing command"):
        return m("usage_missing_command")
    found = _EXTRA_ARGS.match(message)
    if found:
        return m("usage_extra_arguments", args=found["args"])
    found = _NO_COMMAND.match(message)
    if found:
        name = found["name"].strip("'\"")
        commands = list(getattr(ctx.command, "commands", {})) if ctx else []
        close = get_close_matches(name, commands)
        if close:
            return m("usage_no_such_command_maybe", name=name, possible=" ".join(close))
        return m("usage_no_such_command", name=name)
    return None


def _option_names(ctx: Any) -> list[str]:
    if ctx is None:
        return []
    return [opt for p in ctx.command.get_params(ctx) for opt in getattr(p, "opts", ())]


def _hint(param: Any) -> str:
    if param.param_type_name == "option":
        return " / ".join(param.opts)
    return str(param.metavar or param.name)
