"""Build small but real APKs in code: binary manifest, DEX, resources table and signatures
(v1 JAR signing, and v2/v3 in an APK Signing Block).

Enough of each format for androguard and Android's own parsers to accept the result, so
tests can make exactly the APK they need (an ad SDK inside, a Chinese label, the same app
signed with another key) without shipping binaries.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import struct
import zipfile
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.oid import NameOID

ANDROID_NS = "http://schemas.android.com/apk/res/android"
ATTR_IDS = {
    "label": 0x01010001,
    "name": 0x01010003,
    "minSdkVersion": 0x0101020C,
    "versionCode": 0x0101021B,
    "versionName": 0x0101021C,
    "targetSdkVersion": 0x01010270,
}
TYPE_REFERENCE = 0x01
TYPE_STRING = 0x03
TYPE_INT_DEC = 0x10
NO_INDEX = 0xFFFFFFFF


# --------------------------------------------------------------------------- string pool


def string_pool(strings: Sequence[str], *, utf8: bool = True) -> bytes:
    """A ResStringPool chunk (shared by binary XML and resources.arsc)."""
    data = bytearray()
    offsets = []
    for text in strings:
        offsets.append(len(data))
        if utf8:
            encoded = text.encode("utf-8")
            data += _len8(len(text.encode("utf-16-le")) // 2) + _len8(len(encoded))
            data += encoded + b"\0"
        else:
            encoded = text.encode("utf-16-le")
            data += _len16(len(encoded) // 2) + encoded + b"\0\0"
    while len(data) % 4:
        data += b"\0"
    header_size = 28
    strings_start = header_size + 4 * len(strings)
    size = strings_start + len(data)
    header = struct.pack(
        "<HHIIIIII",
        0x0001,
        header_size,
        size,
        len(strings),
        0,
        0x100 if utf8 else 0,
        strings_start,
        0,
    )
    return header + struct.pack(f"<{len(offsets)}I", *offsets) + bytes(data)


def _len8(value: int) -> bytes:
    if value < 0x80:
        return bytes([value])
    return bytes([0x80 | (value >> 8), value & 0xFF])


def _len16(value: int) -> bytes:
    if value < 0x8000:
        return struct.pack("<H", value)
    return struct.pack("<HH", 0x8000 | (value >> 16), value & 0xFFFF)


# --------------------------------------------------------------------------- binary XML


@dataclass
class Element:
    """An XML element to compile; attribute values are str, int or Ref."""

    tag: str
    attrs: dict[str, str | int | Ref] = field(default_factory=dict)
    children: list[Element] = field(default_factory=list)


@dataclass(frozen=True)
class Ref:
    """A resource reference such as @string/app_name (0x7f010000)."""

    resource_id: int


def compile_xml(root: Element, *, utf8: bool = True) -> bytes:
    """Compile an element tree into Android binary XML (AXML)."""
    android_names = sorted(
        {n for e in _walk(root) for n in e.attrs if n.startswith("android:")},
        key=lambda n: ATTR_IDS[n.split(":", 1)[1]],
    )
    strings: list[str] = [n.split(":", 1)[1] for n in android_names]
    index: dict[str, int] = {}

    def intern(text: str) -> int:
        if text not in index:
            index[text] = len(strings)
            strings.append(text)
        return index[text]

    for position, name in enumerate(android_names):
        index[name.split(":", 1)[1]] = position
    prefix_ref = intern("android")
    uri_ref = intern(ANDROID_NS)
    body = bytearray()
    body += _node(0x0100, struct.pack("<II", prefix_ref, uri_ref))
    for element in _walk_events(root):
        if isinstance(element, tuple):
            body += _node(0x0103, struct.pack("<II", NO_INDEX, intern(element[1])))
            continue
        attributes = []
        for name, value in sorted(element.attrs.items(), key=lambda kv: _attr_order(kv[0])):
            if name.startswith("android:"):
                ns, key = uri_ref, index[name.split(":", 1)[1]]
            else:
                ns, key = NO_INDEX, intern(name)
            if isinstance(value, Ref):
                raw, kind, data = NO_INDEX, TYPE_REFERENCE, value.resource_id
            elif isinstance(value, int):
                raw, kind, data = NO_INDEX, TYPE_INT_DEC, value & 0xFFFFFFFF
            else:
                raw = intern(value)
                kind, data = TYPE_STRING, raw
            attributes.append(struct.pack("<IIIHBBI", ns, key, raw, 8, 0, kind, data))
        ext = struct.pack(
            "<IIHHHHHH", NO_INDEX, intern(element.tag), 20, 20, len(attributes), 0, 0, 0
        )
        body += _node(0x0102, ext + b"".join(attributes))
    body += _node(0x0101, struct.pack("<II", prefix_ref, uri_ref))
    pool = string_pool(strings, utf8=utf8)
    ids = [ATTR_IDS[n.split(":", 1)[1]] for n in android_names]
    resource_map = struct.pack("<HHI", 0x0180, 8, 8 + 4 * len(ids)) + struct.pack(
        f"<{len(ids)}I", *ids
    )
    content = pool + resource_map + bytes(body)
    return struct.pack("<HHI", 0x0003, 8, 8 + len(content)) + content


def _attr_order(name: str) -> tuple[int, str]:
    if name.startswith("android:"):
        return (0, f"{ATTR_IDS[name.split(':', 1)[1]]:08x}")
    return (1, name)


def _node(kind: int, ext: bytes) -> bytes:
    header = struct.pack("<HHI", kind, 16, 16 + len(ext)) + struct.pack("<II", 1, NO_INDEX)
    return header + ext


def _walk(element: Element) -> Iterable[Element]:
    yield element
    for child in element.children:
        yield from _walk(child)


def _walk_events(element: Element) -> Iterable[Element | tuple[str, str]]:
    yield element
    for child in element.children:
        yield from _walk_events(child)
    yield ("end", element.tag)


def manifest(
    package: str,
    *,
    version_code: int | None = 1,
    version_name: str | None = "1.0",
    min_sdk: int | None = 21,
    target_sdk: int | None = 33,
    permissions: Sequence[str] = (),
    label: str | Ref | None = None,
    activities: Sequence[str] = (),
    services: Sequence[str] = (),
    receivers: Sequence[str] = (),
    providers: Sequence[str] = (),
    launcher: str | None = None,
    launcher_label: str | None = None,
    utf8: bool = True,
) -> bytes:
    """A compiled AndroidManifest.xml with the given identity, permissions and components.

    `launcher` names an activity that gets a MAIN/LAUNCHER intent filter (and
    `launcher_label`, if given) — Android's fallback for the app name.
    """
    root_attrs: dict[str, str | int | Ref] = {"package": package}
    if version_code is not None:
        root_attrs["android:versionCode"] = version_code
    if version_name is not None:
        root_attrs["android:versionName"] = version_name
    root = Element("manifest", root_attrs)
    sdk: dict[str, str | int | Ref] = {}
    if min_sdk is not None:
        sdk["android:minSdkVersion"] = min_sdk
    if target_sdk is not None:
        sdk["android:targetSdkVersion"] = target_sdk
    if sdk:
        root.children.append(Element("uses-sdk", sdk))
    for permission in permissions:
        root.children.append(Element("uses-permission", {"android:name": permission}))
    app_attrs: dict[str, str | int | Ref] = {}
    if label is not None:
        app_attrs["android:label"] = label
    application = Element("application", app_attrs)
    root.children.append(application)
    for tag, names in (
        ("activity", activities),
        ("service", services),
        ("receiver", receivers),
        ("provider", providers),
    ):
        for name in names:
            application.children.append(Element(tag, {"android:name": name}))
    if launcher is not None:
        attrs: dict[str, str | int | Ref] = {"android:name": launcher}
        if launcher_label is not None:
            attrs["android:label"] = launcher_label
        intent = Element(
            "intent-filter",
            children=[
                Element("action", {"android:name": "android.intent.action.MAIN"}),
                Element("category", {"android:name": "android.intent.category.LAUNCHER"}),
            ],
        )
        application.children.append(Element("activity", attrs, [intent]))
    return compile_xml(root, utf8=utf8)


# --------------------------------------------------------------------------- resources.arsc


def resources_table(
    package: str,
    strings: Mapping[str, Mapping[str, str]],
    *,
    package_id: int = 0x7F,
    layout: str = "offset32",
) -> tuple[bytes, dict[str, int]]:
    """A resources.arsc with string resources in several locales.

    `strings` maps a resource name to {locale: value}, locale "" being the default
    configuration and others like "zh-CN", "zh-TW", "en". `layout` is how a type chunk
    lists its entries: "offset32" (classic), "offset16" or "sparse" (newer aapt2).
    Returns the table and the resource id of each name (type `string` is type id 1).
    """
    names = list(strings)
    values: list[str] = []
    locales = sorted({loc for per_name in strings.values() for loc in per_name})
    type_chunks = []
    for locale in locales:
        offsets = []
        entries = bytearray()
        for name in names:
            value = strings[name].get(locale)
            if value is None:
                offsets.append(NO_INDEX)
                continue
            offsets.append(len(entries))
            values.append(value)
            entries += struct.pack("<HHI", 8, 0, names.index(name))
            entries += struct.pack("<HBBI", 8, 0, TYPE_STRING, len(values) - 1)
        config = _config(locale)
        header_size = 20 + len(config)
        flags = 0
        count = len(names)
        if layout == "sparse":
            flags = 0x01
            present = [(i, off) for i, off in enumerate(offsets) if off != NO_INDEX]
            count = len(present)
            table = b"".join(struct.pack("<HH", i, off // 4) for i, off in present)
        elif layout == "offset16":
            flags = 0x02
            table = b"".join(
                struct.pack("<H", 0xFFFF if off == NO_INDEX else off // 4) for off in offsets
            )
        else:
            table = struct.pack(f"<{len(offsets)}I", *offsets)
        table += b"\0" * (-len(table) % 4)
        entries_start = header_size + len(table)
        header = struct.pack(
            "<HHIBBHII",
            0x0201,
            header_size,
            entries_start + len(entries),
            1,
            flags,
            0,
            count,
            entries_start,
        )
        type_chunks.append(header + config + table + bytes(entries))
    spec = struct.pack("<HHIBBHI", 0x0202, 16, 16 + 4 * len(names), 1, 0, 0, len(names))
    spec += b"\0" * (4 * len(names))
    type_pool = string_pool(["string"])
    key_pool = string_pool(names)
    header_size = 288
    name_field = package.encode("utf-16-le")[:254].ljust(256, b"\0")
    body = type_pool + key_pool + spec + b"".join(type_chunks)
    package_chunk = (
        struct.pack("<HHII", 0x0200, header_size, header_size + len(body), package_id)
        + name_field
        + struct.pack("<IIIII", header_size, 0, header_size + len(type_pool), 0, 0)
        + body
    )
    global_pool = string_pool(values)
    content = global_pool + package_chunk
    table = struct.pack("<HHII", 0x0002, 12, 12 + len(content), 1) + content
    ids = {name: (package_id << 24) | (1 << 16) | i for i, name in enumerate(names)}
    return table, ids


def _config(locale: str) -> bytes:
    config = bytearray(64)
    struct.pack_into("<I", config, 0, 64)
    if locale:
        language, _, region = locale.partition("-")
        config[8:10] = language.encode("ascii")[:2]
        if region:
            config[10:12] = region.encode("ascii")[:2]
    return bytes(config)


# --------------------------------------------------------------------------- DEX


def dex_file(classes: Sequence[str], *, referenced: Sequence[str] = ()) -> bytes:
    """A minimal valid DEX defining `classes` (dotted names) and referencing `referenced`.

    Referenced types appear only in type_ids, as the classes an app calls but does not
    define do. Checksum and SHA-1 signature are correct, so strict readers accept it.
    """
    superclass = "Ljava/lang/Object;"
    defined = [_descriptor(c) for c in classes]
    descriptors = sorted(
        {superclass, *defined, *(_descriptor(r) if "." in r else r for r in referenced)},
        key=lambda s: s.encode("utf-16-be"),
    )
    strings = descriptors  # every string is a type descriptor here
    type_index = {d: i for i, d in enumerate(descriptors)}
    string_ids_off = 0x70
    type_ids_off = string_ids_off + 4 * len(strings)
    class_defs_off = type_ids_off + 4 * len(descriptors)
    data_off = class_defs_off + 32 * len(defined)
    string_data = bytearray()
    string_offsets = []
    for text in strings:
        string_offsets.append(data_off + len(string_data))
        string_data += _uleb128(len(text.encode("utf-16-le")) // 2) + _mutf8(text) + b"\0"
    while (data_off + len(string_data)) % 4:
        string_data += b"\0"
    map_off = data_off + len(string_data)
    items = [(0x0000, 1, 0), (0x0001, len(strings), string_ids_off)]
    items.append((0x0002, len(descriptors), type_ids_off))
    if defined:
        items.append((0x0006, len(defined), class_defs_off))
    items += [(0x2002, len(strings), data_off), (0x1000, 1, map_off)]
    map_list = struct.pack("<I", len(items)) + b"".join(
        struct.pack("<HHII", kind, 0, size, offset) for kind, size, offset in items
    )
    file_size = map_off + len(map_list)
    body = bytearray()
    body += struct.pack(f"<{len(string_offsets)}I", *string_offsets)
    body += struct.pack(f"<{len(descriptors)}I", *range(len(descriptors)))
    for descriptor in sorted(defined, key=lambda d: type_index[d]):
        body += struct.pack(
            "<IIIIIIII",
            type_index[descriptor],
            0x0001,  # public
            type_index[superclass],
            0,
            NO_INDEX,
            0,
            0,
            0,
        )
    body += string_data + map_list
    header = bytearray(0x70)
    header[0:8] = b"dex\n035\0"
    struct.pack_into(
        "<20I",
        header,
        0x20,
        file_size,
        0x70,
        0x12345678,
        0,
        0,
        map_off,
        len(strings),
        string_ids_off,
        len(descriptors),
        type_ids_off,
        0,
        0,
        0,
        0,
        0,
        0,
        len(defined),
        class_defs_off if defined else 0,
        file_size - data_off,
        data_off,
    )
    data = header[:0x70] + body
    data[12:32] = hashlib.sha1(bytes(data[32:])).digest()
    struct.pack_into("<I", data, 8, zlib.adler32(bytes(data[12:])))
    return bytes(data)


def _descriptor(name: str) -> str:
    return "L" + name.replace(".", "/") + ";"


def _mutf8(text: str) -> bytes:
    out = bytearray()
    for unit in struct.unpack(f"<{len(text.encode('utf-16-le')) // 2}H", text.encode("utf-16-le")):
        if unit == 0:
            out += b"\xc0\x80"
        elif unit < 0x80:
            out.append(unit)
        elif unit < 0x800:
            out += bytes([0xC0 | unit >> 6, 0x80 | unit & 0x3F])
        else:
            out += bytes([0xE0 | unit >> 12, 0x80 | (unit >> 6) & 0x3F, 0x80 | unit & 0x3F])
    return bytes(out)


def _uleb128(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


# --------------------------------------------------------------------------- signing


@dataclass(frozen=True)
class SigningKey:
    """A private key and its self-signed certificate."""

    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
    certificate: x509.Certificate

    @property
    def certificate_der(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.DER)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.certificate_der).hexdigest()

    @property
    def block_suffix(self) -> str:
        return ".EC" if isinstance(self.key, ec.EllipticCurvePrivateKey) else ".RSA"


def signing_key(
    common_name: str = "appaudit test", *, organisation: str = "Test School", kind: str = "rsa"
) -> SigningKey:
    """A fresh key and self-signed certificate (RSA 2048 or EC P-256)."""
    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
    if kind == "ec":
        key = ec.generate_private_key(ec.SECP256R1())
    else:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )
    now = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=365 * 30))
        .sign(key, hashes.SHA256())
    )
    return SigningKey(key, certificate)


def v1_signature(
    files: Mapping[str, bytes], signer: SigningKey, *, apk_signed: str | None = None
) -> dict[str, bytes]:
    """META-INF/MANIFEST.MF, CERT.SF and CERT.RSA (or .EC) for the given entries.

    `apk_signed` (e.g. "2" or "2, 3") writes the `X-Android-APK-Signed` stripping
    protection into the .SF, as apksigner does when it also signs with v2/v3.
    """
    main = b"Manifest-Version: 1.0\r\nCreated-By: appaudit tests\r\n\r\n"
    sections = []
    for name in sorted(files):
        digest = base64.b64encode(hashlib.sha256(files[name]).digest())
        sections.append(
            _manifest_line(b"Name: " + name.encode()) + b"SHA-256-Digest: " + digest + b"\r\n\r\n"
        )
    manifest_mf = main + b"".join(sections)
    sf = bytearray(b"Signature-Version: 1.0\r\nCreated-By: appaudit tests\r\n")
    if apk_signed is not None:
        sf += b"X-Android-APK-Signed: " + apk_signed.encode() + b"\r\n"
    sf += b"SHA-256-Digest-Manifest: " + base64.b64encode(hashlib.sha256(manifest_mf).digest())
    sf += b"\r\n\r\n"
    for name, section in zip(sorted(files), sections, strict=True):
        sf += _manifest_line(b"Name: " + name.encode())
        sf += b"SHA-256-Digest: " + base64.b64encode(hashlib.sha256(section).digest()) + b"\r\n\r\n"
    signature = (
        pkcs7.PKCS7SignatureBuilder()
        .set_data(bytes(sf))
        .add_signer(signer.certificate, signer.key, hashes.SHA256())
        .sign(
            serialization.Encoding.DER,
            [pkcs7.PKCS7Options.DetachedSignature, pkcs7.PKCS7Options.NoCapabilities],
        )
    )
    return {
        "META-INF/MANIFEST.MF": manifest_mf,
        "META-INF/CERT.SF": bytes(sf),
        "META-INF/CERT" + signer.block_suffix: signature,
    }


def _manifest_line(line: bytes) -> bytes:
    # JAR manifests wrap lines at 72 bytes; continuation lines start with a space.
    out = line[:70] + b"\r\n"
    rest = line[70:]
    while rest:
        out += b" " + rest[:69] + b"\r\n"
        rest = rest[69:]
    return out


# --------------------------------------------------------------------------- APK


def build_apk(
    path: Path,
    *,
    manifest_xml: bytes | None,
    dex: Sequence[bytes] = (),
    resources: bytes | None = None,
    extra: Mapping[str, bytes] | None = None,
    signer: SigningKey | None = None,
    schemes: Sequence[str] = ("v1", "v2"),
) -> Path:
    """Write an APK (zip) with the given parts, signed by `signer` (if given) with each of
    `schemes` (v1, v2, v3), as apksigner would sign it."""
    files: dict[str, bytes] = {}
    if manifest_xml is not None:
        files["AndroidManifest.xml"] = manifest_xml
    for i, data in enumerate(dex):
        files["classes.dex" if i == 0 else f"classes{i + 1}.dex"] = data
    if resources is not None:
        files["resources.arsc"] = resources
    files.update(extra or {})
    block_schemes = [s for s in schemes if s != "v1"]
    if signer is not None and "v1" in schemes:
        numbers = ", ".join(s.lstrip("v") for s in block_schemes) or None
        files.update(v1_signature(files, signer, apk_signed=numbers))
    write_zip(path, files)
    if signer is not None and block_schemes:
        sign_block(path, signer, schemes=block_schemes)
    return path


def write_zip(path: Path, files: Mapping[str, bytes]) -> Path:
    """A plain zip of `files` in order (resources.arsc stored, the rest deflated)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in files.items():
            method = zipfile.ZIP_STORED if name == "resources.arsc" else zipfile.ZIP_DEFLATED
            archive.writestr(zipfile.ZipInfo(name, (2024, 1, 1, 0, 0, 0)), data, method)
    return path


# --------------------------------------------------------------------------- APK Signing Block

V2_BLOCK_ID = 0x7109871A
V3_BLOCK_ID = 0xF05368C0
STRIPPING_PROTECTION_ATTR = 0xBEEFF00D
MAX_SDK = 0x7FFFFFFF


@dataclass(frozen=True)
class ZipParts:
    """An APK split where the APK Signing Block goes: entries, block, directory, end record."""

    entries: bytes
    block: bytes
    central_directory: bytes
    eocd: bytes


def split_zip(data: bytes) -> ZipParts:
    """Split a (possibly signed) APK; the end record must be the last 22 bytes."""
    eocd = data[-22:]
    assert eocd[:4] == b"PK\x05\x06", "end record with a comment is not supported here"
    cd_size, cd_offset = struct.unpack_from("<II", eocd, 12)
    block_start = cd_offset
    if data[cd_offset - 16 : cd_offset] == b"APK Sig Block 42":
        (size,) = struct.unpack_from("<Q", data, cd_offset - 24)
        block_start = cd_offset - size - 8
    return ZipParts(
        data[:block_start], data[block_start:cd_offset], data[cd_offset : cd_offset + cd_size], eocd
    )


def join_zip(parts: ZipParts) -> bytes:
    """The APK again, its end record pointing at the central directory where it now is."""
    eocd = bytearray(parts.eocd)
    struct.pack_into("<I", eocd, 16, len(parts.entries) + len(parts.block))
    return parts.entries + parts.block + parts.central_directory + bytes(eocd)


def sign_block(
    path: Path,
    signer: SigningKey,
    *,
    schemes: Sequence[str] = ("v2",),
    min_sdk: int = 24,
    pss: bool = False,
) -> Path:
    """Add an APK Signing Block with v2 and/or v3 signatures (SHA-256; RSA PKCS#1, or RSA
    PSS with `pss`, or ECDSA) over the file's entries, central directory and end record,
    replacing any block."""
    parts = split_zip(path.read_bytes())
    parts = ZipParts(parts.entries, b"", parts.central_directory, parts.eocd)
    digest = chunked_sha256(parts.entries, parts.central_directory, _eocd_for_digest(parts))
    pairs = []
    for scheme in schemes:
        if scheme == "v2":
            attributes = []
            if "v3" in schemes:
                attributes.append((STRIPPING_PROTECTION_ATTR, struct.pack("<I", 3)))
            pairs.append((V2_BLOCK_ID, _scheme_block(signer, digest, attributes, None, pss)))
        elif scheme == "v3":
            block = _scheme_block(signer, digest, [], (min_sdk, MAX_SDK), pss)
            pairs.append((V3_BLOCK_ID, block))
        else:
            raise ValueError(f"unknown scheme {scheme}")
    block = signing_block(pairs)
    path.write_bytes(join_zip(ZipParts(parts.entries, block, parts.central_directory, parts.eocd)))
    return path


def _eocd_for_digest(parts: ZipParts) -> bytes:
    eocd = bytearray(parts.eocd)
    struct.pack_into("<I", eocd, 16, len(parts.entries))
    return bytes(eocd)


def chunked_sha256(*regions: bytes) -> bytes:
    """The v2/v3 content digest: SHA-256 over 1 MB chunks of each region, then over those."""
    digests = []
    for region in regions:
        for start in range(0, len(region), 1 << 20):
            chunk = region[start : start + (1 << 20)]
            digests.append(hashlib.sha256(b"\xa5" + struct.pack("<I", len(chunk)) + chunk).digest())
    return hashlib.sha256(b"\x5a" + struct.pack("<I", len(digests)) + b"".join(digests)).digest()


def _prefixed(data: bytes) -> bytes:
    return struct.pack("<I", len(data)) + data


def _scheme_block(
    signer: SigningKey,
    content_digest: bytes,
    attributes: Sequence[tuple[int, bytes]],
    sdk_range: tuple[int, int] | None,
    pss: bool = False,
) -> bytes:
    is_ec = isinstance(signer.key, ec.EllipticCurvePrivateKey)
    algorithm = 0x0201 if is_ec else 0x0101 if pss else 0x0103
    digests = _prefixed(_prefixed(struct.pack("<I", algorithm) + _prefixed(content_digest)))
    certificates = _prefixed(_prefixed(signer.certificate_der))
    encoded_attributes = _prefixed(
        b"".join(_prefixed(struct.pack("<I", i) + value) for i, value in attributes)
    )
    sdks = struct.pack("<II", *sdk_range) if sdk_range is not None else b""
    signed_data = digests + certificates + sdks + encoded_attributes
    if isinstance(signer.key, ec.EllipticCurvePrivateKey):
        signature = signer.key.sign(signed_data, ec.ECDSA(hashes.SHA256()))
    elif pss:
        pad = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
        signature = signer.key.sign(signed_data, pad, hashes.SHA256())
    else:
        signature = signer.key.sign(signed_data, padding.PKCS1v15(), hashes.SHA256())
    signatures = _prefixed(_prefixed(struct.pack("<I", algorithm) + _prefixed(signature)))
    public_key = signer.key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    signer_bytes = _prefixed(signed_data) + sdks + signatures + _prefixed(public_key)
    return _prefixed(_prefixed(signer_bytes))


def signing_block(pairs: Sequence[tuple[int, bytes]]) -> bytes:
    """An APK Signing Block holding the given (id, value) pairs."""
    body = b"".join(struct.pack("<QI", len(value) + 4, i) + value for i, value in pairs)
    size = len(body) + 8 + 16
    return struct.pack("<Q", size) + body + struct.pack("<Q", size) + b"APK Sig Block 42"


def simple_apk(
    path: Path,
    package: str = "cn.edu.example.app",
    *,
    label: str | None = "示例应用",
    classes: Sequence[str] = ("cn.edu.example.app.MainActivity",),
    signer: SigningKey | None = None,
    schemes: Sequence[str] = ("v1", "v2"),
    min_sdk: int | None = 21,
    target_sdk: int | None = 33,
) -> Path:
    """A small signed-or-not APK with one activity: the common case for source tests."""
    return build_apk(
        path,
        manifest_xml=manifest(
            package,
            label=label,
            activities=[classes[0]] if classes else [],
            min_sdk=min_sdk,
            target_sdk=target_sdk,
        ),
        dex=[dex_file(classes)],
        signer=signer,
        schemes=schemes,
    )


# --------------------------------------------------------------------------- raw zips


@dataclass(frozen=True)
class RawEntry:
    """A zip entry written byte for byte, so its header can claim anything.

    `chunks` is the stored or deflated payload; repeating one chunk object keeps even a
    huge entry cheap in memory. `declared_size` is what the headers say it inflates to.
    """

    name: str
    chunks: Sequence[bytes]
    declared_size: int
    method: int = 8
    crc: int = 0


def deflated(data: bytes) -> RawEntry:
    """Helper for honest entries: raw-deflate `data` (name set by `named`)."""
    compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
    payload = compressor.compress(data) + compressor.flush()
    return RawEntry("", [payload], len(data), 8, zlib.crc32(data))


def named(entry: RawEntry, name: str, *, declared_size: int | None = None) -> RawEntry:
    return RawEntry(
        name,
        entry.chunks,
        entry.declared_size if declared_size is None else declared_size,
        entry.method,
        entry.crc,
    )


def zeros_deflated(mib: int) -> RawEntry:
    """`mib` MiB of zero bytes, deflated, built from one compressed MiB repeated.

    A full flush resets the compressor, so each MiB compresses to identical bytes: the
    entry costs about 1 KB of memory per GiB it inflates to, and no time to build.
    """
    chunk = bytes(1 << 20)
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    piece = compressor.compress(chunk) + compressor.flush(zlib.Z_FULL_FLUSH)
    tail = zlib.compressobj(9, zlib.DEFLATED, -15).flush(zlib.Z_FINISH)
    crc = 0
    for _ in range(mib):
        crc = zlib.crc32(chunk, crc)
    return RawEntry("", [piece] * mib + [tail], mib << 20, 8, crc)


def write_raw_zip(path: Path, entries: Sequence[RawEntry]) -> Path:
    """Write entries with exactly the sizes they declare, streaming the payloads."""
    central = bytearray()
    with path.open("wb") as out:
        for entry in entries:
            name = entry.name.encode("utf-8")
            compressed = sum(len(c) for c in entry.chunks)
            offset = out.tell()
            fields = (20, 0x0800, entry.method, 0, 0x21, entry.crc, compressed)
            out.write(struct.pack("<IHHHHHII", 0x04034B50, *fields))
            out.write(struct.pack("<IHH", entry.declared_size, len(name), 0) + name)
            for chunk in entry.chunks:
                out.write(chunk)
            central += struct.pack("<IHHHHHHII", 0x02014B50, 20, *fields)
            central += struct.pack(
                "<IHHHHHII", entry.declared_size, len(name), 0, 0, 0, 0, 0, offset
            )
            central += name
        cd_offset = out.tell()
        out.write(central)
        out.write(
            struct.pack(
                "<IHHHHIIH",
                0x06054B50,
                0,
                0,
                len(entries),
                len(entries),
                len(central),
                cd_offset,
                0,
            )
        )
    return path


# --------------------------------------------------------------------------- tampering


def read_entries(path: Path) -> dict[str, bytes]:
    """Every entry of an APK, uncompressed, in directory order."""
    with zipfile.ZipFile(path) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist()}


def rebuild(
    genuine: Path,
    out: Path,
    *,
    replace: Mapping[str, bytes] | None = None,
    add: Mapping[str, bytes] | None = None,
    remove: Sequence[str] = (),
    keep_block: bool = True,
) -> Path:
    """A new zip with the genuine APK's entries (META-INF included, content copied byte for
    byte) changed as asked, and the genuine APK Signing Block copied in front of the new
    central directory when `keep_block`: what a repackager does to pass as the original."""
    files = read_entries(genuine)
    for name in remove:
        del files[name]
    files.update(replace or {})
    files.update(add or {})
    write_zip(out, files)
    if keep_block:
        block = split_zip(genuine.read_bytes()).block
        parts = split_zip(out.read_bytes())
        out.write_bytes(
            join_zip(ZipParts(parts.entries, block, parts.central_directory, parts.eocd))
        )
    return out


def strip_block(genuine: Path, out: Path) -> Path:
    """The APK with its APK Signing Block removed (so only v1 remains), bytes otherwise kept."""
    parts = split_zip(genuine.read_bytes())
    out.write_bytes(join_zip(ZipParts(parts.entries, b"", parts.central_directory, parts.eocd)))
    return out


def truncate_block(genuine: Path, out: Path, cut: int = 16) -> Path:
    """The APK with `cut` bytes taken out of the middle of its signing block (sizes unchanged)."""
    parts = split_zip(genuine.read_bytes())
    middle = len(parts.block) // 2
    block = parts.block[:middle] + parts.block[middle + cut :]
    out.write_bytes(join_zip(ZipParts(parts.entries, block, parts.central_directory, parts.eocd)))
    return out


def flip_block_byte(genuine: Path, out: Path, offset_from_start: int) -> Path:
    """The APK with one byte of its signing block inverted (a damaged or forged signature)."""
    parts = split_zip(genuine.read_bytes())
    block = bytearray(parts.block)
    block[offset_from_start] ^= 0xFF
    out.write_bytes(
        join_zip(ZipParts(parts.entries, bytes(block), parts.central_directory, parts.eocd))
    )
    return out
