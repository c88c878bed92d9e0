"""Bounded reading of an APK's zip structure: central directory, entries and size caps.

Only the entries the analysis needs are ever read, and only within caps checked against
the central directory first; decompression streams with a hard ceiling, so a zip bomb or
a header that lies about sizes costs bounded memory and time.
"""

from __future__ import annotations

import os
import struct
import zlib
from dataclasses import dataclass
from typing import Any, BinaryIO, NamedTuple, cast

MiB = 1 << 20
GiB = 1 << 30

_EOCD = b"PK\x05\x06"
_EOCD_SIZE = 22
_CENTRAL = 0x02014B50
_CENTRAL_SIZE = 46
# Signature, then (skipping versions, flags, method, times, CRC) sizes and name lengths.
_CENTRAL_FIXED = struct.Struct("<I16xIIHHH")
_METHOD = struct.Struct("<H")
_FLAGS_METHOD = struct.Struct("<HH")
_OFFSET = struct.Struct("<I")
_INTERESTING = (b"AndroidManifest.xml", b"resources.arsc", b"classes", b"META-INF/")
_LOCAL = b"PK\x03\x04"
_LOCAL_SIZE = 30
_READ_CHUNK = 256 * 1024
_INFLATE_STEP = 4 * MiB


_fast_inflate: Any = zlib
INFLATE_ERRORS: tuple[type[Exception], ...] = (zlib.error,)
try:  # ISA-L inflates about twice as fast as zlib; zlib is the fallback.
    from isal import isal_zlib

    _fast_inflate = isal_zlib
    # ISA-L's error is not a zlib.error (and its type stubs call it an instance).
    INFLATE_ERRORS = (zlib.error, cast(type[Exception], isal_zlib.error))
except ImportError:  # pragma: no cover - depends on the installation
    pass

INFLATER = "isal" if _fast_inflate is not zlib else "zlib"
FAST_INFLATE_FROM = 16 << 10
"""ISA-L pays off on large entries; for small ones its set-up costs more than it saves."""


def inflater(size: int) -> Any:
    """A raw-deflate decompressor for an entry of `size` bytes, the quickest one for it.

    Its errors are among `INFLATE_ERRORS`.
    """
    module = _fast_inflate if size >= FAST_INFLATE_FROM else zlib
    return module.decompressobj(-15)


@dataclass(frozen=True)
class Failure:
    """Something could not be read; `reason` says what, in plain English."""

    reason: str


@dataclass(frozen=True)
class Limits:
    """Caps that keep a hostile or broken APK from costing unbounded memory or time."""

    max_dex_entry: int = 256 * MiB
    max_manifest: int = 16 * MiB
    max_resources: int = 64 * MiB
    max_meta_inf_entry: int = 32 * MiB
    """MANIFEST.MF and .SF list every entry (about 100 bytes each): 32 MiB is ~300,000."""
    max_total_uncompressed: int = 8 * GiB
    max_ratio: int = 200
    """Largest uncompressed/compressed ratio accepted for an entry the analysis reads."""
    ratio_applies_above: int = 1 * MiB
    """Small entries may compress very well without being a threat."""
    max_central_directory: int = 64 * MiB
    max_signing_block: int = 32 * MiB
    max_dex_files: int = 256
    """DEX files read per APK (real apps have a few dozen at most)."""
    max_dex_types: int = 2_000_000
    """Type names read over all DEX files of one APK (one DEX holds at most 65,535)."""
    max_dex_type_bytes: int = 64 * MiB
    """Bytes of type names decoded over all DEX files of one APK, each string once."""


DEFAULT_LIMITS = Limits()


class Member(NamedTuple):
    """One file inside the archive, as the central directory declares it."""

    name: str
    method: int
    compressed_size: int
    size: int
    header_offset: int
    flags: int = 0
    """General-purpose bit flags; bit 3 says sizes and CRC follow the data."""
    crc: int = 0


@dataclass(frozen=True)
class Directory:
    """The archive's central directory; `problems` are defects that did not stop reading.

    `members` holds only the entries an APK analysis can need (manifest, resources table,
    DEX files, META-INF), the first of each name; `entries` holds every entry in directory
    order (duplicates too), which JAR-signature verification checks one by one; `count`
    and `total_size` cover all entries.
    """

    members: dict[str, Member]
    count: int
    total_size: int
    cd_offset: int
    cd_size: int
    eocd_offset: int
    file_size: int
    problems: tuple[str, ...]
    entries: tuple[Member, ...] = ()
    cd_truncated: bool = False
    """The end record declares a central directory longer than the space before it."""


def read_directory(
    fh: BinaryIO, file_size: int, limits: Limits = DEFAULT_LIMITS
) -> Directory | Failure:
    """Locate and parse the central directory; nothing is decompressed."""
    if file_size < _EOCD_SIZE:
        return Failure(_not_zip(fh, file_size, "too short"))
    tail_size = min(file_size, _EOCD_SIZE + 0xFFFF)
    tail = _pread(fh, file_size - tail_size, tail_size)
    eocd = _find_eocd(tail)
    if eocd is None:
        return Failure(_not_zip(fh, file_size, "no end-of-central-directory record"))
    eocd_offset = file_size - tail_size + eocd
    disk, cd_disk, _, count, cd_size, cd_offset = struct.unpack_from("<HHHHII", tail, eocd + 4)
    if disk != 0 or cd_disk != 0:
        return Failure("multi-part zip archives are not supported")
    if count == 0xFFFF or cd_size == 0xFFFFFFFF or cd_offset == 0xFFFFFFFF:
        return Failure("ZIP64 archives are not supported")
    if cd_size > limits.max_central_directory:
        return Failure(
            f"zip central directory of {cd_size} bytes exceeds the cap of "
            f"{limits.max_central_directory} bytes"
        )
    problems: list[str] = []
    if cd_offset > eocd_offset:
        return Failure("zip central directory starts after the end record (corrupt archive)")
    available = eocd_offset - cd_offset
    truncated = cd_size > available
    if truncated:
        problems.append(
            f"zip central directory is truncated: {cd_size} bytes declared, "
            f"{available} present before the end record"
        )
        cd_size = available
    raw = _pread(fh, cd_offset, cd_size)
    members: dict[str, Member] = {}
    entries: list[Member] = []
    total = 0
    pos = 0
    parsed = 0
    unpack = _CENTRAL_FIXED.unpack_from
    interesting = raw.startswith
    while pos + _CENTRAL_SIZE <= len(raw) and parsed < count:
        signature, csize, usize, name_len, extra_len, comment_len = unpack(raw, pos)
        if signature != _CENTRAL:
            problems.append(f"zip central directory entry {parsed + 1} is corrupt")
            break
        name_start = pos + _CENTRAL_SIZE
        end = name_start + name_len + extra_len + comment_len
        if end > len(raw):
            problems.append(f"zip central directory entry {parsed + 1} is cut off")
            break
        total += usize
        name = raw[name_start : name_start + name_len].decode("utf-8", "replace")
        flags, method = _FLAGS_METHOD.unpack_from(raw, pos + 8)
        (crc,) = _OFFSET.unpack_from(raw, pos + 16)
        (offset,) = _OFFSET.unpack_from(raw, pos + 42)
        member = Member(name, method, csize, usize, offset, flags, crc)
        entries.append(member)
        if interesting(_INTERESTING, name_start, name_start + name_len):
            if name in members:
                problems.append(f"duplicate zip entry {name!r} (the first one is used)")
            else:
                members[name] = member
        pos = end
        parsed += 1
    if parsed < count and not problems:
        problems.append(f"zip central directory lists {parsed} of {count} declared entries")
    if total > limits.max_total_uncompressed:
        return Failure(
            f"zip entries declare {total} bytes uncompressed in total, over the cap of "
            f"{limits.max_total_uncompressed} bytes"
        )
    return Directory(
        members,
        parsed,
        total,
        cd_offset,
        cd_size,
        eocd_offset,
        file_size,
        tuple(problems),
        tuple(entries),
        truncated,
    )


def check_member(member: Member, cap: int, limits: Limits = DEFAULT_LIMITS) -> Failure | None:
    """Refuse, from declared sizes alone, an entry too large or too compressed to read."""
    if member.size > cap:
        return Failure(
            f"{member.name} declares {member.size} bytes uncompressed, over the cap of {cap} bytes"
        )
    if (
        member.method != 0
        and member.size > limits.ratio_applies_above
        and member.size > limits.max_ratio * max(member.compressed_size, 1)
    ):
        return Failure(
            f"{member.name} would expand {member.size // max(member.compressed_size, 1)}-fold "
            f"(over the cap of {limits.max_ratio}); refused as a likely zip bomb"
        )
    return None


class MemberReader:
    """Incremental, capped decompression of one entry: `fill(n)` makes `n` bytes available.

    The output can never grow past the declared size (itself checked against a cap), so
    a deflate stream that inflates to more than its header claims is refused mid-way.
    """

    def __init__(self, fh: BinaryIO, member: Member, directory: Directory) -> None:
        self.member = member
        self.data = bytearray()
        self.complete = False
        self._fh = fh
        self._inflater = inflater(member.size)
        self._pos = 0
        self._remaining_input = member.compressed_size
        self._method = member.method
        self._start = self._locate(directory)

    def _locate(self, directory: Directory) -> int | Failure:
        located = locate_data(self._fh, self.member, directory)
        if isinstance(located, Failure):
            return located
        start, self._method = located
        return start

    def fill(self, wanted: int) -> Failure | None:
        """Decompress until at least `wanted` bytes (or the whole entry) are in `data`."""
        start = self._start
        if isinstance(start, Failure):
            return start
        wanted = min(wanted, self.member.size)
        while len(self.data) < wanted and not self.complete:
            if self._method == 0:
                chunk = _pread(self._fh, start + len(self.data), wanted - len(self.data))
                if not chunk:
                    return Failure(f"{self.member.name}: file ends inside the entry")
                self.data += chunk
                self.complete = len(self.data) >= self.member.size
                continue
            failure = self._inflate_step(start, wanted)
            if failure is not None:
                return failure
        return None

    def read_all(self) -> bytes | Failure:
        failure = self.fill(self.member.size)
        if failure is not None:
            return failure
        start = self._start
        while not self.complete and not isinstance(start, Failure):
            # The stream must end where the header says; one more byte proves a lie.
            failure = self._inflate_step(start, self.member.size + 1)
            if failure is not None:
                return failure
        if len(self.data) != self.member.size:
            return Failure(
                f"{self.member.name}: {len(self.data)} bytes read, {self.member.size} declared"
            )
        return bytes(self.data)

    def _inflate_step(self, start: int, wanted: int) -> Failure | None:
        tail = self._inflater.unconsumed_tail
        if tail:
            source = tail
        elif self._remaining_input > 0:
            source = _pread(self._fh, start + self._pos, min(_READ_CHUNK, self._remaining_input))
            if not source:
                return Failure(f"{self.member.name}: file ends inside the entry")
            self._pos += len(source)
            self._remaining_input -= len(source)
        else:
            return Failure(f"{self.member.name}: compressed data ends early (corrupt entry)")
        # One byte over the declared size is enough to prove the header lies.
        room = self.member.size - len(self.data) + 1
        step = min(room, max(wanted - len(self.data), _INFLATE_STEP))
        try:
            out = self._inflater.decompress(source, step)
        except INFLATE_ERRORS as exc:
            return Failure(f"{self.member.name}: corrupt compressed data ({exc})")
        self.data += out
        if len(self.data) > self.member.size:
            return Failure(
                f"{self.member.name} inflates to more than the {self.member.size} bytes its "
                "header declares; refused"
            )
        if self._inflater.eof:
            self.complete = True
            if len(self.data) != self.member.size:
                return Failure(
                    f"{self.member.name}: inflates to {len(self.data)} bytes, "
                    f"{self.member.size} declared"
                )
        return None


_LOCAL_FIELDS = struct.Struct("<HHHHIIIHH")
"""Flags, method, time, date, CRC, sizes, name and extra lengths (after signature and version)."""
_LOCAL_READ = _LOCAL_SIZE + 256
"""A local header and the name after it, in one read for all but the longest names."""


def _read_local(fh: BinaryIO, member: Member) -> tuple[tuple[int, ...], bytes] | Failure:
    raw = _pread(fh, member.header_offset, _LOCAL_READ)
    if len(raw) < _LOCAL_SIZE or raw[:4] != _LOCAL:
        return Failure(f"{member.name}: local zip header is missing or corrupt")
    fields = _LOCAL_FIELDS.unpack_from(raw, 6)
    name_len = fields[7]
    name = raw[_LOCAL_SIZE : _LOCAL_SIZE + name_len]
    if len(name) < name_len:
        name = _pread(fh, member.header_offset + _LOCAL_SIZE, name_len)
    return fields, name


def _disagreement(member: Member, fields: tuple[int, ...], name: bytes) -> Failure | None:
    flags, _, _, _, crc, csize, usize = fields[:7]
    if name.decode("utf-8", "replace") != member.name:
        return Failure(f"{member.name}: its local header names another file")
    if (flags ^ member.flags) & 0x08:
        return Failure(f"{member.name}: local header and central directory disagree on sizes")
    if not flags & 0x08 and (crc, csize, usize) != (
        member.crc,
        member.compressed_size,
        member.size,
    ):
        return Failure(f"{member.name}: local header and central directory disagree on sizes")
    return None


def locate_data(
    fh: BinaryIO, member: Member, directory: Directory, *, strict: bool = False
) -> tuple[int, int] | Failure:
    """Where an entry's compressed data starts (after its local header), and the method
    (0 stored, 8 deflated) it is read with; the data must end before the central directory.

    `strict` also requires the local header to agree with the central directory, as
    `check_local_header` does."""
    local = _read_local(fh, member)
    if isinstance(local, Failure):
        return local
    fields, name = local
    if strict:
        failure = _disagreement(member, fields, name)
        if failure is not None:
            return failure
    start: int = member.header_offset + _LOCAL_SIZE + fields[7] + fields[8]
    if start + member.compressed_size > directory.cd_offset:
        return Failure(f"{member.name}: compressed data runs past the end of the entries")
    method = member.method
    if method not in (0, 8):
        # Unknown methods are a known evasion trick; Android reads such entries as
        # stored when the sizes agree, so do the same instead of giving up.
        method = 0 if member.compressed_size == member.size else 8
    if method == 0 and member.compressed_size != member.size:
        return Failure(f"{member.name}: stored entry with inconsistent sizes")
    return start, method


def check_local_header(fh: BinaryIO, member: Member) -> Failure | None:
    """The local header must agree with the central directory, as Android's verifier and
    zip reader require: same name, same data-descriptor flag, and (without a descriptor)
    the same CRC and sizes. A disagreement is the mark of a zip crafted to show one
    content to one reader and another to the next."""
    local = _read_local(fh, member)
    if isinstance(local, Failure):
        return local
    return _disagreement(member, *local)


def read_member(
    fh: BinaryIO, directory: Directory, member: Member, cap: int, limits: Limits = DEFAULT_LIMITS
) -> bytes | Failure:
    """The whole entry, after checking its declared sizes against `cap` and the ratio cap."""
    refused = check_member(member, cap, limits)
    if refused is not None:
        return refused
    return MemberReader(fh, member, directory).read_all()


def read_raw(fh: BinaryIO, offset: int, size: int) -> bytes:
    """Bytes of the file itself (not of an entry), e.g. the APK signing block."""
    return _pread(fh, offset, size)


def _pread(fh: BinaryIO, offset: int, size: int) -> bytes:
    if size <= 0:
        return b""
    try:
        return os.pread(fh.fileno(), size, offset)
    except (AttributeError, OSError):
        # Not a real file (e.g. BytesIO in tests): fall back to seek and read.
        fh.seek(offset)
        return fh.read(size)


def _find_eocd(tail: bytes) -> int | None:
    """Offset of the end record in `tail`, preferring one whose comment ends the file."""
    fallback = None
    pos = tail.rfind(_EOCD)
    while pos >= 0:
        if pos + _EOCD_SIZE <= len(tail):
            (comment_len,) = struct.unpack_from("<H", tail, pos + 20)
            if pos + _EOCD_SIZE + comment_len == len(tail):
                return pos
            if fallback is None and pos + _EOCD_SIZE + comment_len <= len(tail):
                fallback = pos
        pos = tail.rfind(_EOCD, 0, pos)
    return fallback


def _not_zip(fh: BinaryIO, file_size: int, detail: str) -> str:
    head = _pread(fh, 0, min(file_size, 64)).lstrip().lower()
    if head.startswith((b"<!doctype html", b"<html", b"<?xml", b"<head")):
        return "not a zip archive (the file is a web page, not an APK)"
    if file_size == 0:
        return "not a zip archive (the file is empty)"
    return f"not a zip archive ({detail})"
