"""A read-only view of the registry, loaded once per scan, that rules consult."""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from registry import values
from registry.index import EntryIndex
from registry.records import AdoptionRecord, EntryRecord


def school_key(name: str) -> str:
    """A school name folded for comparison (width, case, spaces, punctuation)."""
    return values.normalised_name(name)


@dataclass
class RegistryView:
    """Filed entries, adoptions and known signers, indexed for lookups without queries."""

    entries: tuple[EntryRecord, ...]
    adoptions: tuple[AdoptionRecord, ...]
    source: str = ""
    index: EntryIndex = field(init=False, repr=False)
    _by_school: dict[tuple[int, str], AdoptionRecord] = field(init=False, repr=False)
    _by_code: dict[tuple[int, str], AdoptionRecord] = field(init=False, repr=False)
    _district: dict[int, AdoptionRecord] = field(init=False, repr=False)
    _decisions: dict[str, set[str]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.index = EntryIndex(self.entries)
        self._by_school = {}
        self._by_code = {}
        self._district = {}
        self._decisions = defaultdict(set)
        for adoption in self.adoptions:
            if adoption.is_district:
                self._district[adoption.entry_id] = adoption
                continue
            self._by_school[(adoption.entry_id, school_key(adoption.school))] = adoption
            if adoption.school_code:
                self._by_code[(adoption.entry_id, adoption.school_code)] = adoption

    @classmethod
    def build(
        cls, entries: Iterable[EntryRecord], adoptions: Iterable[AdoptionRecord], source: str = ""
    ) -> RegistryView:
        return cls(tuple(entries), tuple(adoptions), source)

    def adoption_for(
        self, entry_id: int, school: str, school_code: str = ""
    ) -> AdoptionRecord | None:
        """This school's adoption of the entry, else the district's, else None."""
        if school_code:
            found = self._by_code.get((entry_id, school_code))
            if found is not None:
                return found
        found = self._by_school.get((entry_id, school_key(school)))
        if found is not None:
            return found
        return self._district.get(entry_id)

    def to_dict(self) -> dict[str, Any]:
        return {
            "entries": [e.to_dict(with_id=True) for e in self.entries],
            "adoptions": [
                {
                    "school": a.school,
                    "school_code": a.school_code,
                    "district": a.is_district,
                    "entry_id": a.entry_id,
                    "decision_ref": a.decision_ref,
                    "decided_on": a.decided_on.isoformat() if a.decided_on else "",
                    "audience": list(a.audience),
                }
                for a in self.adoptions
            ],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, sort_keys=True)

    @property
    def digest(self) -> str:
        """SHA-256 of the canonical JSON: two scans with equal digests read the same registry."""
        return hashlib.sha256(self.to_json().encode("utf-8")).hexdigest()
