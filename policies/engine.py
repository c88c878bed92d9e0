"""Evaluating the rule catalogue over a scan's rows, school by school."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence

from policies.apk_rules import APK_RULES, ApkOutcome
from policies.config import PolicyConfig
from policies.keywords import Keywords, keywords
from policies.matching import Matcher
from policies.model import Finding
from policies.results import ApkPanel
from policies.rules import ITEM_RULES, SCHOOL_RULES, Assessed, Context, school_rule_key
from policies.store import ResultStore, Shelf, StoredSchools
from registry.snapshot import RegistryView, school_key
from scanner.submission import InputProblem, RequiredItem

UNKNOWN_SCHOOL = "（学校未填写）"
"""Where rows that name no school are reported, so that no row goes missing."""


_VERDICTS_MAX = 1 << 17


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

    def assess(self, item: RequiredItem, apk: ApkOutcome | None = None) -> Assessed:
        match = self.matcher.match(item, apk.package if apk is not None else "")
        text = " ".join((*item.actions, item.quota, item.note)).lower()
        return Assessed(item, match, self.matcher.adoption(item, match), text)

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
            params={"row": problem.row, "reason": problem.message_zh or problem.message},
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
        file_problems: list[InputProblem] = []
        waiting: list[tuple[Shelf, RequiredItem]] = []
        for record in records:
            if on_row is not None:
                on_row()
            if isinstance(record, InputProblem):
                if record.row is None:
                    file_problems.append(record)
                    continue
                shelf = run.shelf(record.school or UNKNOWN_SCHOOL, record.school_code)
                store.add_problem(shelf, record, self.check_problem(record))
                continue
            shelf = run.shelf(record.school, record.school_code)
            if record.apk and apks is not None:
                waiting.append((shelf, record))
                continue
            run.add(shelf, record)
        if waiting and apks is not None:
            outcomes = apks([item for _, item in waiting])
            for shelf, item in waiting:
                run.add_with_apk(shelf, item, outcomes.get((item.source, item.row)))
        for shelf in run.shelves.values():
            assessed = run.for_school_rules.pop(id(shelf), {})
            store.add_school_findings(
                shelf, self.check_school(shelf.school, shelf.school_code, list(assessed.values()))
            )
        return StoredSchools(store, list(run.shelves.values())), file_problems


class _Run:
    """One evaluation's schools, shared verdicts and what the school rules will need."""

    def __init__(self, engine: Engine, store: ResultStore) -> None:
        self.engine = engine
        self.store = store
        self.shelves: dict[str, Shelf] = {}
        self.verdicts: dict[tuple[object, ...], int] = {}
        self.for_school_rules: dict[int, dict[tuple[object, ...], Assessed]] = {}

    def shelf(self, name: str, code: str) -> Shelf:
        key = school_key(name)
        found = self.shelves.get(key)
        if found is None:
            found = self.shelves[key] = Shelf(name, code)
        elif code and not found.school_code:
            found.school_code = code
        found.names[name] = None
        return found

    def add(self, shelf: Shelf, item: RequiredItem) -> None:
        engine = self.engine
        assessed = engine.assess(item)
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
        verdict = self.verdicts.get(key)
        if verdict is None:
            if len(self.verdicts) >= _VERDICTS_MAX:
                self.verdicts.clear()
            findings = [f for rule in engine.item_rules for f in rule(assessed, engine.ctx)]
            verdict = self.verdicts[key] = self.store.verdict(findings)
        self.store.add_item(shelf, item, verdict)
        self._remember(shelf, assessed)

    def add_with_apk(self, shelf: Shelf, item: RequiredItem, apk: ApkOutcome | None) -> None:
        assessed, findings = self.engine.check_item(item, apk)
        panel = None if apk is None else _panel(item, apk)
        self.store.add_own(shelf, item, findings, panel)
        self._remember(shelf, assessed)

    def _remember(self, shelf: Shelf, assessed: Assessed) -> None:
        kept = self.for_school_rules.setdefault(id(shelf), {})
        kept.setdefault(school_rule_key(assessed, self.engine.ctx), assessed)


ApkProvider = Callable[[list[RequiredItem]], Mapping[tuple[str, int], ApkOutcome]]


def _panel(item: RequiredItem, outcome: ApkOutcome) -> ApkPanel:
    return ApkPanel(
        row=item.row,
        item=item.name,
        source=outcome.cell,
        facts=outcome.facts.to_dict() if outcome.facts is not None else None,
        failure=outcome.failure,
    )
