"""`appaudit registry …`: the commands section staff use to keep the registry.

The registry, its files and the APK reader are imported by the commands that use them, so
that `appaudit --help` and `appaudit registry list` start without loading what they do not
need.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from appaudit.cli.common import (
    ActorOption,
    AppauditCommand,
    AppauditGroup,
    DbOption,
    LangOption,
    ReasonOption,
    choice,
    emit,
    emit_json,
    fail,
    format_table,
    headers,
    quoted_list,
    say,
    say_listed,
    speak,
)
from appaudit.errors import LANGUAGES
from appaudit.messages import h, m, t

if TYPE_CHECKING:
    from registry.changelog import ChangeRecord
    from registry.importing import ImportReport
    from registry.records import EntryRecord
    from registry.service import Registry

app = typer.Typer(cls=AppauditGroup, help=h("registry"), no_args_is_help=True)

FORMATS = ("table", "json", "csv")
WHATS = ("entries", "adoptions")


def _open(db: str | None, actor: str | None = None, *, create: bool = False) -> Registry:
    """The registry; only commands that add entries or adoptions may create a named file."""
    from registry.db import open_database
    from registry.service import Registry

    return Registry(open_database(db, create=create), actor)


def _open_for_import(db: str | None, actor: str | None, dry_run: bool) -> Registry:
    """The registry to import into; a dry run against a file not made yet creates nothing."""
    from registry.db import is_explicit, open_database, resolve_url, sqlite_file
    from registry.service import Registry

    resolved = resolve_url(db)
    path = sqlite_file(resolved)
    if dry_run and is_explicit(db) and path is not None and not path.exists():
        say(t("dry_run_new_file", path=path))
        return Registry(open_database("sqlite://"), actor)
    return _open(db, actor, create=True)


# Field options shared by `add` and `edit`.
Name = Annotated[str | None, typer.Option("--name", help=h("opt_name"))]
Kind = Annotated[str | None, typer.Option("--kind", help=h("opt_kind"))]
Provider = Annotated[str | None, typer.Option("--provider", help=h("opt_provider"))]
FilingNo = Annotated[str | None, typer.Option("--filing-no", help=h("opt_filing_no"))]
Status = Annotated[str | None, typer.Option("--status", help=h("opt_status"))]
Listing = Annotated[str | None, typer.Option("--listing", help=h("opt_listing"))]
ListingDate = Annotated[str | None, typer.Option("--listing-date", help=h("opt_listing_date"))]
ListingRef = Annotated[str | None, typer.Option("--listing-ref", help=h("opt_listing_ref"))]
CertifiedEntity = Annotated[
    str | None, typer.Option("--certified-entity", help=h("opt_certified_entity"))
]
Package = Annotated[str | None, typer.Option("--package", help=h("opt_package"))]
OriginalId = Annotated[str | None, typer.Option("--original-id", help=h("opt_original_id"))]
AppId = Annotated[str | None, typer.Option("--appid", help=h("opt_appid"))]
WechatId = Annotated[str | None, typer.Option("--wechat-id", help=h("opt_wechat_id"))]
ChannelsId = Annotated[str | None, typer.Option("--channels-id", help=h("opt_channels_id"))]
Url = Annotated[str | None, typer.Option("--url", help=h("opt_url"))]
Category = Annotated[str | None, typer.Option("--category", help=h("opt_category"))]
Audience = Annotated[str | None, typer.Option("--audience", help=h("opt_audience"))]
Signers = Annotated[list[str] | None, typer.Option("--signer", help=h("opt_signer"))]
Icp = Annotated[str | None, typer.Option("--icp", help=h("opt_icp"))]
Mlps = Annotated[str | None, typer.Option("--mlps-level", help=h("opt_mlps_level"))]
Note = Annotated[str | None, typer.Option("--note", help=h("opt_note"))]
Format = Annotated[str, typer.Option("--format", "-f", help=h("format_table_json_csv"))]
EntryArg = Annotated[str, typer.Argument(help=h("arg_entry"), show_default=False)]
SchoolArg = Annotated[str, typer.Argument(help=h("arg_school"), show_default=False)]


def _field_values(**given: str | list[str] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in given.items():
        if value is None:
            continue
        out[name] = ";".join(value) if isinstance(value, list) else value
    return out


@app.command("import", help=h("cmd_import"), cls=AppauditCommand)
def import_(
    file: Annotated[Path, typer.Argument(help=h("arg_import_file"), show_default=False)],
    what: Annotated[str | None, typer.Option("--what", help=h("opt_import_what"))] = None,
    sheet: Annotated[str | None, typer.Option("--sheet", help=h("opt_sheet"))] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help=h("opt_dry_run"))] = False,
    skip_invalid: Annotated[
        bool, typer.Option("--skip-invalid", help=h("opt_skip_invalid"))
    ] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help=h("opt_verbose"))] = False,
    reason: ReasonOption = "",
    actor: ActorOption = None,
    db: DbOption = None,
    lang: LangOption = None,
) -> None:
    from appaudit import registry_files
    from registry import wording

    lang = speak(lang)
    choice(what, WHATS, "--what")
    if not file.is_file():
        fail(m("no_such_file", files=str(file)))
    source = registry_files.open_registry_file(file, what, sheet)
    registry = _open_for_import(db, actor, dry_run)
    if source.what == "entries":
        report = registry.import_entries(
            source.rows(),
            source.table.columns.keys(),
            source=str(file),
            dry_run=dry_run,
            skip_invalid=skip_invalid,
            reason=reason,
        )
    else:
        report = registry.import_adoptions(
            source.rows(),
            source=str(file),
            dry_run=dry_run,
            skip_invalid=skip_invalid,
            reason=reason,
        )
    _print_report(report, source.row_label, file, verbose, lang)
    if report.listed_without_filing and (report.applied or report.dry_run):
        line = wording.listed_without_filing(report.listed_without_filing, source.row_label, lang)
        say(t("about_file", file=file.name, text=line))
    for note in source.notes(lang):
        say(t("file_note", file=file.name, note=note))
    others = (
        []
        if sheet
        else [n for n in registry_files.registry_sheets(file) if n != source.table.sheet]
    )
    if others:
        sheets = quoted_list(others, lang)
        say(t("other_sheets_not_imported", file=file.name, sheet=source.table.sheet, sheets=sheets))
    if report.rejected and not skip_invalid:
        raise typer.Exit(2)


def _print_report(report: ImportReport, unit: str, file: Path, verbose: bool, lang: str) -> None:
    from registry.records import field_name
    from registry.wording import row_ref

    for number, message in report.rejected:
        row = row_ref(number, unit).text(lang)
        say(t("import_rejected", file=file.name, row=row, message=message.text(lang)))
    if report.applied or report.dry_run:
        added = "import_would_add" if report.dry_run else "import_added"
        updated = "import_would_update" if report.dry_run else "import_updated"
        lines = [t(added, row=row_ref(n, unit).text(lang), name=name) for n, name in report.added]
        lines += [
            t(
                updated,
                row=row_ref(n, unit).text(lang),
                name=name,
                fields=t("list_sep").join(field_name(f).text(lang) for f in changed)
                or t("details"),
            )
            for n, name, changed in report.updated
        ]
        say_listed(lines, verbose)
    summary = t(
        "import_summary",
        what=t(f"what_{report.what}"),
        added=len(report.added),
        updated=len(report.updated),
        unchanged=len(report.unchanged),
        rejected=len(report.rejected),
    )
    if report.applied:
        say(summary)
    elif report.dry_run:
        say(t("import_dry_run", summary=summary))
    else:
        say(t("import_refused", summary=summary))


@app.command(help=h("cmd_add"), cls=AppauditCommand)
def add(
    name: Name = None,
    kind: Kind = None,
    provider: Provider = None,
    filing_no: FilingNo = None,
    status: Status = None,
    listing: Listing = None,
    listing_date: ListingDate = None,
    listing_ref: ListingRef = None,
    package: Package = None,
    original_id: OriginalId = None,
    appid: AppId = None,
    wechat_id: WechatId = None,
    channels_id: ChannelsId = None,
    url: Url = None,
    category: Category = None,
    audience: Audience = None,
    signer: Signers = None,
    certified_entity: CertifiedEntity = None,
    icp: Icp = None,
    mlps_level: Mlps = None,
    note: Note = None,
    reason: ReasonOption = "",
    actor: ActorOption = None,
    db: DbOption = None,
    lang: LangOption = None,
) -> None:
    from registry import values

    lang = speak(lang)
    cells = _field_values(
        name=name, kind=kind, provider=provider, filing_no=filing_no, status=status,
        package=package, original_id=original_id, appid=appid, wechat_id=wechat_id,
        channels_id=channels_id, url=url, category=category, audience=audience,
        signer_sha256=signer, certified_entity=certified_entity, icp=icp,
        mlps_level=mlps_level, note=note, listing=listing, listing_date=listing_date,
        listing_ref=listing_ref,
    )  # fmt: skip
    entry = _open(db, actor, create=True).add(cells, reason)
    kind_word = values.label(entry.kind, lang)
    say(t("added_entry", id=entry.id, name=entry.name, kind=kind_word))
    _note_listed_without_filing(cells, entry, lang)


@app.command(help=h("cmd_edit"), cls=AppauditCommand)
def edit(
    entry: EntryArg,
    name: Name = None,
    kind: Kind = None,
    provider: Provider = None,
    filing_no: FilingNo = None,
    status: Status = None,
    listing: Listing = None,
    listing_date: ListingDate = None,
    listing_ref: ListingRef = None,
    package: Package = None,
    original_id: OriginalId = None,
    appid: AppId = None,
    wechat_id: WechatId = None,
    channels_id: ChannelsId = None,
    url: Url = None,
    category: Category = None,
    audience: Audience = None,
    signer: Signers = None,
    certified_entity: CertifiedEntity = None,
    icp: Icp = None,
    mlps_level: Mlps = None,
    note: Note = None,
    reason: ReasonOption = "",
    actor: ActorOption = None,
    db: DbOption = None,
    lang: LangOption = None,
) -> None:
    from registry.records import ENTRY_FIELDS, field_name

    lang = speak(lang)
    changes = _field_values(
        name=name, kind=kind, provider=provider, filing_no=filing_no, status=status,
        package=package, original_id=original_id, appid=appid, wechat_id=wechat_id,
        channels_id=channels_id, url=url, category=category, audience=audience,
        signer_sha256=signer, certified_entity=certified_entity, icp=icp,
        mlps_level=mlps_level, note=note, listing=listing, listing_date=listing_date,
        listing_ref=listing_ref,
    )  # fmt: skip
    if not changes:
        fail(m("nothing_to_change"))
    registry = _open(db, actor)
    before = registry.get(entry)
    after = registry.edit(entry, changes, reason)
    changed = [f for f in ENTRY_FIELDS if getattr(before, f) != getattr(after, f)]
    if changed:
        fields = t("list_sep").join(field_name(f).text(lang) for f in changed)
        say(t("entry_changed", id=after.id, name=after.name, fields=fields))
    else:
        say(t("entry_unchanged", id=after.id, name=after.name))
    _note_listed_without_filing(changes, after, lang)


def _note_listed_without_filing(given: dict[str, str], record: EntryRecord, lang: str) -> None:
    """Say so when a --status of 有效/正常 came without a filing number (read as listed)."""
    from registry import values, wording

    status = given.get("status", "")
    if not values.clean(status) or "listing" in given or record.filed:
        return
    try:
        stated = values.read_state(status)
    except values.InvalidValue:
        return
    if stated == ("status", "active") and record.listing == "listed":
        say(f"#{record.id} {record.name}{t('colon')}" + wording.listed_without_filing(lang=lang))


def _shown_cells(record: EntryRecord, lang: str) -> dict[str, str]:
    """An entry's cells as a person reads them: kind, filing status and listing as words."""
    from registry import values

    cells = record.cells(lang)
    for name in ("kind", "status", "listing"):
        cells[name] = values.label(getattr(record, name), lang) if cells[name] else ""
    return cells


@app.command(help=h("cmd_show"), cls=AppauditCommand)
def show(
    entry: EntryArg,
    fmt: Format = "table",
    db: DbOption = None,
    lang: LangOption = None,
) -> None:
    from appaudit import registry_files
    from appaudit.settings import load_report_settings
    from registry.records import field_name
    from reports.spreadsheets import csv_text

    lang = speak(lang)
    choice(fmt, FORMATS, "--format")
    registry = _open(db)
    record = registry.get(entry)
    adoptions = registry.adoptions(str(record.id))
    changes = registry.history(str(record.id))
    if fmt == "json":
        data = record.to_dict(with_id=True)
        data["educational"] = record.educational
        data["adoptions"] = registry_files.adoption_dicts(adoptions)
        data["history"] = [c.to_dict() for c in changes]
        emit_json(data)
        return
    if fmt == "csv":
        header, rows = registry_files.entries_table([record], "en")
        emit(csv_text(header, rows))
        return
    zone = load_report_settings().timezone
    labels = {name: field_name(name).text(lang) for name in (*record.cells(), "educational")}
    labels["educational"] = t("educational")
    width = max(_width(label) for label in labels.values()) + 2
    lines = [f"#{record.id} {record.name}"]
    for name, value in _shown_cells(record, lang).items():
        if value and name != "name":
            lines.append(f"  {_pad(labels[name], width)}{value}")
    edu = record.educational
    answer = t("yes") if edu else t("no") if edu is False else t("unknown")
    lines.append(f"  {_pad(labels['educational'], width)}{answer}")
    lines.append(t("adoptions_heading", count=len(adoptions)))
    for view in adoptions:
        a = view.adoption
        when = a.decided_on.isoformat() if a.decided_on else ""
        lines.append(f"  {a.school} {a.school_code} {a.decision_ref} {when}".rstrip())
    lines.append(t("changes_heading", count=len(changes)))
    lines.extend(f"  {_change_line(c, lang, zone)}" for c in changes[-10:])
    emit("\n".join(lines))


def _width(text: str) -> int:
    from appaudit.cli.common import display_width

    return display_width(text)


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _width(text))


@app.command("list", help=h("cmd_list"), cls=AppauditCommand)
def list_(
    kind: Annotated[str | None, typer.Option("--kind", help=h("opt_list_kind"))] = None,
    status: Annotated[str | None, typer.Option("--status", help=h("opt_list_status"))] = None,
    listing: Annotated[str | None, typer.Option("--listing", help=h("opt_list_listing"))] = None,
    category: Annotated[str | None, typer.Option("--category", help=h("opt_list_category"))] = None,
    search: Annotated[str | None, typer.Option("--search", "-s", help=h("opt_list_search"))] = None,
    fmt: Format = "table",
    db: DbOption = None,
    lang: LangOption = None,
) -> None:
    from registry.db import open_database
    from registry.entry_rows import EntryFilter, list_entries

    lang = speak(lang)
    choice(fmt, FORMATS, "--format")
    # Read without the ORM (the registry service loads it): the command people type most.
    wanted = EntryFilter(kind, status, listing, category, search)
    entries = list_entries(open_database(db, create=False), wanted)
    if fmt == "json":
        emit_json([e.to_dict(with_id=True) for e in entries])
    elif fmt == "csv":
        from appaudit import registry_files
        from reports.spreadsheets import csv_text

        header, rows = registry_files.entries_table(entries, "en")
        emit(
            csv_text(["id", *header], [[str(e.id), *r] for e, r in zip(entries, rows, strict=True)])
        )
    else:
        emit(_entries_text(entries, lang))
        say(t("entries_count_one" if len(entries) == 1 else "entries_count", count=len(entries)))


def _entries_text(entries: list[EntryRecord], lang: str) -> str:
    """The list as a table: kind, filing status and listing in the words of `lang`."""
    header = headers("id", "name", "kind", "filing_no", "status", "listing", "identifier",
                     "category")  # fmt: skip
    rows = []
    for e in entries:
        cells = _shown_cells(e, lang)
        rows.append(
            [
                str(e.id),
                e.name,
                cells["kind"],
                e.filing_no,
                cells["status"],
                cells["listing"],
                next(iter(e.identifiers.values()), ""),
                e.category,
            ]
        )
    return format_table(header, rows)


@app.command(help=h("cmd_revoke"), cls=AppauditCommand)
def revoke(
    entry: EntryArg,
    cancelled: Annotated[bool, typer.Option("--cancelled", help=h("opt_cancelled"))] = False,
    reason: ReasonOption = "",
    actor: ActorOption = None,
    db: DbOption = None,
    lang: LangOption = None,
) -> None:
    from registry import values

    lang = speak(lang)
    record = _open(db, actor).revoke(entry, reason, "cancelled" if cancelled else "revoked")
    status = values.label(record.status, lang)
    say(t("revoked", id=record.id, name=record.name, filing_no=record.filing_no, status=status))


@app.command(help=h("cmd_restore"), cls=AppauditCommand)
def restore(
    entry: EntryArg,
    reason: ReasonOption = "",
    actor: ActorOption = None,
    db: DbOption = None,
    lang: LangOption = None,
) -> None:
    speak(lang)
    record = _open(db, actor).restore(entry, reason)
    say(t("restored", id=record.id, name=record.name, filing_no=record.filing_no))


@app.command(help=h("cmd_adopt"), cls=AppauditCommand)
def adopt(
    school: SchoolArg,
    entry: EntryArg,
    decision: Annotated[
        str, typer.Option("--decision", "--decision-ref", help=h("opt_decision"))
    ] = "",
    decided_on: Annotated[str, typer.Option("--date", help=h("opt_decided_on"))] = "",
    audience: Annotated[str, typer.Option("--audience", help=h("opt_adopt_audience"))] = "",
    school_code: Annotated[str, typer.Option("--school-code", help=h("opt_school_code"))] = "",
    note: Annotated[str, typer.Option("--note", help=h("opt_note"))] = "",
    reason: ReasonOption = "",
    actor: ActorOption = None,
    db: DbOption = None,
    lang: LangOption = None,
) -> None:
    speak(lang)
    view = _open(db, actor, create=True).adopt(
        school,
        entry,
        decision_ref=decision,
        decided_on=decided_on,
        audience=audience,
        school_code=school_code,
        note=note,
        reason=reason,
    )
    say(t("adopted", school=view.adoption.school, id=view.entry.id, name=view.entry.name))


@app.command(help=h("cmd_unadopt"), cls=AppauditCommand)
def unadopt(
    school: SchoolArg,
    entry: EntryArg,
    reason: ReasonOption = "",
    actor: ActorOption = None,
    db: DbOption = None,
    lang: LangOption = None,
) -> None:
    speak(lang)
    registry = _open(db, actor)
    record = registry.get(entry)
    registry.unadopt(school, entry, reason)
    say(t("unadopted", school=school, id=record.id, name=record.name))


@app.command(help=h("cmd_adoptions"), cls=AppauditCommand)
def adoptions(
    school: Annotated[str | None, typer.Option("--school", help=h("opt_only_school"))] = None,
    entry: Annotated[str | None, typer.Option("--entry", help=h("opt_only_entry"))] = None,
    fmt: Format = "table",
    db: DbOption = None,
    lang: LangOption = None,
) -> None:
    from appaudit import registry_files
    from registry import values
    from registry.records import ADOPTION_FIELDS
    from reports.spreadsheets import csv_text

    lang = speak(lang)
    choice(fmt, FORMATS, "--format")
    views = _open(db).adoptions(entry, school)
    if fmt == "json":
        emit_json(registry_files.adoption_dicts(views))
        return
    if fmt == "csv":
        emit(csv_text(*registry_files.adoptions_table(views, "en")))
        return
    header, rows = registry_files.adoptions_table(views, lang)
    where = ADOPTION_FIELDS.index("kind")
    for view, row in zip(views, rows, strict=True):
        row[where] = values.label(view.entry.kind, lang)
    emit(format_table(header, rows))


@app.command(help=h("cmd_history"), cls=AppauditCommand)
def history(
    entry_arg: Annotated[
        str | None, typer.Argument(metavar=h("metavar_entry"), help=h("arg_history_entry"))
    ] = None,
    entry: Annotated[str | None, typer.Option("--entry", help=h("arg_history_entry"))] = None,
    limit: Annotated[int | None, typer.Option("--limit", "-n", help=h("opt_last_n"))] = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help=h("format_table_json"))] = "table",
    db: DbOption = None,
    lang: LangOption = None,
) -> None:
    from appaudit.settings import load_report_settings

    lang = speak(lang)
    choice(fmt, ("table", "json"), "--format")
    if entry_arg and entry and entry_arg != entry:
        fail(m("entry_twice"))
    zone = load_report_settings().timezone
    changes = _open(db).history(entry or entry_arg, limit)
    if fmt == "json":
        emit_json([c.to_dict() for c in changes])
        return
    if changes:
        emit("\n".join(_change_line(c, lang, zone) for c in changes))
    else:
        emit(t("no_changes"))


def _change_line(change: ChangeRecord, lang: str, zone: str) -> str:
    """One change: when (the bureau's time), who, what, which entry, the values, why."""
    from appaudit.messages import catalogue
    from reports.times import shown

    key = f"action_{change.action}"
    action = t(key) if key in catalogue()["text"] else change.action
    parts = [shown(change.at, zone), change.actor, action, f"#{change.entry_id} {change.label}"]
    if change.before or change.after:
        before, after = change.before or {}, change.after or {}
        if change.action in ("add", "adopt"):
            shown_values = {k: v for k, v in after.items() if v not in ("", [], None)}
            parts.append(t("list_sep").join(_assign(k, v, lang) for k, v in shown_values.items()))
        elif change.action == "unadopt":
            parts.append(_assign("school", before.get("school", ""), lang))
        else:
            keys = [k for k in dict.fromkeys([*before, *after]) if k != "school"]
            diffs = [
                f"{_field(k, lang)}{t('colon')}{_short(before.get(k), k, lang)} → "
                f"{_short(after.get(k), k, lang)}"
                for k in keys
            ]
            if "school" in after:
                diffs.insert(0, _assign("school", after["school"], lang))
            parts.append(t("clause_sep").join(diffs))
    if change.reason:
        parts.append(t("change_reason", reason=change.reason))
    return "  ".join(parts)


def _field(name: str, lang: str) -> str:
    from registry.records import field_name

    return field_name(name).text(lang)


def _assign(name: str, value: Any, lang: str) -> str:
    return f"{_field(name, lang)}={_short(value, name, lang)}"


def _short(value: object, name: str = "", lang: str = "en") -> str:
    if value in (None, "", []):
        return "∅"
    if isinstance(value, list):
        return ";".join(str(v) for v in value)
    if name in ("kind", "status", "listing") and isinstance(value, str):
        from registry import values

        return values.label(value, lang)
    return str(value)


@app.command(help=h("cmd_export"), cls=AppauditCommand)
def export(
    file: Annotated[str, typer.Argument(help=h("arg_export_file"), show_default=False)],
    what: Annotated[str, typer.Option("--what", help=h("opt_export_what"))] = "entries",
    fmt: Annotated[str | None, typer.Option("--format", "-f", help=h("opt_export_format"))] = None,
    headers_lang: Annotated[str, typer.Option("--headers", help=h("opt_headers"))] = "zh",
    db: DbOption = None,
    lang: LangOption = None,
) -> None:
    from appaudit import registry_files

    speak(lang)
    choice(what, WHATS, "--what")
    choice(headers_lang, LANGUAGES, "--headers")
    path = None if file == "-" else Path(file)
    if path is None and fmt is None:
        fmt = "json"
    chosen = registry_files.export_format(path, fmt)
    registry = _open(db)
    if what == "entries":
        records = registry.entries()
        header, rows = registry_files.entries_table(records, headers_lang)
        objects = [r.to_dict() for r in records]
        count = len(records)
    else:
        views = registry.adoptions()
        header, rows = registry_files.adoptions_table(views, headers_lang)
        objects = registry_files.adoption_dicts(views)
        count = len(views)
    text = registry_files.write_export(path, chosen, header, rows, objects, sheet=what)
    if text is not None:
        emit(text)
    else:
        say(t("exported", count=count, what=t(f"what_{what}"), path=path))


@app.command("add-signer", help=h("cmd_add_signer"), cls=AppauditCommand)
def add_signer(
    entry: EntryArg,
    sha256: Annotated[str | None, typer.Option("--sha256", help=h("opt_sha256"))] = None,
    from_apk: Annotated[Path | None, typer.Option("--from-apk", help=h("opt_from_apk"))] = None,
    subject: Annotated[str, typer.Option("--subject", help=h("opt_subject"))] = "",
    force: Annotated[bool, typer.Option("--force", help=h("opt_force"))] = False,
    reason: ReasonOption = "",
    actor: ActorOption = None,
    db: DbOption = None,
    lang: LangOption = None,
) -> None:
    lang = speak(lang)
    if bool(sha256) == bool(from_apk):
        fail(m("sha256_or_apk"))
    registry = _open(db, actor)
    record = registry.get(entry)
    signers: list[tuple[str, str]] = []
    if sha256:
        signers.append((sha256, subject))
    else:
        from scanner.apk import analyse_apk
        from scanner.apk.problems import describe

        assert from_apk is not None
        if not from_apk.is_file():
            fail(m("no_such_file", files=str(from_apk)))
        facts = analyse_apk(from_apk)
        if not facts.readable:
            why = "; ".join(facts.problems) or t("unreadable_apk")
            fail(m("apk_no_signer", apk=from_apk.name, why=why))
        if not facts.signature_verified:
            # A certificate the signature does not prove could be anybody's copy.
            why = describe(facts.signature_reason, facts.signature_detail, lang)
            fail(m("apk_signature_invalid", apk=from_apk.name, why=why))
        if record.package and facts.package != record.package and not force:
            fail(
                m(
                    "apk_other_package",
                    apk=from_apk.name,
                    package=facts.package or t("no_package"),
                    expected=record.package,
                    id=record.id,
                    name=record.name,
                )
            )
        # The verified signer, and the earlier keys of its rotation lineage (same developer).
        signers.extend((s.sha256, s.subject) for s in facts.verified_signers())
        reason = reason or t("signer_reason", apk=from_apk.name, sha256=facts.sha256[:16])
    for digest, text in signers:
        record = registry.add_signer(entry, digest, text, reason)
    say(t("signers_known", id=record.id, name=record.name, count=len(record.signer_sha256)))
