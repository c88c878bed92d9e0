"""Targeted look-up of one string resource in resources.arsc, preferring a Chinese locale.

Resolving the app label is the one thing the audit needs from the resource table. The
chunk headers are checked once, all of them, and then the look-up goes straight to the
entry: that costs the headers instead of parsing the whole table, which for a large app
is the slowest step of a full androguard analysis.
"""

from __future__ import annotations

import struct
from array import array
from collections.abc import Sequence
from dataclasses import dataclass

from scanner.apk.respool import STRING_POOL_TYPE, Refused, StringPool
from scanner.apk.ziparchive import Failure

_TABLE_TYPE = 0x0002
_PACKAGE_TYPE = 0x0200
_TYPE_TYPE = 0x0201
_CHUNK = struct.Struct("<HHI")
_FLAG_SPARSE = 0x01
_FLAG_OFFSET16 = 0x02
_ENTRY_COMPLEX = 0x0001
_ENTRY_COMPACT = 0x0008
_NO_ENTRY32 = 0xFFFFFFFF
_NO_ENTRY16 = 0xFFFF
_TYPE_REFERENCE = 0x01
_TYPE_STRING = 0x03
_MAX_REFERENCE_DEPTH = 8

PREFERRED_LOCALES = ("zh-CN", "zh", "")
"""zh-CN (or Simplified-script zh) first, then bare zh, then the default configuration."""


def resolve_string(
    table: bytes, resource_id: int, preferred: Sequence[str] = PREFERRED_LOCALES
) -> str | Failure:
    """The string a resource id names, in the most preferred locale the table has.

    `preferred` lists locales as `lang` or `lang-REGION`, `""` for the default
    configuration; a locale not listed ranks after all listed ones.
    """
    index = _index(table)
    if isinstance(index, Failure):
        return index
    return _resolve(table, index, resource_id, tuple(preferred), 0)


@dataclass(frozen=True)
class _Index:
    """The table's string pool, and where the type chunks of each (package, type) are."""

    pool: StringPool
    types: dict[tuple[int, int], array[int]]


def _index(table: bytes) -> _Index | Failure:
    """Check every chunk's header against its size, packages' chunks included, once.

    Walking the whole table before trusting any of it means that no part of a table
    Android would refuse is read, by this reader or by androguard after it.
    """
    if len(table) < 12:
        return Refused("resources.arsc is too short")
    kind, header_size, size = _CHUNK.unpack_from(table, 0)
    if kind != _TABLE_TYPE or not 12 <= header_size <= size:
        return Refused("resources.arsc is not a resource table")
    end = min(size, len(table))
    pool: StringPool | None = None
    types: dict[tuple[int, int], array[int]] = {}
    pos = header_size
    while pos + 8 <= end:
        kind, chunk_header, chunk_size = _CHUNK.unpack_from(table, pos)
        if not _fits(kind, chunk_header, chunk_size, pos, end):
            return Refused(f"resources.arsc has a corrupt chunk at byte {pos}")
        if kind == STRING_POOL_TYPE and pool is None:
            pool = StringPool(table, pos)
            if pool.failure is not None:
                return Refused(f"resources.arsc: {pool.failure.reason}")
        elif kind == _PACKAGE_TYPE:
            failure = _index_package(table, pos, chunk_header, chunk_size, types)
            if failure is not None:
                return failure
        pos += chunk_size
    if pool is None:
        return Failure("resources.arsc has no string pool")
    return _Index(pool, types)


def _index_package(
    table: bytes, pos: int, header_size: int, size: int, types: dict[tuple[int, int], array[int]]
) -> Failure | None:
    (package_id,) = struct.unpack_from("<I", table, pos + 8)
    type_offset = 0
    if header_size >= 288:
        (type_offset,) = struct.unpack_from("<I", table, pos + 284)
    chunk = pos + header_size
    end = pos + size
    while chunk + 8 <= end:
        kind, chunk_header, chunk_size = _CHUNK.unpack_from(table, chunk)
        if not _fits(kind, chunk_header, chunk_size, chunk, end):
            return Refused(f"resources.arsc has a corrupt chunk at byte {chunk}")
        if kind == _TYPE_TYPE:
            key = (package_id, table[chunk + 8] + type_offset)
            types.setdefault(key, array("I")).append(chunk)
        chunk += chunk_size
    return None


def _resolve(
    table: bytes, index: _Index, resource_id: int, preferred: tuple[str, ...], depth: int
) -> str | Failure:
    if depth > _MAX_REFERENCE_DEPTH:
        return Failure(f"resource @{resource_id:08X} refers in a loop")
    package_id = resource_id >> 24
    type_id = (resource_id >> 16) & 0xFF
    entry_index = resource_id & 0xFFFF
    best: tuple[int, int, int] | None = None  # (rank, value type, value data)
    for chunk in index.types.get((package_id, type_id), ()):
        _, chunk_header, chunk_size = _CHUNK.unpack_from(table, chunk)
        found = _entry_value(table, chunk, chunk_header, chunk_size, entry_index)
        if found is not None:
            rank = _rank(table, chunk + 20, chunk_header - 20, preferred)
            if best is None or rank < best[0]:
                best = (rank, found[0], found[1])
    if best is None:
        return Failure(f"resource @{resource_id:08X} is not in resources.arsc")
    _, value_type, data = best
    if value_type == _TYPE_STRING:
        text = index.pool.get(data)
        return Failure(f"resources.arsc: {text.reason}") if isinstance(text, Failure) else text
    if value_type == _TYPE_REFERENCE:
        return _resolve(table, index, data, preferred, depth + 1)
    return Failure(f"resource @{resource_id:08X} is not a string (value type {value_type})")


# The least header of each chunk kind this reader looks inside: ResTable_package up to
# its id, ResTable_type up to its configuration's size (as Android requires).
_LEAST_HEADER = {STRING_POOL_TYPE: 28, _PACKAGE_TYPE: 12, _TYPE_TYPE: 20 + 4}


def _fits(kind: int, header_size: int, size: int, pos: int, end: int) -> bool:
    """Whether a chunk's header fits in the chunk and the chunk in its parent."""
    least = _LEAST_HEADER.get(kind, 8)
    return least <= header_size <= size and pos + size <= end


def _entry_value(
    table: bytes, chunk: int, header_size: int, size: int, index: int
) -> tuple[int, int] | None:
    """(value type, data) of entry `index` in one type chunk, None if absent or not plain."""
    flags = table[chunk + 9]
    entry_count, entries_start = struct.unpack_from("<II", table, chunk + 12)
    offsets = chunk + header_size
    end = chunk + size
    offset: int | None = None
    if flags & _FLAG_SPARSE:
        if offsets + 4 * entry_count > end:
            return None
        low, high = 0, entry_count
        while low < high:  # sparse entries are sorted by index
            mid = (low + high) // 2
            idx, off = struct.unpack_from("<HH", table, offsets + 4 * mid)
            if idx == index:
                offset = off * 4
                break
            if idx < index:
                low = mid + 1
            else:
                high = mid
    elif index < entry_count:
        if flags & _FLAG_OFFSET16:
            if offsets + 2 * entry_count > end:
                return None
            (off,) = struct.unpack_from("<H", table, offsets + 2 * index)
            offset = None if off == _NO_ENTRY16 else off * 4
        else:
            if offsets + 4 * entry_count > end:
                return None
            (off,) = struct.unpack_from("<I", table, offsets + 4 * index)
            offset = None if off == _NO_ENTRY32 else off
    if offset is None:
        return None
    entry = chunk + entries_start + offset
    if entry + 8 > end:
        return None
    entry_size, entry_flags = struct.unpack_from("<HH", table, entry)
    if entry_flags & _ENTRY_COMPACT:
        # Compact entries keep the value type in the flags' high byte and the data inline.
        (data,) = struct.unpack_from("<I", table, entry + 4)
        return entry_flags >> 8, data
    if entry_flags & _ENTRY_COMPLEX or entry + entry_size + 8 > end:
        return None
    value_type = table[entry + entry_size + 3]
    (data,) = struct.unpack_from("<I", table, entry + entry_size + 4)
    return value_type, data


def _rank(table: bytes, config: int, config_size: int, preferred: tuple[str, ...]) -> int:
    # A configuration shorter than its locale fields is the default one.
    language = _letters(table[config + 8 : config + 10]) if config_size >= 10 else ""
    country = _letters(table[config + 10 : config + 12]) if config_size >= 12 else ""
    script = _letters(table[config + 36 : config + 40]) if config_size >= 40 else ""
    if language == "zh" and not country and script == "Hans":
        country = "CN"  # b+zh+Hans: Simplified Chinese, as used in mainland China
    tag = f"{language}-{country}" if country else language
    return preferred.index(tag) if tag in preferred else len(preferred)


def _letters(raw: bytes) -> str:
    # Packed three-letter language codes set the high bit; they never match our locales.
    if not raw or raw[0] & 0x80:
        return "?" if raw and raw[0] else ""
    return raw.rstrip(b"\0").decode("ascii", "replace")
