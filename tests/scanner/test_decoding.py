"""Telling UTF-8 lines from GB18030 ones: the pattern that does it without the decoder's
exceptions accepts exactly what the strict decoder accepts."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from scanner.decoding import _UTF8


def _decodes(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


EDGES = [
    b"", b"plain", "学校名称".encode(), "学校名称".encode("gb18030"), b"\xc0\x80", b"\xc1\xbf",
    b"\xc2\x80", b"\xe0\x80\x80", b"\xe0\xa0\x80", b"\xed\x9f\xbf", b"\xed\xa0\x80",
    b"\xef\xbf\xbf", b"\xf0\x8f\xbf\xbf", b"\xf0\x90\x80\x80", b"\xf4\x8f\xbf\xbf",
    b"\xf4\x90\x80\x80", b"\xf5\x80\x80\x80", b"\xff", b"\xe4\xb8", "😀".encode(),
    "a\udcff".encode("utf-8", "surrogateescape"),
]  # fmt: skip


def test_edges_of_utf8() -> None:
    for data in EDGES:
        assert bool(_UTF8.fullmatch(data)) == _decodes(data), data


@settings(max_examples=500)
@given(st.binary(max_size=24) | st.text(max_size=12).map(lambda t: t.encode("utf-8", "replace")))
def test_the_pattern_accepts_what_the_decoder_accepts(data: bytes) -> None:
    assert bool(_UTF8.fullmatch(data)) == _decodes(data)


@given(st.text(max_size=12), st.binary(max_size=6))
def test_text_with_stray_bytes(text: str, stray: bytes) -> None:
    data = text.encode("utf-8", "replace") + stray + "名".encode("gb18030")
    assert bool(_UTF8.fullmatch(data)) == _decodes(data)
