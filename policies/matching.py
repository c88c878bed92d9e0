"""Finding the registry entry a school means, and everything the rules need to know about it.

Matching goes by identifier (package, original ID, AppID …) first, then by filing number,
then by a normalised name (full-width/half-width, spaces and suffixes such as 家长版
ignored). Each step is recorded so that a finding's evidence says how it matched.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from policies.keywords import Keywords, KnownApp, NationalPlatform, SurveyService
from policies.phrases import fold
from registry import values
from registry.records import AdoptionRecord, EntryRecord
from registry.snapshot import RegistryView
from scanner.submission import RequiredItem

NOT_SCHOOL_KINDS = frozenset({"official_account", "channels"})
_UNKNOWN = object()
_ADOPTIONS_MAX = 1 << 18
_OUTSIDE = frozenset({"general_tool", "party_study"})


@dataclass(frozen=True, slots=True)
class Match:
    """What an item is, as far as the registry and the catalogues tell.

    It depends only on the item's kind, identifier, stated filing number and name, so it is
    computed once per distinct combination and shared by every row that repeats it.
    """

    entry: EntryRecord | None
    matched_by: str
    """package, original_id, appid, wechat_id, channels_id, url, filing_no, name, apk_package
    (the package of the APK the row names, when the row gives no identifier) — or ''."""
    identifier: tuple[str, str] | None
    """(field, normalised value) of the item's identifier, when it has a recognisable one."""
    stated_filing: str
    """The filing number the school gave, normalised; '' when none was given."""
    filing_malformed: bool
    filing_entries: tuple[EntryRecord, ...]
    """Registry entries that carry the stated filing number."""
    known: KnownApp | None
    """A known app from the catalogues (by package or name); evidence shows it only when the
    registry has no entry, but it tells a general tool filed under 社交 or 办公 apart."""
    related: EntryRecord | None
    """A registry entry of another kind with the same name (the app of a mini-program …)."""
    account_word: str
    """A word in an account's name that marks it as non-educational (公安, 商城 …)."""
    national: NationalPlatform | None = None
    """The national education platform the item is (国家中小学智慧教育平台 …), by name,
    address or package."""
    survey: SurveyService | None = None
    """The form or survey service the item's address belongs to (问卷星 …)."""
    owner_word: str = ""
    """A word in the registry's 认证主体 of the account that names a non-education body."""
    mismatch: dict[str, str] = field(default_factory=dict)
    """Why the stated filing number does not belong to this app (zh/en), if it does not."""
    _evidence: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def group(self) -> str:
        """What the item is for the rules: education, general_tool (微信, 钉钉 …: outside the
        filing system), party_study (学习强国 …), non_education, or '' when unknown."""
        entry = self.entry
        known = self.known
        if self.owner_word and self.national is None:
            return "non_education"
        if entry is not None and entry.category:
            group = values.category_group(entry.category)
            if group == "non_education" and known is not None and known.group in _OUTSIDE:
                return known.group  # a registry that files 微信 under 社交, from before 通用工具
            return group
        if self.national is not None or (entry is not None and entry.filed):
            return "education"  # a filed entry is, by its filing, an education app
        if self.known is not None and self.known.group != "education":
            return self.known.group
        if self.related is not None and self.related.category:
            group = values.category_group(self.related.category)
            if group != "education":
                return group
        if self.account_word:
            return "non_education"
        if self.known is not None:
            return "education"
        return ""

    @property
    def educational(self) -> bool | None:
        """True for an education app or account, False for any other, None unknown."""
        group = self.group
        return None if not group else group == "education"

    def evidence(self) -> dict[str, Any]:
        """What the item matched, for findings. Shared by every finding of this match, so
        treat it as read-only (combine with `|`, which makes a new dict)."""
        if self._evidence:
            return self._evidence
        self._evidence.update(self._build_evidence())
        return self._evidence

    def _build_evidence(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.entry is not None:
            out["matched_by"] = self.matched_by
            out["registry_entry"] = entry_evidence(self.entry)
        else:
            out["matched_by"] = "none"
        if self.identifier:
            out["identifier"] = {"field": self.identifier[0], "value": self.identifier[1]}
        if self.known is not None and self.entry is None:
            out["known_app"] = {
                "name": self.known.name,
                "package": self.known.package,
                "category": self.known.category,
                "source": self.known.source,
            }
        if self.related is not None and self.entry is None:
            out["related_entry"] = entry_evidence(self.related)
        if self.account_word:
            out["name_word"] = self.account_word
        if self.owner_word:
            out["certified_entity_word"] = self.owner_word
        if self.national is not None:
            out["national_platform"] = {
                "name": self.national.name,
                "operator": self.national.operator,
                "source": self.national.source,
            }
        if self.survey is not None:
            out["survey_service"] = {"name": self.survey.name, "source": self.survey.source}
        return out


def entry_evidence(entry: EntryRecord) -> dict[str, Any]:
    """A registry entry in a finding's evidence. Like its identifiers, its filing number,
    category and provider are given when it has them: a district's findings repeat the
    entry well over a million times."""
    out: dict[str, Any] = {"id": entry.id, "name": entry.name, "kind": entry.kind}
    if entry.filing_no:
        out["filing_no"] = entry.filing_no
    out["status"] = entry.status
    if entry.category:
        out["category"] = entry.category
    out.update(entry.identifiers)
    if entry.provider:
        out["provider"] = entry.provider
    return out


class Matcher:
    """Matches items against one registry snapshot, remembering every answer."""

    def __init__(self, view: RegistryView, words: Keywords) -> None:
        self.view = view
        self.words = words
        self._cache: dict[tuple[object, ...], Match] = {}
        self._listed: dict[int, AdoptionRecord] = {}
        self._adoptions: dict[tuple[int, str, str], object] = {}
        self._by_stripped: dict[str, list[EntryRecord]] = defaultdict(list)
        for entry in view.entries:
            self._by_stripped[words.strip_name(entry.name)].append(entry)

    def match(self, item: RequiredItem, apk_package: str = "") -> Match:
        """The item's match; `apk_package` stands in for an identifier the row does not give.

        It depends on the item's kind, name, parsed identifier and stated filing number only
        (the engine shares one match among rows equal in those)."""
        hint = apk_package if not item.identified else ""
        key = (item.kind, item.identified, item.filing, item.filing_malformed, item.name, hint)
        found = self._cache.get(key)
        if found is None:
            found = self._cache[key] = self._match(item, hint)
        return found

    def adoption(self, item: RequiredItem, match: Match) -> AdoptionRecord | None:
        """The school's or the bureau's adoption; an entry the bureau lists as 准入 is adopted
        district-wide by that listing (the education department's own selection)."""
        entry = match.entry
        if entry is None or entry.id is None:
            return None
        # A school lists the same app on many rows: each answer is remembered.
        key = (entry.id, item.school, item.school_code)
        found = self._adoptions.get(key, _UNKNOWN)
        if found is _UNKNOWN:
            if len(self._adoptions) >= _ADOPTIONS_MAX:
                self._adoptions.clear()
            found = self._adoptions[key] = self._adoption(entry, item)
        return found  # type: ignore[return-value]  # a record or None, as stored above

    def _adoption(self, entry: EntryRecord, item: RequiredItem) -> AdoptionRecord | None:
        assert entry.id is not None
        found = self.view.adoption_for(entry.id, item.school, item.school_code)
        if found is None and entry.listing == "listed":
            found = self._listed.get(entry.id)
            if found is None:
                found = self._listed[entry.id] = AdoptionRecord(
                    school="全区",
                    entry_id=entry.id,
                    is_district=True,
                    decision_ref=entry.listing_ref or "区教育局准入清单",
                    decided_on=entry.listing_date,
                )
        return found

    def _match(self, item: RequiredItem, apk_package: str) -> Match:
        index = self.view.index
        identifier = item.identified
        stated, malformed = item.filing, item.filing_malformed
        filing_entries = tuple(index.by_filing(stated)) if stated else ()

        entry, how = None, ""
        if identifier is not None:
            entry = index.by_identifier(*identifier)
            how = identifier[0] if entry is not None else ""
        stripped = self.words.strip_name(item.name)
        if entry is None and filing_entries:
            # The filing number identifies the app only if the names agree: a school that
            # writes one app's name with another's number has not named that other app.
            same_kind = [
                e
                for e in filing_entries
                if e.kind == item.kind
                and _compatible(e, identifier)
                and _similar_names(stripped, self.words.strip_name(e.name))
            ]
            if len(same_kind) > 1:
                same_kind = [e for e in same_kind if self.words.strip_name(e.name) == stripped]
            if len(same_kind) == 1:
                entry, how = same_kind[0], "filing_no"
        if entry is None:
            named = [
                e
                for e in self._by_stripped.get(stripped, ())
                if e.kind == item.kind and _compatible(e, identifier)
            ]
            if len(named) == 1:
                entry, how = named[0], "name"
        if entry is None and apk_package:
            # The row names the app only loosely; the APK it hands out says which app it is.
            entry = index.by_identifier("package", apk_package)
            how = "apk_package" if entry is not None else ""

        known = related = None
        account_word = ""
        words = self.words
        package = identifier[1] if identifier and identifier[0] == "package" else apk_package
        address = identifier[1] if identifier and identifier[0] == "url" else ""
        national = (
            (words.national_by_package.get(package.lower()) if package else None)
            or (words.national_by_address.find(address) if address else None)
            or words.national_by_name.get(stripped)
        )
        survey = words.survey_services.find(address) if address and national is None else None
        if package:
            known = words.known_by_package.get(package.lower())
        if known is None:
            known = words.known_by_name.get(stripped)
        if entry is None:
            others = [e for e in self._by_stripped.get(stripped, ()) if e.kind != item.kind]
            related = others[0] if len(others) == 1 else None
            if item.kind != "app" and national is None:
                account_word = self._non_education_word(item.name)

        return Match(
            entry=entry,
            matched_by=how,
            identifier=identifier,
            stated_filing=stated,
            filing_malformed=malformed,
            filing_entries=filing_entries,
            known=known,
            related=related,
            account_word=account_word,
            national=national,
            survey=survey,
            owner_word=self._owner_word(entry),
            mismatch=self._mismatch(item, entry, how, stated, filing_entries, identifier),
        )

    def _owner_word(self, entry: EntryRecord | None) -> str:
        """A non-education body named as the account's verified owner (认证主体)."""
        words = self.words
        owner = fold(entry.certified_entity) if entry is not None else ""
        if not owner or words.education_bodies.search(owner) or words.education_words.search(owner):
            return ""
        for pattern in (words.other_bodies, words.non_education_accounts):
            for hit in pattern.finditer(owner):
                if hit.group(0) not in words.generic_owner_words:
                    return hit.group(0)
        return ""

    def _non_education_word(self, name: str) -> str:
        text = fold(name)
        if self.words.education_words.search(text):
            return ""
        hit = self.words.non_education_accounts.search(text)
        return hit.group(0) if hit else ""

    def _mismatch(
        self,
        item: RequiredItem,
        entry: EntryRecord | None,
        how: str,
        stated: str,
        owners: tuple[EntryRecord, ...],
        identifier: tuple[str, str] | None,
    ) -> dict[str, str]:
        if not stated:
            return {}
        if entry is not None and how != "filing_no":
            if entry.filing_no == stated:
                return {}
            if entry.filing_no:
                return {
                    "zh": f"登记表中该应用的备案号为{entry.filing_no}",
                    "en": f"the registry records {entry.filing_no} for this app",
                }
            if owners:
                return _owned_by(owners[0])
            return {}
        if entry is None and owners:
            owner = owners[0]
            if identifier is not None and not _compatible(owner, identifier):
                field_name, stated_value = identifier
                owned = str(getattr(owner, field_name))
                return {
                    "zh": f"该备案号属于“{owner.name}”（{field_name} {owned}），"
                    f"而学校填报的是{stated_value}",
                    "en": f"it belongs to “{owner.name}” ({field_name} {owned}), not {stated_value}",
                }
            if not _similar_names(
                self.words.strip_name(item.name), self.words.strip_name(owner.name)
            ):
                return _owned_by(owner)
        return {}


def _owned_by(owner: EntryRecord) -> dict[str, str]:
    ident = next(iter(owner.identifiers.values()), "")
    suffix_zh = f"（{ident}）" if ident else ""
    suffix_en = f" ({ident})" if ident else ""
    return {
        "zh": f"该备案号属于另一应用“{owner.name}”{suffix_zh}",
        "en": f"it belongs to another app, “{owner.name}”{suffix_en}",
    }


def _compatible(entry: EntryRecord, identifier: tuple[str, str] | None) -> bool:
    """The entry does not carry a different value for the item's identifier field."""
    if identifier is None:
        return True
    own = getattr(entry, identifier[0], "")
    return not own or own.lower() == identifier[1].lower()


def _similar_names(a: str, b: str) -> bool:
    return bool(a and b) and (a == b or a in b or b in a)
