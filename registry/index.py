"""Finding registry entries by identifier, filing number or name, in memory."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from appaudit.errors import Message
from registry import values
from registry.records import EntryRecord, field_name
from registry.values import InvalidValue


class EntryIndex:
    """Entries indexed by every way a person or a file may refer to them."""

    def __init__(self, entries: Iterable[EntryRecord]) -> None:
        self.entries: list[EntryRecord] = []
        self.by_id: dict[int, EntryRecord] = {}
        self._by_identifier: dict[tuple[str, str], EntryRecord] = {}
        self._by_filing: dict[str, list[EntryRecord]] = defaultdict(list)
        self._by_name: dict[str, list[EntryRecord]] = defaultdict(list)
        for entry in entries:
            self.add(entry)

    def add(self, entry: EntryRecord) -> None:
        self.entries.append(entry)
        if entry.id is not None:
            self.by_id[entry.id] = entry
        for name, value in entry.identifiers.items():
            self._by_identifier[(name, _identifier_key(name, value))] = entry
        if entry.filing_no:
            self._by_filing[entry.filing_no].append(entry)
        self._by_name[values.normalised_name(entry.name)].append(entry)

    def replace(self, old: EntryRecord, new: EntryRecord) -> None:
        """Swap an entry for its updated version (ids stay)."""
        self.entries = [e for e in self.entries if e is not old]
        for name, value in old.identifiers.items():
            self._by_identifier.pop((name, _identifier_key(name, value)), None)
        if old.filing_no:
            self._by_filing[old.filing_no] = [
                e for e in self._by_filing[old.filing_no] if e is not old
            ]
        key = values.normalised_name(old.name)
        self._by_name[key] = [e for e in self._by_name[key] if e is not old]
        if old.id is not None:
            self.by_id.pop(old.id, None)
        self.add(new)

    def by_identifier(self, name: str, value: str) -> EntryRecord | None:
        return self._by_identifier.get((name, _identifier_key(name, value)))

    def by_filing(self, filing_no: str) -> list[EntryRecord]:
        return list(self._by_filing.get(filing_no, ()))

    def by_name(self, name: str) -> list[EntryRecord]:
        return list(self._by_name.get(values.normalised_name(name), ()))

    def find(self, ref: str, kind: str = "") -> list[EntryRecord]:
        """Entries a free-form reference means: id, filing number, identifier, or name."""
        text = values.clean(ref)
        if not text:
            return []
        if text.isdigit() and int(text) in self.by_id:
            return [self.by_id[int(text)]]
        if "备" in text:
            try:
                found = self.by_filing(values.normalise_filing_no(text))
            except InvalidValue:
                found = []
            if found:
                return _prefer_kind(found, kind)
        try:
            which, value = values.classify_identifier(text, kind)
        except InvalidValue:
            pass
        else:
            entry = self.by_identifier(which, value)
            if entry is not None:
                return [entry]
        exact = [e for e in self.entries if e.name == text]
        return _prefer_kind(exact or self.by_name(text), kind)

    def match_row(self, record: EntryRecord) -> tuple[EntryRecord | None, str]:
        """The existing entry an imported record updates, and how it was found.

        Identifiers first (each is unique), then filing number and kind, then kind and
        name — the last two only where the existing entry has no identifier the record
        contradicts.
        """
        hits = {
            id(e): (e, name)
            for name, value in record.identifiers.items()
            if (e := self.by_identifier(name, value)) is not None
        }
        if len(hits) > 1:
            pairs = [(field_name(name), e.name) for e, name in hits.values()]
            names = Message(
                ", ".join(f"{field.en} → {entry}" for field, entry in pairs),
                "、".join(f"{field.zh} → {entry}" for field, entry in pairs),
            )
            raise InvalidValue(values.message("identifiers_split", names=names))
        if hits:
            entry, how = next(iter(hits.values()))
            return entry, how
        if record.filing_no:
            same = [
                e
                for e in self.by_filing(record.filing_no)
                if e.kind == record.kind and _compatible(e, record)
            ]
            if len(same) == 1:
                return same[0], "filing_no"
            named = [e for e in same if values.same_name(e.name, record.name)]
            if len(named) == 1:
                return named[0], "filing_no"
        same_name = [
            e for e in self.by_name(record.name) if e.kind == record.kind and _compatible(e, record)
        ]
        if len(same_name) == 1:
            return same_name[0], "name"
        return None, ""


def _identifier_key(name: str, value: str) -> str:
    # Android packages are case-sensitive on devices, but a school's spreadsheet is not.
    return value.lower()


def _compatible(existing: EntryRecord, record: EntryRecord) -> bool:
    """No identifier field is set on both with different values."""
    return all(
        not value or not getattr(record, name) or getattr(record, name).lower() == value.lower()
        for name, value in existing.identifiers.items()
    )


def _prefer_kind(found: list[EntryRecord], kind: str) -> list[EntryRecord]:
    if kind:
        same = [e for e in found if e.kind == kind]
        if same:
            return same
    return found
