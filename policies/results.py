"""What a scan found, school by school: the value the pipeline hands to the report writers."""

from __future__ import annotations

import operator
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from policies.model import SEVERITIES, Finding
from scanner.submission import InputFile, InputProblem, RequiredItem

if TYPE_CHECKING:
    from scanner.apk.facts import ApkFacts

_severity = operator.attrgetter("severity")


@dataclass
class SchoolResult:
    """One school's items, findings and unreadable rows."""

    school: str
    school_code: str = ""
    names: list[str] = field(default_factory=list)
    """Every spelling of the school's name its rows gave, the first (`school`) first."""

    def __post_init__(self) -> None:
        if not self.names and self.school:
            self.names.append(self.school)

    items: list[RequiredItem] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    """Every finding, INPUT-INVALID ones included, in row order."""
    problems: list[InputProblem] = field(default_factory=list)
    apks: list[ApkPanel] = field(default_factory=list)
    ledger_tags: list[Any] = field(default_factory=list)
    """Beside `findings` when the scan kept a ledger: each finding's `policies.ledger.LedgerTag`
    (or None); empty without a ledger."""
    waived: list[tuple[Finding, Mapping[str, Any]]] = field(default_factory=list)
    """Findings a waiver covers (with the waiver): not in `findings`, nor in the counts."""
    fixed: list[Any] = field(default_factory=list)
    """Ledger items (`registry.ledger.LedgerRecord`) this scan no longer sees: proposed for
    closing (拟销号)."""
    ledger_counts: Mapping[str, int] | None = None
    """新增, 持续, 拟销号, 已销号, 逾期, 复发 (`policies.ledger.LEDGER_COUNTS`); None without a ledger."""
    required: int = 0
    """Distinct items required (counted when the scan kept a ledger)."""
    baseline: int | None = None
    """Distinct items required when the ledger first saw the school."""
    marks: Any = None
    """The `policies.ledger.SchoolMarks` the fields above come from, when they were applied
    (`policies.ledger.annotate`): a worker process that rebuilds the school applies them
    again."""

    _counted: tuple[list[Finding], int, dict[str, int]] | None = field(
        default=None, init=False, repr=False, compare=False
    )
    """The counts as last counted, with the list and length they were counted from: every
    format asks for them, and a school has hundreds of findings."""

    def counts(self) -> dict[str, int]:
        findings = self.findings
        known = self._counted
        if known is None or known[0] is not findings or known[1] != len(findings):
            counted = Counter(map(_severity, findings))  # no Python frame per finding
            counts = {severity: counted.get(severity, 0) for severity in SEVERITIES}
            known = self._counted = (findings, len(findings), counts)
        return dict(known[2])

    def summary(self) -> SchoolSummary:
        return SchoolSummary(
            self.school,
            self.school_code,
            self.counts(),
            len(self.items),
            len(self.problems),
            tuple(self.names),
            len(self.waived),
            self.ledger_counts,
            self.required,
            self.baseline,
        )

    def worst(self) -> str | None:
        counts = self.counts()
        return next((s for s in SEVERITIES if counts[s]), None)


@dataclass(frozen=True)
class SchoolSummary:
    """What is known of a school without rebuilding it: name, counts and sizes."""

    school: str
    school_code: str
    counts: Mapping[str, int]
    items: int
    problems: int
    names: tuple[str, ...] = ()
    """Every spelling of the school's name its rows gave."""
    waived: int = 0
    """Findings a waiver covers (not in `counts`)."""
    ledger: Mapping[str, int] | None = None
    """The school's ledger figures (see `SchoolResult.ledger_counts`)."""
    required: int = 0
    baseline: int | None = None


@runtime_checkable
class Summarised(Protocol):
    """Schools that can say their summaries without being rebuilt (see `policies.store`)."""

    def summaries(self) -> list[SchoolSummary]: ...


@dataclass(frozen=True)
class ApkPanel:
    """What the APK named by one submission row turned out to be."""

    row: int
    item: str
    source: str
    """The APK cell as the school wrote it (path, folder or URL)."""
    facts: ApkFacts | None
    """What the APK is, or None when it could not be obtained."""
    failure: str = ""


@dataclass(frozen=True)
class RegistryInfo:
    """Which registry the scan read."""

    source: str
    digest: str
    entries: int
    adoptions: int


@dataclass(frozen=True)
class LedgerInfo:
    """The ledger's side of a scan: whether it was kept, and the district's figures."""

    updated: bool
    """False: the scan read a registry file and has no ledger to keep."""
    counts: Mapping[str, int] = field(default_factory=dict)
    required: int = 0
    baseline: int = 0
    """Distinct items required now and at each school's first scan, summed over the schools
    that have both."""
    waived: int = 0


@dataclass
class ScanResult:
    """Everything one run of `appaudit scan` found."""

    schools: Sequence[SchoolResult]
    """Each school in full; a stored scan rebuilds one at a time, so go through them once."""
    generated_at: datetime
    tool_version: str
    registry: RegistryInfo
    catalogue_digest: str
    inputs: Sequence[InputFile] = ()
    file_problems: list[InputProblem] = field(default_factory=list)
    """Problems with a whole file (no school to hang them on)."""
    run_id: int | None = None
    ledger: LedgerInfo | None = None
    """What the scan did to the rectification ledger; None when it kept none."""
    timezone: str = "Asia/Shanghai"
    """The bureau's time zone (IANA name): every time shown to a person is in it."""

    def summaries(self) -> list[SchoolSummary]:
        if isinstance(self.schools, Summarised):
            return self.schools.summaries()
        return [school.summary() for school in self.schools]

    def counts(self) -> dict[str, int]:
        total = Counter[str]()
        for summary in self.summaries():
            total.update(summary.counts)
        return {severity: total.get(severity, 0) for severity in SEVERITIES}

    def findings(self) -> list[Finding]:
        """Every finding of every school: for tests and small scans, as it rebuilds them all."""
        return [f for school in self.schools for f in school.findings]
