"""Direct reading of a DEX file's header, `string_ids` and `type_ids` tables.

The `type_ids` table lists every type the DEX refers to (classes it defines, calls or
extends, arrays, primitives), which is what SDK detection by class-name prefix needs —
as εxodus does — at a fraction of the cost of parsing the code. Format:
https://source.android.com/docs/core/runtime/dex-format
"""

from __future__ import annotations

import struct
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from scanner.apk.ziparchive import DEFAULT_LIMITS, Failure, Limits

HEADER_SIZE = 0x70
_MAGIC = b"dex\n"
_ENDIAN_CONSTANT = 0x12345678
# Android reads DEX versions 035 to 041; older ones are pre-release formats.
_VERSIONS = {b"035", b"036", b"037", b"038", b"039", b"040", b"041"}
_MAX_TYPE_IDS = 0xFFFF
_MAX_UTF8_PER_UTF16 = 3
_LITTLE_ENDIAN = sys.byteorder == "little" and struct.calcsize("I") == 4


class Window(Protocol):
    """A byte buffer that can be asked to grow, e.g. a zip entry being decompressed."""

    @property
    def data(self) -> bytes | bytearray: ...

    def fill(self, wanted: int) -> Failure | None:
        """Make at least `wanted` bytes available in `data` (fewer only at the end)."""
        ...


class BytesWindow:
    """A `Window` over bytes already in memory."""

    def __init__(self, data: bytes | bytearray) -> None:
        self.data = data

    def fill(self, wanted: int) -> Failure | None:
        return None


@dataclass(frozen=True)
class DexTypes:
    """The types one DEX file references, as descriptors such as `Lcom/qq/e/ads/Ad;`."""

    version: str
    descriptors: tuple[str, ...]
    """Each distinct type name once, in type-table order."""
    class_defs: int
    """How many classes the DEX defines (its `class_defs_size`)."""
    name_bytes: int = 0
    """Bytes of string data decoded for the names."""


def read_dex_types(
    source: Window | bytes | bytearray, *, max_name_bytes: int = DEFAULT_LIMITS.max_dex_type_bytes
) -> DexTypes | Failure:
    """Read the type descriptors of one DEX file, stopping as early as the tables allow.

    Only the header, the two id tables and the string data they point at are read; with
    a decompressing `Window` the tail of the file (code, annotations, map) is never
    inflated. Offsets and sizes are checked against the file, so a corrupt or hostile
    DEX gives a `Failure`, never an IndexError. Each string is decoded once however many
    types name it, and no more than `max_name_bytes` of names are decoded in all.
    """
    window = BytesWindow(source) if isinstance(source, bytes | bytearray) else source
    failure = window.fill(HEADER_SIZE)
    if failure is not None:
        return failure
    head = bytes(window.data[:HEADER_SIZE])
    if len(head) < HEADER_SIZE:
        return Failure(f"DEX file is only {len(head)} bytes long (shorter than its header)")
    if head[:4] != _MAGIC or head[7] != 0:
        if head[:4] == b"cdex":
            return Failure("compact DEX (cdex, from an OAT/VDEX file) is not supported")
        return Failure("not a DEX file (bad magic)")
    version = head[4:7]
    if version not in _VERSIONS:
        return Failure(f"unsupported DEX version {version.decode('ascii', 'replace')!r}")
    (
        file_size,
        header_size,
        endian,
    ) = struct.unpack_from("<III", head, 0x20)
    if endian != _ENDIAN_CONSTANT:
        return Failure("byte-swapped DEX files are not supported")
    string_count, string_off, type_count, type_off = struct.unpack_from("<IIII", head, 0x38)
    (class_count,) = struct.unpack_from("<I", head, 0x60)
    if header_size < HEADER_SIZE or file_size < header_size:
        return Failure(f"DEX header is corrupt (header size {header_size}, file size {file_size})")
    if type_count > _MAX_TYPE_IDS:
        return Failure(f"DEX declares {type_count} types, more than the format allows")
    for name, offset, count in (
        ("string_ids", string_off, string_count),
        ("type_ids", type_off, type_count),
    ):
        if count and (offset < header_size or offset + 4 * count > file_size):
            return Failure(f"DEX {name} table lies outside the file")
    tables_end = max(string_off + 4 * string_count, type_off + 4 * type_count)
    failure = window.fill(tables_end)
    if failure is not None:
        return failure
    data = window.data
    if len(data) < tables_end:
        return Failure("DEX file ends inside its id tables (truncated)")
    found = _type_string_offsets(data, type_off, type_count, string_off, string_count)
    if isinstance(found, Failure):
        return found
    # A valid DEX names each string once; a hostile one can name one long string 65,535
    # times. Each distinct string is read once, so the names cost what the file holds.
    offsets = list(dict.fromkeys(found))
    if not offsets:
        return DexTypes(version.decode("ascii"), (), class_count)
    if min(offsets) < header_size or max(offsets) >= file_size:
        return Failure("DEX type name lies outside the file's data")
    failure = window.fill(min(file_size, max(offsets) + _ULEB128_MAX))
    if failure is not None:
        return failure
    spans = _spans(window.data, offsets, max_name_bytes)
    if isinstance(spans, Failure):
        return spans
    # Each name's length (in UTF-16 units) bounds how far its bytes can reach.
    failure = window.fill(min(file_size, max(limit for _, limit in spans)))
    if failure is not None:
        return failure
    return _decode(window.data, spans, version.decode("ascii"), class_count, max_name_bytes)


_ULEB128_MAX = 5


def _spans(
    data: bytes | bytearray, offsets: list[int], max_name_bytes: int
) -> list[tuple[int, int]] | Failure:
    """(start, limit) of each name's bytes: the NUL that ends it lies before `limit`."""
    spans: list[tuple[int, int]] = []
    declared = 0
    size = len(data)
    for offset in offsets:
        units, start = _uleb128(data, offset)
        if start > size or start - offset > _ULEB128_MAX:
            return Failure("DEX string data is corrupt (type name runs past the end)")
        declared += units
        if declared > max_name_bytes:
            return Failure(
                f"DEX type names declare more than {max_name_bytes} characters in all "
                "(over the cap); not read"
            )
        spans.append((start, start + _MAX_UTF8_PER_UTF16 * units + 1))
    return spans


def _decode(
    data: bytes | bytearray,
    spans: list[tuple[int, int]],
    version: str,
    class_count: int,
    max_name_bytes: int,
) -> DexTypes | Failure:
    pieces = _pieces(data, spans, max_name_bytes)
    if isinstance(pieces, Failure):
        return pieces
    total = sum(len(p) for p in pieces)
    # One decode for all names instead of one per name; NUL cannot occur inside them.
    try:
        descriptors = tuple(b"\0".join(pieces).decode("utf-8").split("\0"))
    except UnicodeDecodeError:
        decoded: list[str] = []
        for piece in pieces:
            text = decode_mutf8(bytes(piece))
            if isinstance(text, Failure):
                return text
            decoded.append(text)
        descriptors = tuple(decoded)
    return DexTypes(version, descriptors, class_count, total)


def _pieces(
    data: bytes | bytearray, spans: list[tuple[int, int]], max_name_bytes: int
) -> list[bytes | bytearray] | Failure:
    find = data.find
    pieces: list[bytes | bytearray] = []
    append = pieces.append
    total = 0
    for start, limit in spans:
        # The search stops where the declared length says the name must have ended.
        end = find(b"\0", start, limit)
        if end < 0:
            if limit > len(data):
                return Failure("DEX string data is corrupt (type name runs past the end)")
            return Failure("DEX string data is corrupt (type name longer than declared)")
        total += end - start
        if total > max_name_bytes:
            return Failure(
                f"DEX type names take more than {max_name_bytes} bytes in all (over the cap); "
                "not read"
            )
        append(data[start:end])
    return pieces


class ApkTypes:
    """The types all DEX files of one APK reference, read one DEX at a time within caps.

    Android loads every `classesN.dex` there is, and a small APK can list thousands of
    them (one entry named again and again by the zip directory). The caps of `Limits`
    bound how many DEX files are read, how many type names and how many bytes of them;
    whatever is left unread is said in `problems`, since SDKs in it go undetected.
    """

    def __init__(self, total_dex: int, limits: Limits = DEFAULT_LIMITS) -> None:
        self.limits = limits
        self.total_dex = total_dex
        self.dex_count = 0
        self.class_count = 0
        self.problems: list[str] = []
        self._names: set[str] = set()
        self._type_count = 0
        self._name_bytes = 0
        self._stopped = False

    def room_for(self, name: str) -> bool:
        """Whether one more DEX may be read; if not, the problem says what stays unread."""
        if self._stopped:
            return False
        limits = self.limits
        if self.dex_count >= limits.max_dex_files:
            reason = f"the APK has {self.total_dex} DEX files, more than the cap of {limits.max_dex_files}"
        elif self._type_count >= limits.max_dex_types:
            reason = f"its DEX files name more than {limits.max_dex_types} types (the cap)"
        else:
            return True
        self._stopped = True
        self.problems.append(
            f"{reason}: {name} and the DEX files after it were not read, so SDKs in them "
            "are not detected"
        )
        return False

    def add(self, name: str, source: Window | bytes | bytearray) -> None:
        """Read one DEX's types; a DEX that cannot be read is a problem, not an exception."""
        room = self.limits.max_dex_type_bytes - self._name_bytes
        types = read_dex_types(source, max_name_bytes=max(room, 0))
        if isinstance(types, Failure):
            self.problems.append(
                types.reason if name in types.reason else f"{name}: {types.reason}"
            )
            return
        self.dex_count += 1
        self.class_count += types.class_defs
        self._type_count += len(types.descriptors)
        self._name_bytes += types.name_bytes
        self._names.update(types.descriptors)

    def descriptors(self) -> list[str]:
        """Every distinct type name, sorted (as SDK detection searches them)."""
        return sorted(self._names)


def _type_string_offsets(
    data: bytes | bytearray, type_off: int, type_count: int, string_off: int, string_count: int
) -> list[int] | Failure:
    """Offsets of the type names' string data, via type_ids -> string_ids."""
    if not _LITTLE_ENDIAN:
        types: Sequence[int] = struct.unpack_from(f"<{type_count}I", data, type_off)
        strings: Sequence[int] = struct.unpack_from(f"<{string_count}I", data, string_off)
        return _lookup(types, strings, string_count)
    # Zero-copy views: a DEX can hold 100,000 strings and only the types' are needed. The
    # views are released at once, since a growing buffer cannot be resized while viewed.
    with (
        memoryview(data) as whole,
        whole[type_off : type_off + 4 * type_count] as raw_types,
        whole[string_off : string_off + 4 * string_count] as raw_strings,
        raw_types.cast("I") as types_view,
        raw_strings.cast("I") as strings_view,
    ):
        return _lookup(types_view, strings_view, string_count)


def _lookup(types: Sequence[int], strings: Sequence[int], string_count: int) -> list[int] | Failure:
    if types and max(types) >= string_count:
        return Failure(f"DEX type refers to a string beyond its {string_count} strings")
    return [strings[index] for index in types]


def _uleb128(data: bytes | bytearray, offset: int) -> tuple[int, int]:
    value = 0
    shift = 0
    pos = offset
    while pos < len(data) and shift < 35:
        byte = data[pos]
        value |= (byte & 0x7F) << shift
        pos += 1
        if not byte & 0x80:
            break
        shift += 7
    return value, pos


def decode_mutf8(raw: bytes) -> str | Failure:
    """Decode Modified UTF-8: `C0 80` for NUL, and surrogate pairs as two 3-byte sequences."""
    try:
        text = raw.replace(b"\xc0\x80", b"\x00").decode("utf-8", "surrogatepass")
    except UnicodeDecodeError as exc:
        return Failure(f"DEX string is not valid Modified UTF-8 ({exc.reason})")
    # Re-pair surrogates that Modified UTF-8 encodes separately.
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def class_name(descriptor: str) -> str | None:
    """`Lcom/qq/e/Ad;` → `com.qq.e.Ad`; arrays give their element class; primitives None."""
    start = 0
    while start < len(descriptor) and descriptor[start] == "[":
        start += 1
    if len(descriptor) - start < 3 or descriptor[start] != "L" or descriptor[-1] != ";":
        return None
    return descriptor[start + 1 : -1].replace("/", ".")


def class_names(descriptors: Iterable[str]) -> set[str]:
    """Dotted names of every class among the descriptors (arrays unwrapped)."""
    names = {d[1:-1] for d in descriptors if d[:1] == "L" and d[-1:] == ";"}
    names.update(n for d in descriptors if d[:1] == "[" and (n := class_name(d)) is not None)
    return {n.replace("/", ".") for n in names}


__all__ = [
    "HEADER_SIZE",
    "ApkTypes",
    "BytesWindow",
    "DexTypes",
    "Window",
    "class_name",
    "class_names",
    "decode_mutf8",
    "read_dex_types",
]
