"""The scan pipeline: submissions in, rules evaluated, run stored, reports written.

This is where the rooms meet: the scanner reads the files, the registry provides the snapshot
and stores the run, the policy engine judges, the report writers write. Progress reaches the
terminal through an observer so that none of them needs to know about terminals.
"""

from __future__ import annotations

import gc
import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from appaudit import __version__, registry_files
from appaudit.apks import ApkAnalyser, ApkStats, default_download_dir, default_jobs
from appaudit.settings import Settings
from appaudit.vocabulary import submission_vocabulary
from policies.engine import Engine
from policies.model import SEVERITIES, Finding, at_least, catalogue, verdict_key
from policies.results import RegistryInfo, ScanResult
from registry import runs
from registry.db import open_database
from registry.service import Registry
from registry.snapshot import RegistryView
from reports.writer import DEFAULT_FORMATS, write_reports
from scanner.apk.sources import LocalFolders
from scanner.safetext import shown_path
from scanner.submission import InputProblem, RequiredItem, Submission
from scanner.tables import MiB, ReadLimits, TableError

FAIL_ON = ("high", "medium", "info", "never")


class Observer(Protocol):
    """Told about progress; the CLI shows it as a progress bar on a terminal."""

    def row_done(self) -> None: ...

    def stage(self, name: str) -> None: ...


class _Silent:
    def row_done(self) -> None:
        pass

    def stage(self, name: str) -> None:
        pass


@dataclass
class ScanOptions:
    """Everything `appaudit scan` was asked to do."""

    inputs: Sequence[Path]
    out: Path = Path("appaudit-report")
    lang: str = "zh"
    fail_on: str = "high"
    formats: Sequence[str] = DEFAULT_FORMATS
    db: str | None = None
    registry_files: Sequence[Path] = ()
    settings: Settings = field(default_factory=Settings)
    sheet: str | None = None
    jobs: int = field(default_factory=default_jobs)
    download_dir: Path = field(default_factory=default_download_dir)
    sdk_prefixes: Path | None = None
    apk_dirs: Sequence[Path] = ()
    """Folders APK cells may name besides each submission's own folder (`--apk-dir`)."""
    allow_any_path: bool = False
    """Let APK cells name any local file (`--allow-any-path`)."""


@dataclass
class ScanOutcome:
    result: ScanResult
    report: Path
    exit_code: int
    rows: int
    apks: ApkStats = field(default_factory=ApkStats)


@contextmanager
def _fewer_collections() -> Iterator[None]:
    """A district scan makes millions of small objects that never form cycles; the cyclic
    collector's default pace would walk them again and again (a third of the run time)."""
    before = gc.get_threshold()
    gc.set_threshold(200_000, 100, 1000)
    try:
        yield
    finally:
        gc.set_threshold(*before)


def run_scan(options: ScanOptions, observer: Observer | None = None) -> ScanOutcome:
    """Run a whole scan; raises domain errors (unreadable file, database) before writing."""
    with _fewer_collections():
        return _run_scan(options, observer)


def _run_scan(options: ScanOptions, observer: Observer | None) -> ScanOutcome:
    watch = observer or _Silent()
    started = datetime.now(UTC)
    watch.stage("registry")
    database = None
    if options.registry_files:
        view = registry_files.load_view(options.registry_files)
    else:
        database = open_database(options.db)
        view = Registry(database).snapshot()
    submissions, unreadable = _open_submissions(options)
    engine = Engine(view, options.settings.policy)
    analyser = ApkAnalyser(
        database=database,
        jobs=options.jobs,
        download_dir=options.download_dir,
        sdk_prefixes=options.sdk_prefixes,
        package_hint=lambda item: _registered_package(engine, item),
        folders=LocalFolders(tuple(options.apk_dirs), options.allow_any_path),
        submission_folders={s.source: s.path.parent for s in submissions},
    )

    def records() -> Iterator[RequiredItem | InputProblem]:
        yield from unreadable
        for submission in submissions:
            yield from submission.items()

    watch.stage("rules")
    schools, file_problems = engine.evaluate(records(), watch.row_done, analyser.outcomes)
    result = ScanResult(
        schools=schools,
        generated_at=datetime.now(UTC),
        tool_version=__version__,
        registry=RegistryInfo(
            source=view.source,
            digest=view.digest,
            entries=len(view.entries),
            adoptions=len(view.adoptions),
        ),
        catalogue_digest=catalogue().digest,
        inputs=[s.info() for s in submissions],
        file_problems=file_problems,
    )
    watch.stage("reports")
    report = write_reports(result, options.out, formats=options.formats, lang=options.lang)
    if database is not None:
        watch.stage("history")
        result.run_id = runs.record_run(database, _run_record(result, options, view, started))
    failing = any(at_least(f.severity, options.fail_on) for f in result.findings())
    rows = sum(s.rows for s in submissions)
    return ScanOutcome(result, report, 1 if failing else 0, rows, analyser.stats)


def _open_submissions(options: ScanOptions) -> tuple[list[Submission], list[InputProblem]]:
    """The submissions that can be read, and a file problem for each that cannot.

    One unreadable or refused file (no header, a workbook beyond the limits …) does not
    stop a district's scan: it is reported and the others are checked. When no file can
    be read at all, that is an input error (exit code 2), as before.
    """
    vocabulary = submission_vocabulary()
    limits = ReadLimits(max_inflated=options.settings.intake.max_inflated_mb * MiB)
    opened: list[Submission] = []
    problems: list[InputProblem] = []
    errors: list[TableError] = []
    for path in options.inputs:
        try:
            opened.append(Submission(path, vocabulary, sheet=options.sheet, limits=limits))
        except TableError as error:
            errors.append(error)
            # The report names the file beside its problem; the message need not repeat it.
            text = str(error).removeprefix(f"{shown_path(path.name)}: ")
            problems.append(InputProblem(shown_path(path), None, text, f"无法读取此文件：{text}"))
    if errors and not opened:
        if len(errors) == 1:
            raise errors[0]
        raise TableError(
            f"none of the {len(errors)} files can be read: {errors[0]} (and {len(errors) - 1} more)"
        )
    return opened, problems


def _registered_package(engine: Engine, item: RequiredItem) -> str:
    entry = engine.assess(item).match.entry
    return entry.package if entry is not None else ""


def finding_record(finding: Finding) -> dict[str, Any]:
    """A finding as stored in the scan history: data, not wording."""
    return {
        "rule": finding.rule,
        "severity": finding.severity,
        "item": finding.item,
        "kind": finding.kind,
        "evidence": finding.evidence,
        "params": finding.params,
        "row": finding.row,
        "source": finding.source,
    }


class _RecordJson:
    """`finding_record` as JSON text; the part shared by a verdict's rows made once."""

    def __init__(self) -> None:
        self.memo: dict[tuple[object, ...], str] = {}
        self.sources: dict[str, str] = {}

    def __call__(self, finding: Finding) -> str:
        key = verdict_key(finding)
        head = self.memo.get(key)
        if head is None:
            record = finding_record(finding)
            del record["row"], record["source"]
            head = self.memo[key] = _dumps(record)[:-1]
        source = self.sources.get(finding.source)
        if source is None:
            source = self.sources[finding.source] = _dumps(finding.source)
        row = "null" if finding.row is None else str(finding.row)
        return f'{head}, "row": {row}, "source": {source}}}'


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def _run_record(
    result: ScanResult, options: ScanOptions, view: RegistryView, started: datetime
) -> runs.RunRecord:
    record_json = _RecordJson()
    schools = [
        runs.SchoolRecord(
            school=s.school,
            school_code=s.school_code,
            counts=s.counts(),
            findings='{"findings": ['
            + ", ".join(record_json(f) for f in s.findings)
            + '], "input_problems": '
            + _dumps([p.to_dict() for p in s.problems])
            + "}",
        )
        for s in result.schools
    ]
    counts = result.counts()
    return runs.RunRecord(
        started_at=started,
        finished_at=datetime.now(UTC),
        tool_version=__version__,
        inputs=[i.to_dict() for i in result.inputs],
        options={
            "lang": options.lang,
            "fail_on": options.fail_on,
            "formats": list(options.formats),
            "max_apps": options.settings.policy.max_apps,
            "disabled": sorted(options.settings.policy.disabled),
            "severity": dict(options.settings.policy.severity),
        },
        registry_digest=view.digest,
        registry_snapshot=view.to_json(),
        counts={
            **counts,
            "schools": len(result.schools),
            "items": sum(len(s.items) for s in result.schools),
            "input_problems": sum(len(s.problems) for s in result.schools)
            + len(result.file_problems),
        },
        out_dir=shown_path(options.out.resolve()),
        schools=schools,
    )


def summary_line(outcome: ScanOutcome) -> str:
    counts = outcome.result.counts()
    problems = sum(len(s.problems) for s in outcome.result.schools) + len(
        outcome.result.file_problems
    )
    parts = ", ".join(f"{counts[s]} {s}" for s in SEVERITIES)
    line = (
        f"scanned {outcome.rows} rows of {len(outcome.result.inputs)} file(s): "
        f"{len(outcome.result.schools)} schools, findings {parts}, {problems} input problem(s)"
    )
    apks = outcome.apks
    if apks.named:
        line += (
            f"; APKs: {apks.named} named, {apks.files} distinct, {apks.analysed} analysed, "
            f"{apks.cached} from cache, {apks.failed} not obtained"
        )
    return line
