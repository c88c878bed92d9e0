"""Hostile APKs built in code: small files made to cost gigabytes, crash a reader or recurse.

Each builder reproduces one kind of attack on the readers (DEX tables, binary XML, the
resource table, the zip directory) at the byte level, so that tests can show each ends in
facts or a failure within bounded memory. The files are tiny; what they claim is not.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import apkfactory

PACKAGE = "cn.edu.hostile.app"
NO_INDEX = 0xFFFFFFFF


# --------------------------------------------------------------------------- zip


@dataclass(frozen=True)
class Stored:
    """One local entry's bytes, and the names the central directory gives it.

    Several names pointing at one local entry is how a small file lists thousands of
    large entries: every name is a separate entry to a reader that trusts the directory.
    """

    data: bytes
    names: Sequence[str]
    deflate: bool = True


def zip_with_aliases(path: Path, entries: Sequence[Stored]) -> Path:
    """A zip whose central directory may name one local entry many times."""
    local = bytearray()
    central = bytearray()
    count = 0
    for entry in entries:
        if entry.deflate:
            packer = zlib.compressobj(9, zlib.DEFLATED, -15)
            payload = packer.compress(entry.data) + packer.flush()
            method = 8
        else:
            payload, method = entry.data, 0
        crc = zlib.crc32(entry.data)
        first = entry.names[0].encode()
        offset = len(local)
        fields = (20, 0x0800, method, 0, 0x21, crc, len(payload), len(entry.data))
        local += struct.pack("<IHHHHHIII", 0x04034B50, *fields)
        local += struct.pack("<HH", len(first), 0) + first + payload
        for name in entry.names:
            encoded = name.encode()
            central += struct.pack("<IH", 0x02014B50, 20) + struct.pack("<HHHHHIII", *fields)
            central += struct.pack("<HHHHHI", len(encoded), 0, 0, 0, 0, 0)
            central += struct.pack("<I", offset) + encoded
            count += 1
    eocd = struct.pack(
        "<IHHHHIIH", 0x06054B50, 0, 0, min(count, 0xFFFF), min(count, 0xFFFF),
        len(central), len(local), 0,
    )  # fmt: skip
    path.write_bytes(bytes(local) + bytes(central) + eocd)
    return path


def honest_manifest() -> bytes:
    return apkfactory.manifest(PACKAGE, label="敌意测试")


# --------------------------------------------------------------------------- DEX


def raw_dex(strings: Sequence[str], type_strings: Sequence[int], *, class_defs: int = 0) -> bytes:
    """A DEX whose `type_ids` name `strings` by index, repeats allowed; no code, no map.

    Enough for a reader of the header and the id tables: the type table can point at one
    string many times, which a valid DEX never does.
    """
    string_ids_off = 0x70
    type_ids_off = string_ids_off + 4 * len(strings)
    data_off = type_ids_off + 4 * len(type_strings)
    string_data = bytearray()
    offsets = []
    for text in strings:
        offsets.append(data_off + len(string_data))
        encoded = text.encode("utf-8")
        string_data += _uleb128(len(text.encode("utf-16-le")) // 2) + encoded + b"\0"
    file_size = data_off + len(string_data)
    header = bytearray(0x70)
    header[0:8] = b"dex\n035\0"
    struct.pack_into("<III", header, 0x20, file_size, 0x70, 0x12345678)
    struct.pack_into(
        "<IIII", header, 0x38, len(strings), string_ids_off, len(type_strings), type_ids_off
    )
    struct.pack_into("<I", header, 0x60, class_defs)
    struct.pack_into("<II", header, 0x68, file_size - data_off, data_off)
    body = struct.pack(f"<{len(offsets)}I", *offsets)
    body += struct.pack(f"<{len(type_strings)}I", *type_strings)
    return bytes(header) + body + bytes(string_data)


def _uleb128(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def overlapping_type_names_dex(types: int = 0xFFFF, run: int = 380) -> bytes:
    """A DEX whose type names start one byte apart inside runs of 0x7F bytes.

    Each name reads the length 127 where it starts (well within 380 bytes of UTF-8) and
    runs on to the end of its run, over the names after it: 65,535 names of 190 bytes on
    average from 25 KB of string data.
    """
    runs = -(-types // run)
    string_ids_off = 0x70
    type_ids_off = string_ids_off + 4 * types
    data_off = type_ids_off + 4 * types
    chunk = b"\x7f" * run + b"\0"
    offsets = [data_off + r * len(chunk) + i for r in range(runs) for i in range(run)][:types]
    file_size = data_off + runs * len(chunk)
    header = bytearray(0x70)
    header[0:8] = b"dex\n035\0"
    struct.pack_into("<III", header, 0x20, file_size, 0x70, 0x12345678)
    struct.pack_into("<IIII", header, 0x38, types, string_ids_off, types, type_ids_off)
    struct.pack_into("<II", header, 0x68, file_size - data_off, data_off)
    tables = struct.pack(f"<{types}I", *offsets) + struct.pack(f"<{types}I", *range(types))
    return bytes(header) + tables + chunk * runs


def one_string_many_types(path: Path, *, manifest: bool = True) -> Path:
    """A DEX whose 65,535 type ids all name one 60,000-character string (a 1 KB APK).

    Decoding each type's name separately costs 65,535 copies: 3.9 GB.
    """
    name = "L" + "a" * 59_998 + ";"
    parts = [Stored(raw_dex([name], [0] * 0xFFFF), ["classes.dex"])]
    if manifest:
        parts.insert(0, Stored(honest_manifest(), ["AndroidManifest.xml"]))
    return zip_with_aliases(path, parts)


def many_dex_entries(
    path: Path, *, entries: int = 20_000, types: int = 3_000, manifest: bool = True
) -> Path:
    """One small DEX listed `entries` times by the central directory (about 1.2 MB).

    Every name (classes.dex, classes2.dex …) is another DEX to a reader that trusts the
    directory; read one by one, each adds its thousands of type names again.
    """
    strings = [f"Lcn/edu/hostile/C{i:05d};" for i in range(types)]
    names = ["classes.dex"] + [f"classes{i}.dex" for i in range(2, entries + 1)]
    parts = [Stored(raw_dex(strings, list(range(types))), names)]
    if manifest:
        parts.insert(0, Stored(honest_manifest(), ["AndroidManifest.xml"]))
    return zip_with_aliases(path, parts)


# --------------------------------------------------------------------------- binary XML

_XML = 0x0003
_START_NAMESPACE = 0x0100
_END_NAMESPACE = 0x0101
_START_ELEMENT = 0x0102
_END_ELEMENT = 0x0103


def _node(kind: int, ext: bytes, *, header_size: int = 16) -> bytes:
    return struct.pack("<HHIII", kind, header_size, 16 + len(ext), 1, NO_INDEX) + ext


def _start(name: int, attributes: Sequence[bytes] = ()) -> bytes:
    ext = struct.pack("<IIHHHHHH", NO_INDEX, name, 20, 20, len(attributes), 0, 0, 0)
    return _node(_START_ELEMENT, ext + b"".join(attributes))


def _string_attribute(name: int, value: int) -> bytes:
    return struct.pack("<IIIHBBI", NO_INDEX, name, value, 8, 0, 0x03, value)


def axml(strings: Sequence[str], nodes: Sequence[bytes]) -> bytes:
    content = apkfactory.string_pool(strings) + b"".join(nodes)
    return struct.pack("<HHI", _XML, 8, 8 + len(content)) + content


def deep_manifest(depth: int = 3_000) -> bytes:
    """<manifest package=…> with elements nested `depth` deep inside it."""
    strings = ["manifest", "package", PACKAGE, "x"]
    nodes = [_start(0, [_string_attribute(1, 2)])]
    nodes += [_start(3)] * (depth - 1)
    nodes += [_node(_END_ELEMENT, struct.pack("<II", NO_INDEX, 3))] * (depth - 1)
    nodes.append(_node(_END_ELEMENT, struct.pack("<II", NO_INDEX, 0)))
    return axml(strings, nodes)


def end_element_header_is_its_size() -> bytes:
    """A manifest whose last chunk, an END_ELEMENT, claims a header as long as itself.

    The element's name index would then lie past the end of the chunk (and of the file).
    """
    strings = ["manifest", "package", PACKAGE]
    ext = struct.pack("<II", NO_INDEX, 0)
    nodes = [
        _node(_START_NAMESPACE, struct.pack("<II", NO_INDEX, NO_INDEX)),
        _start(0, [_string_attribute(1, 2)]),
        _node(_END_ELEMENT, ext, header_size=16 + len(ext)),
    ]
    return axml(strings, nodes)


def deep_manifest_apk(path: Path, depth: int = 3_000) -> Path:
    return zip_with_aliases(path, [Stored(deep_manifest(depth), ["AndroidManifest.xml"])])


def end_element_apk(path: Path) -> Path:
    return zip_with_aliases(
        path, [Stored(end_element_header_is_its_size(), ["AndroidManifest.xml"])]
    )


# --------------------------------------------------------------------------- resources.arsc


def table_ending_in_a_short_type_chunk() -> tuple[bytes, int]:
    """A resource table whose last chunk is a type chunk of 8 bytes claiming a 32-byte header.

    Returns the table and the label's resource id; the short chunk has the label's type.
    """
    table, ids = apkfactory.resources_table(PACKAGE, {"app_name": {"": "敌意测试"}})
    short = struct.pack("<HHI", 0x0201, 32, 8)
    package_at = 12 + struct.unpack_from("<I", table, 16)[0]  # after the global string pool
    package_size = struct.unpack_from("<I", table, package_at + 4)[0]
    grown = bytearray(table + short)
    struct.pack_into("<I", grown, 4, len(grown))
    struct.pack_into("<I", grown, package_at + 4, package_size + len(short))
    return bytes(grown), ids["app_name"]


def short_type_chunk_apk(path: Path) -> Path:
    table, label = table_ending_in_a_short_type_chunk()
    return apkfactory.build_apk(
        path,
        manifest_xml=apkfactory.manifest(PACKAGE, label=apkfactory.Ref(label)),
        resources=table,
    )


def _activities(names: Sequence[int]) -> list[bytes]:
    """<activity android:name=…> elements naming pool indexes (attribute name index 4)."""
    return [
        node
        for index in names
        for node in (
            _start(5, [_string_attribute(4, index)]),
            _node(_END_ELEMENT, struct.pack("<II", NO_INDEX, 5)),
        )
    ]


def _manifest_around(pool: bytes, body: Sequence[bytes]) -> bytes:
    """<manifest package=PACKAGE><application>…body…</application></manifest>."""
    nodes = [
        _start(0, [_string_attribute(1, 2)]),
        _start(3),
        *body,
        _node(_END_ELEMENT, struct.pack("<II", NO_INDEX, 3)),
        _node(_END_ELEMENT, struct.pack("<II", NO_INDEX, 0)),
    ]
    content = pool + b"".join(nodes)
    return struct.pack("<HHI", _XML, 8, 8 + len(content)) + content


_MANIFEST_STRINGS = ["manifest", "package", PACKAGE, "application", "name", "activity"]


def _utf16_pool(offsets: Sequence[int], data: bytes) -> bytes:
    """A UTF-16 string pool chunk with the given string offsets into `data`."""
    table = struct.pack(f"<{len(offsets)}I", *offsets)
    body = table + data + b"\0" * (-len(data) % 4)
    header = struct.pack("<HHIIIIII", 0x0001, 28, 28 + len(body), len(offsets), 0, 0,
                         28 + len(table), 0)  # fmt: skip
    return header + body


def _pool_parts(strings: Sequence[str]) -> tuple[list[int], bytes]:
    """The offsets and string data of a UTF-16 pool holding `strings`."""
    pool = apkfactory.string_pool(strings, utf8=False)
    start = struct.unpack_from("<I", pool, 20)[0]
    return list(struct.unpack_from(f"<{len(strings)}I", pool, 28)), pool[start:]


def pool_naming_one_string_often(count: int = 10_000, length: int = 100_000) -> bytes:
    """A manifest whose pool gives `count` indexes to one long string, each an activity's name.

    Decoding per index would cost `count` copies of the string: a gigabyte here.
    """
    offsets, data = _pool_parts([*_MANIFEST_STRINGS, "." + "A" * length])
    first = len(offsets) - 1
    offsets += [offsets[-1]] * (count - 1)
    return _manifest_around(_utf16_pool(offsets, data), _activities(range(first, first + count)))


def pool_of_overlapping_strings(count: int = 20_000, length: int = 200_000) -> bytes:
    """A pool whose `count` strings start at successive places inside one long run.

    The run repeats U+7FFF, so each string reads a length of 32,767 units where it starts
    and runs on over the next ones: a 400 KB pool that decodes to 1.3 GB, each string an
    activity's name.
    """
    offsets, data = _pool_parts(_MANIFEST_STRINGS)
    first = len(offsets)
    offsets += [len(data) + 2 * i for i in range(count)]
    data += "\u7fff".encode("utf-16-le") * length + b"\0\0"
    return _manifest_around(_utf16_pool(offsets, data), _activities(range(first, first + count)))


def long_package_many_components(count: int = 10_000, length: int = 1_000_000) -> bytes:
    """A package name of a million characters and `count` activities named relative to it.

    Each relative name made absolute is a new string a million characters long.
    """
    strings = ["manifest", "package", "p" * length, "application", "name", "activity"]
    strings += [f".A{i}" for i in range(count)]
    pool = apkfactory.string_pool(strings, utf8=False)
    return _manifest_around(pool, _activities(range(6, 6 + count)))


def manifest_apk(path: Path, manifest_xml: bytes) -> Path:
    return zip_with_aliases(path, [Stored(manifest_xml, ["AndroidManifest.xml"])])


# --------------------------------------------------------------------------- slow, within every cap


def slow_apk(path: Path, *, dex_mb: int = 200, copies: int = 30, salt: str = "") -> Path:
    """A valid-looking APK that takes seconds to read although no cap is exceeded.

    One stored DEX of `dex_mb` MB whose only type name sits at its very end, named
    `copies` times by the zip directory: every copy is read to the end. The DEX is mostly
    a hole, so the file is sparse (a few KB on disk) wherever the file system allows.
    `salt` goes into the type name, to make files that differ.
    """
    size = dex_mb << 20
    name = f"Lcn/edu/slow/Main{salt};"
    tail = _uleb128(len(name)) + name.encode() + b"\0"
    name_at = size - len(tail)
    header = bytearray(0x70)
    header[0:8] = b"dex\n035\0"
    struct.pack_into("<III", header, 0x20, size, 0x70, 0x12345678)
    struct.pack_into("<IIII", header, 0x38, 1, 0x70, 1, 0x74)
    dex_head = bytes(header) + struct.pack("<II", name_at, 0)
    crc = zlib.crc32(tail, zlib.crc32(bytes(name_at - len(dex_head)), zlib.crc32(dex_head)))
    manifest = honest_manifest()
    central = bytearray()
    entries = [("AndroidManifest.xml", manifest, zlib.crc32(manifest), len(manifest))]
    with path.open("wb") as out:
        offsets = {}
        for entry_name, data, entry_crc, entry_size in [
            *entries,
            ("classes.dex", None, crc, size),
        ]:
            offsets[entry_name] = out.tell()
            encoded = entry_name.encode()
            fields = (20, 0, 0, 0, 0x21, entry_crc, entry_size, entry_size)
            out.write(struct.pack("<IHHHHHIII", 0x04034B50, *fields))
            out.write(struct.pack("<HH", len(encoded), 0) + encoded)
            if data is not None:
                out.write(data)
            else:
                out.write(dex_head)
                out.seek(name_at - len(dex_head), 1)  # a hole: zeros that take no disk
                out.write(tail)
        names = ["AndroidManifest.xml", "classes.dex"]
        names += [f"classes{i}.dex" for i in range(2, copies + 1)]
        for entry_name in names:
            stored = "classes.dex" if entry_name.endswith(".dex") else entry_name
            entry_crc, entry_size = (crc, size) if stored == "classes.dex" else entries[0][2:]
            encoded = entry_name.encode()
            fields = (20, 0, 0, 0, 0x21, entry_crc, entry_size, entry_size)
            central += struct.pack("<IH", 0x02014B50, 20) + struct.pack("<HHHHHIII", *fields)
            central += struct.pack("<HHHHHII", len(encoded), 0, 0, 0, 0, 0, offsets[stored])
            central += encoded
        cd_offset = out.tell()
        out.write(central)
        count = len(names)
        out.write(
            struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, count, count, len(central), cd_offset, 0)
        )
    return path
