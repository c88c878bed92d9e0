"""`appaudit registry …`: the commands section staff use to keep the registry."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from appaudit import registry_files
from appaudit.cli.common import (
    ActorOption,
    AppauditGroup,
    DbOption,
    ReasonOption,
    choice,
    emit,
    emit_json,
    fail,
    format_table,
    say,
)
from registry import values, wording
from registry.db import is_explicit, open_database, resolve_url, sqlite_file
from registry.records import ENTRY_FIELDS, EntryRecord
from registry.service import ChangeRecord, ImportReport, Registry
from reports.spreadsheets import csv_text
from scanner.apk import analyse_apk
from scanner.apk.problems import describe

app = typer.Typer(
    cls=AppauditGroup,
    help="Keep the registry: filed apps and accounts, schools' adoptions (选用), change log.",
    no_args_is_help=True,
)

FORMATS = ("table", "json", "csv")
LANGS = ("zh", "en")


def _open(db: str | None, actor: str | None = None, *, create: bool = False) -> Registry:
    """The registry; only commands that add entries or adoptions may create a named file."""
    return Registry(open_database(db, create=create), actor)


def _open_for_import(db: str | None, actor: str | None, dry_run: bool) -> Registry:
    """The registry to import into; a dry run against a file not made yet creates nothing."""
    resolved = resolve_url(db)
    path = sqlite_file(resolved)
    if dry_run and is_explicit(db) and path is not None and not path.exists():
        say(f"{path} does not exist yet: the dry run compares with an empty registry")
        return Registry(open_database("sqlite://"), actor)
    return _open(db, actor, create=True)


# Field options shared by `add` and `edit`.
Name = Annotated[str | None, typer.Option("--name", help="Name (名称).")]
Kind = Annotated[
    str | None,
    typer.Option(
        "--kind",
        help="app / miniprogram / official_account / channels / platform "
        "(or APP/小程序/公众号/视频号/平台).",
    ),
]
Provider = Annotated[str | None, typer.Option("--provider", help="Provider (提供者).")]
FilingNo = Annotated[str | None, typer.Option("--filing-no", help="Filing number 教APP备…号.")]
Status = Annotated[
    str | None,
    typer.Option(
        "--status",
        help="Filing status: active/revoked/cancelled (有效/撤销/注销); 有效 needs a filing "
        "number, without one it is read as listed (准入).",
    ),
]
Listing = Annotated[
    str | None,
    typer.Option(
        "--listing",
        help="The bureau's own list (准入状态): listed/suspended/removed (准入/暂停/移出).",
    ),
]
ListingDate = Annotated[
    str | None, typer.Option("--listing-date", help="Date of the listing decision (准入日期).")
]
ListingRef = Annotated[
    str | None,
    typer.Option(
        "--listing-ref", help="The listing decision (准入依据), e.g. 区教育局〔2025〕3号."
    ),
]
CertifiedEntity = Annotated[
    str | None,
    typer.Option(
        "--certified-entity",
        help="Verified owner (认证主体) of an official account or mini-program.",
    ),
]
Package = Annotated[str | None, typer.Option("--package", help="Android package name.")]
OriginalId = Annotated[str | None, typer.Option("--original-id", help="Official account gh_ ID.")]
AppId = Annotated[str | None, typer.Option("--appid", help="Mini-program AppID (wx…).")]
WechatId = Annotated[str | None, typer.Option("--wechat-id", help="WeChat ID (微信号).")]
ChannelsId = Annotated[str | None, typer.Option("--channels-id", help="Channels (视频号) ID.")]
Url = Annotated[str | None, typer.Option("--url", help="Web address (platforms).")]
Category = Annotated[
    str | None,
    typer.Option(
        "--category",
        help="Category: 教学/管理/教学管理/家校沟通/教育; 通用工具 (微信, 钉钉 …); 党建学习; "
        "or 政务/反诈/金融 ….",
    ),
]
Audience = Annotated[str | None, typer.Option("--audience", help="Audience: 家长/学生/教师.")]
Signers = Annotated[
    list[str] | None,
    typer.Option("--signer", help="Signer certificate SHA-256 (repeat for several)."),
]
Icp = Annotated[
    str | None, typer.Option("--icp", help="ICP filing number (of a mini-program too).")
]
Mlps = Annotated[str | None, typer.Option("--mlps-level", help="MLPS (等保) level.")]
Note = Annotated[str | None, typer.Option("--note", help="Note (备注).")]
Format = Annotated[str, typer.Option("--format", "-f", help="table, json or csv.")]
Lang = Annotated[
    str,
    typer.Option("--lang", envvar="APPAUDIT_LANG", help="Language of notes and labels: zh or en."),
]


def _field_values(**given: str | list[str] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in given.items():
        if value is None:
            continue
        out[name] = ";".join(value) if isinstance(value, list) else value
    return out


@app.command("import")
def import_(
    file: Annotated[Path, typer.Argument(help="CSV, XLSX or JSON file.", show_default=False)],
    what: Annotated[
        str | None,
        typer.Option("--what", help="entries or adoptions (default: told by the headers)."),
    ] = None,
    sheet: Annotated[str | None, typer.Option("--sheet", help="XLSX sheet name.")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would change.")] = False,
    skip_invalid: Annotated[
        bool, typer.Option("--skip-invalid", help="Import the good rows even if some are bad.")
    ] = False,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="List every added and updated row.")
    ] = False,
    reason: ReasonOption = "",
    actor: ActorOption = None,
    db: DbOption = None,
    lang: Lang = "zh",
) -> None:
    """Import registry entries or adoptions; all or nothing unless --skip-invalid."""
    choice(what, registry_files.WHATS, "--what")
    choice(lang, LANGS, "--lang")
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
    _print_report(report, source.row_label, file, verbose)
    if report.listed_without_filing and (report.applied or report.dry_run):
        line = wording.listed_without_filing(report.listed_without_filing, source.row_label, lang)
        say(f"{file.name}: {line}")
    for note in source.notes():
        say(f"{file.name}: note: {note}")
    if report.rejected and not skip_invalid:
        raise typer.Exit(2)


LISTED = 20
"""Added and updated rows listed by name before the rest are only counted (see --verbose)."""


def _print_report(report: ImportReport, row_label: str, file: Path, verbose: bool) -> None:
    for number, message in report.rejected:
        say(f"{file.name}: {row_label} {number}: rejected: {message}")
    if report.applied or report.dry_run:
        would = "would be " if report.dry_run else ""
        lines = [f"{row_label} {n}: {would}added: {name}" for n, name in report.added]
        lines += [
            f"{row_label} {n}: {would}updated: {name} ({', '.join(changed) or 'details'})"
            for n, name, changed in report.updated
        ]
        shown = lines if verbose else lines[:LISTED]
        for line in shown:
            say(line)
        if len(lines) > len(shown):
            say(f"… and {len(lines) - len(shown)} more (--verbose lists them all)")
    summary = (
        f"{report.what}: {len(report.added)} added, {len(report.updated)} updated, "
        f"{len(report.unchanged)} unchanged, {len(report.rejected)} rejected"
    )
    if report.applied:
        say(summary)
    elif report.dry_run:
        say(f"{summary} (dry run: nothing changed)")
    else:
        say(f"{summary}; nothing was imported (fix the rows, or use --skip-invalid)")


@app.command()
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
    lang: Lang = "zh",
) -> None:
    """Add one entry to the registry."""
    cells = _field_values(
        name=name, kind=kind, provider=provider, filing_no=filing_no, status=status,
        package=package, original_id=original_id, appid=appid, wechat_id=wechat_id,
        channels_id=channels_id, url=url, category=category, audience=audience,
        signer_sha256=signer, certified_entity=certified_entity, icp=icp,
        mlps_level=mlps_level, note=note, listing=listing, listing_date=listing_date,
        listing_ref=listing_ref,
    )  # fmt: skip
    choice(lang, LANGS, "--lang")
    entry = _open(db, actor, create=True).add(cells, reason)
    say(f"added #{entry.id} {entry.name} ({entry.kind})")
    _note_listed_without_filing(cells, entry, lang)


@app.command()
def edit(
    entry: Annotated[str, typer.Argument(help="Id, filing number, package, account ID or name.")],
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
    lang: Lang = "zh",
) -> None:
    """Change fields of an entry (an empty value, e.g. --note "", clears a field)."""
    changes = _field_values(
        name=name, kind=kind, provider=provider, filing_no=filing_no, status=status,
        package=package, original_id=original_id, appid=appid, wechat_id=wechat_id,
        channels_id=channels_id, url=url, category=category, audience=audience,
        signer_sha256=signer, certified_entity=certified_entity, icp=icp,
        mlps_level=mlps_level, note=note, listing=listing, listing_date=listing_date,
        listing_ref=listing_ref,
    )  # fmt: skip
    if not changes:
        fail("nothing to change: give at least one field option (see --help)")
    choice(lang, LANGS, "--lang")
    registry = _open(db, actor)
    before = registry.get(entry)
    after = registry.edit(entry, changes, reason)
    changed = [f for f in ENTRY_FIELDS if getattr(before, f) != getattr(after, f)]
    say(
        f"#{after.id} {after.name}: "
        + (", ".join(changed) + " changed" if changed else "unchanged")
    )
    _note_listed_without_filing(changes, after, lang)


def _note_listed_without_filing(given: dict[str, str], record: EntryRecord, lang: str) -> None:
    """Say so when a --status of 有效/正常 came without a filing number (read as listed)."""
    status = given.get("status", "")
    if not values.clean(status) or "listing" in given or record.filed:
        return
    try:
        stated = values.read_state(status)
    except values.InvalidValue:
        return
    if stated == ("status", "active") and record.listing == "listed":
        say(f"#{record.id} {record.name}: " + wording.listed_without_filing(lang=lang))


@app.command()
def show(
    entry: Annotated[str, typer.Argument(help="Id, filing number, package, account ID or name.")],
    fmt: Format = "table",
    db: DbOption = None,
    lang: Lang = "zh",
) -> None:
    """Show one entry with its signers, adoptions and recent changes."""
    choice(fmt, FORMATS, "--format")
    choice(lang, LANGS, "--lang")
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
    lines = [f"#{record.id} {record.name}"]
    for name, value in record.cells(lang).items():
        if value and name != "name":
            lines.append(f"  {name:<16} {value}")
    edu = record.educational
    lines.append(f"  {'educational':<16} {'yes' if edu else 'no' if edu is False else 'unknown'}")
    lines.append(f"adoptions ({len(adoptions)}):")
    for view in adoptions:
        a = view.adoption
        when = a.decided_on.isoformat() if a.decided_on else ""
        lines.append(f"  {a.school} {a.school_code} {a.decision_ref} {when}".rstrip())
    lines.append(f"changes ({len(changes)}):")
    lines.extend(f"  {_change_line(c)}" for c in changes[-10:])
    emit("\n".join(lines))


@app.command("list")
def list_(
    kind: Annotated[str | None, typer.Option("--kind", help="Only this kind.")] = None,
    status: Annotated[
        str | None, typer.Option("--status", help="Only this filing status (有效/撤销/注销/无).")
    ] = None,
    listing: Annotated[
        str | None,
        typer.Option("--listing", help="Only this listing state (准入/暂停/移出, or 无 for none)."),
    ] = None,
    category: Annotated[
        str | None, typer.Option("--category", help="Only this category (or 教育 / 非教育).")
    ] = None,
    search: Annotated[
        str | None, typer.Option("--search", "-s", help="Text in name, provider, ids or note.")
    ] = None,
    fmt: Format = "table",
    db: DbOption = None,
    lang: Lang = "zh",
) -> None:
    """List entries; --format json gives an array keyed by the canonical field names."""
    choice(fmt, FORMATS, "--format")
    choice(lang, LANGS, "--lang")
    entries = _open(db).list_entries(
        kind=kind, status=status, listing=listing, category=category, search=search
    )
    if fmt == "json":
        emit_json([e.to_dict(with_id=True) for e in entries])
    elif fmt == "csv":
        header, rows = registry_files.entries_table(entries, "en")
        emit(
            csv_text(["id", *header], [[str(e.id), *r] for e, r in zip(entries, rows, strict=True)])
        )
    else:
        emit(_entries_text(entries, lang))
        say(f"{len(entries)} entr{'y' if len(entries) == 1 else 'ies'}")


def _entries_text(entries: list[EntryRecord], lang: str) -> str:
    """The list as a table: kind, filing status and listing in the words of `lang`."""
    header = ["id", "name", "kind", "filing_no", "status", "listing", "identifier", "category"]
    rows = []
    for e in entries:
        cells = e.cells(lang)
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


@app.command()
def revoke(
    entry: Annotated[str, typer.Argument(help="Id, filing number, package, account ID or name.")],
    cancelled: Annotated[
        bool, typer.Option("--cancelled", help="Mark the filing cancelled (注销), not revoked.")
    ] = False,
    reason: ReasonOption = "",
    actor: ActorOption = None,
    db: DbOption = None,
) -> None:
    """Mark an entry's filing revoked (撤销) or cancelled (注销)."""
    record = _open(db, actor).revoke(entry, reason, "cancelled" if cancelled else "revoked")
    say(f"#{record.id} {record.name}: filing {record.filing_no} is now {record.status}")


@app.command()
def restore(
    entry: Annotated[str, typer.Argument(help="Id, filing number, package, account ID or name.")],
    reason: ReasonOption = "",
    actor: ActorOption = None,
    db: DbOption = None,
) -> None:
    """Make a revoked or cancelled filing active again."""
    record = _open(db, actor).restore(entry, reason)
    say(f"#{record.id} {record.name}: filing {record.filing_no} is active again")


@app.command()
def adopt(
    school: Annotated[str, typer.Argument(help="School name, or 全区 for the whole district.")],
    entry: Annotated[str, typer.Argument(help="Id, filing number, package, account ID or name.")],
    decision: Annotated[
        str,
        typer.Option("--decision", "--decision-ref", help="Minutes or document of the decision."),
    ] = "",
    decided_on: Annotated[str, typer.Option("--date", help="Date of the decision.")] = "",
    audience: Annotated[str, typer.Option("--audience", help="家长/学生/教师.")] = "",
    school_code: Annotated[str, typer.Option("--school-code", help="School code (标识码).")] = "",
    note: Annotated[str, typer.Option("--note", help="Note.")] = "",
    reason: ReasonOption = "",
    actor: ActorOption = None,
    db: DbOption = None,
) -> None:
    """Record a school's adoption (选用) of an entry by collective decision."""
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
    say(f"{view.adoption.school}: adopted #{view.entry.id} {view.entry.name}")


@app.command()
def unadopt(
    school: Annotated[str, typer.Argument(help="School name, or 全区 for the whole district.")],
    entry: Annotated[str, typer.Argument(help="Id, filing number, package, account ID or name.")],
    reason: ReasonOption = "",
    actor: ActorOption = None,
    db: DbOption = None,
) -> None:
    """Remove a school's adoption of an entry."""
    registry = _open(db, actor)
    record = registry.get(entry)
    registry.unadopt(school, entry, reason)
    say(f"{school}: adoption of #{record.id} {record.name} removed")


@app.command()
def adoptions(
    school: Annotated[str | None, typer.Option("--school", help="Only this school.")] = None,
    entry: Annotated[str | None, typer.Option("--entry", help="Only this entry.")] = None,
    fmt: Format = "table",
    db: DbOption = None,
) -> None:
    """List recorded adoptions."""
    choice(fmt, FORMATS, "--format")
    views = _open(db).adoptions(entry, school)
    if fmt == "json":
        emit_json(registry_files.adoption_dicts(views))
        return
    header, rows = registry_files.adoptions_table(views, "en")
    emit(csv_text(header, rows) if fmt == "csv" else format_table(header, rows))


@app.command()
def history(
    entry_arg: Annotated[
        str | None, typer.Argument(metavar="[ENTRY]", help="Only the changes of this entry.")
    ] = None,
    entry: Annotated[
        str | None, typer.Option("--entry", help="Only the changes of this entry.")
    ] = None,
    limit: Annotated[int | None, typer.Option("--limit", "-n", help="Only the last N.")] = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help="table or json.")] = "table",
    db: DbOption = None,
) -> None:
    """The change log: who changed what, when, from what to what, and why."""
    choice(fmt, ("table", "json"), "--format")
    if entry_arg and entry and entry_arg != entry:
        fail("give the entry once, as an argument or as --entry")
    changes = _open(db).history(entry or entry_arg, limit)
    if fmt == "json":
        emit_json([c.to_dict() for c in changes])
        return
    emit("\n".join(_change_line(c) for c in changes) if changes else "(no changes recorded)")


def _change_line(change: ChangeRecord) -> str:
    when = change.at.strftime("%Y-%m-%d %H:%M:%S")
    parts = [f"{when}Z", change.actor, change.action, f"#{change.entry_id} {change.label}"]
    if change.before or change.after:
        before, after = change.before or {}, change.after or {}
        if change.action in ("add", "adopt"):
            shown = {k: v for k, v in after.items() if v not in ("", [], None)}
            parts.append(", ".join(f"{k}={_short(v)}" for k, v in shown.items()))
        elif change.action == "unadopt":
            parts.append(f"school={before.get('school', '')}")
        else:
            keys = [k for k in dict.fromkeys([*before, *after]) if k != "school"]
            diffs = [f"{k}: {_short(before.get(k))} → {_short(after.get(k))}" for k in keys]
            if "school" in after:
                diffs.insert(0, f"school={after['school']}")
            parts.append("; ".join(diffs))
    if change.reason:
        parts.append(f"reason: {change.reason}")
    return "  ".join(parts)


def _short(value: object) -> str:
    if value in (None, "", []):
        return "∅"
    if isinstance(value, list):
        return ";".join(str(v) for v in value)
    return str(value)


@app.command()
def export(
    file: Annotated[str, typer.Argument(help="Output file (.csv, .xlsx, .json) or - for stdout.")],
    what: Annotated[str, typer.Option("--what", help="entries or adoptions.")] = "entries",
    fmt: Annotated[
        str | None, typer.Option("--format", "-f", help="csv, xlsx or json (default: by suffix).")
    ] = None,
    headers: Annotated[
        str, typer.Option("--headers", help="zh (Chinese headers and words) or en.")
    ] = "zh",
    db: DbOption = None,
) -> None:
    """Write the registry to a file that `import` reads back unchanged."""
    choice(what, registry_files.WHATS, "--what")
    choice(headers, ("zh", "en"), "--headers")
    path = None if file == "-" else Path(file)
    if path is None and fmt is None:
        fmt = "json"
    chosen = registry_files.export_format(path, fmt)
    registry = _open(db)
    if what == "entries":
        records = registry.entries()
        header, rows = registry_files.entries_table(records, headers)
        objects = [r.to_dict() for r in records]
        count = len(records)
    else:
        views = registry.adoptions()
        header, rows = registry_files.adoptions_table(views, headers)
        objects = registry_files.adoption_dicts(views)
        count = len(views)
    text = registry_files.write_export(path, chosen, header, rows, objects, sheet=what)
    if text is not None:
        emit(text)
    else:
        say(f"exported {count} {what} to {path}")


@app.command("add-signer")
def add_signer(
    entry: Annotated[str, typer.Argument(help="Id, filing number, package, account ID or name.")],
    sha256: Annotated[
        str | None, typer.Option("--sha256", help="Certificate SHA-256 to add.")
    ] = None,
    from_apk: Annotated[
        Path | None,
        typer.Option("--from-apk", help="Take the signer(s) from this genuine APK."),
    ] = None,
    subject: Annotated[str, typer.Option("--subject", help="Certificate subject.")] = "",
    force: Annotated[
        bool, typer.Option("--force", help="Accept an APK whose package is not the entry's.")
    ] = False,
    reason: ReasonOption = "",
    actor: ActorOption = None,
    db: DbOption = None,
) -> None:
    """Record the signing certificate(s) of the entry's genuine APK."""
    if bool(sha256) == bool(from_apk):
        fail("give either --sha256 or --from-apk")
    registry = _open(db, actor)
    record = registry.get(entry)
    signers: list[tuple[str, str]] = []
    if sha256:
        signers.append((sha256, subject))
    else:
        assert from_apk is not None
        if not from_apk.is_file():
            fail(f"no such file: {from_apk}")
        facts = analyse_apk(from_apk)
        if not facts.readable:
            why = "; ".join(facts.problems) or "it cannot be read"
            fail(f"{from_apk.name}: no signer can be taken from it ({why})")
        if not facts.signature_verified:
            # A certificate the signature does not prove could be anybody's copy.
            why = describe(facts.signature_reason, facts.signature_detail, "en")
            fail(f"{from_apk.name}: its signature does not verify, so no signer is taken ({why})")
        if record.package and facts.package != record.package and not force:
            fail(
                f"{from_apk.name} is {facts.package or 'an app without a package'}, "
                f"not {record.package} (#{record.id} {record.name}); use --force if it is right"
            )
        # The verified signer, and the earlier keys of its rotation lineage (same developer).
        signers.extend((s.sha256, s.subject) for s in facts.verified_signers())
        reason = reason or f"from {from_apk.name} (SHA-256 {facts.sha256[:16]}…)"
    for digest, text in signers:
        record = registry.add_signer(entry, digest, text, reason)
    say(f"#{record.id} {record.name}: {len(record.signer_sha256)} known signer(s)")
