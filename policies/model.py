"""Findings, severities and the rule catalogue they are written against."""

from __future__ import annotations

import hashlib
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from types import MappingProxyType
from typing import Any, Generic, NamedTuple, TypeVar

SEVERITIES = ("high", "medium", "review", "info")
"""Most serious first. `review` (需人工研判) is a contested case a person must judge, such as a
national mandate or party-building study asked of party members: less than a breach, more than
a hint."""

SEVERITY_RANK = {severity: len(SEVERITIES) - n for n, severity in enumerate(SEVERITIES)}
"""Higher is more serious; derived from `SEVERITIES` so the two never disagree."""
FOCUS_AREAS = ("（一）", "（二）", "（三）", "（四）")
"""The notice's four 整治重点 (二、整治重点), in order."""

_NO_PARAMS: Mapping[str, Any] = MappingProxyType({})
_V = TypeVar("_V")


def at_least(severity: str, threshold: str) -> bool:
    """Whether `severity` reaches `threshold` (`never` is reached by nothing)."""
    if threshold == "never":
        return False
    return SEVERITY_RANK[severity] >= SEVERITY_RANK[threshold]


class Finding(NamedTuple):
    """One rule's verdict on one item (or on a whole school): what, where, why.

    A named tuple rather than a frozen dataclass: a district scan makes millions of them,
    and a tuple is built twice as fast while staying just as immutable.
    """

    rule: str
    severity: str
    school: str
    row: int | None
    item: str
    kind: str
    evidence: Mapping[str, Any]
    params: Mapping[str, Any] = _NO_PARAMS
    """Values for the rule's message template."""
    school_code: str = ""
    source: str = ""
    """The submission file the row is in."""
    verdict: int = 0
    """Which shared verdict (and place in it) this finding re-addresses, as numbered by the
    result store; 0 when the finding stands alone and is only known by its objects."""


def verdict_key(finding: Finding) -> object:
    """What makes two findings read the same, whatever their school and row.

    Findings rebuilt by the result store carry their verdict's number, which is enough: the
    store numbers each finding of a shared verdict apart, and rows share a verdict only when
    every field the rules read (item name and kind among them) is the same; a finding of its
    own gets a number no other finding has. A plain int is also the cheapest key to look up,
    and a district's writers look one up for every finding. Other findings are known by the
    identity of their evidence and params objects, which the engine shares between the rows
    of one verdict — valid only while those findings are alive, i.e. within one write.
    """
    if finding.verdict:
        return finding.verdict
    return (
        finding.rule,
        finding.severity,
        finding.item,
        finding.kind,
        id(finding.evidence),
        id(finding.params),
    )


class VerdictMemo(Generic[_V]):
    """Text made once per verdict (a message, a JSON or HTML fragment), with a bounded size.

    A district repeats a few thousand verdicts over millions of rows, but a file of
    all-different rows would make the memo as large as the report; past `limit` entries it
    starts again, which costs time, never correctness.
    """

    def __init__(self, limit: int = 1 << 16) -> None:
        self.limit = limit
        self._data: dict[object, _V] = {}

    def get(self, finding: Finding) -> _V | None:
        return self._data.get(verdict_key(finding))

    @property
    def by_number(self) -> Mapping[object, _V]:
        """The entries, to be read by a stored finding's verdict number itself (its key):
        a writer's loop over a district's findings looks them up without a call for each.
        No entry has the key 0, so a finding without a number always misses here. It is the
        same mapping for the memo's whole life (emptied in place when full), so it may be
        kept."""
        return self._data

    def put(self, finding: Finding, value: _V) -> _V:
        if len(self._data) >= self.limit:
            self._data.clear()
        self._data[verdict_key(finding)] = value
        return value


@dataclass(frozen=True)
class Clause:
    """A clause of the notice: its short key (附件2（三）1), how documents cite it
    (《工作方案》附件2第（三）项第1条), and its text."""

    ref: str
    text: str
    cite: str = ""
    focus: str = ""
    """The 整治重点 it serves, （一） to （四） (see rules.toml), for the 工作台账."""


@dataclass(frozen=True)
class Variant:
    """A rule's wording for one of its causes (a general tool, a revoked filing …): its own
    message, and its own remediation and basis where they differ from the rule's."""

    message: Mapping[str, str]
    remediation: Mapping[str, str] | None
    basis: tuple[Clause, ...] | None
    label: Mapping[str, str] | None = None
    """The cause in a few words, for the rule catalogue (`appaudit rules`)."""


@dataclass(frozen=True)
class RuleSpec:
    """A rule of the catalogue: its id, default severity, wording and basis."""

    id: str
    severity: str
    scope: str
    """item, school, apk or input."""
    title: Mapping[str, str]
    message: Mapping[str, str]
    remediation: Mapping[str, str]
    basis: tuple[Clause, ...]
    variants: Mapping[str, Variant] = field(default_factory=dict)

    def basis_ref(self, variant: str = "") -> str:
        return "; ".join(c.ref for c in self.basis_of(variant)) or "—"

    def basis_text(self, variant: str = "") -> str:
        """The clause references followed by the quoted text, as findings carry it."""
        basis = self.basis_of(variant)
        if not basis:
            return "—"
        return "\n".join(f"{c.cite or c.ref}：{c.text}" for c in basis)

    def basis_of(self, variant: str = "") -> tuple[Clause, ...]:
        found = self.variants.get(variant)
        return found.basis if found is not None and found.basis is not None else self.basis

    def remediation_of(self, variant: str = "") -> Mapping[str, str]:
        found = self.variants.get(variant)
        if found is not None and found.remediation is not None:
            return found.remediation
        return self.remediation

    def message_of(self, variant: str = "") -> Mapping[str, str]:
        found = self.variants.get(variant)
        return found.message if found is not None else self.message


@dataclass(frozen=True)
class Catalogue:
    """Every rule, in catalogue order, and a digest that changes when any wording does."""

    rules: Mapping[str, RuleSpec]
    notice: Mapping[str, str]
    digest: str
    clauses: Mapping[str, Clause] = field(default_factory=dict)
    """Every clause the rules cite, by its key."""

    def __getitem__(self, rule_id: str) -> RuleSpec:
        return self.rules[rule_id]

    def focus_of(self, refs: Iterable[str]) -> tuple[str, ...]:
        """The 整治重点 that clauses (by key) serve, each once, in the notice's order."""
        found = {self.clauses[r].focus for r in refs if r in self.clauses}
        return tuple(f for f in FOCUS_AREAS if f in found)

    def message(self, finding: Finding, lang: str) -> str:
        template = self.rules[finding.rule].message_of(variant_of(finding))[lang]
        try:
            return template.format_map(_Params(finding.params, finding.item))
        except (KeyError, IndexError, ValueError):
            return f"{self.rules[finding.rule].title[lang]}: {finding.item}"


class _Params(dict[str, Any]):
    """Template parameters; the item name is always there, missing ones stay visible."""

    def __init__(self, params: Mapping[str, Any], item: str) -> None:
        super().__init__(params)
        self.setdefault("item", item)

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def variant_of(finding: Finding) -> str:
    """Which of its rule's wordings a finding takes ('' for the rule's own)."""
    variant = finding.params.get("variant", "")
    return variant if isinstance(variant, str) else ""


@cache
def catalogue() -> Catalogue:
    text = resources.files("policies").joinpath("data/rules.toml").read_text("utf-8")
    raw = tomllib.loads(text)
    clauses = {
        ref: Clause(ref, spec["text"], spec["cite"], spec.get("focus", ""))
        for ref, spec in raw["clauses"].items()
    }
    rules = {}
    for rule_id, spec in raw["rules"].items():
        if spec["severity"] not in SEVERITIES:
            raise ValueError(f"rule {rule_id}: unknown severity {spec['severity']!r}")
        rules[rule_id] = RuleSpec(
            id=rule_id,
            severity=spec["severity"],
            scope=spec["scope"],
            title=spec["title"],
            message=spec["message"],
            remediation=spec["remediation"],
            basis=tuple(clauses[ref] for ref in spec["basis"]),
            variants={
                name: Variant(
                    message=v["message"],
                    label=v.get("label"),
                    remediation=v.get("remediation"),
                    basis=(tuple(clauses[ref] for ref in v["basis"]) if "basis" in v else None),
                )
                for name, v in spec.get("variants", {}).items()
            },
        )
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return Catalogue(rules, raw["notice"], digest, clauses)
