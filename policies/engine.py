"""Evaluating the rule catalogue over a scan's rows, school by school."""

from __future__ import annotations

import operator
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence

from policies.apk_rules import APK_RULES, ApkOutcome
from policies.config import PolicyConfig
from policies.keywords import Keywords, keywords
from policies.matching import Match, Matcher
from policies.model import Finding
from policies.phrases import Clause
from policies.results import ApkPanel
from policies.rules import (
    ITEM_RULES,
    SCHOOL_RULES,
    VERDICT_FIELDS,
    Assessed,
    Context,
    school_rule_key,
)
from policies.store import ResultStore, Shelf, StoredSchools
from registry.records import AdoptionRecord
from registry.snapshot import RegistryView, school_key
from scanner.submission import InputProblem, RequiredItem

UNKNOWN_SCHOOL = "（学校未填写）"
"""Where rows that name no school are reported, so that no row goes missing."""


_VERDICTS_MAX = 1 << 17
REQUIREMENT_FIELDS = (*VERDICT_FIELDS, "identified", "filing", "identifier", "kind_text", "apk")
_requirement = operator.itemgetter(*map(RequiredItem._fields.index, REQUIREMENT_FIELDS))
"""The fields of an item the item rules read (see VERDICT_FIELDS) and the parsed identifier
and filing number, as one tuple: together they also decide the item's registry match (see
`Matcher.match`), so rows equal in them share a match and, in one school, a verdict. With
the identifier, kind and APK cells as written they also hold all the store keeps of a row
but its place and note, so rows equal in them share its part number (`part_number`)."""
_KEPT_MAX = 1 << 20
"""Items held for the school rules over the whole scan (about 150 bytes each); beyond, schools
work theirs out again from the store, which costs a second reading of their rows."""

_Verdict = tuple[int, tuple[object, ...]]
"""A verdict's number in the store, and its school rule key."""

_Kept = tuple[str, int, str, str, str, str, tuple[str, ...], Match, AdoptionRecord | None]
"""What the school rules read of an item, kept for them: source, row, school, kind, name,
school code, audience, match and adoption (a tuple: a third of the objects it stands for)."""


def code_key(code: str) -> str:
    """A 学校标识码 folded for comparison: width, case and spaces ignored."""
    return unicodedata.normalize("NFKC", code).replace(" ", "").upper()


class _Schools:
    """Rows grouped into schools: by 学校标识码 where a row gives one, else by folded name.

    Two schools of one name (a city has many 实验小学) are two schools when their codes
    differ; one code written with several spellings of the name is one school, with every
    spelling kept. Rows without a code are grouped by their folded name, and join the
    school whose code they lack when exactly one coded school has that name.
    """

    def __init__(self) -> None:
        self.by_code: dict[str, Shelf] = {}
        self.by_name: dict[str, Shelf] = {}
        self.memo: dict[tuple[str, str], Shelf] = {}
        self.count = 0

    def school_for(self, name: str, code: str) -> Shelf:
        found = self.memo.get((name, code))
        if found is not None:
            return found
        table, key = (self.by_code, code_key(code)) if code else (self.by_name, school_key(name))
        found = table.get(key)
        if found is None:
            found = table[key] = Shelf("", code, seen=self.count)
            self.count += 1
        found.add_name(name)
        self.memo[(name, code)] = found
        return found

    def finish(self) -> list[tuple[Shelf, list[Shelf]]]:
        """The schools in order of first appearance, each with the uncoded ones it takes in."""
        coded_by_name: dict[str, list[Shelf]] = {}
        for shelf in self.by_code.values():
            for key in dict.fromkeys(school_key(n) for n in shelf.names):
                coded_by_name.setdefault(key, []).append(shelf)
        schools: dict[int, tuple[Shelf, list[Shelf]]] = {
            id(s): (s, []) for s in self.by_code.values()
        }
        for key, uncoded in self.by_name.items():
            owners = coded_by_name.get(key, [])
            if len(owners) == 1:
                schools[id(owners[0])][1].append(uncoded)
            else:  # no coded school of that name, or several: which one is not ours to guess
                schools[id(uncoded)] = (uncoded, [])
        for shelf, _taken in schools.values():
            if not shelf.school:
                shelf.school = UNKNOWN_SCHOOL
        return sorted(schools.values(), key=lambda pair: pair[0].seen)


class Engine:
    """Applies every enabled rule to items, using one registry snapshot for the whole scan."""

    def __init__(
        self,
        view: RegistryView,
        config: PolicyConfig | None = None,
        words: Keywords | None = None,
    ) -> None:
        self.config = config or PolicyConfig()
        self.ctx = Context(self.config, words or keywords(), view)
        self.matcher = Matcher(view, self.ctx.words)
        self.item_rules = [rule for rid, rule in ITEM_RULES.items() if self.config.enabled(rid)]
        self.school_rules = [rule for rid, rule in SCHOOL_RULES.items() if self.config.enabled(rid)]
        self.apk_rules = [rule for rid, rule in APK_RULES.items() if self.config.enabled(rid)]

    def assess(
        self, item: RequiredItem, apk: ApkOutcome | str | None = None, *, clauses: bool = True
    ) -> Assessed:
        """The item's registry match and adoption; `apk` (its outcome, or the package it
        found) stands in for an identifier the row does not give. Without `clauses`, what the
        school asks is left unread (only the item rules read it)."""
        package = apk if isinstance(apk, str) else apk.package if apk is not None else ""
        match = self.matcher.match(item, package)
        adoption = self.matcher.adoption(item, match)
        if not clauses:
            return Assessed(item, match, adoption, ())
        return Assessed(item, match, adoption, self.clauses_of(item))

    def clauses_of(self, item: RequiredItem) -> tuple[Clause, ...]:
        return self.ctx.clauses(("action", item.action_text), ("note", item.note))

    def check_item(
        self, item: RequiredItem, apk: ApkOutcome | None = None
    ) -> tuple[Assessed, list[Finding]]:
        """The item's findings, worked out afresh (the scan itself shares verdicts)."""
        assessed = self.assess(item, apk)
        findings = [f for rule in self.item_rules for f in rule(assessed, self.ctx)]
        if apk is not None:
            findings += [f for rule in self.apk_rules for f in rule(assessed, apk, self.ctx)]
        return assessed, findings

    def check_school(self, school: str, code: str, assessed: Sequence[Assessed]) -> list[Finding]:
        return [f for rule in self.school_rules for f in rule(school, code, assessed, self.ctx)]

    def check_problem(self, problem: InputProblem) -> Finding | None:
        if not self.config.enabled("INPUT-INVALID"):
            return None
        return Finding(
            rule="INPUT-INVALID",
            severity=self.config.severity_of("INPUT-INVALID"),
            school=problem.school or UNKNOWN_SCHOOL,
            school_code=problem.school_code,
            row=problem.row,
            item=problem.cells.get("name", "") or problem.cells.get("identifier", ""),
            kind="",
            evidence={"cells": dict(problem.cells), "reason": problem.message},
            params={
                "row": problem.row,
                "reason": problem.message_zh or problem.message,
                "reason_zh": problem.message_zh or problem.message,
                "reason_en": problem.message,
            },
            source=problem.source,
        )

    def evaluate(
        self,
        records: Iterable[RequiredItem | InputProblem],
        on_row: Callable[[], None] | None = None,
        apks: ApkProvider | None = None,
    ) -> tuple[StoredSchools, list[InputProblem]]:
        """Schools in order of first appearance, and the problems of whole files.

        Each row is judged as it is read and kept compact (see `policies.store`); a school
        is rebuilt in full only when a report writer reaches it. Rows that name an APK wait
        until every row has been read; `apks` then gets them all at once (so that it can
        analyse them in parallel) and returns an outcome for each, by (source, row).
        """
        store = ResultStore()
        run = _Run(self, store)
        grouping = _Schools()
        school_for = grouping.school_for
        file_problems: list[InputProblem] = []
        waiting: list[tuple[Shelf, RequiredItem]] = []
        for record in records:
            if on_row is not None:
                on_row()
            if isinstance(record, InputProblem):
                if record.row is None:
                    file_problems.append(record)
                    continue
                shelf = school_for(
                    record.school or ("" if record.school_code else UNKNOWN_SCHOOL),
                    record.school_code,
                )
                store.add_problem(shelf, record, self.check_problem(record))
                continue
            shelf = school_for(record.school, record.school_code)
            if record.apk and apks is not None:
                waiting.append((shelf, record))
                continue
            run.add(shelf, record)
        if waiting and apks is not None:
            outcomes = apks([item for _, item in waiting])
            for shelf, item in waiting:
                run.add_with_apk(shelf, item, outcomes.get((item.source, item.row)))
        shelves = []
        for shelf, taken in grouping.finish():
            for uncoded in taken:
                store.absorb(shelf, uncoded)
            assessed = run.for_school_rules(shelf, taken)
            store.add_school_findings(
                shelf, self.check_school(shelf.school, shelf.school_code, assessed)
            )
            shelves.append(shelf)
        return StoredSchools(store, shelves), file_problems


class _Run:
    """One evaluation's schools, shared verdicts and what the school rules will need."""

    def __init__(self, engine: Engine, store: ResultStore) -> None:
        self.engine = engine
        self.store = store
        self.requirements: dict[tuple[object, ...], tuple[Match, dict[int, _Verdict], int]] = {}
        """Each requirement's match, its verdicts by adoption (the adoption's identity: the
        registry view's records and the matcher's listings live for the whole scan), and its
        rows' part number in the store."""
        self.kept: dict[int, dict[tuple[object, ...], _Kept]] = {}
        """For each shelf, the first item of each key the school rules read."""
        self.kept_count = 0
        self.rule_keys: dict[tuple[object, ...], tuple[object, ...]] = {}
        """school_rule_key by what it depends on: the match and the item's kind, name and
        audience (rows repeat them across schools)."""
        self.overflow: set[int] = set()
        """Shelves whose items are worked out again from the store for the school rules."""

    def add(self, shelf: Shelf, item: RequiredItem) -> None:
        # Rules are pure functions of the requirement, its match and the adoption; district
        # files repeat the same app with the same requirements across hundreds of schools,
        # so a verdict is worked out once and then only re-addressed to each school and row.
        # With it comes all the school rules read (`school_rule_key`).
        key = _requirement(item)
        known = self.requirements.get(key)
        if known is None:
            if len(self.requirements) >= _VERDICTS_MAX:
                self.requirements.clear()
            known = self.requirements[key] = (
                self.engine.matcher.match(item),
                {},
                self.store.part_number(item),
            )
        match, verdicts, part = known
        adoption = self.engine.matcher.adoption(item, match)
        adopted = id(adoption) if adoption is not None else 0
        found = verdicts.get(adopted)
        if found is None:
            engine = self.engine
            read = Assessed(item, match, adoption, engine.clauses_of(item))
            findings = [f for rule in engine.item_rules for f in rule(read, engine.ctx)]
            found = verdicts[adopted] = (self.store.verdict(findings), self._rule_key(read))
        self.store.add_item(shelf, item, found[0], part)
        self._keep(shelf, found[1], item, match, adoption)

    def add_with_apk(self, shelf: Shelf, item: RequiredItem, apk: ApkOutcome | None) -> None:
        assessed, findings = self.engine.check_item(item, apk)
        panel = None if apk is None else _panel(item, apk)
        self.store.add_own(shelf, item, findings, panel)
        self._keep(shelf, self._rule_key(assessed), item, assessed.match, assessed.adoption)

    def _keep(
        self,
        shelf: Shelf,
        key: tuple[object, ...],
        item: RequiredItem,
        match: Match,
        adoption: AdoptionRecord | None,
    ) -> None:
        """Keep the item for its school's rules, if it is the first of its key there."""
        if id(shelf) in self.overflow:
            return
        kept = self.kept.get(id(shelf))
        if kept is None:
            kept = self.kept[id(shelf)] = {}
        elif key in kept:
            return
        if self.kept_count >= _KEPT_MAX:
            # A district of all-different rows: this school's items are worked out again from
            # the store when its rules run, instead of being held for the whole scan.
            self.overflow.add(id(shelf))
            self.kept_count -= len(self.kept.pop(id(shelf)))
            return
        # Only what the school rules read is kept: not the row's note or requirements.
        kept[key] = (item.source, item.row, item.school, item.kind, item.name,
                     item.school_code, item.audience, match, adoption)  # fmt: skip
        self.kept_count += 1

    def _rule_key(self, assessed: Assessed) -> tuple[object, ...]:
        item = assessed.item
        memo_key = (id(assessed.match), item.kind, item.name, item.audience)
        key = self.rule_keys.get(memo_key)
        if key is None:
            if len(self.rule_keys) >= _VERDICTS_MAX:
                self.rule_keys.clear()
            key = self.rule_keys[memo_key] = school_rule_key(assessed, self.engine.ctx)
        return key

    def for_school_rules(self, shelf: Shelf, taken: Sequence[Shelf]) -> list[Assessed]:
        """The first item of each key, in the order the rows were added (the shelves it took
        in after its own), for the school rules of `shelf`."""
        shelves = [shelf, *taken]
        if self.overflow.isdisjoint(id(s) for s in shelves):
            firsts: dict[tuple[object, ...], _Kept] = {}
            for each in shelves:
                for key, value in self.kept.pop(id(each), {}).items():
                    firsts.setdefault(key, value)
            return [_assessed(kept) for kept in firsts.values()]
        for each in shelves:
            self.kept_count -= len(self.kept.pop(id(each), {}))
        # What the school asks (its clauses) is left unread: the school rules do not read it.
        again: dict[tuple[object, ...], Assessed] = {}
        assess, rule_key = self.engine.assess, self._rule_key
        for item, package in self.store.added_items(shelf):
            a = assess(item, package, clauses=False)
            again.setdefault(rule_key(a), a)
        return list(again.values())


def _assessed(kept: _Kept) -> Assessed:
    source, row, school, kind, name, code, audience, match, adoption = kept
    # Tuples made directly (every field given, the others as their defaults): a district's
    # school rules take a quarter of a million of them.
    item = _new(RequiredItem, (source, row, school, kind, name, code, "", "", audience,
                               "", "", "", "", "", "", "", None, ""))  # fmt: skip
    return _new(Assessed, (item, match, adoption, ()))


_new = tuple.__new__


ApkProvider = Callable[[list[RequiredItem]], Mapping[tuple[str, int], ApkOutcome]]


def _panel(item: RequiredItem, outcome: ApkOutcome) -> ApkPanel:
    return ApkPanel(
        row=item.row,
        item=item.name,
        source=outcome.cell,
        facts=outcome.facts,
        failure=outcome.failure,
    )
