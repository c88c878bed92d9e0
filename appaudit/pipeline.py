"""The scan pipeline: submissions in, rules evaluated, run stored, reports written.

This is where the rooms meet: the scanner reads the files, the registry provides the snapshot
and stores the run, the policy engine judges, the report writers write. Progress reaches the
terminal through an observer so that none of them needs to know about terminals.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol, TypeVar

from sqlalchemy.exc import SQLAlchemyError

from appaudit import __version__, registry_files
from appaudit.apks import (
    DEFAULT_DOWNLOAD_JOBS,
    ApkAnalyser,
    ApkStats,
    default_download_dir,
    default_jobs,
)
from appaudit.errors import Message
from appaudit.messages import m
from appaudit.settings import Settings
from appaudit.vocabulary import submission_vocabulary
from policies.engine import Engine
from policies.model import SEVERITIES, at_least, catalogue
from policies.results import LedgerInfo, RegistryInfo, ScanResult, SchoolResult
from registry import runs
from registry.db import Database, DatabaseError, describe, first_line, open_database
from registry.service import Registry
from registry.snapshot import RegistryView
from reports.interface import Preparer, SchoolWriter
from reports.json_format import SchoolLines
from reports.writer import DEFAULT_FORMATS, check_destination, write_reports
from scanner.apk.download import DEFAULT_OPTIONS as DOWNLOAD_DEFAULTS
from scanner.apk.download import remove_stale_parts
from scanner.apk.sources import LocalFolders
from scanner.safetext import shown_path
from scanner.submission import InputProblem, RequiredItem, Submission
from scanner.tables import MiB, ReadLimits, TableError

_T = TypeVar("_T")

FAIL_ON = (*SEVERITIES, "never")
"""`--fail-on` thresholds: a severity (that one and every more serious one fail), or never."""


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
    headers: str | None = None
    """The language of CSV and XLSX headers and coded values; None: the report language."""
    fail_on: str = "high"
    formats: Sequence[str] = DEFAULT_FORMATS
    db: str | None = None
    registry_files: Sequence[Path] = ()
    settings: Settings = field(default_factory=Settings)
    sheet: str | None = None
    jobs: int = field(default_factory=default_jobs)
    download_dir: Path = field(default_factory=default_download_dir)
    download_deadline: float = DOWNLOAD_DEFAULTS.deadline
    """Seconds one APK download may take in all, retries included."""
    download_jobs: int = DEFAULT_DOWNLOAD_JOBS
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
    not_stored: Message | None = None
    """Why the run is missing from the scan history (the registry refused the write), if it is."""
    ledger_problem: Message | None = None
    """Why the ledger was not updated although the scan used a database, if it was not."""


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
    check_destination(
        options.out, formats=options.formats, lang=options.lang, headers=options.headers
    )
    remove_stale_parts(options.download_dir)  # partial downloads of a scan that was killed
    watch.stage("registry")
    database = None
    if options.registry_files:
        view = registry_files.load_view(options.registry_files)
    else:
        database = open_database(options.db, create=False)
        view = Registry(database).snapshot()
    submissions, unreadable = _open_submissions(options)
    engine = Engine(view, options.settings.policy)
    analyser = ApkAnalyser(
        database=database,
        jobs=options.jobs,
        download_dir=options.download_dir,
        download_options=replace(DOWNLOAD_DEFAULTS, deadline=options.download_deadline),
        download_jobs=options.download_jobs,
        sdk_prefixes=options.sdk_prefixes,
        package_hint=lambda item: _registered_package(engine, item),
        budget=options.settings.apk,
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
        timezone=options.settings.report.timezone,
    )
    not_stored: Message | None = None
    ledger_problem: Message | None = None
    history: list[_History] = []
    ledger = _LedgerStep(database, options)
    if database is not None:
        watch.stage("history")
        # The run is opened before the reports are written, so that every format names it;
        # its schools are stored from the same pass over the schools as the reports.
        record = _run_record(result, options, view, started)
        opened = _stored(database, lambda: runs.open_run(database, record))
        if isinstance(opened, Message):
            not_stored = opened
        else:
            result.run_id = opened
            history.append(_History(SchoolLines(options.lang)))
        watch.stage("ledger")
        ledger_problem = ledger.start(result)
    else:
        result.ledger = LedgerInfo(updated=False)
    watch.stage("reports")
    try:
        try:
            report = _write(result, options, history, ledger)
        except LedgerNotKept as failed:
            # The ledger's transaction is rolled back; the reports are written without it.
            ledger_problem = failed.reason
            result.schools, result.ledger = ledger.unmarked, LedgerInfo(updated=False)
            history[:] = [_History(history[0].lines)] if history else []
            report = _write(result, options, history, None)
    except BaseException:
        if database is not None and result.run_id is not None:
            run_id = result.run_id
            _stored(database, lambda: runs.discard_run(database, run_id))
        raise
    if database is not None and result.run_id is not None:
        run_id, kept = result.run_id, history[0].schools
        finished = _stored(
            database, lambda: runs.finish_run(database, run_id, kept, datetime.now(UTC))
        )
        if isinstance(finished, Message):
            not_stored = finished
    counts = result.counts()
    failing = any(counts[s] and at_least(s, options.fail_on) for s in counts)
    rows = sum(s.rows for s in submissions)
    return ScanOutcome(
        result, report, 1 if failing else 0, rows, analyser.stats, not_stored, ledger_problem
    )


class LedgerNotKept(Exception):
    """The ledger could not be updated after the pass began: its transaction is rolled back."""

    def __init__(self, reason: Message) -> None:
        super().__init__(reason.en)
        self.reason = reason


_STORE_ERRORS = (SQLAlchemyError, OSError, DatabaseError)


class _LedgerStep:
    """The ledger's part in a scan: its write transaction opened before the reports are
    written, the schools marked in their pass, committed just before the report folder is
    put in place; rolled back if anything fails, so a report and its ledger stand together.
    """

    def __init__(self, database: Database | None, options: ScanOptions) -> None:
        self.database = database
        self.options = options
        self.stack = ExitStack()
        self.marking: Preparer | None = None
        self.unmarked: Sequence[SchoolResult] = ()
        """The schools as the rules left them, for reports written without the ledger."""

    def start(self, result: ScanResult) -> Message | None:
        """Open the transaction and read what the pass needs; why not, if it cannot."""
        from appaudit.ledger_scan import LedgerPass
        from registry.ledger import Ledger
        from reports.times import zone

        database = self.database
        assert database is not None
        now = datetime.now(UTC)
        today = now.astimezone(zone(self.options.settings.report.timezone)).date()
        try:
            ledger = Ledger(database)
            recorder = self.stack.enter_context(ledger.recording(run_id=result.run_id, at=now))
            self.unmarked = result.schools
            self.marking = _Guarded(
                LedgerPass(
                    result,
                    ledger,
                    recorder,
                    run_id=result.run_id,
                    today=today,
                    due_days=self.options.settings.ledger.due_days,
                ),
                self._failed,
            )
        except _STORE_ERRORS as error:
            self.stack.__exit__(type(error), error, error.__traceback__)
            self.marking = None
            return self._reason(error)
        return None

    def commit(self) -> None:
        """Keep the scan's moves; LedgerNotKept if the database refuses."""
        try:
            self.stack.close()
        except _STORE_ERRORS as error:
            raise self._failed(error) from error

    def roll_back(self, error: BaseException) -> None:
        with contextlib.suppress(*_STORE_ERRORS):
            self.stack.__exit__(type(error), error, error.__traceback__)

    def _failed(self, error: BaseException) -> LedgerNotKept:
        return LedgerNotKept(self._reason(error))

    def _reason(self, error: BaseException) -> Message:
        assert self.database is not None
        return _store_problem(self.database, "ledger_not_kept_in", error)


class _Guarded(Preparer):
    """A preparer whose database errors become LedgerNotKept (the reports then go without
    the ledger, rather than fail)."""

    def __init__(self, inner: Preparer, failed: Callable[[BaseException], LedgerNotKept]) -> None:
        self.inner = inner
        self.failed = failed

    def prepare(self, school: SchoolResult) -> SchoolResult:
        try:
            return self.inner.prepare(school)
        except _STORE_ERRORS as error:
            raise self.failed(error) from error

    def finish(self) -> None:
        try:
            self.inner.finish()
        except _STORE_ERRORS as error:
            raise self.failed(error) from error


def _write(
    result: ScanResult,
    options: ScanOptions,
    history: Sequence[_History],
    ledger: _LedgerStep | None,
) -> Path:
    """Write the reports (and the history), the ledger marking the schools in the same pass
    when it runs; the ledger is committed once every file is written, or rolled back."""
    marking = ledger.marking if ledger is not None else None
    try:
        report = write_reports(
            result,
            options.out,
            formats=options.formats,
            lang=options.lang,
            headers=options.headers,
            also=history,
            jobs=options.jobs,
            prepare=marking,
            before_swap=ledger.commit if ledger is not None and marking is not None else None,
            json_lines=history[0].lines if history else None,
        )
    except BaseException as error:
        if ledger is not None and marking is not None:
            ledger.roll_back(error)
        raise
    return report


def _stored(database: Database, store: Callable[[], _T]) -> _T | Message:
    """What a step of storing the run returns, or why it could not be done.

    A registry that refuses the write (read-only, disk full, locked too long) costs the
    run its place in the history, not its report: the findings stand without it.
    """
    try:
        return store()
    except _STORE_ERRORS as error:
        return _store_problem(database, "run_not_stored_in", error)


def _store_problem(database: Database, key: str, error: BaseException) -> Message:
    """Why the registry refused a write, for the scan's summary (`key`: what was not kept)."""
    if isinstance(error, DatabaseError):
        reason = error.message
    else:
        reason = Message(first_line(error) if isinstance(error, SQLAlchemyError) else str(error))
    return m(key, database=describe(database.url), reason=reason)


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
            first = Submission(path, vocabulary, sheet=options.sheet, limits=limits)
            opened.append(first)
            opened.extend(first.other_sheets())  # a workbook's every sheet with a header
        except TableError as error:
            errors.append(error)
            # The report names the file beside its problem; the message need not repeat it.
            name = shown_path(path.name)
            text = str(error).removeprefix(f"{name}: ")
            text_zh = error.text("zh").removeprefix(f"{name}: ").removeprefix(f"{name}：")
            unreadable = m("unreadable_file", reason=text_zh).zh
            problems.append(InputProblem(shown_path(path), None, text, unreadable))
    if errors and not opened:
        if len(errors) == 1:
            raise errors[0]
        raise TableError(
            m(
                "no_file_readable",
                count=len(errors),
                first=errors[0].message,
                more=m("and_more", count=len(errors) - 1),
            )
        )
    return opened, problems


def _registered_package(engine: Engine, item: RequiredItem) -> str:
    entry = engine.assess(item).match.entry
    return entry.package if entry is not None else ""


class _History(SchoolWriter):
    """The scan history's record of each school, made in the same pass as the reports: the
    school as findings.json has it (its line made once for both, see `SchoolLines`)."""

    def __init__(self, lines: SchoolLines) -> None:
        self.lines = lines
        self.schools: list[runs.SchoolRecord] = []

    def add(self, school: SchoolResult) -> None:
        text = self.lines(school)
        # Packed at once: a district's findings are hundreds of megabytes of JSON text.
        self.schools.append(
            runs.SchoolRecord(school.school, school.school_code, school.counts(), runs.pack(text))
        )

    def close(self) -> list[Path]:
        return []


def _run_record(
    result: ScanResult,
    options: ScanOptions,
    view: RegistryView,
    started: datetime,
) -> runs.RunRecord:
    counts = result.counts()
    summaries = result.summaries()
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
            "schools": len(summaries),
            "items": sum(s.items for s in summaries),
            "input_problems": sum(s.problems for s in summaries) + len(result.file_problems),
        },
        out_dir=shown_path(options.out.resolve()),
    )
