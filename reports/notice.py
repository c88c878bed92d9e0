"""The 整改通知书: one printable A4 page that tells a school what to rectify, by when.

It lists the school's open ledger items (问题编号, 应用/账号, 问题, 依据, 整改要求, 整改时限) under
the bureau's heading, and says how to reply: fill in the 工作台账 and return it by a date.
Offline and self-contained (inline CSS, no script), every text from the field escaped.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from policies.ledger import OPEN_STATES
from policies.model import catalogue
from registry.ledger import LedgerRecord
from reports.html_parts import asset, template
from reports.ledger_book import by_school, notice_words
from reports.names import page_names
from reports.spreadsheets import atomic_write
from reports.writer import MARKER, staged_folder
from scanner.safetext import REPLACE_ERRORS

NOTICE_PREFIX = "整改通知书-"
NOTICES_MARK = '{"tool": "appaudit", "what": "notices"}'
"""The content of a notices folder's MARKER."""


@dataclass(frozen=True)
class NoticeHeading:
    """Who issues the notice and whom the school asks (`[notice]` of appaudit.toml)."""

    issuer: str = ""
    """发文单位; a general wording when not configured."""
    contact: str = ""
    phone: str = ""


@dataclass(frozen=True)
class NoticeRow:
    number: str
    item: str
    problem: str
    basis: str
    remediation: str
    due: str


def open_items(records: Iterable[LedgerRecord]) -> list[LedgerRecord]:
    """The items a notice lists: those not yet closed or dismissed, in number order."""
    return [r for r in records if r.status in OPEN_STATES]


def reply_by(records: Sequence[LedgerRecord], today: date, due_days: int) -> date:
    """The date the school returns its 台账 by: its earliest due date still ahead, else
    `due_days` from today (every due date passed, or none set)."""
    ahead = [r.due for r in records if r.due is not None and r.due >= today]
    return min(ahead) if ahead else today + timedelta(days=due_days)


def _chinese_date(day: date) -> str:
    return notice_words()["date"].format(year=day.year, month=day.month, day=day.day)


def notice_rows(records: Sequence[LedgerRecord]) -> list[NoticeRow]:
    rules = catalogue()
    rows = []
    for record in records:
        spec = rules.rules.get(record.rule)
        remediation = spec.remediation_of(record.cause)["zh"] if spec is not None else ""
        rows.append(
            NoticeRow(
                number=record.number,
                item=record.item,
                problem=record.description,
                basis="；".join(record.basis) or "—",
                remediation=remediation,
                due=record.due.isoformat() if record.due else "—",
            )
        )
    return rows


def notice_html(
    records: Sequence[LedgerRecord], heading: NoticeHeading, *, today: date, due_days: int
) -> str:
    """The notice of one school's open `records` (all of the same school, at least one)."""
    if not records:
        raise ValueError("a notice needs at least one open item")
    w = notice_words()
    notice = catalogue().notice
    first = records[0]
    issuer = heading.issuer or w["default_issuer"]
    blank = w["blank"]
    context: dict[str, Any] = {
        "lang": "zh",
        "w": w,
        "css": asset("notice.css"),
        "school": first.school,
        "code": w["code"].format(code=first.school_code) if first.school_code else "",
        "issuer": issuer,
        "title": w["title"],
        "addressee": w["addressee"].format(school=first.school),
        "intro": w["intro"].format(
            notice_short=notice.get("short", ""),
            reference=notice.get("reference", ""),
            count=len(records),
        ),
        "basis_note": w["basis_note"].format(notice_short=notice.get("short", "")),
        "rows": notice_rows(records),
        "reply": w["reply"].format(
            reply_by=_chinese_date(reply_by(records, today, due_days)), issuer=issuer
        ),
        "contact": w["contact"].format(
            contact=heading.contact or blank, phone=heading.phone or blank
        ),
        "signed": w["signed"].format(issuer=issuer),
        "date": _chinese_date(today),
    }
    context["dense"] = _table_lines(context["rows"]) > DENSE_ABOVE
    return template("notice.html.j2").render(context)


CHARS_PER_LINE = 15
"""About the characters of a 问题 or 整改要求 cell on one printed line, at the usual size."""
DENSE_ABOVE = 40
"""Lines of the table (as `_table_lines` counts them) beyond which the page is set smaller,
to stay on one A4 sheet: measured in Chromium on the example district and on ten items of
long texts."""


def _table_lines(rows: Sequence[NoticeRow]) -> float:
    """About how tall the table is, in lines: each row as tall as its longer text, plus its
    padding and rule."""
    return sum(
        max(1, -(-max(len(r.problem), len(r.remediation)) // CHARS_PER_LINE)) + 0.5 for r in rows
    )


def notice_name(record: LedgerRecord) -> str:
    """The file name of one school's notice."""
    return NOTICE_PREFIX + page_names([record])[0]


def write_notice(
    out_dir: Path,
    records: Sequence[LedgerRecord],
    heading: NoticeHeading,
    *,
    today: date,
    due_days: int,
) -> Path:
    """One school's notice in `out_dir`, written atomically. A folder this makes is marked
    as a notices folder, so that `write_notices` may replace it later."""
    html = notice_html(records, heading, today=today, due_days=due_days)
    path = out_dir / notice_name(records[0])
    if not out_dir.exists():
        out_dir.mkdir(parents=True)
        (out_dir / MARKER).write_text(NOTICES_MARK, "utf-8")
    atomic_write(
        path,
        lambda handle: handle.write(html),
        encoding="utf-8",
        errors=REPLACE_ERRORS,
    )
    return path


def write_notices(
    out_dir: Path,
    records: Iterable[LedgerRecord],
    heading: NoticeHeading,
    *,
    today: date,
    due_days: int,
) -> list[Path]:
    """A notice for every school with an open item, as one folder swapped into place
    (`out_dir` must be absent, empty, or an earlier such folder); none for the others."""
    schools = by_school(open_items(records))
    names = page_names([group[0] for group in schools])
    with staged_folder(out_dir) as staging:
        for group, name in zip(schools, names, strict=True):
            html = notice_html(group, heading, today=today, due_days=due_days)
            (staging / (NOTICE_PREFIX + name)).write_text(html, "utf-8", errors=REPLACE_ERRORS)
        (staging / MARKER).write_text(NOTICES_MARK, "utf-8")
    target = Path(os.path.abspath(out_dir))
    return [target / (NOTICE_PREFIX + name) for name in names]
