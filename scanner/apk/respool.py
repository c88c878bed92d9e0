"""What binary XML and resources.arsc share: the string pool chunk (`ResStringPool`), and
`Refused` for chunk structures Android itself would not load."""

from __future__ import annotations

import struct
from dataclasses import dataclass

from scanner.apk.ziparchive import Failure

STRING_POOL_TYPE = 0x0001
_UTF8_FLAG = 0x100
_HEADER = struct.Struct("<HHIIIIII")
_OFFSET = struct.Struct("<I")


@dataclass(frozen=True)
class Refused(Failure):
    """A structure Android itself would refuse (a chunk whose header does not fit in it,
    a string pool whose offsets lie outside it …), or one built to cost far more than its
    size (elements nested thousands deep, strings that overlap). The more lenient
    androguard parsers are not tried on it: they would report an app that cannot exist,
    and they trust the sizes such files make up."""


class StringPool:
    """Strings decoded on demand: a manifest needs dozens of its pool, a label just one."""

    def __init__(self, data: bytes, offset: int) -> None:
        """Parse the pool header at `offset`; check `failure` before use."""
        self.failure: Failure | None = None
        self.count = 0
        self._data = data
        self._cache: dict[int, str] = {}
        self._utf8 = False
        self._offsets_at = 0
        self._strings_start = 0
        self._end = 0
        self._decoded = 0
        if offset + _HEADER.size > len(data):
            self.failure = Refused("string pool header runs past the end of the data")
            return
        kind, header_size, size, count, _, flags, strings_start, _ = _HEADER.unpack_from(
            data, offset
        )
        end = offset + size
        if kind != STRING_POOL_TYPE or end > len(data) or not _HEADER.size <= header_size <= size:
            self.failure = Refused("string pool chunk is corrupt")
            return
        if offset + header_size + 4 * count > end or offset + strings_start > end:
            self.failure = Refused("string pool offsets lie outside the chunk")
            return
        self.count = count
        self._utf8 = bool(flags & _UTF8_FLAG)
        # Offsets are read when a string is asked for: a pool may list millions.
        self._offsets_at = offset + header_size
        self._strings_start = offset + strings_start
        self._end = end

    def get(self, index: int) -> str | Failure:
        """The string at `index`, or a `Failure` if the index or the bytes are bad."""
        if not 0 <= index < self.count:
            return Failure(f"string index {index} is outside the pool of {self.count}")
        (offset,) = _OFFSET.unpack_from(self._data, self._offsets_at + 4 * index)
        start = self._strings_start + offset
        # By position, not index: many indexes may name one string, which is then one
        # object however often the document uses it.
        cached = self._cache.get(start)
        if cached is not None:
            return cached
        text = self._utf8_at(start) if self._utf8 else self._utf16_at(start)
        if isinstance(text, str):
            self._decoded += len(text)
            if self._decoded > self._end - self._strings_start:
                # Strings that do not overlap cannot decode to more characters than the
                # pool has bytes; hostile offsets into one long string can, without end.
                return Refused("string pool is corrupt (its strings overlap)")
            self._cache[start] = text
        return text

    def _utf8_at(self, pos: int) -> str | Failure:
        data = self._data
        if pos + 2 > self._end:
            return Failure("string lies outside its pool")
        # Two lengths precede the bytes: UTF-16 units, then UTF-8 bytes; each 1 or 2 bytes.
        pos += 2 if data[pos] & 0x80 else 1
        if pos + 1 > self._end:
            return Failure("string lies outside its pool")
        length = data[pos]
        if length & 0x80:
            if pos + 2 > self._end:
                return Failure("string lies outside its pool")
            length = ((length & 0x7F) << 8) | data[pos + 1]
            pos += 2
        else:
            pos += 1
        if pos + length > self._end:
            return Failure("string lies outside its pool")
        return data[pos : pos + length].decode("utf-8", "replace")

    def _utf16_at(self, pos: int) -> str | Failure:
        data = self._data
        if pos + 2 > self._end:
            return Failure("string lies outside its pool")
        (length,) = struct.unpack_from("<H", data, pos)
        pos += 2
        if length & 0x8000:
            if pos + 2 > self._end:
                return Failure("string lies outside its pool")
            (low,) = struct.unpack_from("<H", data, pos)
            length = ((length & 0x7FFF) << 16) | low
            pos += 2
        if pos + 2 * length > self._end:
            return Failure("string lies outside its pool")
        return data[pos : pos + 2 * length].decode("utf-16-le", "replace")
