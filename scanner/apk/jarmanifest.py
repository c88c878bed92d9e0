"""JAR manifest text (META-INF/MANIFEST.MF and the .SF files): sections, attributes, offsets.

Parsed the way Android's APK verifier reads them: lines end in CRLF, LF or CR; a line
starting with a space continues the previous one; a blank line ends a section; names are
matched without regard to case; `Name: value` splits at the first ": ". Each section keeps
its byte range (trailing blank line included), because .SF files sign the exact bytes of
each manifest section.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass


class Section:
    """One section: its attributes in order, and the bytes of the manifest it spans.

    A plain class with slots: an app's manifest and .SF hold a section per entry, thousands
    of them, and this is built once for each.
    """

    __slots__ = ("_lookup", "attributes", "size", "start")

    def __init__(self, start: int, size: int, attributes: tuple[tuple[str, str], ...]) -> None:
        self.start = start
        self.size = size
        self.attributes = attributes
        lookup: dict[str, str] = {}
        for key, value in attributes:
            lookup.setdefault(key.lower(), value)
        self._lookup = lookup

    def __repr__(self) -> str:
        return f"Section(start={self.start}, size={self.size}, attributes={self.attributes!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Section):
            return NotImplemented
        return (self.start, self.size, self.attributes) == (
            other.start,
            other.size,
            other.attributes,
        )

    __hash__ = None  # type: ignore[assignment]

    @property
    def name(self) -> str | None:
        """The `Name` attribute when it comes first (an individual section), else None."""
        if self.attributes and self.attributes[0][0].lower() == "name":
            return self.attributes[0][1]
        return None

    def get(self, name: str) -> str | None:
        return self._lookup.get(name.lower())


@dataclass(frozen=True)
class Manifest:
    """The main section and the individual (per-entry) sections, in file order."""

    main: Section | None
    sections: tuple[Section, ...]


def parse_manifest(data: bytes) -> Manifest:
    """Split a manifest into sections; never raises (any bytes are some manifest)."""
    sections = list(_sections(data))
    if not sections:
        return Manifest(None, ())
    return Manifest(sections[0], tuple(sections[1:]))


def _sections(data: bytes) -> Iterator[Section]:
    start = 0
    position = 0
    attributes: list[tuple[str, str]] = []
    current: bytes | None = None
    # bytes.splitlines breaks at exactly CRLF, LF and CR, as the manifest format does.
    for raw in data.splitlines(keepends=True):
        position += len(raw)
        line = raw.rstrip(b"\r\n")
        if not line:
            if current is not None:
                attributes.append(_attribute(current))
                current = None
            if attributes:
                yield Section(start, position - start, tuple(attributes))
                attributes = []
            start = position
            continue
        if line[0] == 0x20 and current is not None:
            current += line[1:]
            continue
        if current is not None:
            attributes.append(_attribute(current))
        current = line
    if current is not None:
        attributes.append(_attribute(current))
    if attributes:
        yield Section(start, position - start, tuple(attributes))


def _attribute(line: bytes) -> tuple[str, str]:
    text = line.decode("utf-8", "replace")
    name, found, value = text.partition(": ")
    return (name, value) if found else (text, "")
