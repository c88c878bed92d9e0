"""The HTML report: a district index and one self-contained page per school."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache, lru_cache
from html import escape as _esc
from importlib import resources
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, Template, pass_context, select_autoescape
from jinja2.runtime import Context
from markupsafe import Markup

from policies.model import SEVERITIES, SEVERITY_RANK, Finding, VerdictMemo, catalogue, variant_of
from policies.results import ApkPanel, ScanResult, SchoolResult
from reports.interface import ReportFormat, SchoolWriter
from reports.json_format import compact_json
from reports.names import SCHOOLS_DIR, page_names
from reports.text import Strings, check_lang, message, rule_order, rule_text, strings
from scanner.apk.problems import describe_verdict
from scanner.safetext import REPLACE_ERRORS, clip, shown
from scanner.submission import RequiredItem, word_key

TOP_ITEMS = 25
"""How many of the most widely required offending apps/accounts the index lists."""

_EVIDENCE_DEPTH = 3
"""Nested evidence deeper than this is shown as compact JSON rather than nested lists."""

DISPLAY_LIMIT = 1000
"""Longest text a page shows in one place; the data files keep every cell whole."""


def display_text(text: str, lang: str) -> str:
    """Text from the field as a page shows it: invisible and control characters made
    visible (see `scanner.safetext`), and cut after `DISPLAY_LIMIT` characters with a mark."""
    return shown(clip(text, DISPLAY_LIMIT, strings(lang)["cut_mark"]))


def _text_html(text: str, lang: str) -> str:
    return _esc(display_text(text, lang))


@lru_cache(maxsize=1 << 16)
def _repeated_html(text: str, lang: str) -> str:
    # Names, kinds, identifiers and requirements repeat down a district's pages.
    return _esc(display_text(text, lang))


@pass_context
def _finalize(context: Context, value: Any) -> Any:
    """Every value a template prints that is plain text passes through `display_text`;
    markup built (and escaped) in Python, numbers and the like pass unchanged."""
    if type(value) is str:
        return display_text(value, context["lang"])
    return value


@cache
def environment() -> Environment:
    return Environment(
        loader=PackageLoader("reports", "templates"),
        autoescape=select_autoescape(enabled_extensions=("html", "j2"), default=True),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        finalize=_finalize,
    )


@cache
def _template(name: str) -> Template:
    return environment().get_template(name)


@cache
def _asset(name: str) -> Markup:
    text = resources.files("reports").joinpath(f"static/{name}").read_text("utf-8")
    # Our own files, inlined verbatim; a closing tag inside would end the element early.
    if "</" in text:
        raise ValueError(f"static/{name} must not contain '</'")
    return Markup(text)


@cache
def _rule_block(rule_id: str, lang: str, variant: str = "") -> Markup:
    """The basis and remediation of a rule (for one of its causes), rendered once each."""
    rendered = _template("_rule.html.j2").render(
        t=strings(lang).words, lang=lang, rule=rule_text(rule_id, lang, variant)
    )
    return Markup(rendered)


# --- evidence ---------------------------------------------------------------------------


def _scalar(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


_CONTAINERS = (Mapping, list, tuple, set, frozenset)
_PLAIN = (str, int, float)


def _value_html(value: Any, depth: int, lang: str) -> str:
    """Escaped HTML for one evidence value; plain strings, since this runs per finding."""
    kind = type(value)
    if kind is str:
        return _text_html(value, lang) or "—"
    if kind in _PLAIN:
        return str(value)
    if isinstance(value, Mapping):
        if not value:
            return "—"
        if depth >= _EVIDENCE_DEPTH:
            return _text_html(compact_json(value), lang)
        return _evidence_dl(value, depth + 1, lang)
    if isinstance(value, list | tuple | set | frozenset):
        values = sorted(value, key=str) if isinstance(value, set | frozenset) else list(value)
        if not values:
            return "—"
        if not any(isinstance(v, _CONTAINERS) for v in values):
            return _text_html("; ".join(_scalar(v) for v in values), lang)
        if depth >= _EVIDENCE_DEPTH:
            return _text_html(compact_json(values), lang)
        inner = "".join(f"<li>{_value_html(v, depth + 1, lang)}</li>" for v in values)
        return f'<ul class="values">{inner}</ul>'
    return _text_html(_scalar(value), lang)


@lru_cache(maxsize=4096)
def _key_html(key: str) -> str:
    # Evidence keys repeat across findings (package, name, category …): escape each once.
    return _esc(shown(key))


def _evidence_dl(evidence: Mapping[str, Any], depth: int, lang: str) -> str:
    rows = [
        f"<dt>{_key_html(str(key))}</dt><dd>"
        f"{(_text_html(value, lang) or '—') if type(value) is str else _value_html(value, depth, lang)}</dd>"
        for key, value in evidence.items()
    ]
    return f'<dl class="evidence">{"".join(rows)}</dl>'


def evidence_html(evidence: Mapping[str, Any], lang: str = "zh") -> Markup:
    """A finding's evidence as a definition list: what was matched against what.

    Every key and value is escaped here (and shown as `display_text` shows it); the
    result is trusted markup for the template.
    """
    if not evidence:
        return Markup("")
    return Markup(_evidence_dl(evidence, 0, lang))


# --- what the templates show --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Badge:
    severity: str
    count: int
    text: str
    css: str


def badges(counts: Mapping[str, int], s: Strings) -> list[Badge]:
    """One badge per severity, its words always in the text ("高 3"), never colour alone."""
    return [
        Badge(
            sev,
            counts.get(sev, 0),
            f"{s.severity(sev)} {counts.get(sev, 0)}",
            f"sev-{sev}" if counts.get(sev, 0) else "zero",
        )
        for sev in SEVERITIES
    ]


@dataclass(frozen=True, slots=True)
class SeverityNote:
    severity: str
    text: str


def severity_notes(counts: Mapping[str, int], s: Strings) -> list[SeverityNote]:
    """What a severity asks of the reader (需人工研判: judge the case), shown beside the counts
    when there are findings of it; severities that speak for themselves have no note."""
    return [
        SeverityNote(sev, s.words[f"severity_note_{sev}"])
        for sev in SEVERITIES
        if counts.get(sev, 0) and f"severity_note_{sev}" in s.words
    ]


@dataclass(slots=True)
class GroupView:
    """The findings about one required item (one row), or about the school as a whole."""

    anchor: str
    row_attr: str
    heading: str
    meta: str
    findings: list[str] = field(default_factory=list)
    """Each finding's escaped HTML (see `finding_html`)."""


# The one fragment built in Python rather than in a template: it is repeated for every
# finding (a million in a large district), where Jinja's per-value escaping would dominate
# the run time. Every value put into it is escaped or comes from a cached, escaped part.
_FINDING_OPEN = '<article class="finding sev-{sev}" data-rule="{rule}" data-row="'
_FINDING_REST = (
    '" data-severity="{sev}">\n'
    "<h4>{head}</h4>\n"
    '<p class="message">{message}</p>\n'
    "{evidence}{basis}</article>\n"
)


@cache
def _finding_head(rule_id: str, severity: str, lang: str) -> str:
    """The badge, rule id and title line of a finding, escaped, once per rule and severity."""
    label = strings(lang).severity(severity)
    title = rule_text(rule_id, lang).title
    return (
        f'<span class="badge small sev-{_esc(severity)}">{_esc(label)}</span> '
        f'<code class="rule">{_esc(rule_id)}</code> <span class="title">{_esc(title)}</span>'
    )


def finding_html(
    finding: Finding,
    row_attr: str,
    lang: str,
    memo: VerdictMemo[tuple[str, str]] | None = None,
) -> str:
    """One finding as an `<article>`: severity, rule, message, evidence, basis, remediation.

    With `memo`, the parts that do not depend on the row are built once per verdict.
    """
    parts = memo.get(finding) if memo is not None else None
    if parts is None:
        severity = _key_html(finding.severity)
        parts = (
            _FINDING_OPEN.format(sev=severity, rule=_key_html(finding.rule)),
            _FINDING_REST.format(
                sev=severity,
                head=_finding_head(finding.rule, finding.severity, lang),
                message=_text_html(message(finding, lang), lang),
                evidence=evidence_html(finding.evidence, lang),
                basis=_rule_block(finding.rule, lang, variant_of(finding)),
            ),
        )
        if memo is not None:
            memo.put(finding, parts)
    return parts[0] + row_attr + parts[1]


@dataclass(frozen=True, slots=True)
class ItemRow:
    row: int
    name: str
    kind: str
    identifier: str
    actions: str
    found: str
    anchor: str


@dataclass(frozen=True, slots=True)
class ProblemRow:
    row: str
    message: str
    source: str


@dataclass(frozen=True, slots=True)
class ApkView:
    row: int
    heading: str
    source: str
    failure: str
    facts: list[tuple[str, str]]
    problems: list[str]
    signers: list[dict[str, str]]
    sdks: list[dict[str, str]]
    has_sdks: bool
    permissions: list[str]
    has_permissions: bool


@dataclass(frozen=True, slots=True)
class SchoolPage:
    school: str
    school_code: str
    other_names: list[str]
    """Other spellings of the school's name in rows with its code."""
    sources: str
    badges: list[Badge]
    notes: list[SeverityNote]
    items_checked: int
    problem_count: int
    groups: list[GroupView]
    items: list[ItemRow]
    problems: list[ProblemRow]
    apks: list[ApkView]
    groups_html: Markup
    """The findings section's content, escaped (see `_groups_html`)."""
    items_html: Markup
    """The rows of the table of checked items, escaped."""


def _severity_rank(finding: Finding) -> int:
    return -SEVERITY_RANK.get(finding.severity, 0)


def school_page(
    school: SchoolResult, lang: str, memo: VerdictMemo[tuple[str, str]] | None = None
) -> SchoolPage:
    """Everything a school's page shows, computed in Python so the template stays a layout."""
    s = strings(lang)
    sources = sorted(
        {f.source for f in school.findings if f.source} | {i.source for i in school.items}
    )
    several_sources = len(sources) > 1
    source_index = {name: n for n, name in enumerate(sources)}
    items_at = {(i.source, i.row): i for i in school.items}

    groups: dict[tuple[str, int | None, str, str], GroupView] = {}
    for finding in sorted(school.findings, key=_severity_rank):
        key = (finding.source, finding.row, finding.item, finding.kind)
        group = groups.get(key)
        if group is None:
            group = _group(finding, len(groups), items_at, several_sources, source_index, s)
            groups[key] = group
        group.findings.append(finding_html(finding, group.row_attr, lang, memo))
    ordered = sorted(
        groups.items(),
        key=lambda kv: (kv[0][1] is not None, kv[0][0], kv[0][1] or 0, kv[0][2]),
    )

    # Which rows have findings, so the list of checked items can point at them.
    anchor_at: dict[tuple[str, int], str] = {}
    found_at: Counter[tuple[str, int]] = Counter()
    for (source, row, _item, _kind), group in ordered:
        if row is not None:
            found_at[(source, row)] += len(group.findings)
            anchor_at.setdefault((source, row), group.anchor)
    item_rows = [_item_row(i, found_at, anchor_at, s) for i in school.items]

    problems = [
        ProblemRow("" if p.row is None else str(p.row), p.text(lang), p.source)
        for p in school.problems
    ]
    group_list = [group for _key, group in ordered]
    counts = school.counts()
    return SchoolPage(
        groups_html=_groups_html(group_list, lang),
        items_html=_items_html(item_rows, lang),
        school=school.school,
        school_code=school.school_code,
        other_names=[name for name in school.names if name != school.school],
        sources=s["list_sep"].join(sources),
        badges=badges(counts, s),
        notes=severity_notes(counts, s),
        items_checked=len(school.items),
        problem_count=len(school.problems),
        groups=group_list,
        items=item_rows,
        problems=problems,
        apks=[apk_view(panel, s) for panel in school.apks],
    )


def _groups_html(groups: Sequence[GroupView], lang: str) -> Markup:
    """The findings section, built in Python: it holds most of a page's markup, and a
    template escaping every value costs more than the rest of the report together.
    Anchors, row numbers and counts are made here from digits and are not escaped."""
    return Markup(
        "".join(
            f'<section class="item" id="{g.anchor}" data-row="{g.row_attr}">\n'
            f"<header><h3>{_repeated_html(g.heading, lang)}</h3>\n"
            f'<div class="meta">{_text_html(g.meta, lang)}</div></header>\n'
            f"{''.join(g.findings)}\n</section>\n"
            for g in groups
        )
    )


def _items_html(items: Sequence[ItemRow], lang: str) -> Markup:
    rows = []
    for i in items:
        name = _repeated_html(i.name, lang)
        if i.anchor:
            name = f'<a href="#{i.anchor}">{name}</a>'
        rows.append(
            f'<tr><td class="num">{i.row}</td><td class="name">{name}</td>'
            f"<td>{_repeated_html(i.kind, lang)}</td>"
            f'<td class="mono">{_repeated_html(i.identifier, lang)}</td>'
            f"<td>{_repeated_html(i.actions, lang)}</td><td>{i.found}</td></tr>\n"
        )
    return Markup("".join(rows))


def _group(
    finding: Finding,
    number: int,
    items_at: Mapping[tuple[str, int], RequiredItem],
    several_sources: bool,
    source_index: Mapping[str, int],
    s: Strings,
) -> GroupView:
    row = finding.row
    item = items_at.get((finding.source, row)) if row is not None else None
    tail = _meta_tail(
        s.lang,
        finding.kind,
        item.identifier if item is not None else "",
        item.actions if item is not None else (),
        finding.source if several_sources else "",
    )
    if row is None:
        anchor = f"g{number}"
        heading = finding.item or s["whole_school"]
        meta = tail
    else:
        anchor = f"r{source_index.get(finding.source, 0)}-{row}"
        heading = finding.item or s.row(row)
        meta = f"{s.row(row)} · {tail}" if tail else s.row(row)
    return GroupView(
        anchor=anchor,
        row_attr="" if row is None else str(row),
        heading=heading,
        meta=meta,
    )


@lru_cache(maxsize=1 << 14)
def _meta_tail(lang: str, kind: str, identifier: str, actions: tuple[str, ...], source: str) -> str:
    """What a row's heading line says besides its number; rows repeat it, so it is cached."""
    s = strings(lang)
    meta: list[str] = []
    if kind:
        meta.append(f"{s['kind']}{s['colon']}{s.kind(kind)}")
    if identifier:
        meta.append(f"{s['identifier']}{s['colon']}{identifier}")
    if actions:
        meta.append(f"{s['actions']}{s['colon']}{s['list_sep'].join(actions)}")
    if source:
        meta.append(f"{s['source']}{s['colon']}{source}")
    return " · ".join(meta)


def _item_row(
    item: RequiredItem,
    found_at: Mapping[tuple[str, int], int],
    anchor_at: Mapping[tuple[str, int], str],
    s: Strings,
) -> ItemRow:
    key = (item.source, item.row)
    found = found_at.get(key, 0)
    return ItemRow(
        row=item.row,
        name=item.name,
        kind=s.kind(item.kind),
        identifier=item.identifier,
        actions=s["list_sep"].join(item.actions),
        found=str(found) if found else "—",
        anchor=anchor_at.get(key, ""),
    )


# --- APK panels ---------------------------------------------------------------------------


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        return ", ".join(_text(v) for v in value)
    if isinstance(value, Mapping):
        return compact_json(value)
    return str(value)


def _size(value: Any, s: Strings) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,} {s['bytes']} ({value / 1_048_576:.1f} MB)"
    return _text(value)


def _strings_of(value: Any) -> list[str]:
    if isinstance(value, list | tuple):
        return [_text(v) for v in value]
    if value is None or value == "":
        return []
    return [_text(value)]


def apk_view(panel: ApkPanel, s: Strings) -> ApkView:
    """An APK panel, reading the facts defensively: they come from a cache of any age."""
    facts: Mapping[str, Any] = panel.facts if isinstance(panel.facts, Mapping) else {}
    rows: list[tuple[str, str]] = []

    def add(label: str, key: str, show: Any = None) -> None:
        value = facts.get(key)
        if value is None or value == "" or value == []:
            return
        rows.append((label, show(value) if show else _text(value)))

    add(s["label"], "label")
    add(s["package"], "package")
    add(s["version"], "version_name")
    add(s["version_code"], "version_code")
    add(s["min_sdk"], "min_sdk")
    add(s["target_sdk"], "target_sdk")
    add(s["size"], "size", lambda v: _size(v, s))
    add("SHA-256", "sha256")
    add(s["signing_schemes"], "signing_schemes")
    if isinstance(facts.get("signature_verified"), bool):
        rows.append((s["signature"], describe_verdict(facts["signature_verified"],
                     _text(facts.get("signature_reason")), _text(facts.get("signature_detail")),
                     s.lang)))  # fmt: skip
    if "signing_schemes" not in facts:
        add(s["signing_schemes"], "schemes")

    signers = []
    for signer in _list(facts.get("signers")):
        if isinstance(signer, Mapping):
            valid = " – ".join(
                x for x in (_text(signer.get("not_before")), _text(signer.get("not_after"))) if x
            )
            signers.append(
                {
                    "sha256": _text(signer.get("sha256")),
                    "subject": _text(signer.get("subject")),
                    "issuer": _text(signer.get("issuer")),
                    "valid": valid,
                    "key": _text(signer.get("key")),
                    "schemes": _text(signer.get("schemes")),
                }
            )
        else:
            signers.append({"sha256": _text(signer)})

    sdks = []
    for sdk in _list(facts.get("sdks")):
        if isinstance(sdk, Mapping):
            sdks.append(
                {
                    "name": _text(sdk.get("name")),
                    "vendor": _text(sdk.get("vendor")),
                    "category": _text(sdk.get("category")),
                    "prefix": _text(sdk.get("prefix")),
                    "example": _text(sdk.get("example")),
                    "where": _text(sdk.get("where")),
                }
            )
        else:
            sdks.append({"name": _text(sdk)})

    heading = s.row(panel.row) + " · " + (panel.item or _text(facts.get("label")))
    return ApkView(
        row=panel.row,
        heading=heading,
        source=panel.source,
        failure=panel.failure or ("" if panel.facts is not None else s["apk_failure"]),
        facts=rows,
        problems=_strings_of(facts.get("problems")),
        signers=signers,
        sdks=sdks,
        has_sdks="sdks" in facts,
        permissions=sorted(_strings_of(facts.get("permissions"))),
        has_permissions="permissions" in facts,
    )


def _list(value: Any) -> list[Any]:
    if isinstance(value, list | tuple):
        return list(value)
    return [] if value is None else [value]


# --- the index ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IndexRow:
    school: str
    code: str
    href: str
    high: int
    medium: int
    review: int
    info: int
    items: int
    problems: int
    search: str


@dataclass(frozen=True, slots=True)
class TopItem:
    name: str
    kind: str
    schools: int
    findings: int
    worst: str
    worst_label: str
    rules: list[str]


class TopItems:
    """The offending apps/accounts required by the most schools, counted school by school.

    Findings are grouped by the item's normalised name and kind, and the schools counted
    once each; findings about a school as a whole or about an unreadable row do not count.
    """

    def __init__(self) -> None:
        self.schools: dict[tuple[str, str], set[int]] = {}
        self.findings: Counter[tuple[str, str]] = Counter()
        self.spellings: dict[tuple[str, str], Counter[str]] = {}
        self.rules: dict[tuple[str, str], set[str]] = {}
        self.worst: dict[tuple[str, str], str] = {}

    def add(self, number: int, school: SchoolResult) -> None:
        for finding in school.findings:
            if not finding.item or rule_text(finding.rule, "en").scope in ("school", "input"):
                continue
            key = (word_key(finding.item), finding.kind)
            self.schools.setdefault(key, set()).add(number)
            self.findings[key] += 1
            self.spellings.setdefault(key, Counter())[finding.item] += 1
            self.rules.setdefault(key, set()).add(finding.rule)
            worst = self.worst.get(key, "")
            if SEVERITY_RANK.get(finding.severity, 0) > SEVERITY_RANK.get(worst, 0):
                self.worst[key] = finding.severity

    def ranked(self, lang: str, limit: int = TOP_ITEMS) -> list[TopItem]:
        s = strings(lang)
        order = rule_order()
        schools, findings = self.schools, self.findings
        ranked = sorted(schools, key=lambda k: (-len(schools[k]), -findings[k], k))[:limit]
        return [
            TopItem(
                name=self.spellings[key].most_common(1)[0][0],
                kind=s.kind(key[1]),
                schools=len(schools[key]),
                findings=findings[key],
                worst=self.worst.get(key, "info"),
                worst_label=s.severity(self.worst.get(key, "info")),
                rules=sorted(self.rules[key], key=lambda r: (order.get(r, len(order)), r)),
            )
            for key in ranked
        ]


def top_items(result: ScanResult, lang: str, limit: int = TOP_ITEMS) -> list[TopItem]:
    """`TopItems` over every school of `result`."""
    top = TopItems()
    for number, school in enumerate(result.schools):
        top.add(number, school)
    return top.ranked(lang, limit)


@dataclass(frozen=True, slots=True)
class Totals:
    badges: list[Badge]
    notes: list[SeverityNote]
    schools: int
    schools_with_high: int
    items: int
    findings: int
    problems: int


@dataclass(frozen=True, slots=True)
class Provenance:
    version: str
    generated_at: str
    run_id: int | None
    registry_source: str
    registry_counts: str
    registry_digest: str
    catalogue_digest: str
    notice: str


def provenance(result: ScanResult, s: Strings) -> Provenance:
    registry = result.registry
    counts = f"{s['registry_entries']} {registry.entries} · {s['registry_adoptions']} {registry.adoptions}"
    notice = catalogue().notice
    return Provenance(
        version=result.tool_version,
        generated_at=result.generated_at.isoformat(sep=" ", timespec="seconds"),
        run_id=result.run_id,
        registry_source=registry.source,
        registry_counts=counts,
        registry_digest=registry.digest,
        catalogue_digest=result.catalogue_digest,
        notice=f"{notice.get('reference', '')} 《{notice.get('title', '')}》",
    )


def index_rows(result: ScanResult, names: Sequence[str]) -> list[IndexRow]:
    rows = []
    for school, name in zip(result.summaries(), names, strict=True):
        counts = school.counts
        rows.append(
            IndexRow(
                school=school.school,
                code=school.school_code,
                href=f"{SCHOOLS_DIR}/{name}",
                high=counts["high"],
                medium=counts["medium"],
                review=counts["review"],
                info=counts["info"],
                items=school.items,
                problems=school.problems,
                search=" ".join([*school.names, school.school_code]).lower(),
            )
        )
    return rows


def _write(path: Path, text: str) -> None:
    with path.open("w", encoding="utf-8", errors=REPLACE_ERRORS, newline="\n") as handle:
        handle.write(text)


class HtmlFormat(ReportFormat):
    """`index.html` (district summary and school table) and `schools/<name>.html`."""

    name = "html"

    def open(self, result: ScanResult, out_dir: Path, lang: str) -> SchoolWriter:
        check_lang(lang)
        return _HtmlWriter(result, out_dir, lang)


class _HtmlWriter(SchoolWriter):
    """School pages as the schools come; the index, which needs them all, at the end."""

    def __init__(self, result: ScanResult, out_dir: Path, lang: str) -> None:
        self.result = result
        self.lang = lang
        self.s = strings(lang)
        self.meta = provenance(result, self.s)
        self.css = _asset("report.css")
        self.names = page_names(result.summaries())
        self.pages_dir = out_dir / SCHOOLS_DIR
        self.pages_dir.mkdir(exist_ok=True)
        self.index = out_dir / "index.html"
        self.written = [self.index]
        self.template = _template("school.html.j2")
        self.memo: VerdictMemo[tuple[str, str]] = VerdictMemo()
        self.top = TopItems()
        self.findings = 0

    def add(self, school: SchoolResult) -> None:
        number = len(self.written) - 1
        path = self.pages_dir / self.names[number]
        page = school_page(school, self.lang, self.memo)
        _write(
            path,
            self.template.render(
                t=self.s.words,
                lang=self.lang,
                meta=self.meta,
                css=self.css,
                page=page,
                index_href="../index.html",
            ),
        )
        self.written.append(path)
        self.top.add(number, school)
        self.findings += len(school.findings)

    def close(self) -> list[Path]:
        result, s, lang = self.result, self.s, self.lang
        rows = index_rows(result, self.names)
        counts = result.counts()
        totals = Totals(
            badges=badges(counts, s),
            notes=severity_notes(counts, s),
            schools=len(rows),
            schools_with_high=sum(1 for r in rows if r.high),
            items=sum(r.items for r in rows),
            findings=self.findings,
            problems=sum(r.problems for r in rows) + len(result.file_problems),
        )
        file_problems = [
            ProblemRow("" if p.row is None else str(p.row), p.text(lang), p.source)
            for p in result.file_problems
        ]
        _write(
            self.index,
            _template("index.html.j2").render(
                t=s.words,
                lang=lang,
                meta=self.meta,
                css=self.css,
                js=_asset("index.js"),
                totals=totals,
                inputs=list(result.inputs),
                file_problems=file_problems,
                rows=rows,
                shown_all=s["shown_of"].format(shown=len(rows), total=len(rows)),
                top=self.top.ranked(lang),
            ),
        )
        return self.written
