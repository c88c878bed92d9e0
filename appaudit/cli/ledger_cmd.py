"""`appaudit ledger …`, `appaudit waive` and `appaudit waivers`: the rectification ledger
(问题台账) staff keep from month to month, and the waivers (豁免) the bureau grants.

The ledger's rules (which status may follow which, what closing needs) are the policy
engine's (`policies.ledger`); each change is decided on the item as it is inside the
write transaction, so two people changing one item at once both keep their change.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Annotated, Any

import typer

from appaudit.cli.common import (
    ActorOption,
    AppauditCommand,
    AppauditGroup,
    DbOption,
    LangOption,
    choice,
    display_width,
    emit,
    emit_json,
    fail,
    format_table,
    say,
    speak,
)
from appaudit.messages import h, m, t

if TYPE_CHECKING:
    from registry.changelog import ChangeRecord
    from registry.ledger import Ledger, LedgerRecord, WaiverRecord

app = typer.Typer(cls=AppauditGroup, help=h("ledger"), no_args_is_help=True)
waivers_app = typer.Typer(cls=AppauditGroup, help=h("cmd_waivers"), invoke_without_command=True)

FORMATS = ("table", "json", "csv")
_STATE_KEYS = {
    "active": "waiver_active",
    "expired": "waiver_expired",
    "revoked": "waiver_revoked_state",
}
RequiredReason = Annotated[str, typer.Option("--reason", help=h("opt_ledger_reason"))]
NumberArg = Annotated[
    str, typer.Argument(metavar="ID", help=h("arg_ledger_id"), show_default=False)
]
Format = Annotated[str, typer.Option("--format", "-f", help=h("format_table_json_csv"))]


def _headers(*keys: str) -> list[str]:
    return [t(f"lcol_{key}") for key in keys]


def _open(db: str | None, actor: str | None = None) -> Ledger:
    from registry.db import open_database
    from registry.ledger import Ledger

    return Ledger(open_database(db, create=False), actor)


def _today() -> date:
    """Today in the bureau's time zone (`[report] timezone`)."""
    from appaudit.settings import load_report_settings
    from reports.times import today

    return today(load_report_settings().timezone)


def _date(text: str, option: str) -> date:
    from registry.records import parse_date
    from registry.values import InvalidValue

    try:
        return parse_date(text)
    except InvalidValue as error:
        fail(m("bad_option_value", option=option, reason=error.message))


def _reason(reason: str) -> str:
    if not reason.strip():
        fail(m("reason_required"))
    return reason.strip()


# --- reading ------------------------------------------------------------------------------


def item_json(record: LedgerRecord, today: date) -> dict[str, Any]:
    """An item keyed by the ledger's field names (`id` is its number, 2026-0001)."""
    from policies.ledger import overdue

    data = record.to_dict()
    number = data.pop("number")
    for name in ("id", "school_key", "item_key", "year", "seq", "updated_at"):
        data.pop(name, None)
    return {"id": number, **data, "overdue": overdue(record, today)}


@app.command("list", help=h("cmd_ledger_list"), cls=AppauditCommand)
def list_(
    school: Annotated[str | None, typer.Option("--school", help=h("opt_ledger_school"))] = None,
    status: Annotated[
        list[str] | None, typer.Option("--status", help=h("opt_ledger_status"))
    ] = None,
    overdue_only: Annotated[bool, typer.Option("--overdue", help=h("opt_overdue"))] = False,
    fmt: Format = "table",
    db: DbOption = None,
    lang: LangOption = None,
) -> None:
    from policies.ledger import overdue, parse_status

    lang = speak(lang)
    choice(fmt, FORMATS, "--format")
    statuses = [parse_status(s) for s in status] if status else None
    today = _today()
    records = select_items(_open(db), school, statuses)
    if overdue_only:
        records = [r for r in records if overdue(r, today)]
    if fmt == "json":
        emit_json([item_json(r, today) for r in records])
        return
    header = _headers(
        "ledger_id", "school", "app", "rule", "severity", "status", "due", "first_seen"
    )
    rows = [_row(r, today, lang) for r in records]
    if fmt == "csv":
        from reports.spreadsheets import csv_text

        emit(csv_text(header, rows))
        return
    if not records:
        emit(t("ledger_empty"))
        return
    emit(format_table(header, rows))
    say(t("ledger_listed", count=len(records)))


def select_items(
    ledger: Ledger, school: str | None, statuses: list[str] | None
) -> list[LedgerRecord]:
    """The items of one school (by its name, however spaced, or its code) or of all."""
    from registry.values import same_name

    records = ledger.items(statuses=statuses)
    if not school:
        return records
    wanted = school.strip()
    return [r for r in records if r.school_code == wanted or same_name(r.school, wanted)]


def _row(record: LedgerRecord, today: date, lang: str) -> list[str]:
    from policies.ledger import overdue, status_label
    from reports.text import strings

    words = strings(lang)
    status = status_label(record.status, lang)
    if overdue(record, today):
        status += t("overdue_mark")
    if record.reopened:
        status += t("reopened_mark", count=record.reopened)
    return [
        record.number,
        record.school,
        record.item,
        record.rule,
        words.severity(record.severity),
        status,
        record.due.isoformat() if record.due else "",
        _local_date(record.first_seen_at),
    ]


def _local_date(moment: Any) -> str:
    if moment is None:
        return ""
    from appaudit.settings import load_report_settings
    from reports.times import zone

    return str(moment.astimezone(zone(load_report_settings().timezone)).date().isoformat())


@app.command(help=h("cmd_ledger_show"), cls=AppauditCommand)
def show(
    number: NumberArg,
    fmt: Annotated[str, typer.Option("--format", "-f", help=h("format_table_json"))] = "table",
    db: DbOption = None,
    lang: LangOption = None,
) -> None:
    lang = speak(lang)
    choice(fmt, ("table", "json"), "--format")
    ledger = _open(db)
    record = ledger.get(number)
    history = ledger.history(number)
    today = _today()
    if fmt == "json":
        emit_json({**item_json(record, today), "history": [c.to_dict() for c in history]})
        return
    emit(_show_text(record, history, today, lang))


def _show_text(record: LedgerRecord, history: list[ChangeRecord], today: date, lang: str) -> str:
    from appaudit.settings import load_report_settings
    from policies.ledger import FOUND_BY, overdue, status_label
    from policies.model import catalogue
    from reports.text import strings

    words = strings(lang)
    rules = catalogue()
    clauses = rules.clauses
    cites = [clauses[k].cite or k for k in record.basis if k in clauses]
    status = status_label(record.status, lang)
    if overdue(record, today):
        status += t("overdue_mark")
    remediation = ""
    if record.rule in rules.rules:
        remediation = rules[record.rule].remediation_of(record.cause)[lang]
    fields = [
        ("ledger_id", record.number),
        (
            "school",
            f"{record.school}（{record.school_code}）" if record.school_code else record.school,
        ),
        ("app", record.item),
        (
            "rule",
            f"{record.rule} {rules[record.rule].title[lang] if record.rule in rules.rules else ''}",
        ),
        ("severity", words.severity(record.severity)),
        ("status", status),
        ("problem", record.description),
        ("basis", "；".join(cites)),
        ("remediation", remediation),
        (
            "found_by",
            FOUND_BY.get(record.found_by, record.found_by) if lang == "zh" else record.found_by,
        ),
        ("first_seen", _local_date(record.first_seen_at)),
        ("last_seen", _local_date(record.last_seen_at)),
        ("due", record.due.isoformat() if record.due else ""),
        ("owner", record.owner),
        ("measure", record.measure),
        ("progress", record.progress),
        ("evidence", record.evidence),
        ("closed_at", _local_date(record.closed_at)),
        ("closed_by", record.closed_by),
        ("reopened", str(record.reopened) if record.reopened else ""),
    ]
    labels = {k: t(f"lcol_{k}") for k, _ in fields}
    width = max(display_width(label) for label in labels.values())
    lines = [f"{labels[k]}{' ' * (width - display_width(labels[k]))}  {v}" for k, v in fields if v]
    zone = load_report_settings().timezone
    lines.append("")
    lines.append(t("ledger_history"))
    lines.extend("  " + change_line(c, lang, zone) for c in history)
    return "\n".join(lines)


def change_line(change: ChangeRecord, lang: str, zone: str) -> str:
    """One change of an item: when (the bureau's time), who, what, the values, why."""
    from appaudit.messages import catalogue
    from policies.ledger import status_label
    from reports.text import strings
    from reports.times import shown

    key = f"ledger_action_{change.action}"
    action = t(key) if key in catalogue()["text"] else change.action
    parts = [shown(change.at, zone), change.actor, action]
    before, after = change.before or {}, change.after or {}
    diffs = []
    for name in dict.fromkeys([*before, *after]):
        if name in ("run", "first_seen_run"):
            continue
        old, new = before.get(name), after.get(name)
        if name == "status":
            old = status_label(old, lang) if old else old
            new = status_label(new, lang) if new else new
        elif name == "severity":
            old = strings(lang).severity(old) if old else old
            new = strings(lang).severity(new) if new else new
        label = t(f"lcol_{name}") if f"lcol_{name}" in catalogue()["text"] else name
        diffs.append(
            f"{label}{t('colon')}{old or '—'} → {new or '—'}"
            if name in before
            else f"{label}{t('colon')}{new or '—'}"
        )
    if diffs:
        parts.append(t("clause_sep").join(diffs))
    if change.reason:
        parts.append(t("change_reason", reason=change.reason))
    return "  ".join(parts)


# --- changing -----------------------------------------------------------------------------


@app.command(help=h("cmd_ledger_update"), cls=AppauditCommand)
def update(
    number: NumberArg,
    reason: RequiredReason,
    status: Annotated[str | None, typer.Option("--status", help=h("opt_ledger_new_status"))] = None,
    due: Annotated[str | None, typer.Option("--due", help=h("opt_due"))] = None,
    owner: Annotated[str | None, typer.Option("--owner", help=h("opt_owner"))] = None,
    measure: Annotated[str | None, typer.Option("--measure", help=h("opt_measure"))] = None,
    progress: Annotated[str | None, typer.Option("--progress", help=h("opt_progress"))] = None,
    evidence: Annotated[str | None, typer.Option("--evidence", help=h("opt_evidence"))] = None,
    actor: ActorOption = None,
    db: DbOption = None,
    lang: LangOption = None,
) -> None:
    from policies.ledger import PERSON_MOVES, check_move, parse_status

    lang = speak(lang)
    why = _reason(reason)
    wanted: dict[str, Any] = {}
    if status is not None:
        wanted["status"] = parse_status(status)
        if wanted["status"] == "closed":
            fail(m("use_close"))
        if wanted["status"] == "dismissed":
            fail(m("use_dismiss"))
    if due is not None:
        wanted["due"] = _date(due, "--due")
    for name, value in (
        ("owner", owner),
        ("measure", measure),
        ("progress", progress),
        ("evidence", evidence),
    ):
        if value is not None:
            wanted[name] = value.strip()
    if not wanted:
        fail(m("nothing_to_update"))

    def decide(record: LedgerRecord) -> dict[str, Any]:
        if record.status in ("closed", "dismissed") and set(wanted) - {
            "measure",
            "progress",
            "evidence",
            "owner",
        }:
            check_move(record, wanted.get("status", "open"), PERSON_MOVES)
        if "status" in wanted:
            check_move(record, wanted["status"], PERSON_MOVES)
        return wanted

    record = _open(db, actor).change(number, decide, reason=why)
    say(t("ledger_updated", id=record.number, status=_status(record, lang)))


@app.command(help=h("cmd_ledger_close"), cls=AppauditCommand)
def close(
    number: NumberArg,
    reason: RequiredReason,
    force: Annotated[bool, typer.Option("--force", help=h("opt_close_force"))] = False,
    actor: ActorOption = None,
    db: DbOption = None,
    lang: LangOption = None,
) -> None:
    from datetime import UTC, datetime

    from policies.ledger import closing

    lang = speak(lang)
    why = _reason(reason)
    ledger = _open(db, actor)
    record = ledger.change(
        number,
        lambda r: closing(r, force=force, actor=ledger.actor, now=datetime.now(UTC)),
        reason=why,
        action="close",
    )
    say(t("ledger_closed", id=record.number))


@app.command(help=h("cmd_ledger_dismiss"), cls=AppauditCommand)
def dismiss(
    number: NumberArg,
    reason: RequiredReason,
    actor: ActorOption = None,
    db: DbOption = None,
    lang: LangOption = None,
) -> None:
    from policies.ledger import dismissing

    lang = speak(lang)
    why = _reason(reason)
    record = _open(db, actor).change(number, dismissing, reason=why, action="dismiss")
    say(t("ledger_dismissed", id=record.number))


def _status(record: LedgerRecord, lang: str) -> str:
    from policies.ledger import status_label

    return status_label(record.status, lang)


# --- waivers ------------------------------------------------------------------------------


def waive(
    school: Annotated[
        str, typer.Option("--school", help=h("opt_waive_school"), show_default=False)
    ],
    reason: RequiredReason,
    until: Annotated[str, typer.Option("--until", help=h("opt_waive_until"), show_default=False)],
    item: Annotated[str | None, typer.Option("--item", help=h("opt_waive_item"))] = None,
    rule: Annotated[str | None, typer.Option("--rule", help=h("opt_waive_rule"))] = None,
    actor: ActorOption = None,
    db: DbOption = None,
    lang: LangOption = None,
) -> None:
    from policies.model import catalogue
    from registry.values import is_district

    lang = speak(lang)
    why = _reason(reason)
    last_day = _date(until, "--until")
    if last_day < _today():
        fail(m("waive_until_past", until=last_day.isoformat()))
    wanted_rule = (rule or "").strip().upper()
    if wanted_rule and wanted_rule not in catalogue().rules:
        fail(m("unknown_rule", rule=rule, rules=", ".join(catalogue().rules)))
    where = school.strip()
    if not where:
        fail(m("waive_needs_school"))
    if is_district(where):
        where = "全区"
    record = _open(db, actor).add_waiver(
        school=where, item=(item or "").strip(), rule=wanted_rule, reason=why, until=last_day
    )
    say(t("waiver_added", id=record.id, scope=_scope(record, lang), until=record.until.isoformat()))


def _scope(waiver: WaiverRecord, lang: str) -> str:
    parts = [waiver.school]
    parts.append(waiver.item or t("waiver_any_item"))
    parts.append(waiver.rule or t("waiver_any_rule"))
    return " / ".join(parts)


@waivers_app.callback()
def waivers(
    ctx: typer.Context,
    show_all: Annotated[bool, typer.Option("--all", help=h("opt_waivers_all"))] = False,
    fmt: Annotated[str, typer.Option("--format", "-f", help=h("format_table_json"))] = "table",
    db: DbOption = None,
    lang: LangOption = None,
) -> None:
    if ctx.invoked_subcommand is not None:
        return
    from policies.ledger import waiver_state

    lang = speak(lang)
    choice(fmt, ("table", "json"), "--format")
    today = _today()
    records = [w for w in _open(db).waivers() if show_all or waiver_state(w, today) == "active"]
    if fmt == "json":
        emit_json([{**w.to_dict(), "state": waiver_state(w, today)} for w in records])
        return
    if not records:
        emit(t("no_waivers_all" if show_all else "no_waivers"))
        return
    rows = [
        [
            str(w.id),
            w.school,
            w.item or t("waiver_any_item"),
            w.rule or t("waiver_any_rule"),
            w.until.isoformat(),
            t(_STATE_KEYS[waiver_state(w, today)]),
            w.actor,
            w.reason,
        ]
        for w in records
    ]
    emit(
        format_table(
            _headers(
                "waiver_id", "school", "app", "rule", "until", "state", "approved_by", "reason"
            ),
            rows,
        )
    )


@waivers_app.command(help=h("cmd_waiver_revoke"), cls=AppauditCommand)
def revoke(
    waiver_id: Annotated[
        int, typer.Argument(metavar="ID", help=h("arg_waiver_id"), show_default=False)
    ],
    reason: RequiredReason,
    actor: ActorOption = None,
    db: DbOption = None,
    lang: LangOption = None,
) -> None:
    lang = speak(lang)
    record = _open(db, actor).revoke_waiver(waiver_id, _reason(reason))
    say(t("waiver_revoked", id=record.id))


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="ledger")
    root.command("waive", help=h("cmd_waive"), cls=AppauditCommand)(waive)
    root.add_typer(waivers_app, name="waivers")
