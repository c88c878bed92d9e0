"""Sentences the registry says about a file, in Chinese and English, from its vocabulary."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from appaudit.errors import Message
from registry.values import vocabulary

ROWS_NAMED = 30
"""Row numbers named in one sentence; past them only the count is given."""


def rows_text(numbers: Sequence[int], unit: str = "row", lang: str = "zh") -> str:
    """第3、5、9行 / rows 3, 5, 9: the first ROWS_NAMED of them, then the count."""
    vocab = vocabulary()
    units = vocab.message_units.get(unit, {"zh": unit, "en": unit})
    plural = len(numbers) > 1 and lang != "zh"
    word = units.get("en_plural", units["en"]) if plural else _pick(units, lang)
    named = ("、" if lang == "zh" else ", ").join(str(n) for n in numbers[:ROWS_NAMED])
    text = _pick(vocab.messages["rows"], lang).format(numbers=named, unit=word)
    if len(numbers) > ROWS_NAMED:
        text += _pick(vocab.messages["more_rows"], lang).format(count=len(numbers), unit=word)
    return text


def row_ref(number: int, unit: str = "row") -> Message:
    """第3行 / row 3: one row of a file, in each language."""
    return Message(rows_text([number], unit, "en"), rows_text([number], unit, "zh"))


def listed_without_filing(numbers: Sequence[int] = (), unit: str = "row", lang: str = "zh") -> str:
    """The one line saying that 有效/正常 without a filing number was read as listed (准入):
    of the rows named, or of the one entry when none are."""
    messages = vocabulary().messages
    text = _pick(messages["listed_without_filing"], lang)
    if not numbers:
        return text
    rows = rows_text(numbers, unit, lang)
    return _pick(messages["about_rows"], lang).format(rows=rows, text=text)


def _pick(texts: Mapping[str, str], lang: str) -> str:
    return texts.get(lang) or texts["en"]
