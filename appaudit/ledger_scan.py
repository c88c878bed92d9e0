"""A scan's part in the rectification ledger: waivers applied, items opened, seen, reopened
and proposed for closing, and the schools marked for the reports.

The policy engine decides (`policies.ledger`), the registry stores (`registry.ledger`);
this is where a scan's findings meet the two, once, before the reports are written.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from policies.ledger import (
    LEDGER_COUNTS,
    MarkedSchools,
    SchoolMarks,
    mark_school,
    school_key,
    waiver_active,
)
from policies.model import Finding, VerdictMemo, catalogue, variant_of
from policies.results import LedgerInfo, ScanResult
from registry.db import Database
from registry.ledger import Ledger, WaiverRecord, scan_reason


class _Describe:
    """A new item's problem text (问题描述, Chinese), citations and cause, from its finding;
    the rows of one verdict read the same, so each verdict is described once."""

    def __init__(self) -> None:
        self.memo: VerdictMemo[tuple[str, list[str], str]] = VerdictMemo()

    def __call__(self, finding: Finding) -> tuple[str, list[str], str]:
        if not finding.verdict:  # known only by its objects, which do not outlive its school
            return describe(finding)
        found = self.memo.get(finding)
        if found is None:
            found = self.memo.put(finding, describe(finding))
        return found


def describe(finding: Finding) -> tuple[str, list[str], str]:
    """A new item's problem text (问题描述, Chinese), citations and cause, from its finding."""
    rules = catalogue()
    spec = rules.rules.get(finding.rule)
    cause = variant_of(finding)
    basis = [c.ref for c in spec.basis_of(cause)] if spec is not None else []
    return rules.message(finding, "zh"), basis, cause


def active_waivers(ledger: Ledger, today: date) -> list[WaiverRecord]:
    return [w for w in ledger.waivers() if waiver_active(w, today)]


def keep_ledger(
    result: ScanResult,
    database: Database,
    *,
    run_id: int | None,
    now: datetime,
    today: date,
    due_days: int,
    actor: str | None = None,
) -> None:
    """Apply the waivers in force, update the ledger from the scan's findings, and mark
    `result`'s schools for the reports (their findings' ledger numbers, the waived ones).

    One pass over the schools decides every move; one transaction stores them all, each
    school's as it comes.
    """
    ledger = Ledger(database, actor)
    waivers = active_waivers(ledger, today)
    summaries = result.summaries()
    keys = [school_key(s.school, s.school_code) for s in summaries]
    stored = ledger.of_schools(keys)
    baselines = ledger.baselines(keys)
    described = _Describe()
    marks: list[SchoolMarks] = []
    required: dict[str, tuple[str, int]] = {}
    with ledger.recording(run_id=run_id, at=now) as recorder:
        for key, school in zip(keys, result.schools, strict=True):
            school_marks, moves = mark_school(
                school,
                waivers,
                stored.pop(key, []),
                run_id=run_id,
                now=now,
                today=today,
                due_days=due_days,
                describe=described,
            )
            school_marks.baseline = baselines.get(key, school_marks.required)
            required.setdefault(key, (school.school, school_marks.required))
            marks.append(school_marks)
            if moves is None:
                continue
            numbers = recorder.open(moves.opened)
            for item, number in zip(moves.opened, numbers, strict=True):
                moves.tags[(item.item_key, item.rule)].number = number
            recorder.see(moves.seen)
            recorder.move(moves.changed, scan_reason(run_id))
        recorder.baselines({k: v for k, v in required.items() if k not in baselines})
    result.schools = MarkedSchools(result.schools, marks)
    result.ledger = _info(marks)


def _info(marks: Sequence[SchoolMarks]) -> LedgerInfo:
    counts = dict.fromkeys(LEDGER_COUNTS, 0)
    for school in marks:
        for name in LEDGER_COUNTS:
            counts[name] += school.counts.get(name, 0)
    return LedgerInfo(
        updated=True,
        counts=counts,
        required=sum(m.required for m in marks),
        baseline=sum(m.baseline or 0 for m in marks),
        waived=sum(sum(m.waived_counts.values()) for m in marks),
    )
