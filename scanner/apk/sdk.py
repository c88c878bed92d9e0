"""Third-party SDK detection by class-name prefix, on whole package segments.

A prefix such as `com.qq.e` matches the class `com.qq.e.ads.Foo` and a class named
`com.qq.e` itself, never `com.qq.example.Foo`. The shipped list is
`scanner/data/sdk-prefixes.csv`; a user may add their own list with the same columns
(for instance converted from εxodus, whose ODbL data must not be shipped).
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from bisect import bisect_left
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

from appaudit.errors import AppauditError
from scanner.apk.facts import WHERE_VALUES, EmbeddedSdk, Where

COLUMNS = ("sdk", "vendor", "category", "prefixes", "source")
_REQUIRED = ("sdk", "prefixes")
_SEGMENT = re.compile(r"^[A-Za-z_$][\w$-]*$")


class SdkCatalogueError(AppauditError, ValueError):
    """A prefix list that cannot be used; the message names the file and the row."""


@dataclass(frozen=True)
class SdkDefinition:
    """One SDK of the catalogue and the package prefixes that reveal it."""

    name: str
    vendor: str
    category: str
    prefixes: tuple[str, ...]
    source: str = ""


class SdkCatalogue:
    """Prefixes indexed for look-up, so matching never loops over prefixes per class.

    Manifest names are cut at each dot and looked up in a dict of dotted prefixes; DEX
    types, tens of thousands per APK, are sorted once and each prefix is found by binary
    search.
    """

    def __init__(self, definitions: Sequence[SdkDefinition]) -> None:
        self.definitions = tuple(definitions)
        self._by_prefix: dict[str, list[SdkDefinition]] = {}
        for definition in self.definitions:
            for prefix in definition.prefixes:
                bucket = self._by_prefix.setdefault(prefix, [])
                if definition not in bucket:
                    bucket.append(definition)
        canonical = "\n".join(
            sorted(
                f"{d.name}\t{d.vendor}\t{d.category}\t{p}"
                for d in self.definitions
                for p in d.prefixes
            )
        )
        self.fingerprint = hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]
        """Identifies the prefix list; facts found with another list must be recomputed."""

    @property
    def prefixes(self) -> tuple[str, ...]:
        return tuple(self._by_prefix)

    def merged(self, other: SdkCatalogue) -> SdkCatalogue:
        return SdkCatalogue(self.definitions + other.definitions)

    def match_descriptors(self, descriptors: Sequence[str]) -> dict[str, str]:
        """Prefix → one matching class, over DEX type descriptors sorted in `str` order.

        Binary search per prefix: cost grows with the catalogue, barely with the APK.
        """
        arrays_from = bisect_left(descriptors, "[")
        element_types = sorted(d.lstrip("[") for d in descriptors[arrays_from:])
        found: dict[str, str] = {}
        for prefix in self._by_prefix:
            stem = "L" + prefix.replace(".", "/")
            for pool in (descriptors, element_types):
                hit = _search(pool, stem)
                if hit is not None:
                    found[prefix] = hit[1:-1].replace("/", ".")
                    break
        return found

    def match_names(self, names: Iterable[str]) -> dict[str, str]:
        """Prefix → one matching dotted name (class or manifest component)."""
        found: dict[str, str] = {}
        for name in names:
            # Every whole-segment prefix of the name, longest last: "a", "a.b", "a.b.C".
            cut = name.find(".")
            while True:
                candidate = name if cut < 0 else name[:cut]
                if candidate in self._by_prefix:
                    found.setdefault(candidate, name)
                if cut < 0:
                    break
                cut = name.find(".", cut + 1)
        return found

    def detect(
        self, descriptors: Sequence[str], component_names: Iterable[str]
    ) -> tuple[EmbeddedSdk, ...]:
        """SDKs found in DEX type descriptors (sorted) and in manifest component names."""
        hits: dict[str, dict[Where, str]] = {}
        places: tuple[tuple[Where, dict[str, str]], ...] = (
            ("dex", self.match_descriptors(descriptors)),
            ("manifest", self.match_names(component_names)),
        )
        for where, matches in places:
            for prefix, example in matches.items():
                hits.setdefault(prefix, {})[where] = example
        by_sdk: dict[SdkDefinition, tuple[str, dict[Where, str]]] = {}
        for prefix in sorted(hits):
            for definition in self._by_prefix[prefix]:
                if definition not in by_sdk:
                    by_sdk[definition] = (prefix, dict(hits[prefix]))
                else:
                    for where, example in hits[prefix].items():
                        by_sdk[definition][1].setdefault(where, example)
        out = []
        for definition, (prefix, examples) in by_sdk.items():
            out.append(
                EmbeddedSdk(
                    name=definition.name,
                    vendor=definition.vendor,
                    category=definition.category,
                    prefix=prefix,
                    example=examples.get("dex") or examples["manifest"],
                    where=tuple(w for w in WHERE_VALUES if w in examples),
                )
            )
        return tuple(sorted(out, key=lambda s: (s.category, s.name)))


def _search(descriptors: Sequence[str], stem: str) -> str | None:
    exact = stem + ";"
    i = bisect_left(descriptors, exact)
    if i < len(descriptors) and descriptors[i] == exact:
        return exact
    below = stem + "/"
    j = bisect_left(descriptors, below)
    if j < len(descriptors) and descriptors[j].startswith(below):
        return descriptors[j]
    return None


def parse_catalogue(text: str, origin: str) -> SdkCatalogue:
    """Read a prefix CSV (columns: sdk, vendor, category, prefixes, source; `;` between prefixes)."""
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip() for h in reader.fieldnames or []]
    missing = [c for c in _REQUIRED if c not in header]
    if missing:
        raise SdkCatalogueError(
            f"{origin}: missing column(s) {', '.join(missing)}; expected {', '.join(COLUMNS)}"
        )
    reader.fieldnames = header
    definitions = []
    for line, row in enumerate(reader, start=2):
        name = (row.get("sdk") or "").strip()
        raw_prefixes = (row.get("prefixes") or "").strip()
        if not name and not raw_prefixes:
            continue
        prefixes = tuple(dict.fromkeys(p.strip() for p in raw_prefixes.split(";") if p.strip()))
        if not name or not prefixes:
            raise SdkCatalogueError(f"{origin} line {line}: an SDK needs a name and a prefix")
        for prefix in prefixes:
            if not all(_SEGMENT.match(segment) for segment in prefix.split(".")):
                raise SdkCatalogueError(
                    f"{origin} line {line}: {prefix!r} is not a dotted package prefix"
                )
        definitions.append(
            SdkDefinition(
                name=name,
                vendor=(row.get("vendor") or "").strip(),
                category=(row.get("category") or "").strip() or "other",
                prefixes=prefixes,
                source=(row.get("source") or "").strip(),
            )
        )
    return SdkCatalogue(definitions)


@cache
def builtin_catalogue() -> SdkCatalogue:
    """The prefix list shipped with appaudit."""
    text = resources.files("scanner").joinpath("data/sdk-prefixes.csv").read_text("utf-8-sig")
    return parse_catalogue(text, "sdk-prefixes.csv")


def load_catalogue(extra: Path | None = None) -> SdkCatalogue:
    """The shipped list, plus a user-supplied CSV with the same columns if given."""
    base = builtin_catalogue()
    if extra is None:
        return base
    try:
        text = extra.read_text("utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise SdkCatalogueError(f"{extra}: cannot read the SDK prefix list ({exc})") from None
    return base.merged(parse_catalogue(text, str(extra)))
