"""Evaluating the rule catalogue over a scan's rows, school by school."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from policies.apk_rules import APK_RULES, ApkOutcome
from policies.config import PolicyConfig
from policies.keywords import Keywords, keywords
from policies.matching import Matcher
from policies.model import Finding
from policies.results import ApkPanel, SchoolResult
from policies.rules import ITEM_RULES, SCHOOL_RULES, Assessed, Context
from registry.snapshot import RegistryView, school_key
from scanner.submission import InputProblem, RequiredItem

UNKNOWN_SCHOOL = "（学校未填写）"
"""Where rows that name no school are reported, so that no row goes missing."""


_VERDICTS_MAX = 1 << 17


@dataclass
class _School:
    result: SchoolResult
    seen: int
    """The record at which the school first appeared, for the order of the report."""
    assessed: list[Assessed] = field(default_factory=list)

    def add_name(self, name: str) -> None:
        names = self.result.names
        if name and name not in names:
            names.append(name)
            if not self.result.school:
                self.result.school = name

    def absorb(self, other: _School) -> None:
        """Take over the rows of `other`, the same school written without its code."""
        for name in other.result.names:
            self.add_name(name)
        self.seen = min(self.seen, other.seen)
        self.assessed.extend(other.assessed)
        self.result.items.extend(other.result.items)
        self.result.findings.extend(other.result.findings)
        self.result.problems.extend(other.result.problems)
        self.result.apks.extend(other.result.apks)


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
        self.by_code: dict[str, _School] = {}
        self.by_name: dict[str, _School] = {}
        self.memo: dict[tuple[str, str], _School] = {}
        self.count = 0

    def school_for(self, name: str, code: str) -> _School:
        found = self.memo.get((name, code))
        if found is not None:
            return found
        table, key = (self.by_code, code_key(code)) if code else (self.by_name, school_key(name))
        found = table.get(key)
        if found is None:
            found = table[key] = _School(SchoolResult("", code), self.count)
            self.count += 1
        found.add_name(name)
        self.memo[(name, code)] = found
        return found

    def finish(self) -> tuple[list[_School], list[_School]]:
        """The schools in order of first appearance, and those that took in uncoded rows."""
        coded_by_name: dict[str, list[_School]] = {}
        for school in self.by_code.values():
            for key in dict.fromkeys(school_key(n) for n in school.result.names):
                coded_by_name.setdefault(key, []).append(school)
        schools = list(self.by_code.values())
        grown: list[_School] = []
        for key, uncoded in self.by_name.items():
            owners = coded_by_name.get(key, [])
            if len(owners) == 1:
                owners[0].absorb(uncoded)
                grown.append(owners[0])
            else:  # no coded school of that name, or several: which one is not ours to guess
                schools.append(uncoded)
        for school in schools:
            if not school.result.school:
                school.result.school = UNKNOWN_SCHOOL
        return sorted(schools, key=lambda school: school.seen), grown


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
        self._verdicts: dict[tuple[object, ...], list[Finding]] = {}

    def assess(self, item: RequiredItem, apk: ApkOutcome | None = None) -> Assessed:
        match = self.matcher.match(item, apk.package if apk is not None else "")
        text = " ".join((*item.actions, item.quota, item.note)).lower()
        return Assessed(item, match, self.matcher.adoption(item, match), text)

    def check_item(
        self, item: RequiredItem, apk: ApkOutcome | None = None
    ) -> tuple[Assessed, list[Finding]]:
        if apk is not None:
            assessed = self.assess(item, apk)
            findings = [f for rule in self.item_rules for f in rule(assessed, self.ctx)]
            findings += [f for rule in self.apk_rules for f in rule(assessed, apk, self.ctx)]
            return assessed, findings
        assessed = self.assess(item)
        # Rules are pure functions of what the key holds; district files repeat the same
        # app with the same requirements across hundreds of schools, so a verdict is worked
        # out once and then only re-addressed to each school and row.
        key = (
            id(assessed.match),
            id(assessed.adoption) if assessed.adoption is not None else 0,
            item.actions,
            item.quota,
            item.note,
            item.requested_by,
            item.decision_ref,
        )
        verdict = self._verdicts.get(key)
        if verdict is None:
            if len(self._verdicts) >= _VERDICTS_MAX:
                self._verdicts.clear()
            verdict = self._verdicts[key] = [
                f for rule in self.item_rules for f in rule(assessed, self.ctx)
            ]
            return assessed, list(verdict)
        return assessed, [
            Finding(
                rule=f.rule,
                severity=f.severity,
                school=item.school,
                row=item.row,
                item=item.name,
                kind=item.kind,
                evidence=f.evidence,
                params=f.params,
                school_code=item.school_code,
                source=item.source,
            )
            for f in verdict
        ]

    def check_school(self, school: str, code: str, assessed: list[Assessed]) -> list[Finding]:
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
            params={"row": problem.row, "reason": problem.message_zh or problem.message},
            source=problem.source,
        )

    def evaluate(
        self,
        records: Iterable[RequiredItem | InputProblem],
        on_row: Callable[[], None] | None = None,
        apks: ApkProvider | None = None,
    ) -> tuple[list[SchoolResult], list[InputProblem]]:
        """Schools in order of first appearance, and the problems of whole files.

        Rows that name an APK wait until every row has been read; `apks` then gets them
        all at once (so that it can analyse them in parallel) and returns an outcome for
        each, by (source, row).
        """
        grouping = _Schools()
        school_for = grouping.school_for
        file_problems: list[InputProblem] = []
        waiting: list[tuple[_School, RequiredItem]] = []

        for record in records:
            if on_row is not None:
                on_row()
            if isinstance(record, InputProblem):
                if record.row is None:
                    file_problems.append(record)
                    continue
                school = school_for(
                    record.school or ("" if record.school_code else UNKNOWN_SCHOOL),
                    record.school_code,
                )
                school.result.problems.append(record)
                finding = self.check_problem(record)
                if finding is not None:
                    school.result.findings.append(finding)
                continue
            school = school_for(record.school, record.school_code)
            if record.apk and apks is not None:
                waiting.append((school, record))
                continue
            self._add(school, record, None)
        if waiting and apks is not None:
            outcomes = apks([item for _, item in waiting])
            for school, item in waiting:
                outcome = outcomes.get((item.source, item.row))
                self._add(school, item, outcome)
                if outcome is not None:
                    school.result.apks.append(_panel(item, outcome))
        schools, grown = grouping.finish()
        reorder = {id(school) for school in grown}
        results = []
        for school in schools:
            result = school.result
            if waiting or id(school) in reorder:
                _restore_row_order(result)
            result.findings.extend(
                self.check_school(result.school, result.school_code, school.assessed)
            )
            results.append(result)
        return results, file_problems

    def _add(self, school: _School, item: RequiredItem, apk: ApkOutcome | None) -> None:
        assessed, findings = self.check_item(item, apk)
        school.assessed.append(assessed)
        school.result.items.append(item)
        school.result.findings.extend(findings)


ApkProvider = Callable[[list[RequiredItem]], Mapping[tuple[str, int], ApkOutcome]]


def _panel(item: RequiredItem, outcome: ApkOutcome) -> ApkPanel:
    return ApkPanel(
        row=item.row,
        item=item.name,
        source=outcome.cell,
        facts=outcome.facts.to_dict() if outcome.facts is not None else None,
        failure=outcome.failure,
    )


def _restore_row_order(result: SchoolResult) -> None:
    """Rows that waited for their APK, or that were written without the school's code, go
    back among the others, in file and row order."""
    sources = [*(i.source for i in result.items), *(p.source for p in result.problems)]
    order = {source: n for n, source in enumerate(dict.fromkeys(sources))}
    result.items.sort(key=lambda i: (order[i.source], i.row))
    result.findings.sort(key=lambda f: (order.get(f.source, 0), f.row if f.row is not None else 0))
    result.problems.sort(key=lambda p: (order.get(p.source, 0), p.row or 0))
    result.apks.sort(key=lambda p: p.row)
