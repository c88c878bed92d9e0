"""`appaudit scan`, `appaudit rules` and `appaudit runs`.

The pipeline, the reports and the registry are imported by the commands that use them, so
that `appaudit --help` starts without loading them.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from appaudit.cli.apk_cmd import JobsOption, SdkOption
from appaudit.cli.common import (
    AppauditCommand,
    DbOption,
    LangOption,
    choice,
    emit,
    emit_json,
    fail,
    format_table,
    headers,
    quoted_list,
    say,
    speak,
    warn,
)
from appaudit.errors import LANGUAGES
from appaudit.messages import h, m, t
from policies.model import SEVERITIES

if TYPE_CHECKING:
    from appaudit.pipeline import ScanOutcome
    from policies.model import RuleSpec
    from registry.runs import RunRecord
    from reports.text import Strings
    from scanner.submission import InputFile


class _Progress:
    """A spinner with a row count on stderr, shown only when stderr is a terminal."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import Progress, SpinnerColumn, TextColumn

        console = Console(stderr=True)
        self.enabled = console.is_terminal
        self.rows = 0
        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            TextColumn(t("progress_rows")),
            console=console,
            disable=not self.enabled,
            transient=True,
        )
        self.task = self.progress.add_task(t("stage_reading"), total=None)

    def __enter__(self) -> _Progress:
        self.progress.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.progress.__exit__(*exc)

    def row_done(self) -> None:
        self.rows += 1
        if self.enabled and self.rows % 1000 == 0:
            self.progress.update(self.task, completed=self.rows)

    def stage(self, name: str) -> None:
        self.progress.update(self.task, description=t(f"stage_{name}"), completed=self.rows)


def scan(
    files: Annotated[list[Path], typer.Argument(help=h("arg_submissions"))],
    out: Annotated[Path, typer.Option("--out", "-o", help=h("opt_out"))] = Path("appaudit-report"),
    lang: LangOption = None,
    table_headers: Annotated[
        str | None, typer.Option("--headers", help=h("opt_scan_headers"), show_default=False)
    ] = None,
    fail_on: Annotated[
        str,
        typer.Option("--fail-on", help=h("opt_fail_on", severities=", ".join(SEVERITIES))),
    ] = "high",
    formats: Annotated[
        str | None, typer.Option("--format", "-f", help=h("opt_formats"), show_default=False)
    ] = None,
    registry: Annotated[
        list[Path] | None, typer.Option("--registry", help=h("opt_registry_files"))
    ] = None,
    config: Annotated[Path | None, typer.Option("--config", help=h("opt_config"))] = None,
    sheet: Annotated[str | None, typer.Option("--sheet", help=h("opt_scan_sheet"))] = None,
    jobs: JobsOption = None,
    download_dir: Annotated[
        Path | None, typer.Option("--download-dir", help=h("opt_download_dir"))
    ] = None,
    download_deadline: Annotated[
        float | None,
        typer.Option("--download-deadline", min=0.001, help=h("opt_download_deadline")),
    ] = None,
    download_jobs: Annotated[
        int | None, typer.Option("--download-jobs", min=1, help=h("opt_download_jobs"))
    ] = None,
    sdk_prefixes: SdkOption = None,
    apk_dir: Annotated[list[Path] | None, typer.Option("--apk-dir", help=h("opt_apk_dir"))] = None,
    allow_any_path: Annotated[
        bool, typer.Option("--allow-any-path", help=h("opt_allow_any_path"))
    ] = False,
    db: DbOption = None,
) -> None:
    from appaudit import pipeline
    from appaudit.apks import DEFAULT_DOWNLOAD_JOBS, default_download_dir, default_jobs
    from appaudit.settings import load_settings
    from reports.writer import DEFAULT_FORMATS, FORMATS, is_replaceable
    from scanner.apk.download import DEFAULT_OPTIONS as DOWNLOAD_DEFAULTS
    from scanner.tables import HEADER_SEARCH_ROWS

    lang = speak(lang)
    choice(table_headers, LANGUAGES, "--headers")
    choice(fail_on, pipeline.FAIL_ON, "--fail-on")
    chosen: tuple[str, ...] = DEFAULT_FORMATS
    if formats is not None:
        chosen = tuple(f.strip() for f in formats.split(",") if f.strip())
        for name in chosen:
            choice(name, tuple(FORMATS), "--format")
        if not chosen:
            fail(m("no_format", formats=", ".join(FORMATS)))
    missing = [str(f) for f in (*files, *(registry or ())) if not f.is_file()]
    if missing:
        fail(m("no_such_file", files=", ".join(missing)))
    if not is_replaceable(Path(os.path.abspath(out))):
        # Said here in the reader's language; the writer refuses it again all the same.
        fail(m("out_not_a_report", path=out))
    not_folders = [str(d) for d in apk_dir or () if not d.is_dir()]
    if not_folders:
        fail(m("no_such_apk_dir", folders=", ".join(not_folders)))
    options = pipeline.ScanOptions(
        inputs=files,
        out=out,
        lang=lang,
        headers=table_headers,
        fail_on=fail_on,
        formats=chosen,
        db=db,
        registry_files=registry or (),
        settings=load_settings(config),
        sheet=sheet,
        jobs=jobs or default_jobs(),
        download_dir=download_dir or default_download_dir(),
        download_deadline=download_deadline or DOWNLOAD_DEFAULTS.deadline,
        download_jobs=download_jobs or DEFAULT_DOWNLOAD_JOBS,
        sdk_prefixes=sdk_prefixes,
        apk_dirs=tuple(apk_dir or ()),
        allow_any_path=allow_any_path,
    )
    with _Progress() as progress:
        outcome = pipeline.run_scan(options, progress)
    if outcome.result.registry.entries == 0:
        warn(t("empty_registry", registry=outcome.result.registry.source))
    say(summary_line(outcome, lang))
    for problem in outcome.result.file_problems:
        say(f"{problem.source}{t('colon')}{problem.text(lang)}")
    sheets_not_read(outcome.result.inputs, lang, HEADER_SEARCH_ROWS)
    if outcome.not_stored is not None:
        warn(t("run_not_stored", reason=outcome.not_stored.text(lang)))
    say(ledger_line(outcome, lang))
    if outcome.apks.not_cached:
        warn(t("apks_not_cached", reason=outcome.apks.not_cached))
    say(t("report_at", path=outcome.report))
    raise typer.Exit(outcome.exit_code)


def sheets_not_read(inputs: Sequence[InputFile], lang: str, rows: int) -> None:
    """Say which sheets of the workbooks were not read: file by file for one file, else
    each sheet's name once with the number of files (a district's template repeats its
    填报说明 in every school's workbook)."""
    skipping = [read for read in inputs if read.sheets_not_read]
    files = {read.path for read in skipping}
    if len(files) == 1:
        read = skipping[0]
        sheets = quoted_list(read.sheets_not_read, lang)
        say(t("sheets_not_read", file=read.path, sheets=sheets, rows=rows))
    elif files:
        by_sheet = Counter(name for read in skipping for name in read.sheets_not_read)
        named = [
            t("sheet_in_files", sheet=quoted_list([name], lang), count=count)
            for name, count in by_sheet.most_common()
        ]
        say(
            t(
                "sheets_not_read_files",
                count=len(files),
                sheets=t("list_sep").join(named),
                rows=rows,
            )
        )


def ledger_line(outcome: ScanOutcome, lang: str) -> str:
    """What the scan did to the rectification ledger, or why it did nothing."""
    if outcome.ledger_problem is not None:
        return t("ledger_not_updated", reason=outcome.ledger_problem.text(lang))
    ledger = outcome.result.ledger
    if ledger is None or not ledger.updated:
        return t("ledger_without_database")
    counts = ledger.counts
    line = t(
        "ledger_summary",
        new=counts["new"],
        continuing=counts["continuing"],
        to_verify=counts["to_verify"],
        reopened=counts["reopened"],
        overdue=counts["overdue"],
    )
    if ledger.waived:
        line += t("ledger_summary_waived", count=ledger.waived)
    return line


def summary_line(outcome: ScanOutcome, lang: str) -> str:
    """The scan in one line: rows, files, schools, findings by severity, input problems,
    and what the APK stage did."""
    from reports.text import strings

    words = strings(lang)
    result = outcome.result
    counts = result.counts()
    summaries = result.summaries()
    problems = sum(s.problems for s in summaries) + len(result.file_problems)
    line = t(
        "scan_summary",
        rows=outcome.rows,
        files=len({i.path for i in result.inputs}),  # a workbook's sheets are one file
        schools=len(summaries),
        findings=t("list_sep").join(
            t("severity_count", count=counts[s], severity=words.severity(s)) for s in SEVERITIES
        ),
        problems=problems,
    )
    apks = outcome.apks
    if apks.named:
        line += t(
            "scan_summary_apks",
            named=apks.named,
            files=apks.files,
            analysed=apks.analysed,
            cached=apks.cached,
            failed=apks.failed,
        )
    return line


def rules(
    fmt: Annotated[str, typer.Option("--format", "-f", help=h("format_table_json"))] = "table",
    lang: LangOption = None,
    config: Annotated[Path | None, typer.Option("--config", help=h("opt_rules_config"))] = None,
) -> None:
    from appaudit.settings import load_settings
    from policies.config import PolicyConfig
    from policies.model import catalogue
    from reports.text import strings

    lang = speak(lang)
    choice(fmt, ("table", "json"), "--format")
    settings = load_settings(config).policy if config else PolicyConfig()
    specs = list(catalogue().rules.values())
    words = strings(lang)
    if fmt == "json":
        emit_json(
            [
                {
                    "id": s.id,
                    "severity": settings.severity_of(s.id),
                    "severity_label": words.severity(settings.severity_of(s.id)),
                    "default_severity": s.severity,
                    "enabled": settings.enabled(s.id),
                    "title": dict(s.title),
                    "basis": s.basis_ref(),
                    "basis_text": s.basis_text(),
                    "remediation": dict(s.remediation),
                    "causes": {
                        name: {"label": dict(v.label), "basis": s.basis_ref(name)}
                        for name, v in s.variants.items()
                        if v.label
                    },
                }
                for s in specs
            ]
        )
        return
    rows = [
        [
            s.id,
            _severity_cell(settings.severity_of(s.id), words)
            + ("" if settings.enabled(s.id) else t("rule_off")),
            s.title[lang],
            s.basis_ref(),
        ]
        for s in specs
    ]
    emit(format_table(headers("rule", "severity", "title", "basis"), rows, max_width=60))
    emit(_causes(specs, lang))
    emit(_severity_legend(words))


def _causes(specs: list[RuleSpec], lang: str) -> str:
    """The causes for which a rule words, cites or weighs its finding differently."""
    lines = [
        "  " + t("rule_cause", rule=s.id, label=v.label[lang], basis=s.basis_ref(name))
        for s in specs
        for name, v in s.variants.items()
        if v.label
    ]
    return "\n".join(["", t("by_cause"), *lines])


def _severity_cell(severity: str, words: Strings) -> str:
    """The severity's label and, where they differ, the code a configuration file uses."""
    label = words.severity(severity)
    return severity if label == severity else f"{label} ({severity})"


def _severity_legend(words: Strings) -> str:
    """Every severity, most serious first, and what `review` asks of the reader."""
    levels = words["list_sep"].join(_severity_cell(s, words) for s in SEVERITIES)
    return f"\n{words['severity_order']}{words['colon']}{levels}\n{words['severity_note_review']}"


def runs(
    show: Annotated[int | None, typer.Option("--show", help=h("opt_runs_show"))] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", help=h("opt_runs_limit"))] = 20,
    fmt: Annotated[str, typer.Option("--format", "-f", help=h("format_table_json"))] = "table",
    db: DbOption = None,
    lang: LangOption = None,
) -> None:
    from appaudit.settings import load_report_settings
    from registry import runs as run_store
    from registry.db import open_database
    from reports.text import strings
    from reports.times import shown

    lang = speak(lang)
    choice(fmt, ("table", "json"), "--format")
    database = open_database(db, create=False)
    if show is not None:
        record = run_store.get_run(database, show)
        if record is None:
            fail(m("no_such_run", id=show))
        emit_json(
            {
                **_run_dict(record),
                "registry_snapshot": json.loads(record.registry_snapshot or "{}"),
                # Each school as findings.json had it (older runs: its findings and
                # unreadable rows), with the name, code and counts as stored.
                "schools": [
                    {
                        **json.loads(s.findings),
                        "school": s.school,
                        "school_code": s.school_code,
                        "counts": _counts(s.counts),
                    }
                    for s in record.schools
                ],
            }
        )
        return
    zone = load_report_settings().timezone
    records = run_store.list_runs(database, limit)
    if fmt == "json":
        emit_json([_run_dict(r) for r in records])
        return
    words = strings(lang)
    rows = [
        [
            str(r.id),
            shown(r.started_at, zone, seconds=False),
            t("list_sep").join(Path(i["path"]).name for i in r.inputs),
            str(r.counts.get("schools", "")),
            " / ".join(str(r.counts.get(s, 0)) for s in SEVERITIES),
            r.registry_digest[:12],
        ]
        for r in records
    ]
    severities = "/".join(words.severity(s) for s in SEVERITIES)
    header = headers("run", "started", "inputs", "schools")
    emit(format_table([*header, severities, t("col_registry_digest")], rows))
    if not records:
        say(t("no_runs"))


def _run_dict(record: RunRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "started_at": record.started_at.isoformat(),
        "finished_at": record.finished_at.isoformat(),
        "tool_version": record.tool_version,
        "inputs": record.inputs,
        "options": record.options,
        "registry_digest": record.registry_digest,
        "counts": _counts(record.counts),
        "out_dir": record.out_dir,
    }


def _counts(stored: dict[str, Any]) -> dict[str, Any]:
    """Stored counts with every severity: runs stored before a severity existed lack its key,
    and had no finding of it."""
    return {
        **{s: stored.get(s, 0) for s in SEVERITIES},
        **{k: v for k, v in stored.items() if k not in SEVERITIES},
    }


def register(app: typer.Typer) -> None:
    app.command("scan", help=h("cmd_scan"), cls=AppauditCommand)(scan)
    app.command("rules", help=h("cmd_rules"), cls=AppauditCommand)(rules)
    app.command("runs", help=h("cmd_runs"), cls=AppauditCommand)(runs)
