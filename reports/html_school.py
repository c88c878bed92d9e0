"""A school's page: the rectification list (整改清单) first, to be signed; then each item's
findings, the clauses they rest on, unreadable rows, items without findings, APK panels."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache, lru_cache
from html import escape as _esc
from typing import Any

from markupsafe import Markup

from policies.ledger import status_label
from policies.model import SEVERITY_RANK, Clause, Finding, VerdictMemo
from policies.results import SchoolResult
from reports.apk_panel import ApkView, apk_view
from reports.evidence import MATCH_KEYS, finding_facts, identifier_fact
from reports.html_parts import (
    Badge,
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
from reports.text import message, rule_order, rule_text, strings
from reports.times import DEFAULT_ZONE
from scanner.submission import RequiredItem, split_values


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
    todo_html: Markup
    """The rows of the rectification list."""
    details_html: Markup
    """Each item's findings."""
    basis_html: Markup
    """The clauses the page cites, each quoted once."""
    clean_html: Markup
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
    fixed_html: Markup
    """The rows of the items this scan no longer sees (拟销号)."""
    fixed: int
    waived_html: Markup
    """The rows of the findings waivers set apart (已豁免)."""
    waived: int


@dataclass(slots=True)
class _Group:
    """One item the school requires (an app or account, on one or more rows), or the school
    as a whole, with its findings."""

    heading: str
    item: str
    """The item's name as the findings give it ('' for the school as a whole)."""
    kind: str
    identifier: str
    whole_school: bool
    source: str
    rows: list[int] = field(default_factory=list)
    count: int = 0
    """How many findings are about it."""
    numbered: list[tuple[int, Finding]] = field(default_factory=list)
    """The findings with their numbers on the list, in the list's order."""
    match: Finding | None = None
    """A finding whose evidence says what the item matched in the registry."""
    anchor: str = ""
    order: int = 0
    """Its place among the page's items."""
    tally: list[tuple[str, str, int]] = field(default_factory=list)
    """How many findings of each rule and severity are about it."""


_RANK = {severity: -rank for severity, rank in SEVERITY_RANK.items()}
"""Sort key of a severity: the most serious first."""


def school_page(
    school: SchoolResult,
    lang: str,
    memo: VerdictMemo[str] | None = None,
    match_memo: VerdictMemo[str] | None = None,
    zone_name: str = DEFAULT_ZONE,
) -> SchoolPage:
    """The page of one school. With the memos, what is the same for every finding of one
    verdict (its message and facts, its item's registry match) is built once."""
    s = strings(lang)
    memo = memo if memo is not None else VerdictMemo()
    match_memo = match_memo if match_memo is not None else VerdictMemo()
    paths = {f.source for f in school.findings}.union(i.source for i in school.items)
    several = len(paths) > 1
    sources = sorted({name for p in paths if (name := _file_name(p))})
    items_at = {(i.source, i.row): i for i in school.items}

    # Each finding to its item's group; each group's lines of the list with their sort keys.
    # This runs for every finding of a district: names are looked up once, outside the loop.
    whole_school = s["whole_school"]
    order = rule_order()
    last = len(order)
    get_item = items_at.get
    get_order = order.get
    get_rank = _RANK.get
    groups: dict[tuple[object, ...], _Group] = {}
    get_group = groups.get
    lines: list[tuple[int, int, str, str, int, int, _Group, Finding, Any]] = []
    add_line = lines.append
    tags = school.ledger_tags or [None] * len(school.findings)
    for finding, tag in zip(school.findings, tags, strict=True):
        row = finding.row
        source = finding.source if several else ""
        if row is None:
            key: tuple[object, ...] = (source, True, finding.kind, finding.item)
            item = None
        else:
            item = get_item((finding.source, row))
            key = (
                (source, False, finding.kind, finding.item, item.identifier, item.filing_no)
                if item is not None
                else (source, False, finding.kind, finding.item)
            )
        group = get_group(key)
        if group is None:
            group = groups[key] = _Group(
                heading=finding.item or whole_school,
                item=finding.item,
                kind=finding.kind,
                identifier=item.identifier if item is not None else "",
                whole_school=row is None,
                source=source,
            )
        if row is not None and (not group.rows or group.rows[-1] != row):
            group.rows.append(row)
        if group.match is None and not finding.evidence.keys().isdisjoint(MATCH_KEYS):
            group.match = finding
        group.count += 1
        variant = finding.params.get("variant", "")
        rule = finding.rule
        add_line(
            (
                get_rank(finding.severity, 0),
                get_order(rule, last),
                rule,
                variant if type(variant) is str else "",
                0,
                row or 0,
                group,
                finding,
                tag,
            )
        )
    ordered = sorted(
        groups.values(), key=lambda g: (not g.whole_school, g.source, min(g.rows, default=0))
    )
    for number, group in enumerate(ordered, 1):
        group.anchor = f"i{number}"
        group.order = number

    # The list: most serious first, a rule's findings together, then in item order.
    lines.sort(key=lambda line: (*line[:4], line[6].order, line[5]))
    causes = {(line[2], line[3]) for line in lines}
    listed = []
    for number, line in enumerate(lines, 1):
        group, finding = line[6], line[7]
        group.numbered.append((number, finding))
        listed.append((group, finding, line[3], line[8]))
    ledger = school.ledger_counts is not None
    todo = _todo_html(listed, several, lang, ledger)

    details = "".join(_group_html(g, items_at, lang, memo, match_memo) for g in ordered)
    cited: set[Clause] = set()
    for rule, variant in causes:
        cited.update(rule_text(rule, lang, variant).clauses)

    found_rows = {(f.source, f.row) for f in school.findings if f.row is not None}
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
        todo_html=Markup(todo),
        details_html=Markup(details),
        basis_html=basis_html(cited, lang),
        clean_html=Markup(_clean_html(clean, several, lang)),
        clean_items=len(clean),
        problems=[
            ProblemRow("" if p.row is None else str(p.row), p.text(lang), _file_name(p.source))
            for p in school.problems
        ],
        apks=[apk_view(panel, s, zone_name) for panel in school.apks],
        tallies=[(g.item, g.kind, g.tally) for g in ordered if g.item],
        ledger=ledger,
        ledger_line=ledger_line(school.ledger_counts, lang) if ledger else "",
        fixed_html=Markup(_fixed_html(school.fixed, lang)),
        fixed=len(school.fixed),
        waived_html=Markup(_waived_html(school.waived, lang)),
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
    lines: Sequence[tuple[_Group, Finding, str, Any]], several: bool, lang: str, ledger: bool
) -> str:
    """One line per finding: 序号, 应用/账号 (linking to its details) and 行号 (with a ledger,
    the finding's 问题编号 and due date after 序号). A run of lines with the same problem shows
    问题, 严重程度, 整改要求 and 依据 once, and a run of lines about the same item within it
    shows the item once."""
    cells: list[list[str]] = []
    problem: tuple[str, str, str] | None = None
    problem_start = item_start = 0
    item: _Group | None = None
    # On a school's first scan every item is new: saying so on each line says nothing.
    all_new = ledger and all(tag.new for *_rest, tag in lines if tag is not None)
    for index, (group, finding, variant, tag) in enumerate(lines):
        key = (finding.rule, finding.severity, variant)
        at = finding.row
        number = f"<tr><td>{index + 1}</td>"
        if ledger:
            number += _tag_cell(tag, lang, all_new)
        row = [
            number,
            "",
            f'<td class="n">{at}</td>'
            if at is not None and not several
            else _row_cell(at, finding.source, lang),
            "",
        ]
        if key != problem:
            if item is not None:
                cells[item_start][1] = _item_cell(item, index - item_start, lang)
            if problem is not None:
                cells[problem_start][3] = _problem_cells(*problem, lang).replace(
                    "{span}", _span(index - problem_start)
                )
            problem, problem_start = key, index
            item = None
        if group is not item:
            if item is not None:
                cells[item_start][1] = _item_cell(item, index - item_start, lang)
            item, item_start = group, index
        cells.append(row)
    if problem is not None:
        cells[problem_start][3] = _problem_cells(*problem, lang).replace(
            "{span}", _span(len(lines) - problem_start)
        )
    if item is not None:
        cells[item_start][1] = _item_cell(item, len(lines) - item_start, lang)
    return "".join(f"{''.join(row)}</tr>\n" for row in cells)


def _item_cell(group: _Group, length: int, lang: str) -> str:
    return (
        f'<td class="item"{_span(length)}><a href="#{group.anchor}">'
        f"{repeated_html(group.heading, lang)}</a></td>"
    )


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


def _body(finding: Finding, lang: str, memo: VerdictMemo[str]) -> str:
    """The message and facts of a finding: the same for every row of one verdict."""
    found = memo.get(finding)
    if found is None:
        found = memo.put(
            finding,
            f"<p>{text_html(message(finding, lang), lang)}</p>"
            + facts_html(finding_facts(finding, lang), lang),
        )
    return found


def _group_html(
    group: _Group,
    items_at: Mapping[tuple[str, int], RequiredItem],
    lang: str,
    memo: VerdictMemo[str],
    match_memo: VerdictMemo[str],
) -> str:
    s = strings(lang)
    # Findings that read the same on several rows are shown once, with their rows.
    articles: dict[tuple[str, str, str], tuple[list[int], list[int]]] = {}
    for number, finding in group.numbered:
        key = (finding.rule, finding.severity, _body(finding, lang, memo))
        found = articles.get(key)
        if found is None:
            found = articles[key] = ([], [])
        if finding.row is not None:
            found[0].append(finding.row)
        found[1].append(number)

    tally: dict[tuple[str, str], int] = {}
    for (rule, severity, _body_html), (_rows, numbers) in articles.items():
        tally[(rule, severity)] = tally.get((rule, severity), 0) + len(numbers)
    group.tally = [(rule, severity, count) for (rule, severity), count in tally.items()]

    all_rows = len(group.rows)
    meta = _meta(group, items_at, lang)
    if meta:
        meta = f'<p class="meta">{meta}</p>'
    parts = [
        f'<section class="item" id="{group.anchor}" data-rows="{" ".join(map(str, group.rows))}">'
        f"<header><h3>{repeated_html(group.heading, lang)}</h3>{meta}"
        f"{_match(group, lang, match_memo)}</header>\n"
    ]
    no, rows_n, sep = s["list_no"], s["rows_n"], s["list_sep"]
    for (rule, severity, body), (rows, numbers) in articles.items():
        listed = numbers[0] if len(numbers) == 1 else compact_numbers(numbers, lang)
        where = ""
        if rows and len(rows) < all_rows and len(set(rows)) < all_rows:
            where = f" · {rows_n.format(rows=sep.join(map(str, rows)))}"
        parts.append(
            f"{_article_open(rule, severity, lang)}<small>{no}{listed}{where}</small></h4>"
            f"{body}</article>\n"
        )
    parts.append("</section>\n")
    return "".join(parts)


@cache
def _article_open(rule: str, severity: str, lang: str) -> str:
    """A finding's opening tag and the start of its heading, once per rule and severity."""
    sev = attr(severity)
    return (
        f'<article class="finding sev-{sev}" data-rule="{attr(rule)}">'
        f"<h4>{_finding_head(rule, severity, lang)}"
    )


def _match(group: _Group, lang: str, memo: VerdictMemo[str]) -> str:
    if group.match is None:
        return ""
    found = memo.get(group.match)
    if found is None:
        found = memo.put(group.match, match_html(group.match.evidence, lang))
    return found


def _meta(group: _Group, items_at: Mapping[tuple[str, int], RequiredItem], lang: str) -> str:
    """第6、9行 · APP · 包名：com.example · 要求：下载安装、注册 — the item as the school wrote it."""
    s = strings(lang)
    source = group.numbered[0][1].source
    actions = {found.action_text for row in group.rows if (found := items_at.get((source, row)))}
    ident = None
    if group.match is not None:
        ident = identifier_fact(group.match.evidence, lang)
    tail = _meta_tail(
        lang,
        group.kind,
        (ident.label, ident.value) if ident is not None else (s["identifier"], group.identifier),
        next(iter(actions)) if len(actions) == 1 else "",
        _file_name(group.source) if group.source else "",
    )
    if not group.rows:
        return tail
    rows = s["rows_n"].format(rows=s["list_sep"].join(map(str, group.rows)))
    return f"{rows} · {tail}" if tail else rows


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
