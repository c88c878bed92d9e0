"""The string pool chunk shared by binary XML and resources.arsc (`ResStringPool`)."""

from __future__ import annotations

import struct

from scanner.apk.ziparchive import Failure

STRING_POOL_TYPE = 0x0001
_UTF8_FLAG = 0x100
_HEADER = struct.Struct("<HHIIIIII")


class StringPool:
    """Strings decoded on demand: a manifest needs dozens of its pool, a label just one."""

    def __init__(self, data: bytes, offset: int) -> None:
        """Parse the pool header at `offset`; check `failure` before use."""
        self.failure: Failure | None = None
        self.count = 0
        self._data = data
        self._cache: dict[int, str] = {}
        self._utf8 = False
        self._offsets: tuple[int, ...] = ()
        self._strings_start = 0
        self._end = 0
        if offset + _HEADER.size > len(data):
            self.failure = Failure("string pool header runs past the end of the data")
            return
        kind, header_size, size, count, _, flags, strings_start, _ = _HEADER.unpack_from(
            data, offset
        )
        end = offset + size
        if kind != STRING_POOL_TYPE or end > len(data) or header_size < _HEADER.size:
            self.failure = Failure("string pool chunk is corrupt")
            return
        if offset + header_size + 4 * count > end or offset + strings_start > end:
            self.failure = Failure("string pool offsets lie outside the chunk")
            return
        self.count = count
        self._utf8 = bool(flags & _UTF8_FLAG)
        self._offsets = struct.unpack_from(f"<{count}I", data, offset + header_size)
        self._strings_start = offset + strings_start
        self._end = end

    def get(self, index: int) -> str | Failure:
        """The string at `index`, or a `Failure` if the index or the bytes are bad."""
        cached = self._cache.get(index)
        if cached is not None:
            return cached
        if not 0 <= index < self.count:
            return Failure(f"string index {index} is outside the pool of {self.count}")
        start = self._strings_start + self._offsets[index]
        text = self._utf8_at(start) if self._utf8 else self._utf16_at(start)
        if isinstance(text, str):
            self._cache[index] = text
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
