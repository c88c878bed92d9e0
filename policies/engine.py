"""Evaluating the rule catalogue over a scan's rows, school by school."""

from __future__ import annotations

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
    assessed: list[Assessed] = field(default_factory=list)


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
        schools: dict[str, _School] = {}
        file_problems: list[InputProblem] = []
        waiting: list[tuple[_School, RequiredItem]] = []

        def school_for(name: str, code: str) -> _School:
            key = school_key(name)
            found = schools.get(key)
            if found is None:
                found = schools[key] = _School(SchoolResult(name, code))
            elif code and not found.result.school_code:
                found.result.school_code = code
            return found

        for record in records:
            if on_row is not None:
                on_row()
            if isinstance(record, InputProblem):
                if record.row is None:
                    file_problems.append(record)
                    continue
                school = school_for(record.school or UNKNOWN_SCHOOL, record.school_code)
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
        results = []
        for school in schools.values():
            result = school.result
            if waiting:
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
    """Rows that waited for their APK go back among the others, in file and row order."""
    order = {source: n for n, source in enumerate(dict.fromkeys(i.source for i in result.items))}
    result.items.sort(key=lambda i: (order[i.source], i.row))
    result.findings.sort(key=lambda f: (order.get(f.source, 0), f.row if f.row is not None else 0))
    result.apks.sort(key=lambda p: p.row)
