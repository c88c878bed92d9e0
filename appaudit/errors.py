"""The one base class of appaudit's domain errors, and the words a person reads them in.

Every room raises its own subclass (a bad spreadsheet, an unreachable database, a refused
report folder …); the CLI turns any of them into one line on stderr and exit code 2, in the
language the user reads (Chinese by default). A room that has its words in a catalogue
raises with a `Message` carrying each language; a plain string is the English only. This
module imports nothing of appaudit, so the rooms below the front door may use it without
depending on anything above them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

LANGUAGES = ("zh", "en")
"""The languages appaudit speaks, the default first."""


@dataclass(frozen=True)
class Message:
    """Words for a person in each language: `str()` is the English (for logs and programs),
    `text(lang)` what the reader reads."""

    en: str
    zh: str = ""

    def text(self, lang: str) -> str:
        return self.zh if lang == "zh" and self.zh else self.en

    def __str__(self) -> str:
        return self.en

    @classmethod
    def join(cls, messages: Iterable[Message]) -> Message:
        """Several messages as one sentence: `a; b` / `a；b`."""
        parts = list(messages)
        return cls("; ".join(m.en for m in parts), "；".join(m.text("zh") for m in parts))


def phrase(templates: Mapping[str, str], /, **params: Any) -> Message:
    """A catalogue entry (`{zh = "…", en = "…"}`) with its `{placeholders}` filled in.

    A parameter that is itself a `Message` (a kind, a field name, a nested sentence) is
    filled in with its text of the same language.
    """
    return Message(
        _fill(templates["en"], params, "en"),
        _fill(templates.get("zh") or templates["en"], params, "zh"),
    )


def _fill(template: str, params: Mapping[str, Any], lang: str) -> str:
    if not params:
        return template
    return template.format(
        **{k: v.text(lang) if isinstance(v, Message) else v for k, v in params.items()}
    )


class AppauditError(Exception):
    """Input or environment is wrong (not appaudit): the message is fit for the user."""

    def __init__(self, message: str | Message = "") -> None:
        self.message = message if isinstance(message, Message) else Message(str(message))
        super().__init__(self.message.en)

    def text(self, lang: str) -> str:
        """The message in `lang` (the English one where the raiser gave no other)."""
        return self.message.text(lang)

    def __reduce__(self) -> tuple[Any, ...]:
        # Errors cross from worker processes: keep every language, not only `str()`.
        return (type(self), (self.message,))
