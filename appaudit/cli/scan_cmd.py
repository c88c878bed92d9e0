"""`appaudit scan`, `appaudit rules` and `appaudit runs`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from appaudit import pipeline
from appaudit.apks import DEFAULT_DOWNLOAD_JOBS, default_download_dir, default_jobs
from appaudit.cli.apk_cmd import JobsOption, SdkOption
from appaudit.cli.common import DbOption, choice, emit, emit_json, fail, format_table, say
from appaudit.settings import load_settings
from policies.config import PolicyConfig
from policies.model import SEVERITIES, RuleSpec, catalogue
from registry import runs as run_store
from registry.db import open_database
from reports.text import Strings, strings
from reports.writer import DEFAULT_FORMATS, FORMATS
from scanner.apk.download import DEFAULT_OPTIONS as DOWNLOAD_DEFAULTS


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
            TextColumn("{task.completed} rows"),
            console=console,
            disable=not self.enabled,
            transient=True,
        )
        self.task = self.progress.add_task("reading", total=None)

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
        self.progress.update(self.task, description=name, completed=self.rows)


def scan(
    files: Annotated[
        list[Path], typer.Argument(help="School submissions: CSV, XLSX (one school or many).")
    ],
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Report folder (replaced if it is a report).")
    ] = Path("appaudit-report"),
    lang: Annotated[str, typer.Option("--lang", help="Report language: zh or en.")] = "zh",
    headers: Annotated[
        str | None,
        typer.Option(
            "--headers",
            help="CSV and XLSX headers and coded values: zh, or en for the canonical names "
            "and codes programs read (default: the report language).",
        ),
    ] = None,
    fail_on: Annotated[
        str,
        typer.Option(
            "--fail-on",
            help="Exit 1 when a finding is at or above this severity: "
            f"{', '.join(SEVERITIES)}; or never.",
        ),
    ] = "high",
    formats: Annotated[
        str,
        typer.Option("--format", "-f", help="Comma-separated outputs: html, json, csv, xlsx."),
    ] = ",".join(DEFAULT_FORMATS),
    registry: Annotated[
        list[Path] | None,
        typer.Option(
            "--registry",
            help="Use registry export file(s) directly, in memory, without a database.",
        ),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option("--config", help="Rule configuration (default: ./appaudit.toml if present)."),
    ] = None,
    sheet: Annotated[str | None, typer.Option("--sheet", help="XLSX sheet to read.")] = None,
    jobs: JobsOption = None,
    download_dir: Annotated[
        Path | None,
        typer.Option("--download-dir", help="Where downloaded APKs are cached."),
    ] = None,
    download_deadline: Annotated[
        float,
        typer.Option(
            "--download-deadline",
            min=0.001,
            help="Seconds one APK download may take in all, retries included; "
            "a slower one fails for its row only.",
        ),
    ] = DOWNLOAD_DEFAULTS.deadline,
    download_jobs: Annotated[
        int,
        typer.Option("--download-jobs", min=1, help="APK downloads at once."),
    ] = DEFAULT_DOWNLOAD_JOBS,
    sdk_prefixes: SdkOption = None,
    apk_dir: Annotated[
        list[Path] | None,
        typer.Option(
            "--apk-dir",
            help="A folder APK cells may name besides the submission's own (repeatable).",
        ),
    ] = None,
    allow_any_path: Annotated[
        bool,
        typer.Option(
            "--allow-any-path",
            help="Let APK cells name any local file, not only those in the allowed folders.",
        ),
    ] = False,
    db: DbOption = None,
) -> None:
    """Check school submissions against the registry and write the audit reports."""
    choice(lang, ("zh", "en"), "--lang")
    if headers is not None:
        choice(headers, ("zh", "en"), "--headers")
    choice(fail_on, pipeline.FAIL_ON, "--fail-on")
    chosen = tuple(f.strip() for f in formats.split(",") if f.strip())
    for name in chosen:
        choice(name, tuple(FORMATS), "--format")
    if not chosen:
        fail("--format needs at least one of " + ", ".join(FORMATS))
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        fail(f"no such file: {', '.join(missing)}")
    not_folders = [str(d) for d in apk_dir or () if not d.is_dir()]
    if not_folders:
        fail(f"--apk-dir: no such folder: {', '.join(not_folders)}")
    options = pipeline.ScanOptions(
        inputs=files,
        out=out,
        lang=lang,
        headers=headers,
        fail_on=fail_on,
        formats=chosen,
        db=db,
        registry_files=registry or (),
        settings=load_settings(config),
        sheet=sheet,
        jobs=jobs or default_jobs(),
        download_dir=download_dir or default_download_dir(),
        download_deadline=download_deadline,
        download_jobs=download_jobs,
        sdk_prefixes=sdk_prefixes,
        apk_dirs=tuple(apk_dir or ()),
        allow_any_path=allow_any_path,
    )
    with _Progress() as progress:
        outcome = pipeline.run_scan(options, progress)
    say(pipeline.summary_line(outcome))
    for problem in outcome.result.file_problems:
        say(f"{problem.source}: {problem.message}")
    if outcome.not_stored:
        say(f"appaudit: warning: {outcome.not_stored} (the report is complete without it)")
    if outcome.apks.not_cached:
        say(f"appaudit: warning: APK facts could not be cached: {outcome.apks.not_cached}")
    say(f"report: {outcome.report}")
    raise typer.Exit(outcome.exit_code)


def rules(
    fmt: Annotated[str, typer.Option("--format", "-f", help="table or json.")] = "table",
    lang: Annotated[str, typer.Option("--lang", help="zh or en.")] = "zh",
    config: Annotated[
        Path | None,
        typer.Option("--config", help="Show severities as this configuration sets them."),
    ] = None,
) -> None:
    """List the rule catalogue: ids, severities, titles and the policy clauses behind them."""
    choice(fmt, ("table", "json"), "--format")
    choice(lang, ("zh", "en"), "--lang")
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
            + ("" if settings.enabled(s.id) else " (off)"),
            s.title[lang],
            s.basis_ref(),
        ]
        for s in specs
    ]
    emit(format_table(["rule", "severity", "title", "basis"], rows, max_width=60))
    emit(_causes(specs, lang))
    emit(_severity_legend(words))


def _causes(specs: list[RuleSpec], lang: str) -> str:
    """The causes for which a rule words, cites or weighs its finding differently."""
    head = "按情形：" if lang == "zh" else "By cause:"
    lines = [
        f"  {s.id}  {v.label[lang]}"
        + (f"（{s.basis_ref(name)}）" if lang == "zh" else f" ({s.basis_ref(name)})")
        for s in specs
        for name, v in s.variants.items()
        if v.label
    ]
    return "\n".join(["", head, *lines])


def _severity_cell(severity: str, words: Strings) -> str:
    """The severity's label and, where they differ, the code a configuration file uses."""
    label = words.severity(severity)
    return severity if label == severity else f"{label} ({severity})"


def _severity_legend(words: Strings) -> str:
    """Every severity, most serious first, and what `review` asks of the reader."""
    levels = words["list_sep"].join(_severity_cell(s, words) for s in SEVERITIES)
    return f"\n{words['severity_order']}{words['colon']}{levels}\n{words['severity_note_review']}"


def runs(
    show: Annotated[
        int | None, typer.Option("--show", help="Print one run, with its findings, as JSON.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", help="How many recent runs.")] = 20,
    fmt: Annotated[str, typer.Option("--format", "-f", help="table or json.")] = "table",
    db: DbOption = None,
) -> None:
    """List past scans: when, which inputs (SHA-256), registry digest and counts."""
    choice(fmt, ("table", "json"), "--format")
    database = open_database(db, create=False)
    if show is not None:
        record = run_store.get_run(database, show)
        if record is None:
            fail(f"no scan run #{show}")
        emit_json(
            {
                **_run_dict(record),
                "registry_snapshot": json.loads(record.registry_snapshot or "{}"),
                "schools": [
                    {
                        "school": s.school,
                        "school_code": s.school_code,
                        "counts": _counts(s.counts),
                        **json.loads(s.findings),
                    }
                    for s in record.schools
                ],
            }
        )
        return
    records = run_store.list_runs(database, limit)
    if fmt == "json":
        emit_json([_run_dict(r) for r in records])
        return
    rows = [
        [
            str(r.id),
            r.started_at.strftime("%Y-%m-%d %H:%M"),
            ", ".join(Path(i["path"]).name for i in r.inputs),
            str(r.counts.get("schools", "")),
            " / ".join(str(r.counts.get(s, 0)) for s in SEVERITIES),
            r.registry_digest[:12],
        ]
        for r in records
    ]
    emit(
        format_table(
            ["run", "started (UTC)", "inputs", "schools", "/".join(SEVERITIES), "registry"], rows
        )
    )
    if not records:
        say("no scans recorded yet")


def _run_dict(record: run_store.RunRecord) -> dict[str, Any]:
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
    app.command("scan")(scan)
    app.command("rules")(rules)
    app.command("runs")(runs)
