"""A school's page: the rectification list (整改清单) first, to be signed; then each item's
findings, the clauses they rest on, unreadable rows, items without findings, APK panels."""

from __future__ import annotations

import operator
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from functools import cache, lru_cache
from html import escape as _esc
from itertools import repeat
from typing import Any, NamedTuple

from policies.ledger import SchoolMarks, ledger_state, status_label
from policies.model import SEVERITY_RANK, Clause, Finding, VerdictMemo
from policies.results import SchoolResult
from reports.apk_panel import ApkView, apk_view
from reports.evidence import MATCH_KEYS, finding_facts, identifier_fact
from reports.html_parts import (
    Badge,
    Html,
    SeverityNote,
    attr,
    badges,
    basis_html,
    citation_html,
    compact_numbers,
    facts_html,
    file_names,
    match_html,
    repeated_html,
    severity_badge,
    severity_notes,
    text_html,
)
from reports.text import around_field, message, rule_order, rule_text, strings
from reports.times import DEFAULT_ZONE
from scanner.submission import RequiredItem, item_place, split_values


@dataclass(frozen=True, slots=True)
class ProblemRow:
    row: str
    message: str
    source: str


@dataclass(frozen=True, slots=True)
class SchoolPage:
    """Everything a school's page shows; the long parts as escaped markup."""

    school: str
    school_code: str
    other_names: list[str]
    """Other spellings of the school's name in rows with its code."""
    sources: str
    badges: list[Badge]
    notes: list[SeverityNote]
    items_checked: int
    findings: int
    todo_html: Html
    """The rows of the rectification list."""
    details_html: Html
    """Each item's findings."""
    basis_html: Html
    """The clauses the page cites, each quoted once."""
    clean_html: Html
    """The rows of the table of checked items without findings."""
    clean_items: int
    problems: list[ProblemRow]
    apks: list[ApkView]
    tallies: list[tuple[str, str, list[tuple[str, str, int]]]]
    """For the index: each item's name and kind, and its findings by rule and severity."""
    ledger: bool
    """The scan kept a ledger: the list shows each finding's number and due date."""
    ledger_line: str
    """新增 …，持续 …，拟销号 …，逾期 …，复发 … of the school."""
    ledger_shared: str
    """The status and due date all the list's items share, said once ('' when they differ)."""
    fixed_html: Html
    """The rows of the items this scan no longer sees (拟销号)."""
    fixed: int
    waived_html: Html
    """The rows of the findings waivers set apart (已豁免)."""
    waived: int


class _Group:
    """One item the school requires (an app or account, on one or more rows), or the school
    as a whole, with its findings. A plain class made with its first fields given in order:
    a page makes one for nearly each of its rows."""

    __slots__ = ("actions", "anchor", "articles", "by_cause", "heading", "heading_html",
                 "identifier", "item", "kind", "match", "order", "rows", "source", "tally",
                 "whole_school")  # fmt: skip

    def __init__(
        self,
        heading: str,
        heading_html: str,
        item: str,
        kind: str,
        identifier: str,
        whole_school: bool,
        source: str,
    ) -> None:
        self.heading = heading
        self.heading_html = heading_html
        self.item = item
        """The item's name as the findings give it ('' for the school as a whole)."""
        self.kind = kind
        self.identifier = identifier
        self.whole_school = whole_school
        self.source = source
        self.rows: list[int] = []
        self.actions: set[str] = set()
        """What the school asks of it (要求), as written on each of its rows."""
        self.by_cause: dict[int, list[tuple[Finding, Said, Any]]] = {}
        """Its findings by cause (see `_cause_id`), each with what it says and its ledger
        tag (or None)."""
        self.articles: dict[str, tuple[list[int], list[int], Said]] = {}
        """Its findings as the details show them: those that read the same once, with
        their rows and their numbers on the list, in the list's order."""
        self.match: Finding | None = None
        """A finding whose evidence says what the item matched in the registry."""
        self.anchor = ""
        self.order = 0
        """Its place among the page's items."""
        self.tally: list[tuple[str, str, int]] = []
        """How many findings of each rule and severity are about it (a rule and severity
        may come more than once, for each of its causes)."""


_source = operator.attrgetter("source")

_RANK = {severity: -rank for severity, rank in SEVERITY_RANK.items()}
"""Sort key of a severity: the most serious first."""

_CAUSES: list[tuple[int, int, str, str, str]] = []
"""Every cause seen, by number: severity rank, the rule's place, rule, variant, severity."""
_CAUSE_IDS: dict[tuple[int, int, str, str, str], int] = {}


def _cause_id(cause: tuple[int, int, str, str, str]) -> int:
    """A small number for a cause, so that a page sorts its findings by the few causes it
    has rather than finding by finding."""
    found = _CAUSE_IDS.get(cause)
    if found is None:
        found = _CAUSE_IDS[cause] = len(_CAUSES)
        _CAUSES.append(cause)
    return found


class Said(NamedTuple):
    """What every finding of one verdict says on a page, worked out once per verdict."""

    cause: int
    """Its place on the list (`_CAUSES`): most serious first, then the rule's place in the
    catalogue; the list shows the problem (rule, severity, cause) of a run of lines once."""
    tally: tuple[str, str]
    """Rule and severity, as the index counts findings."""
    body: str
    """The message and facts as HTML."""
    article: str
    """Rule, severity and body in one string (whose hash Python keeps): findings of an item
    that read the same are shown once."""
    opening: str
    """The article's opening tags, badge and title."""
    matched: bool
    """Its evidence says what the item matched in the registry."""


def _said_of(finding: Finding, lang: str, memo: VerdictMemo[Said]) -> Said:
    found = memo.get(finding)
    if found is not None:
        return found
    rule, severity = finding.rule, finding.severity
    variant = finding.params.get("variant", "")
    variant = variant if type(variant) is str else ""
    order = rule_order()
    body = f"<p>{text_html(message(finding, lang), lang)}</p>" + facts_html(
        finding_facts(finding, lang), lang
    )
    cause = (_RANK.get(severity, 0), order.get(rule, len(order)), rule, variant, severity)
    return memo.put(
        finding,
        Said(
            cause=_cause_id(cause),
            tally=(rule, severity),
            body=body,
            article=f"{rule}\0{severity}\0{body}",
            opening=_article_open(rule, severity, lang),
            matched=not finding.evidence.keys().isdisjoint(MATCH_KEYS),
        ),
    )


Matched = tuple[str, tuple[str, str] | None]
"""An item's registry match as its header shows it, and the identifier the match read."""


def school_page(
    school: SchoolResult,
    lang: str,
    memo: VerdictMemo[Said] | None = None,
    match_memo: VerdictMemo[Matched] | None = None,
    zone_name: str = DEFAULT_ZONE,
) -> SchoolPage:
    """The page of one school. With the memos, what is the same for every finding of one
    verdict (its place on the list, its message and facts, its item's registry match) is
    built once."""
    s = strings(lang)
    memo = memo if memo is not None else VerdictMemo()
    match_memo = match_memo if match_memo is not None else VerdictMemo()
    # Over every finding and item of a district: in C, without a Python frame for each.
    paths = set(map(_source, school.findings)).union(map(_source, school.items))
    several = len(paths) > 1
    sources = sorted({name for p in paths if (name := _file_name(p))})
    items_at = dict(zip(map(item_place, school.items), school.items, strict=True))

    # Each finding to its item's group, by cause. This runs for every finding of a district:
    # names are looked up once, outside the loop, and the findings of one row (which come
    # together) find their group once.
    whole_school = s["whole_school"]
    get_item = items_at.get
    known = memo.by_number.get
    groups: dict[tuple[object, ...], _Group] = {}
    get_group = groups.get
    ledger = school.ledger_counts is not None
    tagged: Iterable[tuple[Finding, Any]] = (
        zip(school.findings, school.ledger_tags, strict=True)
        if school.ledger_tags
        else zip(school.findings, repeat(None), strict=False)  # no ledger: no tags
    )
    by_cause: dict[int, list[_Group]] = {}
    group: _Group | None = None
    group_causes: dict[int, list[tuple[Finding, Said, Any]]] = {}
    last_source, last_row, last_kind, last_item = "", None, "", ""
    found_rows: set[tuple[str, int]] = set()
    for finding, tag in tagged:
        # One unpacking rather than a look-up of each field.
        _rule, _severity, _school, row, name, kind, _evidence, _params, _code, path, number = (
            finding
        )
        said = known(number) or _said_of(finding, lang, memo)
        if (
            row is None
            or row != last_row
            or path != last_source
            or kind != last_kind
            or name != last_item
            or group is None
        ):
            source = path if several else ""
            if row is None:
                key: tuple[object, ...] = (source, True, kind, name)
                item = None
            else:
                place = (path, row)
                found_rows.add(place)
                item = get_item(place)
                key = (
                    (source, False, kind, name, item.identifier, item.filing_no)
                    if item is not None
                    else (source, False, kind, name)
                )
            group = get_group(key)
            if group is None:
                heading = name or whole_school
                group = groups[key] = _Group(
                    heading,
                    repeated_html(heading, lang),
                    name,
                    kind,
                    item.identifier if item is not None else "",
                    row is None,
                    source,
                )
            if row is not None and (not group.rows or group.rows[-1] != row):
                group.rows.append(row)
                if item is not None:
                    group.actions.add(item.action_text)
            group_causes = group.by_cause
            last_source, last_row, last_kind, last_item = path, row, kind, name
        if group.match is None and said.matched:
            group.match = finding
        cause = said.cause
        found = group_causes.get(cause)
        if found is None:
            found = group_causes[cause] = []
            groups_of_cause = by_cause.get(cause)
            if groups_of_cause is None:
                by_cause[cause] = [group]
            else:
                groups_of_cause.append(group)
        found.append((finding, said, tag))
    ordered = sorted(
        groups.values(), key=lambda g: (not g.whole_school, g.source, min(g.rows, default=0))
    )
    for number, group in enumerate(ordered, 1):
        group.anchor = f"i{number}"
        group.order = number

    # The list: most serious first, a rule's findings together, then in item and row order.
    causes = sorted(by_cause, key=_CAUSES.__getitem__)
    shared, all_new = _ledger_state(school) if ledger else (None, False)
    todo = _todo_html(
        [(_CAUSES[c], by_cause[c], c) for c in causes],
        several,
        lang,
        ledger,
        shared is not None,
        # On a school's first scan every item is new: saying so on each line says nothing.
        all_new,
    )

    details = "".join(map(_Details(lang, match_memo).group_html, ordered))
    cited: set[Clause] = set()
    for cause in causes:
        rule, variant = _CAUSES[cause][2:4]
        cited.update(rule_text(rule, lang, variant).clauses)

    clean = [i for i in school.items if (i.source, i.row) not in found_rows]
    counts = school.counts()
    return SchoolPage(
        school=school.school,
        school_code=school.school_code,
        other_names=[name for name in school.names if name != school.school],
        sources=s["list_sep"].join(sources),
        badges=badges(counts, s),
        notes=severity_notes(counts, s),
        items_checked=len(school.items),
        findings=len(school.findings),
        todo_html=Html(todo),
        details_html=Html(details),
        basis_html=basis_html(cited, lang),
        clean_html=Html(_clean_html(clean, several, lang)),
        clean_items=len(clean),
        problems=[
            ProblemRow("" if p.row is None else str(p.row), p.text(lang), _file_name(p.source))
            for p in school.problems
        ],
        apks=[apk_view(panel, s, zone_name) for panel in school.apks],
        tallies=[(g.item, g.kind, g.tally) for g in ordered if g.item],
        ledger=ledger,
        ledger_line=ledger_line(school.ledger_counts, lang) if ledger else "",
        ledger_shared=_shared_text(shared, lang) if shared is not None else "",
        fixed_html=Html(_fixed_html(school.fixed, lang)),
        fixed=len(school.fixed),
        waived_html=Html(_waived_html(school.waived, lang)),
        waived=len(school.waived),
    )


@lru_cache(maxsize=1 << 10)
def _file_name(path: str) -> str:
    names = file_names([path])
    return names[0] if names else ""


# --- the rectification list ----------------------------------------------------------------


def _row_cell(row: int | None, source: str, lang: str) -> str:
    """The 行号 cell: the row as the school's sheet numbers it (and its file, if several)."""
    if row is None:
        return '<td class="n">—</td>'
    if not source:
        return f'<td class="n">{row}</td>'
    s = strings(lang)
    where = repeated_html(f"{s['open_paren']}{_file_name(source)}{s['close_paren']}", lang)
    return f'<td class="n">{row}{where}</td>'


@cache
def _problem_cells(rule: str, severity: str, variant: str, lang: str) -> str:
    """问题, 严重程度, 整改要求 and 依据 of a run of list lines; `{span}` is their rowspan."""
    text = rule_text(rule, lang, variant)
    remediation = _esc(text.remediation, quote=False) or "—"
    return (
        f'<td{{span}} title="{attr(rule)}">{_esc(text.title, quote=False)}</td>'
        f"<td{{span}}>{severity_badge(severity, lang)}</td>"
        f"<td{{span}}>{remediation}</td>"
        f'<td{{span}} class="cite">{citation_html(text.clauses, lang)}</td>'
    )


def _span(length: int) -> str:
    return f' rowspan="{length}"' if length > 1 else ""


def _todo_html(
    causes: Sequence[tuple[tuple[int, int, str, str, str], list[_Group], int]],
    several: bool,
    lang: str,
    ledger: bool = False,
    numbers_only: bool = False,
    all_new: bool = False,
) -> str:
    """One line per finding: 序号, 应用/账号 (linking to its details) and 行号, cause by cause
    (`causes` in the list's order, each with the groups that have it), item by item within a
    cause, in row order within an item. The lines of a cause show its problem (问题, 严重程度,
    整改要求 and 依据) once, and the lines about one item within them show the item once.

    With a ledger, each line gives the finding's 问题编号 (its `LedgerTag` follows it in its
    group's `by_cause`), and its status and due date unless the list says them once
    (`numbers_only`); 新增 is not marked when every item is new (`all_new`).

    Also gathers each group's findings into its `articles`, in the list's order."""
    parts: list[str] = []
    add = parts.append
    number = 0
    for (_rank, _order, rule, variant, severity), groups, cause in causes:
        if len(groups) > 1:
            groups.sort(key=_by_order)
        total = sum(len(g.by_cause[cause]) for g in groups)
        problem = _problem_cells(rule, severity, variant, lang).replace("{span}", _span(total))
        for group in groups:
            found = group.by_cause[cause]
            length = len(found)
            group.tally.append((rule, severity, length))
            span = f' rowspan="{length}"' if length > 1 else ""
            item = f'<td{span}><a href="#{group.anchor}">{group.heading_html}</a></td>'
            articles = group.articles
            article_of = articles.get
            for finding, said, tag in found:
                number += 1
                row = finding.row
                if numbers_only and row is not None and not several:  # most lines
                    add(
                        f"<tr><td>{number}</td><td>{tag.number if tag else '—'}</td>"
                        f"{item}<td>{row}</td>{problem}</tr>\n"
                    )
                else:
                    if numbers_only:
                        lead = f"<tr><td>{number}</td><td>{tag.number if tag else '—'}</td>"
                    elif ledger:
                        lead = f"<tr><td>{number}</td>{_tag_cell(tag, lang, all_new)}"
                    else:
                        lead = f"<tr><td>{number}</td>"
                    if row is not None and not several:
                        add(f"{lead}{item}<td>{row}</td>{problem}</tr>\n")
                    else:
                        cell = _row_cell(row, finding.source, lang)
                        add(f"{lead}{item}{cell}{problem}</tr>\n")
                item = problem = ""
                # Findings of an item that read the same on several rows are shown once.
                text = said.article
                article = article_of(text)
                if article is None:
                    article = articles[text] = ([], [], said)
                if row is not None:
                    article[0].append(row)
                article[1].append(number)
    return "".join(parts)


def _by_order(group: _Group) -> int:
    return group.order


def _ledger_state(school: SchoolResult) -> tuple[tuple[str, date | None] | None, bool]:
    """The status and due date every finding's item shares, when they all do and none is
    marked (复发, 逾期, or 新增 among older items): the list then gives them once, above it,
    and each line only its 问题编号. And whether every item is new. The ledger's pass
    worked them out (its marks); a school given tags alone has them read from its tags."""
    marks = school.marks
    if isinstance(marks, SchoolMarks):
        return marks.shared, marks.all_new
    return ledger_state(filter(None, school.ledger_tags))


def _tag_cell(tag: Any, lang: str, all_new: bool = False) -> str:
    """问题编号, then its status and due date (待整改 · 2026-12-30前), and 新增 / 复发 / 逾期
    when it is (新增 only when the school has older items)."""
    if tag is None:
        return "<td>—</td>"
    s = strings(lang)
    marks = []
    if tag.new and not all_new:
        marks.append(s["ledger_new"])
    if tag.reopened:
        marks.append(s["ledger_reopened"])
    if tag.overdue:
        marks.append(s["ledger_overdue"])
    state = _esc(status_label(tag.status, lang), quote=False)
    if tag.due:
        state += " · " + s["ledger_due"].format(due=tag.due.isoformat())
    flags = f' <small class="flag">{s["list_sep"].join(marks)}</small>' if marks else ""
    return (
        f'<td class="ledger-id"><span class="mono">{_esc(tag.number)}</span>{flags}'
        f"<br><small>{state}</small></td>"
    )


def _shared_text(shared: tuple[str, date | None], lang: str) -> str:
    status, due = shared
    s = strings(lang)
    label = status_label(status, lang)
    if due is None:
        return s["ledger_shared_status"].format(status=label)
    return s["ledger_shared"].format(status=label, due=due.isoformat())


def ledger_line(counts: Mapping[str, int] | None, lang: str) -> str:
    """The school's (or district's) ledger figures in one line."""
    if counts is None:
        return ""
    s = strings(lang)
    return s["ledger_counts"].format(**counts)


def _fixed_html(records: Sequence[Any], lang: str) -> str:
    """问题编号, 应用/账号, 问题 of each item this scan no longer sees (拟销号)."""
    rows = []
    for record in records:
        rows.append(
            f'<tr><td class="mono">{_esc(record.number)}</td>'
            f"<td>{repeated_html(record.item, lang)}</td>"
            f"<td>{_esc(rule_text(record.rule, lang).title, quote=False)}</td>"
            f"<td>{text_html(record.description, lang) if lang == 'zh' else ''}</td></tr>\n"
        )
    return "".join(rows)


def _waived_html(waived: Sequence[tuple[Finding, Mapping[str, Any]]], lang: str) -> str:
    """行号, 应用/账号, 问题, 豁免理由, 批准人, 有效期至 of each waived finding."""
    rows = []
    for finding, waiver in waived:
        rows.append(
            f"<tr><td>{finding.row if finding.row is not None else '—'}</td>"
            f"<td>{repeated_html(finding.item, lang)}</td>"
            f"<td>{_esc(rule_text(finding.rule, lang).title, quote=False)}</td>"
            f"<td>{repeated_html(str(waiver.get('reason', '')), lang)}</td>"
            f"<td>{repeated_html(str(waiver.get('approved_by', '')), lang)}</td>"
            f"<td>{_esc(str(waiver.get('until', '')))}</td></tr>\n"
        )
    return "".join(rows)


# --- each item's findings ------------------------------------------------------------------


@cache
def _finding_head(rule: str, severity: str, lang: str) -> str:
    """The badge and title of a finding, once per rule and severity."""
    title = rule_text(rule, lang).title
    label = _esc(strings(lang).severity(severity), quote=False)
    return f'<span class="badge">{label}</span> {_esc(title, quote=False)}'


class _Details:
    """Each item's findings on one page, item by item (`group_html`); what every item of
    the page looks up (its words, the memo of registry matches) is looked up once."""

    __slots__ = ("dash", "identifier", "lang", "matches", "memo", "no", "rows_around", "rows_n",
                 "sep")  # fmt: skip

    def __init__(self, lang: str, memo: VerdictMemo[Matched]) -> None:
        words = strings(lang).words  # a plain dict
        self.lang = lang
        self.memo = memo
        self.matches = memo.by_number
        self.no, self.sep, self.dash = words["list_no"], words["list_sep"], words["range_sep"]
        self.rows_n = words["rows_n"]
        self.rows_around = around_field(self.rows_n, "rows")
        self.identifier = words["identifier"]

    def group_html(self, group: _Group) -> str:
        articles = group.articles
        all_rows = len(group.rows)
        no, sep, dash = self.no, self.sep, self.dash
        shown_rows = list(map(str, group.rows))
        listed_rows = sep.join(shown_rows)
        found = group.match
        if found is None:
            matched, ident = "", None
        else:
            matched, ident = self.matches.get(found.verdict) or self._match(found)
        # 第6、9行 · APP · 包名：com.example · 要求：下载安装、注册 — the item as the school
        # wrote it; what follows its rows repeats over items, so it is cached.
        actions = group.actions
        meta = _meta_tail(
            self.lang,
            group.kind,
            ident if ident is not None else (self.identifier, group.identifier),
            next(iter(actions)) if len(actions) == 1 else "",
            _file_name(group.source) if group.source else "",
        )
        if all_rows:
            around = self.rows_around
            rows = (
                f"{around[0]}{listed_rows}{around[1]}"
                if around is not None
                else self.rows_n.format(rows=listed_rows)
            )
            meta = f"{rows} · {meta}" if meta else rows
        if meta:
            meta = f'<p class="meta">{meta}</p>'
        parts = [
            f'<section class="item" id="{group.anchor}" data-rows="{" ".join(shown_rows)}">'
            f"<header><h3>{group.heading_html}</h3>{meta}{matched}</header>\n"
        ]
        for rows_of, numbers, said in articles.values():
            if len(numbers) == 1:
                listed: object = numbers[0]
            elif len(numbers) == 2:  # most often: two numbers are written out either way
                listed = f"{numbers[0]}{sep}{numbers[1]}"
            elif numbers[-1] - numbers[0] == len(numbers) - 1:  # in order, one run: 3～7
                listed = f"{numbers[0]}{dash}{numbers[-1]}"
            else:
                listed = compact_numbers(numbers, self.lang)
            where = ""
            if rows_of and len(rows_of) < all_rows and len(set(rows_of)) < all_rows:
                where = f" · {self.rows_n.format(rows=sep.join(map(str, rows_of)))}"
            parts.append(
                f"{said.opening}<small>{no}{listed}{where}</small></h4>{said.body}</article>\n"
            )
        parts.append("</section>\n")
        return "".join(parts)

    def _match(self, finding: Finding) -> Matched:
        """The item's registry match for its header, and the identifier the match read."""
        memo = self.memo
        found = memo.get(finding)
        if found is None:
            evidence = finding.evidence
            ident = identifier_fact(evidence, self.lang)
            found = memo.put(
                finding,
                (match_html(evidence, self.lang), (ident.label, ident.value) if ident else None),
            )
        return found


@cache
def _article_open(rule: str, severity: str, lang: str) -> str:
    """A finding's opening tag and the start of its heading, once per rule and severity."""
    sev = attr(severity)
    return (
        f'<article class="finding sev-{sev}" data-rule="{attr(rule)}">'
        f"<h4>{_finding_head(rule, severity, lang)}"
    )


@lru_cache(maxsize=1 << 14)
def _meta_tail(
    lang: str,
    kind: str,
    identifier: tuple[str, str],
    actions: str,
    source: str,
) -> str:
    """What an item's heading line says besides its rows; items repeat it, so it is cached."""
    s = strings(lang)
    meta: list[str] = []
    if kind:
        meta.append(s.kind(kind))
    if identifier[1]:
        meta.append(f"{identifier[0]}{s['colon']}{identifier[1]}")
    if actions:
        meta.append(f"{s['actions']}{s['colon']}{s['list_sep'].join(split_values(actions))}")
    if source:
        meta.append(f"{s['source']}{s['colon']}{source}")
    return text_html(" · ".join(meta), lang)


# --- items without findings ----------------------------------------------------------------


def _clean_html(items: Sequence[RequiredItem], several: bool, lang: str) -> str:
    s = strings(lang)
    rows = []
    for i in items:
        where = ""
        if several:
            where = repeated_html(
                f"{s['open_paren']}{_file_name(i.source)}{s['close_paren']}", lang
            )
        rows.append(
            f'<tr><td class="n">{i.row}{where}</td>'
            f'<td class="name">{repeated_html(i.name, lang)}</td>'
            f"<td>{repeated_html(s.kind(i.kind), lang)}</td>"
            f'<td class="mono">{repeated_html(i.identifier, lang)}</td>'
            f"<td>{repeated_html(s['list_sep'].join(i.actions), lang)}</td></tr>\n"
        )
    return "".join(rows)
