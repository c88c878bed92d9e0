"""Text from the field made safe to show and to store, the same way in every output.

A cell may hold anything a keyboard, a script or a broken export can put there: control
characters (NUL, ESC and the rest of C0 and C1), bidirectional overrides that reorder what
a reader sees, zero-width characters that hide inside a name, and file names that are not
UTF-8 (Python carries their bytes as lone surrogates). The data keeps them as they came;
what is shown or written passes through here:

- `shown` for HTML, CSV and the terminal: each such character becomes its code point in
  angle brackets (ESC → ``<U+001B>``, NUL → ``<U+0000>``, a right-to-left override →
  ``<U+202E>``); tab and line breaks stay. Plain ASCII, so that every font shows it (the
  Unicode control pictures ␛ ␀ are missing from the CJK fonts reports are read in).
- `for_xlsx` for spreadsheets: the same characters are removed (XML cannot hold most of
  them), and a cell is cut at Excel's limit of 32,767 characters with a visible mark.
- `sound` for machine formats and storage: only broken surrogates are replaced.

Lone surrogates always become U+FFFD (the replacement character �), because no encoding
can write them. `REPLACE_ERRORS` names a codec error handler that does the same for a file
opened for writing, as a last line of defence.
"""

from __future__ import annotations

import codecs
import os
import re

REPLACEMENT = "\ufffd"

REPLACE_ERRORS = "appaudit-replace"
"""Codec error handler for writing: anything unencodable (a lone surrogate) becomes U+FFFD."""

XLSX_CELL_LIMIT = 32_767
"""The most characters Excel keeps in one cell; longer cells make it refuse the file."""

_SURROGATES = "\ud800-\udfff"
# C0 controls except tab, line feed and carriage return; DEL and the C1 controls; the Arabic
# letter mark, the Mongolian vowel separator; zero-width space, non-joiner, joiner and the
# left-to-right/right-to-left marks; line and paragraph separators; embeddings, overrides
# and isolates; word joiner and invisible operators; the byte order mark used mid-text;
# interlinear annotation marks; and the two non-characters XML refuses.
_INVISIBLE = (
    "\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u061c\u180e\u200b-\u200f\u2028-\u202e"
    "\u2060-\u2064\u2066-\u2069\ufeff\ufff9-\ufffb\ufffe\uffff"
)
_HIDDEN = re.compile(f"[{_INVISIBLE}{_SURROGATES}]")
_BROKEN = re.compile(f"[{_SURROGATES}]")
_LINE_BREAKS = re.compile("[\t\n\r]")


def _code_point(char: str) -> str:
    code = ord(char)
    if 0xD800 <= code <= 0xDFFF:
        return REPLACEMENT
    return f"<U+{code:04X}>"


def _removed(char: str) -> str:
    return REPLACEMENT if 0xD800 <= ord(char) <= 0xDFFF else ""


def shown(text: str) -> str:
    """`text` with every invisible or control character made visible (see the module)."""
    if text.isprintable() or _HIDDEN.search(text) is None:  # the first test is the quicker
        return text
    return _HIDDEN.sub(lambda m: _code_point(m.group()), text)


def shown_inline(text: str) -> str:
    """Like `shown`, for one line of a terminal table: tabs and line breaks become spaces."""
    return shown(_LINE_BREAKS.sub(" ", text))


def has_hidden(text: str) -> bool:
    """Whether `shown` would change `text`."""
    return _HIDDEN.search(text) is not None


def sound(text: str) -> str:
    """`text` with lone surrogates (bytes of a non-UTF-8 file name) replaced by U+FFFD."""
    if _BROKEN.search(text) is None:
        return text
    return _BROKEN.sub(REPLACEMENT, text)


def shown_path(path: str | os.PathLike[str]) -> str:
    """A file name as text that any output can carry: undecodable bytes become U+FFFD."""
    return sound(os.fspath(path))


def clip(text: str, limit: int, mark: str) -> str:
    """The first `limit` characters and `mark` (formatted with `total`), or `text` if short."""
    if len(text) <= limit:
        return text
    return text[:limit] + mark.format(total=f"{len(text):,}")


XLSX_MARK = " … [{total} characters; the cell is cut at Excel's limit]"


def for_xlsx(text: str, mark: str = XLSX_MARK) -> str:
    """`text` as a spreadsheet cell can hold it: invisible characters removed, cut at
    Excel's cell limit with a visible `mark` (formatted with `total`)."""
    if not text.isprintable() and _HIDDEN.search(text) is not None:
        text = _HIDDEN.sub(lambda m: _removed(m.group()), text)
    if len(text) > XLSX_CELL_LIMIT:
        mark = mark.format(total=f"{len(text):,}")
        text = text[: XLSX_CELL_LIMIT - len(mark)] + mark
    return text


def _replace_unencodable(error: UnicodeError) -> tuple[str | bytes, int]:
    if not isinstance(error, UnicodeEncodeError):
        raise error
    count = error.end - error.start
    try:
        # As bytes: encoders take a replacement string only when it is ASCII.
        return REPLACEMENT.encode(error.encoding) * count, error.end
    except UnicodeError:
        return "?" * count, error.end


codecs.register_error(REPLACE_ERRORS, _replace_unencodable)


def _json_escape(char: str) -> str:
    code = ord(char)
    return REPLACEMENT if 0xD800 <= code <= 0xDFFF else f"\\u{code:04x}"


def json_safe(text: str) -> str:
    """JSON text with invisible characters inside its strings written as \\u escapes (the
    same data, nothing a terminal or an editor would act on) and lone surrogates as U+FFFD.

    Only valid for JSON text: outside strings JSON is plain ASCII, so every such character
    stands inside a string, where an escape means the same character.
    """
    if _HIDDEN.search(text) is None:
        return text
    return _HIDDEN.sub(lambda m: _json_escape(m.group()), text)
