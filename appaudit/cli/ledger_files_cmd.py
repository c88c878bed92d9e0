"""`appaudit ledger export|import` and `appaudit notice`: the 工作台账 that goes to schools
and comes back filled in, and the 整改通知书 that tells a school what to rectify.

The database, the spreadsheet library and the templates are imported by the commands that
use them, so that `appaudit --help` starts without them.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from appaudit.cli.common import (
    ActorOption,
    AppauditCommand,
    DbOption,
    LangOption,
    fail,
    say,
    say_listed,
    speak,
)
from appaudit.messages import h, m, t

if TYPE_CHECKING:
    from registry.importing import ImportReport
    from registry.ledger import Ledger


DEFAULT_NOTICE_DIR = Path("整改通知书")


def extend(ledger: typer.Typer) -> None:
    """Add `ledger export` and `ledger import` to the ledger group (once)."""
    ledger.command("export", help=h("cmd_ledger_export"), cls=AppauditCommand)(export)
    ledger.command("import", help=h("cmd_ledger_import"), cls=AppauditCommand)(import_)


def register(root: typer.Typer) -> None:
    """Add `notice` to the root."""
    root.command("notice", help=h("cmd_notice"), cls=AppauditCommand)(notice)


def _open(db: str | None, actor: str | None = None) -> Ledger:
    from registry.db import open_database
    from registry.ledger import Ledger

    return Ledger(open_database(db, create=False), actor)


def _statuses(given: list[str] | None) -> list[str] | None:
    from policies.ledger import LedgerRuleError, parse_status

    if not given:
        return None
    try:
        return [parse_status(s) for s in given]
    except LedgerRuleError as error:
        fail(error.message)


SchoolOption = Annotated[str | None, typer.Option("--school", help=h("opt_book_school"))]
StatusOption = Annotated[list[str] | None, typer.Option("--status", help=h("opt_book_status"))]


def export(
    file: Annotated[Path, typer.Argument(help=h("arg_book_file"), show_default=False)],
    school: SchoolOption = None,
    status: StatusOption = None,
    db: DbOption = None,
    lang: LangOption = None,
) -> None:
    from appaudit import ledger_files
    from appaudit.settings import load_report_settings
    from reports.times import today as bureau_today

    lang = speak(lang)
    ledger_files.export_format(file)
    statuses = _statuses(status)
    records = ledger_files.select_items(_open(db), school, statuses)
    if not records:
        say(t("ledger_export_nothing"))
        return
    zone = load_report_settings().timezone
    ledger_files.write_book(
        file,
        records,
        per_school=not school,
        today=bureau_today(zone),
        lang=lang,
        zone=zone,
    )
    schools = len({r.school_key for r in records})
    say(t("ledger_exported", count=len(records), schools=schools, path=file))


def import_(
    file: Annotated[Path, typer.Argument(help=h("arg_book_import_file"), show_default=False)],
    dry_run: Annotated[bool, typer.Option("--dry-run", help=h("opt_dry_run"))] = False,
    school: Annotated[
        str | None, typer.Option("--school", help=h("opt_book_import_school"))
    ] = None,
    sheet: Annotated[str | None, typer.Option("--sheet", help=h("opt_sheet"))] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help=h("opt_verbose"))] = False,
    reason: Annotated[str, typer.Option("--reason", help=h("opt_book_reason"))] = "",
    actor: ActorOption = None,
    db: DbOption = None,
    lang: LangOption = None,
) -> None:
    from appaudit import ledger_files

    lang = speak(lang)
    if not file.is_file():
        fail(m("no_such_file", files=str(file)))
    book = ledger_files.read_returned(file, sheet)
    ledger = _open(db, actor)
    report = ledger_files.import_book(
        ledger,
        book,
        reason=reason.strip() or t("ledger_import_reason", file=file.name),
        dry_run=dry_run,
        school=school,
    )
    _print_report(report, verbose, lang)
    for note in book.notes:
        say(t("file_note", file=file.name, note=note.text(lang)))
    if report.rejected:
        raise typer.Exit(2)


def _print_report(report: ImportReport, verbose: bool, lang: str) -> None:
    from reports.ledger_book import columns

    headers = {c.key: c.header(lang) for c in columns()}
    for _row, message in report.rejected:
        say(message.text(lang))
    if not report.rejected:
        key = "ledger_import_would_update" if report.dry_run else "ledger_import_updated"
        lines = [
            t(key, number=number, fields=t("list_sep").join(headers.get(f, f) for f in fields))
            for _row, number, fields in report.updated
        ]
        say_listed(lines, verbose)
    summary = t(
        "ledger_import_summary",
        updated=len(report.updated),
        unchanged=len(report.unchanged),
        rejected=len(report.rejected),
    )
    if report.rejected:
        say(t("ledger_import_refused", summary=summary))
    elif report.dry_run:
        say(t("import_dry_run", summary=summary))
    else:
        say(summary)


def notice(
    school: Annotated[
        str | None,
        typer.Argument(metavar="[SCHOOL]", help=h("arg_notice_school"), show_default=False),
    ] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help=h("opt_notice_out"))] = (
        DEFAULT_NOTICE_DIR
    ),
    all_schools: Annotated[bool, typer.Option("--all", help=h("opt_notice_all"))] = False,
    db: DbOption = None,
    config: Annotated[
        Path | None, typer.Option("--config", help=h("opt_notice_config"), show_default=False)
    ] = None,
    lang: LangOption = None,
) -> None:
    from appaudit import ledger_files
    from appaudit.settings import load_ledger_settings
    from policies.ledger import OPEN_STATES
    from reports.notice import NoticeHeading, open_items, write_notice, write_notices
    from reports.times import today as bureau_today

    speak(lang)
    if bool(school and school.strip()) == all_schools:
        fail(m("notice_school_or_all"))
    report_settings, settings = load_ledger_settings(config)
    heading = NoticeHeading(settings.issuer, settings.contact, settings.phone)
    today = bureau_today(report_settings.timezone)
    ledger = _open(db)
    if all_schools:
        records = ledger.items(statuses=sorted(OPEN_STATES))
        if not records:
            say(t("notices_none"))
            return
        paths = write_notices(out, records, heading, today=today, due_days=settings.due_days)
        say(t("notices_written", schools=len(paths), path=out))
        return
    assert school is not None
    records = ledger_files.select_items(ledger, school, None)
    if not records:
        fail(m("notice_unknown_school", school=school))
    pending = open_items(records)
    if not pending:
        say(t("notice_nothing_open", school=records[0].school))
        return
    path = write_notice(out, pending, heading, today=today, due_days=settings.due_days)
    say(t("notice_written", school=pending[0].school, count=len(pending), path=path))
