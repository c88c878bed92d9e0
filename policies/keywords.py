"""The rules' word catalogues (data files), compiled once into fast matchers."""

from __future__ import annotations

import csv
import io
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any, TypeVar

from registry.values import normalised_name

T = TypeVar("T")


def _alternation(words: Iterable[str]) -> re.Pattern[str]:
    # Longest first, so 阅读打卡 wins over 打卡 and labels come out specific.
    ordered = sorted(set(words), key=len, reverse=True)
    return re.compile("|".join(re.escape(w.lower()) for w in ordered) or "(?!)")


@dataclass(frozen=True)
class Labelled:
    """Words with the label (zh and en) that each stands for."""

    pattern: re.Pattern[str]
    labels: Mapping[str, Mapping[str, str]]
    _found: dict[str, list[tuple[str, Mapping[str, str]]]] = field(
        default_factory=dict, compare=False, repr=False
    )

    @classmethod
    def build(cls, table: Mapping[str, Mapping[str, str]]) -> Labelled:
        return cls(_alternation(table), {w.lower(): v for w, v in table.items()})

    def find(self, text: str) -> list[tuple[str, Mapping[str, str]]]:
        """(word, label) for each distinct label found, in order of appearance.

        Requirements repeat across rows (下载安装、注册 …), so answers are remembered.
        """
        found = self._found.get(text)
        if found is None:
            seen: dict[str, tuple[str, Mapping[str, str]]] = {}
            for match in self.pattern.finditer(text.lower()):
                word = match.group(0)
                label = self.labels[word]
                seen.setdefault(label["zh"], (word, label))
            found = _remember(self._found, text, list(seen.values()))
        return found


_REMEMBER = 1 << 16


def _remember(cache: dict[Any, T], key: Any, value: T) -> T:
    """Store an answer in a bounded cache (emptied when full: texts of one scan repeat)."""
    if len(cache) > _REMEMBER:
        cache.clear()
    cache[key] = value
    return value


@dataclass(frozen=True)
class Words:
    """A word list, answering which of its words a text contains (remembered per text)."""

    pattern: re.Pattern[str]
    _found: dict[str, tuple[str, ...]] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def build(cls, words: Iterable[str]) -> Words:
        return cls(_alternation(words))

    def find(self, text: str) -> tuple[str, ...]:
        found = self._found.get(text)
        if found is None:
            matches = self.pattern.finditer(text.lower())
            found = _remember(self._found, text, tuple(dict.fromkeys(m.group(0) for m in matches)))
        return found


@dataclass(frozen=True)
class Function:
    """A job an app does, for DUPLICATE-FUNCTION."""

    code: str
    zh: str
    en: str
    pattern: re.Pattern[str]


@dataclass(frozen=True)
class KnownApp:
    """An app from the known-apps catalogue, with where the fact comes from."""

    name: str
    package: str
    educational: str
    """yes, no or general."""
    category: str
    source: str


@dataclass(frozen=True)
class Keywords:
    """Every word list the rules use, compiled."""

    prohibited_tasks: Labelled
    survey_tasks: Labelled
    proof: Labelled
    education_bodies: re.Pattern[str]
    other_bodies: re.Pattern[str]
    quota: re.Pattern[str]
    quota_none: frozenset[str]
    commercial: Words
    non_education_accounts: re.Pattern[str]
    education_words: re.Pattern[str]
    name_suffix: re.Pattern[str]
    functions: tuple[Function, ...]
    known_by_package: Mapping[str, KnownApp]
    known_by_name: Mapping[str, KnownApp]
    _functions_cache: dict[tuple[str, ...], tuple[str, ...]] = field(
        default_factory=dict, compare=False, repr=False
    )

    def functions_of(self, *names: str) -> tuple[str, ...]:
        """Codes of the functions these names (item, entry, category) suggest."""
        found = self._functions_cache.get(names)
        if found is None:
            text = " ".join(names).lower()
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


@cache
def keywords() -> Keywords:
    raw: dict[str, Any] = tomllib.loads(
        resources.files("policies").joinpath("data/keywords.toml").read_text("utf-8")
    )
    suffixes = sorted(
        (normalised_name(w) for w in raw["name_suffixes"]["words"]), key=len, reverse=True
    )
    functions = tuple(
        Function(code, spec["zh"], spec["en"], _alternation(spec["words"]))
        for code, spec in raw["functions"].items()
    )
    by_package: dict[str, KnownApp] = {}
    by_name: dict[str, KnownApp] = {}
    partial = Keywords(
        prohibited_tasks=Labelled.build(raw["prohibited_tasks"]),
        survey_tasks=Labelled.build(raw["survey_tasks"]),
        proof=Labelled.build(raw["proof"]),
        education_bodies=_alternation(raw["education_bodies"]["words"]),
        other_bodies=_alternation(raw["other_bodies"]["words"]),
        quota=re.compile("|".join(f"(?:{p})" for p in raw["quota"]["patterns"]), re.IGNORECASE),
        quota_none=frozenset(w.lower() for w in raw["quota"]["none"]),
        commercial=Words.build(raw["commercial"]["words"]),
        non_education_accounts=_alternation(raw["non_education_accounts"]["words"]),
        education_words=_alternation(raw["non_education_accounts"]["education_words"]),
        name_suffix=re.compile("(?:" + "|".join(re.escape(s) for s in suffixes) + ")$"),
        functions=functions,
        known_by_package=by_package,
        known_by_name=by_name,
    )
    text = resources.files("policies").joinpath("data/known-apps.csv").read_text("utf-8")
    for row in csv.DictReader(io.StringIO(text)):
        app = KnownApp(
            name=row["name"],
            package=row["package"],
            educational=row["educational"],
            category=row["category"],
            source=row["source"],
        )
        by_package[app.package.lower()] = app
        by_name.setdefault(partial.strip_name(app.name), app)
    return partial
