"""The bytes of a text spreadsheet as text: BOMs, UTF-8 and GB18030 line by line, UTF-16.

Field files are GBK/GB18030 without a BOM (Excel "CSV", WPS), UTF-8 with a BOM (Excel
"CSV UTF-8") or UTF-16 ("Unicode 文本"), and now and then both byte encodings at once: a
school pastes a UTF-8 row into a GBK sheet, or saves a GBK row into a UTF-8 one. Such a
line is decoded on its own and named, so that the reader can say which rows to check;
one line never makes the whole file unreadable, and a row is never silently mojibake.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator, Mapping
from typing import NamedTuple


class Decoded(NamedTuple):
    """A file's bytes as text: the encoding of most of its lines, and the lines that were
    decoded otherwise (line numbers from 1)."""

    encoding: str
    text: str
    other: str = ""
    """The encoding of `foreign` lines."""
    foreign: tuple[int, ...] = ()
    """Lines in `other` rather than `encoding`."""
    undecodable: tuple[int, ...] = ()
    """Lines in neither, decoded with replacement characters."""


def decode_candidates(data: bytes) -> Iterator[Decoded]:
    """Yield each plausible decoding of `data`, most likely first.

    BOMs first, then UTF-8, then GB18030 (a superset of GBK), then UTF-16 without a BOM.
    A generic detector gets very short GB18030 files wrong, so the caller accepts a
    decoding only if it yields a recognisable header. UTF-8 and GB18030 are decided line
    by line: the file's encoding is the one most of its lines are in, and a line in the
    other one is decoded on its own and named in `Decoded.foreign`.
    """
    boms = (
        (codecs.BOM_UTF8, "utf-8-sig"),
        (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16"),
    )
    for bom, encoding in boms:
        if data.startswith(bom):
            if encoding == "utf-8-sig":
                # The BOM says UTF-8, whatever most lines look like.
                decoded = _as_utf8(_Lines(data[len(bom) :]), label=encoding, insist=True)
                assert decoded is not None
                yield decoded
                return
            text = _decode(data, encoding)
            if text is not None:
                yield Decoded(encoding, text)
            return
    if b"\x00" not in data:  # NULs mean UTF-16 read as a byte encoding, or a binary file
        lines = _Lines(data)
        as_utf8 = _as_utf8(lines) if lines.mostly_utf8() else None
        if as_utf8 is not None:
            yield as_utf8
        yield _as_gb18030(lines)
    for encoding in ("utf-16-le", "utf-16-be"):
        text = _decode(data, encoding)
        if text is not None and "\x00" not in text:
            yield Decoded(encoding, text)
    try:
        from charset_normalizer import from_bytes

        best = from_bytes(data[:65536]).best()
    except Exception:  # the detector is a last resort; its failure is not ours to report
        best = None
    if best is not None and best.encoding:
        text = _decode(data, best.encoding)
        if text is not None:
            yield Decoded(best.encoding, text)


def _decode(data: bytes, encoding: str) -> str | None:
    try:
        return data.decode(encoding)
    except (UnicodeDecodeError, LookupError):
        return None


_CJK = re.compile(
    "[\u2e80-\u2fdf\u3000-\u303f\u3100-\u31bf\u3400-\u4dbf\u4e00-\u9fff"
    "\uf900-\ufaff\ufe30-\ufe4f\uff00-\uffef\u2010-\u2027\u2030-\u205e\u00b7]"
)
_NON_ASCII = re.compile("[^\x00-\x7f]")
_TWO_BYTE_LETTERS = re.compile("[\u0100-\u07ff]")


def _reads_as_chinese(text: str) -> bool:
    """Whether every non-ASCII character is Chinese writing or its punctuation.

    A line in one of our two encodings decoded as the other comes out as rare ideographs,
    private-use characters, Cyrillic or Greek: this tells a right decoding of a line from a
    wrong one without a dictionary.
    """
    others = _NON_ASCII.findall(text)
    return bool(others) and all(_CJK.match(c) for c in others)


_UTF8 = re.compile(
    rb"""(?:[\x00-\x7f]
    | [\xc2-\xdf][\x80-\xbf]
    | \xe0[\xa0-\xbf][\x80-\xbf] | [\xe1-\xec\xee\xef][\x80-\xbf]{2} | \xed[\x80-\x9f][\x80-\xbf]
    | \xf0[\x90-\xbf][\x80-\xbf]{2} | [\xf1-\xf3][\x80-\xbf]{3} | \xf4[\x80-\x8f][\x80-\xbf]{2}
    )*+""",
    re.VERBOSE,
)
"""Exactly the byte strings Python's strict UTF-8 decoder accepts (RFC 3629: no overlong
forms, no surrogates, nothing above U+10FFFF)."""


def _split_lines(data: bytes) -> Iterator[bytes]:
    """The lines of `data` one at a time (a line feed is never part of a UTF-8 or GB18030
    character), without holding a second copy of a large file as a list."""
    start = 0
    while True:
        end = data.find(b"\n", start)
        if end < 0:
            yield data[start:]
            return
        yield data[start:end]
        start = end + 1


class _Lines:
    """A file's bytes, with the lines that are UTF-8 worked out once, when first needed."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.whole_utf8 = _decode(data, "utf-8")
        self._scanned: tuple[int, dict[int, str]] | None = None

    def _scan(self) -> tuple[int, dict[int, str]]:
        """How many lines have non-ASCII bytes, and those that are UTF-8 by line number."""
        if self._scanned is None:
            non_ascii = 0
            utf8: dict[int, str] = {}
            is_utf8 = _UTF8.fullmatch
            for number, raw in enumerate(_split_lines(self.data), start=1):
                if raw.isascii():
                    continue
                non_ascii += 1
                # Asked of the pattern, not of the decoder: a GB18030 file has a million
                # lines that are not UTF-8, and an exception for each costs more than the
                # rest of its reading.
                if is_utf8(raw):
                    utf8[number] = raw.decode("utf-8")
            self._scanned = (non_ascii, utf8)
        return self._scanned

    def mostly_utf8(self) -> bool:
        """Whether at least half the lines with non-ASCII bytes are UTF-8 (or there are none)."""
        if self.whole_utf8 is not None:
            return True
        non_ascii, utf8 = self._scan()
        return 2 * len(utf8) >= non_ascii

    def utf8_lines(self) -> dict[int, str]:
        """The lines with non-ASCII bytes that are UTF-8, by line number (from 1)."""
        return self._scan()[1]


class _Rebuilt:
    """The lines of a text being decoded line by line, and what was decoded otherwise."""

    def __init__(self) -> None:
        self.texts: list[str] = []
        self.foreign: list[int] = []
        self.undecodable: list[int] = []

    def decoded(self, encoding: str, other: str) -> Decoded:
        return Decoded(
            encoding, "\n".join(self.texts), other, tuple(self.foreign), tuple(self.undecodable)
        )


def _as_utf8(lines: _Lines, label: str = "utf-8", *, insist: bool = False) -> Decoded | None:
    """The file as UTF-8; a line that is not, or that plainly reads as GB18030 (a short GBK
    line can be valid UTF-8 and decode into Cyrillic or Greek letters), decoded as that.
    None when most lines read as GB18030 (the file is GB18030), unless `insist`."""
    whole = lines.whole_utf8
    if whole is not None and _TWO_BYTE_LETTERS.search(whole) is None:
        return Decoded(label, whole)
    texts = whole.split("\n") if whole is not None else None
    utf8 = lines.utf8_lines() if whole is None else {}
    out = _Rebuilt()
    non_ascii = 0
    for number, raw in enumerate(_split_lines(lines.data), start=1):
        if raw.isascii():
            out.texts.append(raw.decode("ascii"))
            continue
        non_ascii += 1
        text = texts[number - 1] if texts is not None else utf8.get(number)
        if text is not None and _TWO_BYTE_LETTERS.search(text) is None:
            out.texts.append(text)
            continue
        gb = _decode(raw, "gb18030")
        if text is not None and not (
            gb is not None and _reads_as_chinese(gb) and not _reads_as_chinese(text)
        ):
            out.texts.append(text)
        elif gb is not None:
            out.texts.append(gb)
            out.foreign.append(number)
        else:
            out.texts.append(raw.decode("utf-8", "replace"))
            out.undecodable.append(number)
    if whole is not None and not out.foreign:
        return Decoded(label, whole)
    if not insist and 2 * len(out.foreign) > non_ascii:
        return None
    return out.decoded(label, "gb18030")


def _as_gb18030(lines: _Lines) -> Decoded:
    """The file as GB18030; a line that plainly reads as UTF-8 (GB18030 decodes UTF-8 bytes
    into nonsense without an error) or that is not GB18030 at all, decoded as UTF-8."""
    whole = _decode(lines.data, "gb18030")
    utf8 = lines.utf8_lines()
    if whole is not None and not any(
        _reads_as_chinese(text) and not _reads_as_chinese(_decode(raw, "gb18030") or "")
        for raw, text in _lines_at(lines.data, utf8)
    ):
        return Decoded("gb18030", whole)
    out = _Rebuilt()
    for number, raw in enumerate(_split_lines(lines.data), start=1):
        if raw.isascii():
            out.texts.append(raw.decode("ascii"))
            continue
        text, theirs = _decode(raw, "gb18030"), utf8.get(number)
        if theirs is not None and (
            text is None or (_reads_as_chinese(theirs) and not _reads_as_chinese(text))
        ):
            out.texts.append(theirs)
            out.foreign.append(number)
        elif text is not None:
            out.texts.append(text)
        else:
            out.texts.append(raw.decode("gb18030", "replace"))
            out.undecodable.append(number)
    return out.decoded("gb18030", "utf-8")


def _lines_at(data: bytes, texts: Mapping[int, str]) -> Iterator[tuple[bytes, str]]:
    """The raw bytes of the lines numbered in `texts`, beside their text there."""
    if not texts:
        return
    for number, raw in enumerate(_split_lines(data), start=1):
        text = texts.get(number)
        if text is not None:
            yield raw, text
