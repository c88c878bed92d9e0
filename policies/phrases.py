"""Reading what a cell asks for clause by clause: negation, statements of fact, targets.

A word of a list (打卡, 收费, 参与率 …) counts only in a clause that asks for it. `不要求打卡`,
`本平台不收费`, `打卡自愿` negate it; `约30%家长已安装` only reports a fact. The words that
negate, reset a negation (但 …), state a fact or set a target are data (`keywords.toml`).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

_CLAUSE_BREAKS = re.compile(r"[，。；,;！？!?\r\n]+|\.(?=\s)|。")
_INVISIBLE = dict.fromkeys(
    [*range(0x200B, 0x2010), *range(0x202A, 0x202F), *range(0x2060, 0x2065),
     *range(0x2066, 0x206A), 0xFEFF, 0x00AD],
    None,
)  # fmt: skip
_SPACES = re.compile(r"\s+")
_REMEMBER = 1 << 16


def fold(text: str) -> str:
    """Text as the word lists are written: width folded, lower case, no spaces or
    invisible characters (a zero-width space inside 打卡 must not hide it)."""
    return _SPACES.sub("", unicodedata.normalize("NFKC", text).translate(_INVISIBLE).lower())


def alternation(words: Iterable[str]) -> re.Pattern[str]:
    """A pattern matching any of the words, longest first (阅读打卡 before 打卡)."""
    ordered = sorted({fold(w) for w in words if fold(w)}, key=len, reverse=True)
    return re.compile("|".join(re.escape(w) for w in ordered) or "(?!)")


class Clause(NamedTuple):
    """A clause of a cell: as written (to quote it) and folded (to match in)."""

    column: str
    text: str
    folded: str


class Hit(NamedTuple):
    """A word of a list that counts: the word, what it stands for, and the clause it is in."""

    word: str
    label: Mapping[str, str]
    clause: Clause


@dataclass(frozen=True)
class Grammar:
    """The words that decide whether a listed word in a clause counts."""

    negators_before: re.Pattern[str]
    negators_after: re.Pattern[str]
    not_negators: re.Pattern[str]
    """Words that begin like a negator but do not negate (不仅, 不少于, 未成年 …)."""
    descriptive: frozenset[str]
    """Negators that, right before a word followed by `described`, name people rather than
    negate (对未打卡的学生 …)."""
    described: re.Pattern[str]
    resets: re.Pattern[str]
    """Words after which an earlier negator no longer applies (但, 却 …)."""
    facts: re.Pattern[str]
    numbers: re.Pattern[str]
    strong_targets: re.Pattern[str]
    _clauses: dict[tuple[tuple[str, str], ...], tuple[Clause, ...]] = field(
        default_factory=dict, compare=False, repr=False
    )

    @classmethod
    def build(cls, raw: Mapping[str, Any]) -> Grammar:
        negation = raw["negation"]
        return cls(
            negators_before=alternation(negation["before"]),
            negators_after=alternation(negation["after"]),
            not_negators=alternation(negation["not_negators"]),
            descriptive=frozenset(fold(w) for w in negation["descriptive"]),
            described=re.compile("^(?:" + "|".join(map(re.escape, negation["described"])) + ")"),
            resets=alternation(negation["resets"]),
            facts=alternation(raw["facts"]["words"]),
            numbers=re.compile(raw["facts"]["number"]),
            strong_targets=alternation(raw["quota"]["targets"]),
        )

    def clauses(self, *columns: tuple[str, str]) -> tuple[Clause, ...]:
        """The clauses of each (column, text), remembered: requirements repeat across rows."""
        found = self._clauses.get(columns)
        if found is None:
            found = tuple(
                Clause(column, part.strip(), folded)
                for column, text in columns
                if text
                for part in _CLAUSE_BREAKS.split(text)
                if (folded := fold(part))
            )
            if len(self._clauses) > _REMEMBER:
                self._clauses.clear()
            self._clauses[columns] = found
        return found

    def counts(self, clause: Clause, start: int, end: int) -> bool:
        """Whether the word at folded[start:end] is asked for: not negated, not a fact."""
        return not self.negated(clause.folded, start, end) and not self.is_fact(clause.folded)

    def negated(self, folded: str, start: int, end: int) -> bool:
        before = self.not_negators.sub(lambda m: "\0" * len(m.group(0)), folded[:start])
        resets = [m.end() for m in self.resets.finditer(before)]
        region = before[resets[-1] :] if resets else before
        last = None
        for last in self.negators_before.finditer(region):  # noqa: B007 - the last one counts
            pass
        if last is not None:
            gap = len(region) - last.end()
            descriptive = (
                last.group(0) in self.descriptive
                and gap <= 3
                and self.described.match(folded[end:]) is not None
            )
            if not descriptive:
                return True
        after = self.not_negators.sub(lambda m: "\0" * len(m.group(0)), folded[end:])
        reset = self.resets.search(after)
        return self.negators_after.search(after[: reset.start()] if reset else after) is not None

    def is_fact(self, folded: str) -> bool:
        """A clause that reports how things stand (约30%家长已安装), asking for nothing."""
        return (
            self.facts.search(folded) is not None
            and self.numbers.search(folded) is not None
            and self.strong_targets.search(folded) is None
        )


@dataclass(frozen=True)
class Labelled:
    """Words with the label (zh, en, and where the word is listed) each stands for."""

    pattern: re.Pattern[str]
    labels: Mapping[str, Mapping[str, str]]
    exceptions: re.Pattern[str]
    """Longer phrases in which a word does not count (家委会会员, 公益广告 …)."""

    @classmethod
    def build(
        cls, table: Mapping[str, Mapping[str, str]], exceptions: Iterable[str] = ()
    ) -> Labelled:
        labels = {fold(w): v for w, v in table.items()}
        return cls(alternation(table), labels, alternation(exceptions))

    def hits(self, grammar: Grammar, clauses: Iterable[Clause]) -> list[Hit]:
        """One hit per distinct label, in order of appearance, for words that count."""
        seen: dict[str, Hit] = {}
        for clause in clauses:
            for start, end, word in self.words_in(clause.folded):
                if grammar.counts(clause, start, end):
                    label = self.labels[word]
                    seen.setdefault(label["zh"], Hit(word, label, clause))
        return list(seen.values())

    def words_in(self, folded: str) -> Iterator[tuple[int, int, str]]:
        """(start, end, word) of each listed word not inside an exception phrase."""
        covered = [m.span() for m in self.exceptions.finditer(folded)]
        for match in self.pattern.finditer(folded):
            start, end = match.span()
            if not any(a <= start and end <= b for a, b in covered):
                yield start, end, match.group(0)


def quoted(hits: Iterable[Hit]) -> list[str]:
    """The distinct clauses the hits are in, as written."""
    return list(dict.fromkeys(h.clause.text for h in hits))


@dataclass(frozen=True)
class QuotaWords:
    """What makes a clause a hard target: a rate or a number with a target, or a hard word."""

    rates: re.Pattern[str]
    """参与率, 达标率 …: a rate, a target once it has a number or a target word."""
    numbers: re.Pattern[str]
    targets: re.Pattern[str]
    """要求, 达到, 不低于, 确保 …"""
    verbs: re.Pattern[str]
    """参与, 完成, 注册 …: with a percentage, a target on its own (100%参与)."""
    hard: re.Pattern[str]
    """纳入考核, 通报排名, 全员参与 …: a hard target by themselves."""
    none: frozenset[str]
    """A 指标要求 cell holding only one of these sets no target."""

    @classmethod
    def build(cls, raw: Mapping[str, Any]) -> QuotaWords:
        quota = raw["quota"]
        return cls(
            rates=alternation(quota["rates"]),
            numbers=re.compile(raw["facts"]["number"]),
            targets=alternation(quota["targets"]),
            verbs=alternation(quota["verbs"]),
            hard=re.compile(
                "|".join([alternation(quota["hard"]).pattern, *quota["hard_patterns"]])
            ),
            none=frozenset(fold(w) for w in quota["none"]),
        )

    def in_clause(self, grammar: Grammar, clause: Clause) -> Hit | None:
        """The clause as a hit when it sets a target (in an action or a note)."""
        folded = clause.folded
        for match in self.hard.finditer(folded):
            if not grammar.negated(folded, *match.span()):
                return Hit(match.group(0), {"zh": match.group(0), "en": match.group(0)}, clause)
        if grammar.is_fact(folded):
            return None
        target = self.targets.search(folded)
        indicator = None
        for rate in self.rates.finditer(folded):
            if target is not None or self.numbers.search(folded):
                indicator = rate
                break
        if indicator is None:
            number = self.numbers.search(folded)
            if number is not None and (target is not None or self.verbs.search(folded)):
                indicator = number
        if indicator is None or grammar.negated(folded, *indicator.span()):
            return None
        word = indicator.group(0)
        return Hit(word, {"zh": word, "en": word}, clause)

    def in_column(self, grammar: Grammar, clause: Clause) -> Hit | None:
        """The clause as a hit when the 指标要求 column states a target in it."""
        folded = clause.folded
        if folded in self.none or grammar.is_fact(folded):
            return None
        if grammar.negated(folded, len(folded), len(folded)):
            return None
        return Hit(clause.text, {"zh": clause.text, "en": clause.text}, clause)

    def hits(self, grammar: Grammar, clauses: Iterable[Clause]) -> list[Hit]:
        found = []
        for clause in clauses:
            hit = (
                self.in_column(grammar, clause)
                if clause.column == "quota"
                else self.in_clause(grammar, clause)
            )
            if hit is not None:
                found.append(hit)
        return found
