"""The command line's words in Chinese and English, from one catalogue (`data/messages.toml`).

Chinese by default; `APPAUDIT_LANG=en` (or `--lang en` where a command has it) for English.
Help text is chosen when the command line is built, from the environment alone: `--lang`
is not known yet when `--help` is shown.
"""

from __future__ import annotations

import os
import tomllib
from contextvars import ContextVar
from functools import cache
from pathlib import Path
from typing import Any

from appaudit.errors import LANGUAGES, Message, phrase

ENV_VAR = "APPAUDIT_LANG"
CATALOGUE = Path(__file__).with_name("data") / "messages.toml"
SECTIONS = ("help", "text")
"""`help`: help text of commands and options; `text`: everything else the CLI says."""

_current: ContextVar[str] = ContextVar("appaudit_lang", default="")


def env_lang() -> str:
    """The language $APPAUDIT_LANG asks for (`en`, `en_US.UTF-8` … are English), else Chinese."""
    value = os.environ.get(ENV_VAR, "").strip().lower()
    return "en" if value.startswith("en") else LANGUAGES[0]


def current() -> str:
    """The language the CLI speaks in now: the command's `--lang`, else the environment's."""
    return _current.get() or env_lang()


def use(lang: str | None) -> None:
    """Speak `lang` from now on (None: the environment's language again)."""
    _current.set(lang or "")


@cache
def catalogue() -> dict[str, dict[str, dict[str, str]]]:
    data: dict[str, Any] = tomllib.loads(CATALOGUE.read_text("utf-8"))
    return {section: data[section] for section in SECTIONS}


def m(key: str, /, **params: Any) -> Message:
    """A message of the catalogue in every language, its placeholders filled in."""
    return phrase(catalogue()["text"][key], **params)


def t(key: str, /, **params: Any) -> str:
    """A message of the catalogue in the current language."""
    return m(key, **params).text(current())


def h(key: str, /, **params: Any) -> str:
    """Help text in the environment's language."""
    return phrase(catalogue()["help"][key], **params).text(env_lang())
