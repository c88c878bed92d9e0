"""Structure-aware mutation of APKs built in code, for the fuzz test.

An APK is kept as its parts (entries and signing block) and laid out anew for each case,
so that a mutation can change a field inside an entry (a chunk's size in the manifest, a
DEX header offset) and still reach its reader through a well-formed zip, or change a
field of the zip's own records after layout. Every field is found once, by walking the
valid structure; a mutation names a field and what to do to it (zero it, add one, take
another field's value, cut the part there …), so a failing case reads as a recipe.
"""

from __future__ import annotations

import hashlib
import struct
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache

import apkfactory
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

PACKAGE = "cn.edu.fuzz.app"
NO_INDEX = 0xFFFFFFFF


@dataclass(frozen=True)
class Field:
    """A number stored at `at` in little-endian `fmt` (B, H, I or Q), and what it is."""

    at: int
    fmt: str
    what: str

    @property
    def size(self) -> int:
        return struct.calcsize("<" + self.fmt)


@dataclass(frozen=True)
class Part:
    """A zip entry: its bytes, how it is stored, and the fields inside it."""

    name: str
    data: bytes
    deflate: bool
    fields: tuple[Field, ...]


@dataclass(frozen=True)
class Base:
    """A valid APK to mutate: its entries, and its APK Signing Block if it has one."""

    name: str
    parts: tuple[Part, ...]
    block: bytes
    block_fields: tuple[Field, ...]

    def targets(self) -> list[str]:
        """Where mutations can go: each part with fields, the signing block, the zip."""
        found = [f"part:{i}" for i, p in enumerate(self.parts) if p.fields]
        return [*found, *(["block"] if self.block else []), "zip"]


FIELD_OPS = ("zero", "one", "max", "inc", "dec", "near", "double", "half", "random", "flip",
             "sign", "other", "length")  # fmt: skip
STRUCTURE_OPS = ("cut", "insert", "delete", "repeat")
OPS = FIELD_OPS + STRUCTURE_OPS


@dataclass(frozen=True)
class Mutation:
    """Do `op` to field number `field` (modulo the fields there) of `target`."""

    target: str
    field: int
    op: str
    operand: int

    def describe(self, base: Base) -> str:
        fields = _fields_of(base, self.target, _zip_fields(base))
        if not fields:
            return f"{self.op}({self.operand}) in {self.target} (no fields)"
        chosen = fields[self.field % len(fields)]
        return f"{self.op}({self.operand}) {chosen.what}"


def build(base: Base, mutations: Sequence[Mutation]) -> bytes:
    """The APK with the mutations applied: parts and block first, then the laid-out zip."""
    parts = [bytearray(p.data) for p in base.parts]
    block = bytearray(base.block)
    for m in mutations:
        if m.target.startswith("part:"):
            index = int(m.target[5:])
            _apply(parts[index], base.parts[index].fields, m)
        elif m.target == "block":
            _apply(block, base.block_fields, m)
    data, fields = layout([(p.name, bytes(b), p.deflate) for p, b in zip(base.parts, parts, strict=True)], bytes(block))  # fmt: skip
    out = bytearray(data)
    for m in mutations:
        if m.target == "zip":
            _apply(out, fields, m)
    return bytes(out)


def _fields_of(base: Base, target: str, zip_fields: Sequence[Field]) -> Sequence[Field]:
    if target.startswith("part:"):
        return base.parts[int(target[5:])].fields
    if target == "block":
        return base.block_fields
    return zip_fields


@cache
def _zip_fields_cached(base: Base) -> tuple[Field, ...]:
    _, fields = layout([(p.name, p.data, p.deflate) for p in base.parts], base.block)
    return tuple(fields)


def _zip_fields(base: Base) -> tuple[Field, ...]:
    return _zip_fields_cached(base)


def _apply(buf: bytearray, fields: Sequence[Field], m: Mutation) -> None:
    if not fields:
        return
    field = fields[m.field % len(fields)]
    if field.at >= len(buf):
        return  # an earlier mutation cut the part short
    if m.op in STRUCTURE_OPS:
        width = 1 + m.operand % 16
        if m.op == "cut":
            del buf[field.at + m.operand % (field.size + 1) :]
        elif m.op == "insert":
            buf[field.at : field.at] = m.operand.to_bytes(8, "little")[: 1 + m.operand % 8]
        elif m.op == "delete":
            del buf[field.at : field.at + width]
        else:  # repeat: the bytes from the field on, once more
            buf[field.at : field.at] = buf[field.at : field.at + 4 * width]
        return
    if field.at + field.size > len(buf):
        return
    fmt = "<" + field.fmt
    bits = 8 * field.size
    mask = (1 << bits) - 1
    (value,) = struct.unpack_from(fmt, buf, field.at)
    other = fields[(m.field + 1 + m.operand) % len(fields)]
    chosen: dict[str, Callable[[], int]] = {
        "zero": lambda: 0,
        "one": lambda: 1,
        "max": lambda: mask,
        "inc": lambda: value + 1,
        "dec": lambda: value - 1,
        "near": lambda: value + m.operand % 129 - 64,
        "double": lambda: value * 2 + 1,
        "half": lambda: value >> 1,
        "random": lambda: m.operand,
        "flip": lambda: value ^ (1 << m.operand % bits),
        "sign": lambda: value | (1 << (bits - 1)),
        "other": lambda: _read(buf, other) if other.at + other.size <= len(buf) else value,
        "length": lambda: len(buf) + m.operand % 17 - 8,
    }
    struct.pack_into(fmt, buf, field.at, chosen[m.op]() & mask)


def _read(buf: bytearray, field: Field) -> int:
    return int(struct.unpack_from("<" + field.fmt, buf, field.at)[0])


# --------------------------------------------------------------------------- zip layout


def layout(entries: Sequence[tuple[str, bytes, bool]], block: bytes) -> tuple[bytes, list[Field]]:
    """A zip of the entries, the signing block between them and the central directory.

    Sizes and CRCs are made to match each entry's (possibly mutated) bytes; the fields of
    every local header, central directory record and the end record are returned.
    """
    out = bytearray()
    fields: list[Field] = []
    central = []
    for name, data, deflate in entries:
        if deflate:
            packer = zlib.compressobj(6, zlib.DEFLATED, -15)
            payload = packer.compress(data) + packer.flush()
        else:
            payload = data
        encoded = name.encode()
        record = (20, 0x0800, 8 if deflate else 0, 0, 0x21, zlib.crc32(data), len(payload),
                  len(data))  # fmt: skip
        offset = len(out)
        fields += _record_fields(offset + 4, f"local {name}")
        fields.append(Field(offset + 26, "H", f"local {name} name length"))
        fields.append(Field(offset + 28, "H", f"local {name} extra length"))
        out += struct.pack("<IHHHHHIII", 0x04034B50, *record)
        out += struct.pack("<HH", len(encoded), 0) + encoded + payload
        central.append((encoded, record, offset))
    block_at = len(out)
    out += block
    cd_offset = len(out)
    for encoded, record, offset in central:
        at = len(out)
        fields.append(Field(at + 4, "H", f"central {encoded.decode()} version made by"))
        fields += _record_fields(at + 6, f"central {encoded.decode()}")
        for shift, fmt, what in ((28, "H", "name length"), (30, "H", "extra length"),
                                 (32, "H", "comment length"), (34, "H", "disk"),
                                 (42, "I", "local header offset")):  # fmt: skip
            fields.append(Field(at + shift, fmt, f"central {encoded.decode()} {what}"))
        out += struct.pack("<IH", 0x02014B50, 20) + struct.pack("<HHHHHIII", *record)
        out += struct.pack("<HHHHHII", len(encoded), 0, 0, 0, 0, 0, offset) + encoded
    eocd = len(out)
    for shift, fmt, what in ((4, "H", "disk"), (6, "H", "directory disk"),
                             (8, "H", "entries on disk"), (10, "H", "entries"),
                             (12, "I", "directory size"), (16, "I", "directory offset"),
                             (20, "H", "comment length")):  # fmt: skip
        fields.append(Field(eocd + shift, fmt, f"end record {what}"))
    out += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(central), len(central),
                       eocd - cd_offset, cd_offset, 0)  # fmt: skip
    del block_at
    return bytes(out), fields


def _record_fields(at: int, name: str) -> list[Field]:
    return [
        Field(at, "H", f"{name} version needed"),
        Field(at + 2, "H", f"{name} flags"),
        Field(at + 4, "H", f"{name} method"),
        Field(at + 10, "I", f"{name} crc"),
        Field(at + 14, "I", f"{name} compressed size"),
        Field(at + 18, "I", f"{name} size"),
    ]


# --------------------------------------------------------------------------- field walkers


class _Fields:
    def __init__(self, label: str) -> None:
        self.label = label
        self.found: list[Field] = []

    def add(self, at: int, fmt: str, what: str) -> None:
        self.found.append(Field(at, fmt, f"{self.label}@{at} {what}"))


def _pool_fields(data: bytes, pos: int, f: _Fields) -> None:
    header_size, _, count, styles, _, strings_start = struct.unpack_from("<HIIIII", data, pos + 2)
    for shift, fmt, what in ((8, "I", "string count"), (12, "I", "style count"),
                             (16, "I", "flags"), (20, "I", "strings start"),
                             (24, "I", "styles start")):  # fmt: skip
        f.add(pos + shift, fmt, f"pool {what}")
    for i in (*range(min(count, 6)), count - 1):
        if i >= 0:
            at = pos + header_size + 4 * i
            f.add(at, "I", f"pool offset {i}")
            (offset,) = struct.unpack_from("<I", data, at)
            f.add(pos + strings_start + offset, "B", f"pool string {i} length")
    del styles


def axml_fields(data: bytes, label: str = "AndroidManifest.xml") -> tuple[Field, ...]:
    f = _Fields(label)
    f.add(0, "H", "type")
    f.add(2, "H", "header size")
    f.add(4, "I", "size")
    pos = struct.unpack_from("<H", data, 2)[0]
    while pos + 8 <= len(data):
        kind, header_size, size = struct.unpack_from("<HHI", data, pos)
        f.add(pos, "H", f"chunk {kind:#x} type")
        f.add(pos + 2, "H", f"chunk {kind:#x} header size")
        f.add(pos + 4, "I", f"chunk {kind:#x} size")
        ext = pos + header_size
        if kind == 0x0001:
            _pool_fields(data, pos, f)
        elif kind == 0x0180:
            f.add(pos + 8, "I", "resource id")
        elif kind in (0x0100, 0x0101):
            f.add(ext, "I", "namespace prefix")
            f.add(ext + 4, "I", "namespace uri")
        elif kind == 0x0102:
            for shift, fmt, what in ((0, "I", "namespace"), (4, "I", "name"),
                                     (8, "H", "attribute start"), (10, "H", "attribute size"),
                                     (12, "H", "attribute count"), (14, "H", "id index")):  # fmt: skip
                f.add(ext + shift, fmt, f"element {what}")
            start, width, count = struct.unpack_from("<HHH", data, ext + 8)
            for i in range(count):
                at = ext + start + i * width
                for shift, fmt, what in ((4, "I", "name"), (8, "I", "raw value"),
                                         (12, "H", "value size"), (15, "B", "value type"),
                                         (16, "I", "value data")):  # fmt: skip
                    f.add(at + shift, fmt, f"attribute {i} {what}")
        elif kind == 0x0103:
            f.add(ext + 4, "I", "end element name")
        pos += size
    return tuple(f.found)


def arsc_fields(data: bytes) -> tuple[Field, ...]:
    f = _Fields("resources.arsc")
    f.add(2, "H", "table header size")
    f.add(4, "I", "table size")
    f.add(8, "I", "package count")
    _arsc_chunks(data, struct.unpack_from("<H", data, 2)[0], len(data), f)
    return tuple(f.found)


def _arsc_chunks(data: bytes, pos: int, end: int, f: _Fields) -> None:
    while pos + 8 <= end:
        kind, header_size, size = struct.unpack_from("<HHI", data, pos)
        f.add(pos, "H", f"chunk {kind:#x} type")
        f.add(pos + 2, "H", f"chunk {kind:#x} header size")
        f.add(pos + 4, "I", f"chunk {kind:#x} size")
        if kind == 0x0001:
            _pool_fields(data, pos, f)
        elif kind == 0x0200:
            for shift, what in ((8, "id"), (268, "type strings"), (276, "key strings"),
                                (284, "type id offset")):  # fmt: skip
                f.add(pos + shift, "I", f"package {what}")
            _arsc_chunks(data, pos + header_size, pos + size, f)
        elif kind == 0x0202:
            f.add(pos + 8, "B", "type spec id")
            f.add(pos + 12, "I", "type spec entry count")
        elif kind == 0x0201:
            _type_fields(data, pos, header_size, f)
        pos += size


def _type_fields(data: bytes, pos: int, header_size: int, f: _Fields) -> None:
    for shift, fmt, what in ((8, "B", "id"), (9, "B", "flags"), (12, "I", "entry count"),
                             (16, "I", "entries start"), (20, "I", "config size"),
                             (28, "H", "config language"), (30, "H", "config country")):  # fmt: skip
        f.add(pos + shift, fmt, f"type {what}")
    flags = data[pos + 9]
    count, entries_start = struct.unpack_from("<II", data, pos + 12)
    offsets = pos + header_size
    for i in range(count):
        if flags & 0x01:
            f.add(offsets + 4 * i, "H", f"sparse index {i}")
            f.add(offsets + 4 * i + 2, "H", f"sparse offset {i}")
            (offset,) = struct.unpack_from("<H", data, offsets + 4 * i + 2)
            offset *= 4
        elif flags & 0x02:
            f.add(offsets + 2 * i, "H", f"entry offset {i}")
            (offset,) = struct.unpack_from("<H", data, offsets + 2 * i)
            offset = NO_INDEX if offset == 0xFFFF else offset * 4
        else:
            f.add(offsets + 4 * i, "I", f"entry offset {i}")
            (offset,) = struct.unpack_from("<I", data, offsets + 4 * i)
        if offset == NO_INDEX:
            continue
        entry = pos + entries_start + offset
        for shift, fmt, what in ((0, "H", "size"), (2, "H", "flags"), (4, "I", "key"),
                                 (8, "H", "value size"), (11, "B", "value type"),
                                 (12, "I", "value data")):  # fmt: skip
            f.add(entry + shift, fmt, f"entry {i} {what}")


def dex_fields(data: bytes, label: str) -> tuple[Field, ...]:
    f = _Fields(label)
    f.add(8, "I", "checksum")
    names = ["file size", "header size", "endian tag", "link size", "link offset",
             "map offset", "string ids size", "string ids offset", "type ids size",
             "type ids offset", "proto ids size", "proto ids offset", "field ids size",
             "field ids offset", "method ids size", "method ids offset", "class defs size",
             "class defs offset", "data size", "data offset"]  # fmt: skip
    for i, what in enumerate(names):
        f.add(0x20 + 4 * i, "I", what)
    strings, string_off, types, type_off = struct.unpack_from("<IIII", data, 0x38)
    for i in (*range(min(strings, 8)), strings - 1):
        if i >= 0:
            f.add(string_off + 4 * i, "I", f"string id {i}")
            (offset,) = struct.unpack_from("<I", data, string_off + 4 * i)
            f.add(offset, "B", f"string {i} length")
    for i in (*range(min(types, 8)), types - 1):
        if i >= 0:
            f.add(type_off + 4 * i, "I", f"type id {i}")
    (map_off,) = struct.unpack_from("<I", data, 0x34)
    if map_off and map_off + 4 <= len(data):
        (items,) = struct.unpack_from("<I", data, map_off)
        f.add(map_off, "I", "map item count")
        for i in range(items):
            at = map_off + 4 + 12 * i
            f.add(at, "H", f"map item {i} type")
            f.add(at + 4, "I", f"map item {i} size")
            f.add(at + 8, "I", f"map item {i} offset")
    return tuple(f.found)


# --------------------------------------------------------------------------- signing block


class _Writer:
    """Bytes with u32 length prefixes, remembering where each number was written."""

    def __init__(self) -> None:
        self.out = bytearray()
        self.fields: list[Field] = []

    def number(self, fmt: str, value: int, what: str) -> None:
        self.fields.append(Field(len(self.out), fmt, what))
        self.out += struct.pack("<" + fmt, value)

    def prefixed(self, what: str, fill: Callable[[_Writer], None]) -> None:
        inner = _Writer()
        fill(inner)
        self.number("I", len(inner.out), f"{what} length")
        at = len(self.out)
        self.fields += [Field(at + g.at, g.fmt, g.what) for g in inner.fields]
        self.out += inner.out


def _chunked_sha256(sections: Sequence[bytes]) -> bytes:
    """The v2 content digest: SHA-256 over 1 MiB chunks of each section, then over them."""
    chunks = [s[i : i + (1 << 20)] for s in sections for i in range(0, len(s), 1 << 20)]
    inner = b"".join(
        hashlib.sha256(b"\xa5" + struct.pack("<I", len(c)) + c).digest() for c in chunks
    )
    return hashlib.sha256(b"\x5a" + struct.pack("<I", len(chunks)) + inner).digest()


def signing_block(
    entries: Sequence[tuple[str, bytes, bool]], signer: apkfactory.SigningKey
) -> tuple[bytes, tuple[Field, ...]]:
    """An APK Signing Block with a v2 and a v3 signer, signed over these entries.

    RSA PKCS#1 v1.5 with SHA-256 (algorithm 0x0103); the digests are right for the APK
    `layout` makes of the same entries, so the unmutated base verifies.
    """
    zipped, _ = layout(entries, b"")
    cd_offset = struct.unpack_from("<I", zipped, len(zipped) - 6)[0]
    digest = _chunked_sha256([zipped[:cd_offset], zipped[cd_offset:-22], zipped[-22:]])
    key = signer.key
    public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )

    def scheme(version: int) -> _Writer:
        def digest_item(w: _Writer) -> None:
            w.number("I", 0x0103, "digest algorithm")
            w.prefixed("digest value", lambda v: v.out.extend(digest))

        def certificate(w: _Writer) -> None:
            w.prefixed("certificate", lambda c: c.out.extend(signer.certificate_der))

        signed = _Writer()
        signed.prefixed("digests", lambda w: w.prefixed("digest", digest_item))
        signed.prefixed("certificates", certificate)
        if version == 3:
            signed.number("I", 24, "signed min sdk")
            signed.number("I", 0x7FFFFFFF, "signed max sdk")
        signed.prefixed("additional attributes", lambda w: None)
        signature = key.sign(bytes(signed.out), padding.PKCS1v15(), hashes.SHA256())  # type: ignore[union-attr,call-arg]

        def signature_item(w: _Writer) -> None:
            w.number("I", 0x0103, "signature algorithm")
            w.prefixed("signature value", lambda v: v.out.extend(signature))

        def signed_data(w: _Writer) -> None:
            w.out += signed.out
            w.fields += signed.fields

        def one_signer(w: _Writer) -> None:
            w.prefixed("signed data", signed_data)
            if version == 3:
                w.number("I", 24, "min sdk")
                w.number("I", 0x7FFFFFFF, "max sdk")
            w.prefixed("signatures", lambda v: v.prefixed("signature", signature_item))
            w.prefixed("public key", lambda v: v.out.extend(public))

        value = _Writer()
        value.prefixed("signers", lambda w: w.prefixed("signer", one_signer))
        return value

    block = _Writer()
    pairs = [(0x7109871A, scheme(2)), (0xF05368C0, scheme(3))]
    size = sum(12 + len(v.out) for _, v in pairs) + 24
    block.number("Q", size, "block size (first)")
    for block_id, value in pairs:
        name = "v2" if block_id == 0x7109871A else "v3"
        block.number("Q", 4 + len(value.out), f"{name} pair length")
        block.number("I", block_id, f"{name} pair id")
        at = len(block.out)
        block.fields += [Field(at + g.at, g.fmt, f"{name} {g.what}") for g in value.fields]
        block.out += value.out
    block.number("Q", size, "block size (last)")
    block.out += b"APK Sig Block 42"
    return bytes(block.out), tuple(block.fields)


# --------------------------------------------------------------------------- the bases


@cache
def bases() -> tuple[Base, ...]:
    """Three valid APKs (apksigner verifies each): v1+v2+v3 with two DEX files, v2+v3
    only, v1 only; UTF-8 and UTF-16 manifests; three layouts of resource table."""
    signer = apkfactory.signing_key("模糊测试", organisation="Fuzz")
    labels = {"": "Fuzz", "zh-CN": "模糊", "zh-TW": "模糊（繁）"}
    table, ids = apkfactory.resources_table(
        PACKAGE, {"app_name": labels, "other": {"": "Other", "en": "Other"}}
    )
    sparse, sparse_ids = apkfactory.resources_table(
        PACKAGE, {"app_name": {"": "Fuzz", "zh": "模糊"}}, layout="sparse"
    )
    short, short_ids = apkfactory.resources_table(
        PACKAGE, {"app_name": {"zh-CN": "模糊", "": "Fuzz"}}, layout="offset16"
    )
    components = {
        "permissions": ["android.permission.CAMERA", "android.permission.READ_CONTACTS"],
        "activities": [".Main", "cn.edu.fuzz.app.Settings"],
        "services": ["com.igexin.sdk.PushService"],
        "receivers": ["Receiver"],
        "providers": ["cn.edu.fuzz.app.Provider"],
        "launcher": ".Launcher",
        "launcher_label": "启动",
    }
    dex_one = apkfactory.dex_file(
        ["cn.edu.fuzz.app.Main", "cn.edu.fuzz.app.Settings"],
        referenced=["com.bytedance.sdk.openadsdk.TTAdSdk", "I", "[Ljava/lang/String;"],
    )
    dex_two = apkfactory.dex_file(["com.qq.e.ads.banner.BannerView", "cn.edu.学校.Main"])

    def manifest(label: int, *, utf8: bool, min_sdk: int = 21, target_sdk: int = 33) -> bytes:
        # Levels that make each base's signing schemes enough for apksigner to verify it.
        return apkfactory.manifest(
            PACKAGE, label=apkfactory.Ref(label), utf8=utf8, min_sdk=min_sdk,
            target_sdk=target_sdk, **components,  # type: ignore[arg-type]
        )  # fmt: skip

    def base(name: str, files: dict[str, bytes], stored: set[str], *, v1: bool, v2: bool) -> Base:
        if v1:
            files = {**files, **apkfactory.v1_signature(files, signer)}
        entries = [(n, d, n not in stored) for n, d in files.items()]
        block, block_fields = signing_block(entries, signer) if v2 else (b"", ())
        return Base(name, tuple(_part(n, d, n not in stored) for n, d in files.items()),
                    block, block_fields)  # fmt: skip

    full = {
        "AndroidManifest.xml": manifest(ids["app_name"], utf8=True),
        "classes.dex": dex_one,
        "classes2.dex": dex_two,
        "resources.arsc": table,
    }
    utf16 = {
        "AndroidManifest.xml": manifest(sparse_ids["app_name"], utf8=False, min_sdk=24),
        "resources.arsc": sparse,
        "classes.dex": dex_two,
    }
    v1_only = {
        "AndroidManifest.xml": manifest(short_ids["app_name"], utf8=True, target_sdk=29),
        "resources.arsc": short,
        "classes.dex": dex_one,
    }
    return (
        base("v1+v2+v3, two DEX", full, {"resources.arsc"}, v1=True, v2=True),
        base("v2+v3, UTF-16 manifest, sparse table", utf16, set(utf16), v1=False, v2=True),
        base("v1 only, 16-bit offsets", v1_only, set(), v1=True, v2=False),
    )


def _part(name: str, data: bytes, deflate: bool) -> Part:
    if name == "AndroidManifest.xml":
        fields = axml_fields(data)
    elif name == "resources.arsc":
        fields = arsc_fields(data)
    elif name.endswith(".dex"):
        fields = dex_fields(data, name)
    elif name.endswith((".RSA", ".EC", ".DSA")):
        fields = tuple(der_fields(data, name))
    else:  # MANIFEST.MF and the .SF: text, a field every line
        starts = [0] + [i + 1 for i, b in enumerate(data) if b == 0x0A]
        fields = tuple(Field(i, "B", f"{name} line at {i}") for i in starts if i < len(data))
    return Part(name, data, deflate, fields)


def der_fields(data: bytes, name: str, pos: int = 0, end: int | None = None) -> list[Field]:
    """The tag and length bytes of every DER element, nested ones included."""
    end = len(data) if end is None else end
    found: list[Field] = []
    while pos + 2 <= end:
        tag, first = data[pos], data[pos + 1]
        found.append(Field(pos, "B", f"{name}@{pos} DER tag"))
        found.append(Field(pos + 1, "B", f"{name}@{pos} DER length"))
        length, head = first, 2
        if first & 0x80:
            count = first & 0x7F
            length = int.from_bytes(data[pos + 2 : pos + 2 + count], "big")
            head += count
            for i in range(count):
                found.append(Field(pos + 2 + i, "B", f"{name}@{pos} DER length byte {i}"))
        if tag & 0x20:
            found += der_fields(data, name, pos + head, min(end, pos + head + length))
        pos += head + length
    return found
