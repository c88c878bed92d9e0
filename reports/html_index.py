"""The district index: totals, every school with its counts, the most required offending apps."""

from __future__ import annotations

import tomllib
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources

from policies.ledger import LEDGER_COUNTS
from policies.model import SEVERITY_RANK
from policies.results import ScanResult, SchoolResult
from reports.html_parts import Badge, SeverityNote
from reports.names import SCHOOLS_DIR
from reports.text import rule_order, rule_text, strings
from scanner.submission import word_key


@cache
def _encoding_names() -> dict[str, dict[str, str]]:
    text = resources.files("reports").joinpath("templates/encodings.toml").read_text("utf-8")
    return tomllib.loads(text)


def encoding_name(encoding: str, lang: str) -> str:
    """A file's encoding as a person names it (GB18030, UTF-8（带BOM）…), not Python's codec."""
    names = _encoding_names().get(encoding.lower())
    return names[lang] if names else encoding.upper()


TOP_ITEMS = 25
"""How many of the most widely required offending apps/accounts the index lists."""


@dataclass(frozen=True, slots=True)
class IndexRow:
    school: str
    code: str
    href: str
    high: int
    medium: int
    review: int
    info: int
    items: int
    problems: int
    search: str
    ledger: tuple[int, ...] = ()
    """新增, 持续, 拟销号, 已销号, 逾期, 复发 (`LEDGER_COUNTS`), when the scan kept a ledger."""
    reduction: str = ""
    """The reduction of distinct required items since the school's first scan (压减率)."""
    reduction_value: float = 0.0


@dataclass(frozen=True, slots=True)
class RuleSeen:
    """A rule as the index names it: its title, with its code for whoever cross-checks."""

    code: str
    title: str


@dataclass(frozen=True, slots=True)
class TopItem:
    name: str
    kind: str
    schools: int
    findings: int
    worst: str
    worst_label: str
    rules: list[RuleSeen]


class _Tally:
    """What the index counts of one offending item (by normalised name and kind)."""

    __slots__ = ("findings", "rules", "schools", "spellings", "worst", "worst_rank")

    def __init__(self) -> None:
        self.schools: set[int] = set()
        self.findings = 0
        self.spellings: Counter[str] = Counter()
        self.rules: set[str] = set()
        self.worst = ""
        self.worst_rank = 0


class TopItems:
    """The offending apps/accounts required by the most schools, counted school by school.

    Findings are grouped by the item's normalised name and kind, and the schools counted
    once each; findings about a school as a whole or about an unreadable row do not count.
    """

    def __init__(self) -> None:
        self.items: dict[tuple[str, str], _Tally] = {}

    def add(self, number: int, school: SchoolResult) -> None:
        """Count the findings of school `number`."""
        tallies: dict[tuple[str, str], dict[tuple[str, str], int]] = {}
        for f in school.findings:
            tally = tallies.setdefault((f.item, f.kind), {})
            tally[(f.rule, f.severity)] = tally.get((f.rule, f.severity), 0) + 1
        self.add_tallies(
            number,
            [(item, kind, [(*k, n) for k, n in t.items()]) for (item, kind), t in tallies.items()],
        )

    def add_tallies(
        self, number: int, tallies: Iterable[tuple[str, str, Iterable[tuple[str, str, int]]]]
    ) -> None:
        """Count school `number`'s findings, given per item (name, kind) by rule and severity."""
        items, rank = self.items, SEVERITY_RANK.get
        for item, kind, tally in tallies:
            if not item:
                continue
            counted: _Tally | None = None
            added = 0
            for rule, severity, count in tally:
                if _about_the_whole(rule):
                    continue
                if counted is None:
                    key = (_word_key(item), kind)
                    counted = items.get(key)
                    if counted is None:
                        counted = items[key] = _Tally()
                added += count
                counted.rules.add(rule)
                severity_rank = rank(severity, 0)
                if severity_rank > counted.worst_rank:
                    counted.worst, counted.worst_rank = severity, severity_rank
            if counted is not None:
                counted.schools.add(number)
                counted.findings += added
                counted.spellings[item] += added

    def ranked(self, lang: str, limit: int = TOP_ITEMS) -> list[TopItem]:
        s = strings(lang)
        order = rule_order()
        items = self.items
        ranked = sorted(items, key=lambda k: (-len(items[k].schools), -items[k].findings, k))[
            :limit
        ]
        return [
            TopItem(
                name=counted.spellings.most_common(1)[0][0],
                kind=s.kind(key[1]),
                schools=len(counted.schools),
                findings=counted.findings,
                worst=counted.worst or "info",
                worst_label=s.severity(counted.worst or "info"),
                rules=[
                    RuleSeen(r, rule_text(r, lang).title)
                    for r in sorted(counted.rules, key=lambda r: (order.get(r, len(order)), r))
                ],
            )
            for key in ranked
            for counted in (items[key],)
        ]


@cache
@cache
def _about_the_whole(rule: str) -> bool:
    """A rule about a school as a whole or an unreadable row, not an app or account."""
    return rule_text(rule, "en").scope in ("school", "input")


@lru_cache(maxsize=1 << 16)
def _word_key(name: str) -> str:
    return word_key(name)


def top_items(result: ScanResult, lang: str, limit: int = TOP_ITEMS) -> list[TopItem]:
    """`TopItems` over every school of `result`."""
    top = TopItems()
    for number, school in enumerate(result.schools):
        top.add(number, school)
    return top.ranked(lang, limit)


@dataclass(frozen=True, slots=True)
class Totals:
    ledger: str
    """The district's ledger figures in a line ('' without a ledger)."""
    reduction: str
    """The district's reduction of required apps and accounts, with its two counts."""
    badges: list[Badge]
    notes: list[SeverityNote]
    schools: int
    schools_with_high: int
    items: int
    findings: int
    problems: int


def index_rows(result: ScanResult, names: Sequence[str]) -> list[IndexRow]:
    rows = []
    for school, name in zip(result.summaries(), names, strict=True):
        counts = school.counts
        rows.append(
            IndexRow(
                school=school.school,
                code=school.school_code,
                href=f"{SCHOOLS_DIR}/{name}",
                high=counts["high"],
                medium=counts["medium"],
                review=counts["review"],
                info=counts["info"],
                items=school.items,
                problems=school.problems,
                search=" ".join([*school.names, school.school_code]).lower(),
                ledger=tuple(school.ledger[k] for k in LEDGER_COUNTS) if school.ledger else (),
                reduction=reduction_text(school.baseline, school.required) if school.ledger else "",
                reduction_value=reduction(school.baseline, school.required) or 0.0,
            )
        )
    return rows


def reduction(baseline: int | None, now: int) -> float | None:
    """How much fewer distinct items are required than at the first scan, in percent."""
    if not baseline:
        return None
    return (baseline - now) * 100.0 / baseline


def reduction_text(baseline: int | None, now: int) -> str:
    value = reduction(baseline, now)
    return "—" if value is None else f"{value:.1f}%"
