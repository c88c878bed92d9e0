"""A scan's part in the rectification ledger: waivers applied, items opened, seen, reopened
and proposed for closing, and the schools marked for the reports.

The policy engine decides (`policies.ledger`), the registry stores (`registry.ledger`);
this is where a scan's findings meet the two, in the pass that writes the reports.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from policies.ledger import (
    LEDGER_COUNTS,
    MarkedSchools,
    SchoolMarks,
    annotate,
    mark_school,
    school_key,
    waiver_active,
)
from policies.model import Finding, VerdictMemo, catalogue, variant_of
from policies.results import LedgerInfo, ScanResult, SchoolResult
from registry.ledger import Ledger, ScanRecorder, StoredItem, WaiverRecord, scan_reason
from reports.interface import Preparer


class _Describe:
    """A new item's problem text (问题描述, Chinese), citations (a tuple, as the item keeps
    them) and cause, from its finding; the rows of one verdict read the same, so each
    verdict is described once."""

    def __init__(self) -> None:
        self.memo: VerdictMemo[tuple[str, tuple[str, ...], str]] = VerdictMemo()
        self.known = self.memo.by_number
        """The memo's entries by number, looked up for each item a scan opens."""

    def __call__(self, finding: Finding) -> tuple[str, tuple[str, ...], str]:
        number = finding.verdict
        found = self.known.get(number) if number else None
        if found is None:
            text, basis, cause = describe(finding)
            found = (text, tuple(basis), cause)
            if number:  # else known only by its objects, which do not outlive its school
                self.memo.put(finding, found)
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


_READ_AHEAD = 500
"""Schools whose stored items are read at once."""


class LedgerPass(Preparer):
    """A scan's ledger in the report pass: each school's waivers applied and its findings
    numbered before the formats get it, its moves written into `recorder`'s transaction
    (which the caller commits once the reports are written, or rolls back).

    The waivers in force and the schools' baselines are read when it starts, their stored
    items a batch of schools ahead of the pass, inside the transaction.
    """

    def __init__(
        self,
        result: ScanResult,
        ledger: Ledger,
        recorder: ScanRecorder,
        *,
        run_id: int | None,
        today: date,
        due_days: int,
    ) -> None:
        self.result = result
        self.schools = result.schools
        self.recorder = recorder
        self.run_id = run_id
        self.today, self.due_days = today, due_days
        self.waivers = active_waivers(ledger, today)
        self.keys = [school_key(s.school, s.school_code) for s in result.summaries()]
        self.stored: dict[str, list[StoredItem]] = {}
        self.read_up_to = 0
        """The stored items are read a batch of schools ahead of the pass: a district's
        items are close to a million records."""
        self.seen: set[str] = set()
        self.baselines = ledger.baselines(self.keys)
        self.described = _Describe()
        self.entry_keys: dict[int, str | None] = {}
        self.marks: list[SchoolMarks] = []
        self.required: dict[str, tuple[str, int]] = {}

    def prepare(self, school: SchoolResult) -> SchoolResult:
        at = len(self.marks)
        key = self.keys[at]
        if at >= self.read_up_to:
            self.read_up_to = at + _READ_AHEAD
            self.stored = self.recorder.stored(self.keys[at : self.read_up_to])
        # A school written twice under one key is reconciled once, with its stored items.
        stored = [] if key in self.seen else self.stored.pop(key, [])
        self.seen.add(key)
        marks, moves = mark_school(
            school,
            self.waivers,
            stored,
            today=self.today,
            due_days=self.due_days,
            describe=self.described,
            entry_keys=self.entry_keys,
            complete=self.recorder.records,
        )
        marks.baseline = self.baselines.get(key, marks.required)
        self.required.setdefault(key, (school.school, marks.required))
        self.marks.append(marks)
        if moves is not None:
            recorder = self.recorder
            numbers = recorder.open(moves.opened)
            for tag, number in zip(moves.opened_tags, numbers, strict=True):
                tag.number = number
            recorder.see(moves.seen)
            recorder.move(moves.changed, scan_reason(self.run_id))
        return annotate(school, marks)

    def finish(self) -> None:
        """Store the baselines of schools seen for the first time; give the result its
        marked schools (for pages written after the pass) and the district's figures."""
        baselines = self.baselines
        self.recorder.baselines({k: v for k, v in self.required.items() if k not in baselines})
        self.recorder.flush()
        self.result.schools = MarkedSchools(self.schools, self.marks)
        self.result.ledger = _info(self.marks)


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
