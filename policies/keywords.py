"""The rules' word catalogues (data files), compiled once into fast matchers."""

from __future__ import annotations

import csv
import dataclasses
import io
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any, Generic, TypeVar

from policies.phrases import Grammar, Labelled, QuotaWords, alternation, fold
from registry.values import normalised_name

T = TypeVar("T")
_REMEMBER = 1 << 16


def _remember(cache: dict[Any, T], key: Any, value: T) -> T:
    """Store an answer in a bounded cache (emptied when full: texts of one scan repeat)."""
    if len(cache) > _REMEMBER:
        cache.clear()
    cache[key] = value
    return value


@dataclass(frozen=True)
class Function:
    """A job an app does, for DUPLICATE-FUNCTION."""

    code: str
    zh: str
    en: str
    pattern: re.Pattern[str]


@dataclass(frozen=True)
class KnownApp:
    """An app from the known-apps catalogues, with where the fact comes from."""

    name: str
    package: str
    educational: str
    """yes, no, general (a general tool: 微信, 钉钉 …) or party (party-building study)."""
    category: str
    source: str

    @property
    def group(self) -> str:
        """education, non_education, general_tool or party_study."""
        return _KNOWN_GROUPS.get(self.educational, "non_education")


_KNOWN_GROUPS = {"yes": "education", "no": "non_education", "general": "general_tool",
                 "party": "party_study"}  # fmt: skip


@dataclass(frozen=True)
class NationalPlatform:
    """A platform or system run by the Ministry of Education or its bodies."""

    name: str
    operator: str
    mandates: tuple[str, ...]
    """Tasks done there that national rules require (体质健康数据上报 …)."""
    source: str


@dataclass(frozen=True)
class SurveyService:
    """A form or survey service whose links carry questionnaires and votes (问卷星 …)."""

    name: str
    operator: str
    source: str


@dataclass(frozen=True)
class ByAddress(Generic[T]):
    """Catalogue rows found by a web address: by host (or a parent domain) and path prefix."""

    rows: Mapping[str, tuple[tuple[str, T], ...]]
    """host -> (path prefix, row) pairs, longest prefix first."""

    @classmethod
    def build(cls, pairs: Iterable[tuple[str, T]]) -> ByAddress[T]:
        rows: dict[str, list[tuple[str, T]]] = {}
        for address, row in pairs:
            host, _, path = (
                fold(address).removeprefix("https://").removeprefix("http://").partition("/")
            )
            rows.setdefault(host.removeprefix("www."), []).append(("/" + path if path else "", row))
        return cls({h: tuple(sorted(v, key=lambda p: -len(p[0]))) for h, v in rows.items()})

    def find(self, text: str) -> T | None:
        """The row for any address in the text (a bare host, a URL, a URL inside words)."""
        for match in _ADDRESS.finditer(fold(text)):
            host, path = match.group(1).removeprefix("www."), match.group(2) or ""
            labels = host.split(".")
            for n in range(len(labels) - 1):
                for prefix, row in self.rows.get(".".join(labels[n:]), ()):
                    if path.startswith(prefix):
                        return row
        return None


_ADDRESS = re.compile(r"(?:https?://)?((?:[a-z0-9-]+\.)+[a-z]{2,})(?::\d+)?(/[^\s，。；、]*)?")


@dataclass(frozen=True)
class Keywords:
    """Every word list and catalogue the rules use, compiled."""

    grammar: Grammar
    prohibited_tasks: Labelled
    survey_tasks: Labelled
    proof: Labelled
    commercial: Labelled
    quota: QuotaWords
    education_bodies: re.Pattern[str]
    other_bodies: re.Pattern[str]
    generic_owner_words: frozenset[str]
    party_bodies: re.Pattern[str]
    party_members: re.Pattern[str]
    staff: re.Pattern[str]
    national_mandates: re.Pattern[str]
    national_citations: re.Pattern[str]
    non_education_accounts: re.Pattern[str]
    education_words: re.Pattern[str]
    name_suffix: re.Pattern[str]
    functions: tuple[Function, ...]
    known_by_package: Mapping[str, KnownApp]
    known_by_name: Mapping[str, KnownApp]
    national_by_name: Mapping[str, NationalPlatform]
    national_by_address: ByAddress[NationalPlatform]
    national_by_package: Mapping[str, NationalPlatform]
    survey_services: ByAddress[SurveyService]
    _functions_cache: dict[tuple[str, ...], tuple[str, ...]] = field(
        default_factory=dict, compare=False, repr=False
    )

    def functions_of(self, *names: str) -> tuple[str, ...]:
        """Codes of the functions these names (item, entry, category) suggest."""
        found = self._functions_cache.get(names)
        if found is None:
            text = fold(" ".join(names))
            codes = tuple(f.code for f in self.functions if f.pattern.search(text))
            found = _remember(self._functions_cache, names, codes)
        return found

    def strip_name(self, name: str) -> str:
        """A name folded for matching, with 家长版/APP/(网站)-style suffixes removed."""
        folded = normalised_name(re.sub(r"[\(\[（【][^\)\]）】]*[\)\]）】]", "", name))
        while True:
            stripped = self.name_suffix.sub("", folded)
            if stripped == folded or not stripped:
                return folded
            folded = stripped


def _read_csv(name: str) -> list[dict[str, str]]:
    text = resources.files("policies").joinpath(f"data/{name}").read_text("utf-8")
    return list(csv.DictReader(io.StringIO(text)))


def _split(cell: str | None) -> list[str]:
    return [part.strip() for part in (cell or "").split(";") if part.strip()]


def _with_field_words(raw: dict[str, Any]) -> dict[str, Any]:
    """The word lists with the field's task words (task-words.csv) added, each with its source."""
    targets = {"TASK-PROHIBITED": "prohibited_tasks", "PROOF-SCREENSHOT": "proof"}
    for row in _read_csv("task-words.csv"):
        word, rule = row["word"].strip(), row["target_rule"].strip()
        for listed in targets.values():  # the source of a word listed under another rule too
            if word in raw[listed]:
                raw[listed][word] = {**raw[listed][word], "source": row["source"]}
        if rule == "QUOTA":
            # A rate or a length of time is a target only with a number or a target word.
            where = "rates" if word.endswith(("率", "时长")) else "hard"
            if word not in raw["quota"][where]:
                raw["quota"][where].append(word)
            continue
        table = raw[targets[rule]]
        label = dict(table.get(word) or {"zh": row["label_zh"], "en": row["label_en"]})
        label["source"] = row["source"]
        table[word] = label
    return raw


@cache
def keywords() -> Keywords:
    raw: dict[str, Any] = _with_field_words(
        tomllib.loads(resources.files("policies").joinpath("data/keywords.toml").read_text("utf-8"))
    )
    suffixes = sorted(
        (normalised_name(w) for w in raw["name_suffixes"]["words"]), key=len, reverse=True
    )
    functions = tuple(
        Function(code, spec["zh"], spec["en"], alternation(spec["words"]))
        for code, spec in raw["functions"].items()
    )
    by_package: dict[str, KnownApp] = {}
    by_name: dict[str, KnownApp] = {}
    national_by_name: dict[str, NationalPlatform] = {}
    national_by_package: dict[str, NationalPlatform] = {}
    national_addresses: list[tuple[str, NationalPlatform]] = []
    commercial = {w: {"zh": w, "en": w} for w in raw["commercial"]["words"]}
    partial = Keywords(
        grammar=Grammar.build(raw),
        prohibited_tasks=Labelled.build(raw["prohibited_tasks"]),
        survey_tasks=Labelled.build(raw["survey_tasks"]),
        proof=Labelled.build(raw["proof"], raw["proof_exceptions"]["words"]),
        commercial=Labelled.build(commercial, raw["commercial"]["exceptions"]),
        quota=QuotaWords.build(raw),
        education_bodies=alternation(raw["education_bodies"]["words"]),
        other_bodies=alternation(raw["other_bodies"]["words"]),
        generic_owner_words=frozenset(raw["owners"]["generic"]),
        party_bodies=alternation(raw["party"]["bodies"]),
        party_members=alternation(raw["party"]["members"]),
        staff=alternation(raw["staff"]["words"]),
        national_mandates=alternation(raw["national"]["mandates"]),
        national_citations=alternation(raw["national"]["citations"]),
        non_education_accounts=alternation(raw["non_education_accounts"]["words"]),
        education_words=alternation(raw["non_education_accounts"]["education_words"]),
        name_suffix=re.compile("(?:" + "|".join(re.escape(s) for s in suffixes) + ")$"),
        functions=functions,
        known_by_package=by_package,
        known_by_name=by_name,
        national_by_name=national_by_name,
        national_by_address=ByAddress({}),
        national_by_package=national_by_package,
        survey_services=ByAddress.build(
            (domain, SurveyService(row["name"], row["operator"], row["source"]))
            for row in _read_csv("survey-services.csv")
            for domain in _split(row["domains"])
        ),
    )
    for file in ("general-tools.csv", "known-apps.csv"):
        for row in _read_csv(file):
            app = KnownApp(
                name=row["name"],
                package=row.get("package") or "",
                educational=row.get("educational") or _GROUP_WORDS.get(row.get("group", ""), ""),
                category=row.get("category") or _GROUP_CATEGORY.get(row.get("group", ""), ""),
                source=row["source"],
            )
            if app.package:
                by_package.setdefault(app.package.lower(), app)
            for name in (app.name, *_split(row.get("aliases"))):
                by_name.setdefault(partial.strip_name(name), app)
    for row in _read_csv("national-platforms.csv"):
        platform = NationalPlatform(
            row["name"], row["operator"], tuple(_split(row.get("mandates"))), row["source"]
        )
        for name in (row["name"], *_split(row.get("aliases"))):
            national_by_name.setdefault(partial.strip_name(name), platform)
        for package in _split(row.get("packages")):
            national_by_package.setdefault(package.lower(), platform)
        national_addresses.extend((domain, platform) for domain in _split(row["domains"]))
    return dataclasses.replace(partial, national_by_address=ByAddress.build(national_addresses))


_GROUP_WORDS = {"general_tool": "general", "party_study": "party", "education": "yes"}
_GROUP_CATEGORY = {"general_tool": "通用工具", "party_study": "党建学习"}
