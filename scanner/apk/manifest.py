"""The binary AndroidManifest.xml: package, versions, SDK levels, permissions, components, label.

A direct walk over the AXML chunks reads the few elements the audit needs in a
millisecond or two; androguard's AXMLPrinter, far slower, is the fallback for manifests
this reader cannot make sense of. Framework attributes are recognised by resource id, as
Android itself does, so obfuscated attribute names do not hide them.
"""

from __future__ import annotations

import struct
import sys
from array import array
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from scanner.apk.facts import Components
from scanner.apk.respool import STRING_POOL_TYPE, Refused, StringPool
from scanner.apk.ziparchive import Failure

_XML_TYPE = 0x0003
_RESOURCE_MAP_TYPE = 0x0180
_START_ELEMENT_TYPE = 0x0102
_END_ELEMENT_TYPE = 0x0103
_CHUNK = struct.Struct("<HHI")
_ATTR_EXT = struct.Struct("<IIHHH")
_ATTRIBUTE = struct.Struct("<IIIHBBI")
_NO_ENTRY = 0xFFFFFFFF
_MAX_DEPTH = 256
_MAX_COMPONENT_CHARS = 4_000_000
"""Characters of component names, made absolute, that one manifest may yield."""
# The XML node chunks and the least that must follow their header, as Android checks
# them (ResXMLTree_namespaceExt, _attrExt, _endElementExt, _cdataExt).
_NODE_HEADER_SIZE = 16
_NODE_EXTENSION_SIZES = {0x0100: 8, 0x0101: 8, 0x0102: 20, 0x0103: 8, 0x0104: 12}

TYPE_REFERENCE = 0x01
TYPE_STRING = 0x03
_TYPE_INT_DEC = 0x10
_TYPE_INT_HEX = 0x11
_TYPE_INT_BOOLEAN = 0x12

ANDROID_NS = "http://schemas.android.com/apk/res/android"
# Framework attribute ids (android.R.attr), stable across Android versions.
_ANDROID_ATTRS = {
    0x01010001: "label",
    0x01010003: "name",
    0x0101020C: "minSdkVersion",
    0x01010270: "targetSdkVersion",
    0x0101021B: "versionCode",
    0x0101021C: "versionName",
}
_PERMISSION_TAGS = {"uses-permission", "uses-permission-sdk-23", "uses-permission-sdk-m"}
_COMPONENT_TAGS = {
    "activity": "activities",
    "activity-alias": "activities",
    "service": "services",
    "receiver": "receivers",
    "provider": "providers",
}


@dataclass(frozen=True)
class Value:
    """An attribute value: a string, a number, or a resource reference (`@7F…`)."""

    text: str = ""
    number: int | None = None
    reference: int | None = None

    def as_int(self) -> int | None:
        if self.number is not None:
            return self.number
        try:
            return int(self.text.strip(), 0)
        except ValueError:
            return None


@dataclass(frozen=True)
class ManifestInfo:
    """What the audit reads from the manifest; references are resolved later, via resources."""

    package: str
    version_code: int | None = None
    version_name: Value = field(default_factory=Value)
    min_sdk: int | None = None
    target_sdk: int | None = None
    permissions: tuple[str, ...] = ()
    label: Value = field(default_factory=Value)
    components: Components = field(default_factory=Components)
    problems: tuple[str, ...] = ()


@dataclass
class _Builder:
    """Collects elements as the walk meets them."""

    package: str = ""
    root_seen: bool = False
    version_code: Value | None = None
    version_name: Value = field(default_factory=Value)
    min_sdk: Value | None = None
    target_sdk: Value | None = None
    permissions: set[str] = field(default_factory=set)
    app_label: Value | None = None
    components: dict[str, list[str]] = field(default_factory=dict)
    # Main-activity detection: the label of an activity whose intent filter has
    # action MAIN and category LAUNCHER is the app's name when <application> has none.
    activity_label: Value | None = None
    filter_main: bool = False
    filter_launcher: bool = False
    launcher_labels: list[Value] = field(default_factory=list)

    def start(self, tag: str, attrs: dict[str, Value], depth: int) -> Failure | None:
        if depth == 0:
            if tag != "manifest":
                return Failure(f"manifest root element is <{tag}>, not <manifest>")
            self.root_seen = True
            self.package = attrs.get("package", Value()).text.strip()
            self.version_code = attrs.get("versionCode")
            self.version_name = attrs.get("versionName", Value())
        elif tag == "uses-sdk":
            self.min_sdk = attrs.get("minSdkVersion", self.min_sdk)
            self.target_sdk = attrs.get("targetSdkVersion", self.target_sdk)
        elif tag in _PERMISSION_TAGS:
            name = attrs.get("name", Value()).text.strip()
            if name:
                self.permissions.add(name)
        elif tag == "application":
            self.app_label = attrs.get("label", self.app_label)
        elif tag in _COMPONENT_TAGS:
            name = attrs.get("name", Value()).text.strip()
            if name:
                self.components.setdefault(_COMPONENT_TAGS[tag], []).append(name)
            if tag in ("activity", "activity-alias"):
                self.activity_label = attrs.get("label")
        elif tag == "intent-filter":
            self.filter_main = self.filter_launcher = False
        elif tag == "action":
            self.filter_main |= attrs.get("name", Value()).text == "android.intent.action.MAIN"
        elif tag == "category":
            launcher = attrs.get("name", Value()).text == "android.intent.category.LAUNCHER"
            self.filter_launcher |= launcher
        return None

    def end(self, tag: str) -> None:
        if tag == "intent-filter" and self.filter_main and self.filter_launcher:
            if self.activity_label is not None:
                self.launcher_labels.append(self.activity_label)
        elif tag in ("activity", "activity-alias"):
            self.activity_label = None

    def build(self, problems: tuple[str, ...] = ()) -> ManifestInfo:
        package = self.package

        def absolute(name: str) -> str:
            # Android's rule: ".Foo" and "Foo" are relative to the package.
            if package and name.startswith("."):
                return package + name
            if package and "." not in name:
                return f"{package}.{name}"
            return name

        budget = _MAX_COMPONENT_CHARS
        cut = False

        def names(kind: str) -> tuple[str, ...]:
            # Distinct names first: a hostile manifest repeats one long name many times,
            # and each absolute name is a new string.
            nonlocal budget, cut
            out: list[str] = []
            for name in dict.fromkeys(self.components.get(kind, [])):
                full = absolute(name) if len(package) + len(name) < budget else ""
                budget -= len(full)
                if not full:
                    cut = True
                    break
                out.append(full)
            return tuple(dict.fromkeys(out))

        label = self.app_label
        if label is None and self.launcher_labels:
            label = self.launcher_labels[0]
        components = Components(
            activities=names("activities"),
            services=names("services"),
            receivers=names("receivers"),
            providers=names("providers"),
        )
        if cut:
            problems = (
                *problems,
                f"AndroidManifest.xml names components of more than {_MAX_COMPONENT_CHARS} "
                "characters in all; the rest were not read",
            )
        return ManifestInfo(
            package=package,
            version_code=self.version_code.as_int() if self.version_code else None,
            version_name=self.version_name,
            min_sdk=self.min_sdk.as_int() if self.min_sdk else None,
            target_sdk=self.target_sdk.as_int() if self.target_sdk else None,
            permissions=tuple(sorted(self.permissions)),
            label=label or Value(),
            components=components,
            problems=problems,
        )


def parse_manifest(data: bytes) -> ManifestInfo | Failure:
    """Read the binary manifest; androguard is tried when the direct reader gives up."""
    direct = read_axml_manifest(data)
    if not isinstance(direct, Failure):
        return direct
    if isinstance(direct, Refused):
        return Failure(f"AndroidManifest.xml could not be read: {direct.reason}")
    fallback = _manifest_via_androguard(data)
    if isinstance(fallback, Failure):
        return Failure(f"AndroidManifest.xml could not be read: {direct.reason}")
    return fallback


def read_axml_manifest(data: bytes) -> ManifestInfo | Failure:
    """The direct AXML walk, without fallback."""
    if len(data) < 8:
        return Failure("AndroidManifest.xml is too short to be binary XML")
    kind, header_size, size = _CHUNK.unpack_from(data, 0)
    if kind != _XML_TYPE:
        if data.lstrip().startswith(b"<"):
            return Failure("AndroidManifest.xml is plain-text XML, not compiled binary XML")
        return Failure("AndroidManifest.xml is not binary XML")
    if not _CHUNK.size <= header_size <= size:
        return Refused("AndroidManifest.xml has a corrupt header")
    end = min(size, len(data))
    pos = header_size
    pool: StringPool | None = None
    resource_ids: Sequence[int] = ()
    builder = _Builder()
    depth = 0
    while pos + 8 <= end:
        kind, header_size, size = _CHUNK.unpack_from(data, pos)
        # Android refuses a chunk whose header does not fit in it, or leaves no room for
        # the fields its type needs after the header; so does this walk.
        extension = _NODE_EXTENSION_SIZES.get(kind)
        least = _CHUNK.size if extension is None else _NODE_HEADER_SIZE
        if header_size < least or header_size + (extension or 0) > size or pos + size > end:
            return Refused(f"AndroidManifest.xml has a corrupt chunk at byte {pos}")
        if kind == STRING_POOL_TYPE and pool is None:
            pool = StringPool(data, pos)
            if pool.failure is not None:
                return pool.failure
        elif kind == _RESOURCE_MAP_TYPE:
            count = (size - header_size) // 4
            resource_ids = array("I", data[pos + header_size : pos + header_size + 4 * count])
            if sys.byteorder == "big":
                resource_ids.byteswap()
        elif kind == _START_ELEMENT_TYPE:
            if pool is None:
                return Failure("AndroidManifest.xml has elements before its string pool")
            element = _element(data, pos, header_size, size, pool, resource_ids)
            if isinstance(element, Failure):
                return element
            failure = builder.start(element[0], element[1], depth)
            if failure is not None:
                return failure
            depth += 1
            if depth > _MAX_DEPTH:
                return _too_deep()
        elif kind == _END_ELEMENT_TYPE and pool is not None:
            (name_index,) = struct.unpack_from("<I", data, pos + header_size + 4)
            name = pool.get(name_index)
            builder.end(name if isinstance(name, str) else "")
            depth = max(depth - 1, 0)
        pos += size
    if not builder.root_seen:
        return Failure("AndroidManifest.xml has no <manifest> element")
    if not builder.package:
        return _no_package()
    return builder.build()


def _element(
    data: bytes,
    pos: int,
    header_size: int,
    size: int,
    pool: StringPool,
    resource_ids: Sequence[int],
) -> tuple[str, dict[str, Value]] | Failure:
    ext = pos + header_size
    if ext + _ATTR_EXT.size > pos + size:
        return Failure("AndroidManifest.xml has a truncated element")
    _, name_index, attr_start, attr_size, attr_count = _ATTR_EXT.unpack_from(data, ext)
    tag = pool.get(name_index)
    if isinstance(tag, Failure):
        return tag
    if attr_size < _ATTRIBUTE.size or ext + attr_start + attr_count * attr_size > pos + size:
        return Failure(f"AndroidManifest.xml element <{tag}> has corrupt attributes")
    attrs: dict[str, Value] = {}
    for i in range(attr_count):
        at = ext + attr_start + i * attr_size
        _, name_ref, raw_ref, _, _, value_type, value = _ATTRIBUTE.unpack_from(data, at)
        resource_id = resource_ids[name_ref] if name_ref < len(resource_ids) else 0
        name = _ANDROID_ATTRS.get(resource_id)
        if name is None:
            if resource_id:
                continue  # some other framework attribute the audit does not need
            plain = pool.get(name_ref)
            if isinstance(plain, Failure):
                continue
            name = plain
        parsed = _value(pool, raw_ref, value_type, value)
        if isinstance(parsed, Failure):
            return parsed
        attrs[name] = parsed
    return tag, attrs


def _value(pool: StringPool, raw_ref: int, value_type: int, value: int) -> Value | Failure:
    if value_type == TYPE_STRING:
        # Android reads a string attribute through its raw value, not the typed data.
        text = pool.get(raw_ref if raw_ref != _NO_ENTRY else value)
        return text if isinstance(text, Failure) else Value(text=text)
    if value_type == TYPE_REFERENCE:
        return Value(text=f"@{value:08X}", reference=value)
    if value_type in (_TYPE_INT_DEC, _TYPE_INT_HEX):
        signed = value - (1 << 32) if value & 0x80000000 else value
        return Value(text=str(signed), number=signed)
    if value_type == _TYPE_INT_BOOLEAN:
        return Value(text="true" if value else "false")
    if raw_ref != _NO_ENTRY:
        raw = pool.get(raw_ref)
        return Value(text=raw) if isinstance(raw, str) else Value()
    return Value(text=str(value), number=value)


def _manifest_via_androguard(data: bytes) -> ManifestInfo | Failure:
    """androguard's more forgiving (and slower) reader, for manifests the walk rejects."""
    from scanner.apk.androguard_quiet import quiet_androguard

    quiet_androguard()
    from androguard.core.axml import AXMLPrinter

    try:
        printer = AXMLPrinter(data)
        root: Any = printer.get_xml_obj()
    except Exception as exc:  # androguard raises many kinds on malformed input
        return Failure(f"androguard could not read it either ({type(exc).__name__})")
    if root is None or root.tag != "manifest":
        return Failure("no <manifest> element")
    builder = _Builder()
    ns = "{" + ANDROID_NS + "}"

    def attrs_of(element: Any) -> dict[str, Value]:
        out: dict[str, Value] = {}
        for key, text in element.attrib.items():
            name = key[len(ns) :] if key.startswith(ns) else key
            if text.startswith("@") and len(text) == 9:
                try:
                    out[name] = Value(text=text, reference=int(text[1:], 16))
                    continue
                except ValueError:
                    pass
            out[name] = Value(text=text)
        return out

    # Iterative, with the direct walk's depth cap: a hostile manifest nests thousands deep.
    failure = builder.start(root.tag, attrs_of(root), 0)
    open_elements: list[tuple[Any, Iterator[Any]]] = [(root, iter(root))]
    while open_elements and failure is None:
        element, children = open_elements[-1]
        child = next(children, None)
        if child is None:
            open_elements.pop()
            builder.end(element.tag)
        elif isinstance(child.tag, str):  # not a comment or processing instruction
            if len(open_elements) >= _MAX_DEPTH:
                return _too_deep()
            failure = builder.start(child.tag, attrs_of(child), len(open_elements))
            open_elements.append((child, iter(child)))
    if failure is not None:
        return failure
    if not builder.package:
        return _no_package()
    return builder.build(problems=("AndroidManifest.xml is unusual; read by androguard's parser",))


def _no_package() -> Failure:
    return Failure("AndroidManifest.xml names no package")


def _too_deep() -> Failure:
    return Refused(f"AndroidManifest.xml nests elements more than {_MAX_DEPTH} deep")
