"""A school's page: the rectification list (整改清单) first, to be signed; then each item's
findings, the clauses they rest on, unreadable rows, items without findings, APK panels."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache, lru_cache
from html import escape as _esc

from markupsafe import Markup

from policies.model import SEVERITY_RANK, Clause, Finding, VerdictMemo, variant_of
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
from scanner.submission import RequiredItem


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


@dataclass(slots=True)
class _Group:
    """One item the school requires (an app or account, on one or more rows), or the school
    as a whole, with its findings."""

    heading: str
    kind: str
    identifier: str
    whole_school: bool
    source: str
    rows: list[int] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    numbers: dict[int, int] = field(default_factory=dict)
    """List number of each finding, by its index in `findings`."""
    match: Finding | None = None
    """A finding whose evidence says what the item matched in the registry."""
    anchor: str = ""


def _rank(finding: Finding) -> int:
    return -SEVERITY_RANK.get(finding.severity, 0)


def school_page(
    school: SchoolResult,
    lang: str,
    memo: VerdictMemo[str] | None = None,
    match_memo: VerdictMemo[str] | None = None,
) -> SchoolPage:
    """The page of one school. With the memos, what is the same for every finding of one
    verdict (its message and facts, its item's registry match) is built once."""
    s = strings(lang)
    memo = memo if memo is not None else VerdictMemo()
    match_memo = match_memo if match_memo is not None else VerdictMemo()
    sources = file_names([f.source for f in school.findings] + [i.source for i in school.items])
    several = len(sources) > 1
    items_at = {(i.source, i.row): i for i in school.items}
    order = rule_order()

    groups: dict[tuple[object, ...], _Group] = {}
    for finding in school.findings:
        row = finding.row
        item = items_at.get((finding.source, row)) if row is not None else None
        key = (
            finding.source if several else "",
            row is None,
            finding.kind,
            finding.item,
            item.identifier if item is not None else "",
            item.filing_no if item is not None else "",
        )
        group = groups.get(key)
        if group is None:
            group = groups[key] = _Group(
                heading=finding.item or s["whole_school"],
                kind=finding.kind,
                identifier=item.identifier if item is not None else "",
                whole_school=row is None,
                source=finding.source if several else "",
            )
        group.findings.append(finding)
        if row is not None and (not group.rows or group.rows[-1] != row):
            group.rows.append(row)
        if group.match is None and not finding.evidence.keys().isdisjoint(MATCH_KEYS):
            group.match = finding
    ordered = sorted(
        groups.values(), key=lambda g: (not g.whole_school, g.source, min(g.rows, default=0))
    )
    for number, group in enumerate(ordered, 1):
        group.anchor = f"i{number}"

    # The list: most serious first, a rule's findings together, then in item order.
    lines = [
        (_rank(f), order.get(f.rule, len(order)), f.rule, variant_of(f), n, index, f)
        for n, group in enumerate(ordered)
        for index, f in enumerate(group.findings)
    ]
    lines.sort(key=lambda line: line[:6])
    for number, (*_, gi, index, _f) in enumerate(lines, 1):
        ordered[gi].numbers[index] = number
    todo = _todo_html([(ordered[line[4]], line[6]) for line in lines], several, lang)

    details = "".join(_group_html(g, several, items_at, lang, memo, match_memo) for g in ordered)
    cited: set[Clause] = set()
    for rule, variant in {(f.rule, variant_of(f)) for f in school.findings}:
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
        apks=[apk_view(panel, s) for panel in school.apks],
    )


def _file_name(path: str) -> str:
    names = file_names([path])
    return names[0] if names else ""


# --- the rectification list ----------------------------------------------------------------


@lru_cache(maxsize=1 << 12)
def _row_text(row: int, source: str, lang: str) -> str:
    s = strings(lang)
    text = s.row(row)
    if source:
        text += f"{s['open_paren']}{_file_name(source)}{s['close_paren']}"
    return f' <span class="row">{repeated_html(text, lang)}</span>'


@cache
def _problem_cells(rule: str, severity: str, variant: str, lang: str) -> str:
    """问题, 严重程度, 整改要求 and 依据 of a run of list lines; `{span}` is their rowspan."""
    text = rule_text(rule, lang, variant)
    remediation = _esc(text.remediation, quote=False) or "—"
    return (
        f'<td{{span}} class="problem" title="{attr(rule)}">{_esc(text.title, quote=False)}</td>'
        f"<td{{span}}>{severity_badge(severity, lang)}</td>"
        f"<td{{span}}>{remediation}</td>"
        f'<td{{span}} class="cite">{citation_html(text.clauses, lang)}</td>'
    )


def _todo_html(lines: Sequence[tuple[_Group, Finding]], several: bool, lang: str) -> str:
    """One line per finding: 序号, 应用/账号 (linking to its details), and — once for each run
    of lines with the same problem — 问题, 严重程度, 整改要求 and 依据."""
    out = []
    run_key: tuple[str, str, str] | None = None
    run_start = 0
    starts: list[tuple[int, int, str]] = []
    for number, (group, finding) in enumerate(lines, 1):
        key = (finding.rule, finding.severity, variant_of(finding))
        if key != run_key:
            if run_key is not None:
                starts.append((run_start, number - run_start, _problem_cells(*run_key, lang)))
            run_key, run_start = key, number
        where = (
            _row_text(finding.row, finding.source if several else "", lang)
            if finding.row is not None
            else ""
        )
        out.append(
            f'<tr><td class="n">{number}</td><td class="name">'
            f'<a href="#{group.anchor}">{repeated_html(group.heading, lang)}</a>{where}</td>'
        )
    if run_key is not None:
        starts.append((run_start, len(lines) + 1 - run_start, _problem_cells(*run_key, lang)))
    for start, length, cells in starts:
        out[start - 1] += cells.replace("{span}", f' rowspan="{length}"' if length > 1 else "")
    return "</tr>\n".join(out) + ("</tr>\n" if out else "")


# --- each item's findings ------------------------------------------------------------------


@cache
def _finding_head(rule: str, severity: str, lang: str) -> str:
    """The badge and title of a finding, once per rule and severity."""
    title = rule_text(rule, lang).title
    return (
        f"{severity_badge(severity, lang)} "
        f'<span class="title">{_esc(title, quote=False)}</span> <code>{_esc(rule)}</code>'
    )


def _body(finding: Finding, lang: str, memo: VerdictMemo[str]) -> str:
    """The message and facts of a finding: the same for every row of one verdict."""
    found = memo.get(finding)
    if found is None:
        found = memo.put(
            finding,
            f'<p class="message">{text_html(message(finding, lang), lang)}</p>'
            + facts_html(finding_facts(finding, lang), lang),
        )
    return found


def _group_html(
    group: _Group,
    several: bool,
    items_at: Mapping[tuple[str, int], RequiredItem],
    lang: str,
    memo: VerdictMemo[str],
    match_memo: VerdictMemo[str],
) -> str:
    s = strings(lang)
    # Findings that read the same on several rows are shown once, with their rows.
    articles: dict[tuple[str, str, str], tuple[list[int], list[int]]] = {}
    ordered = sorted(
        range(len(group.findings)),
        key=lambda i: (_rank(group.findings[i]), group.numbers[i]),
    )
    for index in ordered:
        finding = group.findings[index]
        key = (finding.rule, finding.severity, _body(finding, lang, memo))
        rows, numbers = articles.setdefault(key, ([], []))
        if finding.row is not None:
            rows.append(finding.row)
        numbers.append(group.numbers[index])

    all_rows = len(group.rows)
    parts = [
        f'<section class="item" id="{group.anchor}" data-rows="{" ".join(map(str, group.rows))}">'
        f"<header><h3>{repeated_html(group.heading, lang)}</h3>"
        f'<p class="meta">{_meta(group, items_at, lang)}</p>'
        f"{_match(group, lang, match_memo)}</header>\n"
    ]
    for (rule, severity, body), (rows, numbers) in articles.items():
        where = ""
        if rows and len(set(rows)) < all_rows:
            where = (
                f'<span class="row">{s["rows_n"].format(rows=compact_numbers(rows, lang))}</span>'
            )
        parts.append(
            f'<article class="finding sev-{attr(severity)}" data-rule="{attr(rule)}" '
            f'data-severity="{attr(severity)}" data-rows="{" ".join(map(str, rows))}">'
            f"<h4>{_finding_head(rule, severity, lang)}"
            f'<span class="no">{s["list_no"]}{compact_numbers(numbers, lang)}</span>{where}</h4>'
            f"{body}</article>\n"
        )
    parts.append("</section>\n")
    return "".join(parts)


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
    items = [
        found
        for row in group.rows
        if (found := items_at.get((group.findings[0].source, row))) is not None
    ]
    actions = {i.actions for i in items}
    ident = None
    if group.match is not None:
        ident = identifier_fact(group.match.evidence, lang)
    return _meta_text(
        lang,
        s["rows_n"].format(rows=compact_numbers(group.rows, lang)) if group.rows else "",
        group.kind,
        (ident.label, ident.value) if ident is not None else (s["identifier"], group.identifier),
        next(iter(actions)) if len(actions) == 1 else (),
        _file_name(group.source) if group.source else "",
    )


@lru_cache(maxsize=1 << 14)
def _meta_text(
    lang: str,
    rows: str,
    kind: str,
    identifier: tuple[str, str],
    actions: tuple[str, ...],
    source: str,
) -> str:
    s = strings(lang)
    meta: list[str] = [rows] if rows else []
    if kind:
        meta.append(s.kind(kind))
    if identifier[1]:
        meta.append(f"{identifier[0]}{s['colon']}{identifier[1]}")
    if actions:
        meta.append(f"{s['actions']}{s['colon']}{s['list_sep'].join(actions)}")
    if source:
        meta.append(f"{s['source']}{s['colon']}{source}")
    return text_html(" · ".join(meta), lang)


# --- items without findings ----------------------------------------------------------------


def _clean_html(items: Sequence[RequiredItem], several: bool, lang: str) -> str:
    s = strings(lang)
    rows = []
    for i in items:
        row = str(i.row)
        if several:
            row += f"{s['open_paren']}{_file_name(i.source)}{s['close_paren']}"
        rows.append(
            f'<tr><td class="n">{repeated_html(row, lang)}</td>'
            f'<td class="name">{repeated_html(i.name, lang)}</td>'
            f"<td>{repeated_html(s.kind(i.kind), lang)}</td>"
            f'<td class="mono">{repeated_html(i.identifier, lang)}</td>'
            f"<td>{repeated_html(s['list_sep'].join(i.actions), lang)}</td></tr>\n"
        )
    return "".join(rows)
