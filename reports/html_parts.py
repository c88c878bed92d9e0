"""Pieces shared by the HTML pages: templates, assets, escaping, badges, citations, metadata.

The large parts of a page (the rectification list, the findings, the checked items) are
built in Python from these pieces: they repeat for every finding of a district, where a
template escaping value by value would cost more than the rest of the report.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from html import escape as _esc
from importlib import resources
from pathlib import PurePath
from typing import Any

from jinja2 import (
    BaseLoader,
    Environment,
    PackageLoader,
    Template,
    pass_context,
    select_autoescape,
)
from jinja2.runtime import Context
from markupsafe import Markup, escape

from policies.model import SEVERITIES, Clause, catalogue
from policies.results import ScanResult
from reports import evidence
from reports.evidence import Fact
from reports.text import Strings, strings
from reports.times import shown as shown_time
from scanner.safetext import clip, shown

DISPLAY_LIMIT = 1000
"""Longest text a page shows in one place; the data files keep every cell whole."""


def display_text(text: str, lang: str) -> str:
    """Text from the field as a page shows it: invisible and control characters made
    visible (see `scanner.safetext`), and cut after `DISPLAY_LIMIT` characters with a mark."""
    return shown(clip(text, DISPLAY_LIMIT, strings(lang)["cut_mark"]))


def text_html(text: str, lang: str) -> str:
    """`text` escaped for a page, as `display_text` shows it."""
    return _esc(display_text(text, lang), quote=False)


@lru_cache(maxsize=1 << 16)
def repeated_html(text: str, lang: str) -> str:
    """`text_html` of text that repeats down a district's pages (names, kinds, labels)."""
    return _esc(display_text(text, lang), quote=False)


@lru_cache(maxsize=1 << 12)
def attr(text: str) -> str:
    """A value for an attribute in double quotes."""
    return _esc(shown(text), quote=True)


@pass_context
def _finalize(context: Context, value: Any) -> Any:
    """Every value a template prints that is plain text passes through `display_text`;
    markup built (and escaped) in Python, numbers and the like pass unchanged."""
    if type(value) is str:
        return display_text(value, context["lang"])
    return value


@cache
def _templates() -> PackageLoader:
    return PackageLoader("reports", "templates")


@cache
def environment() -> Environment:
    return Environment(
        loader=_templates(),
        autoescape=select_autoescape(enabled_extensions=("html", "j2"), default=True),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        finalize=_finalize,
        # The templates are package data, unchanged while the program runs: a page's
        # `extends` need not look at the layout's file again for each of a district's pages.
        auto_reload=False,
    )


class Words(dict[str, Markup]):
    """The interface words as a template reads them: a dict (`t[key]`) whose words are its
    attributes too (`t.key`). Jinja reads `t.key` as an attribute first; of a plain dict,
    that fails (an exception caught) for each of the seventy words a page prints."""

    def __init__(self, words: Mapping[str, Markup]) -> None:
        super().__init__(words)
        self.__dict__.update(words)


@dataclass(frozen=True, slots=True)
class Html:
    """A long part of a page, escaped for HTML when it was built, and printed as it is.

    A page prints it inside `{% autoescape false %}`, where the template takes its `str`:
    the text itself. A `Markup` (a str subclass) would be copied when it is made and again
    when the template escapes it, hundreds of kilobytes for each page. Elsewhere it is
    printed as markup too (`__html__`)."""

    text: str

    def __str__(self) -> str:
        return self.text

    def __html__(self) -> str:
        return self.text

    def __bool__(self) -> bool:
        return bool(self.text)


@cache
def template(name: str) -> Template:
    return environment().get_template(name)


@cache
def page_words(lang: str) -> Words:
    """The interface words as a page prints them, made once: a template passes plain text
    through `display_text` and escapes it every time it prints it, seventy times a page."""
    return Words({k: escape(display_text(v, lang)) for k, v in strings(lang).words.items()})


_WORD = re.compile(r"\{\{ *t\.([A-Za-z_][A-Za-z0-9_]*) *\}\}")
"""A template printing a word as it is: `{{ t.key }}`."""


class _WordsLoader(BaseLoader):
    """The templates with each word they print as it is (`{{ t.key }}`) written in: the
    same text on every page of a language, which a template would otherwise look up,
    finalise and escape anew for each page."""

    def __init__(self, loader: BaseLoader, words: Mapping[str, Markup]) -> None:
        self.loader = loader
        self.words = words

    def get_source(
        self, environment: Environment, template: str
    ) -> tuple[str, str | None, Callable[[], bool] | None]:
        source, filename, uptodate = self.loader.get_source(environment, template)
        return _WORD.sub(self._word, source), filename, uptodate

    def _word(self, found: re.Match[str]) -> str:
        word = self.words.get(found.group(1))
        # Left to the template: an unknown word, and one that would read as template syntax
        # or as blank space a block tag strips.
        if word is None or not word.strip() or any(m in word for m in ("{{", "{%", "{#")):
            return found.group(0)
        return str(word)


@cache
def words_template(name: str, lang: str) -> Template:
    """Template `name` (and the templates it extends) with the words of `lang` written in;
    render it with `t=page_words(lang)`, as the words it does not write in read."""
    # A cache of its own: the base environment's templates are the plain ones.
    words = environment().overlay(
        loader=_WordsLoader(_templates(), page_words(lang)), cache_size=50
    )
    return words.get_template(name)


_CSS_COMMENT = re.compile(r"/\*.*?\*/", re.DOTALL)


@cache
def asset(name: str) -> Markup:
    """One of our static files, inlined; stylesheets without comments and indentation."""
    text = resources.files("reports").joinpath(f"static/{name}").read_text("utf-8")
    # Our own files, inlined verbatim; a closing tag inside would end the element early.
    if "</" in text:
        raise ValueError(f"static/{name} must not contain '</'")
    if name.endswith(".css"):
        text = _CSS_COMMENT.sub("", text)
        text = "\n".join(line.strip() for line in text.splitlines() if line.strip())
    return Markup(text)


@cache
def stylesheet(page: str) -> Markup:
    """The styles of a page: those every page shares, then its own (school or index)."""
    return asset("report.css") + Markup("\n") + asset(f"{page}.css")


# --- severities ------------------------------------------------------------------------------


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


@cache
def severity_badge(severity: str, lang: str) -> str:
    """A small badge with the severity in words."""
    return (
        f'<span class="badge small sev-{attr(severity)}">'
        f"{_esc(strings(lang).severity(severity))}</span>"
    )


# --- the notice and its clauses ----------------------------------------------------------------


def clause_anchor(clause: Clause) -> str:
    """The id of a clause's quotation on a page: its key (附件2（三）1)."""
    return attr(clause.ref)


@cache
def citation_html(clauses: tuple[Clause, ...], lang: str) -> str:
    """Short citations linking to the page's 依据 section: 《工作方案》附件2第（三）项第3条."""
    if not clauses:
        return f'<span class="muted">{_esc(strings(lang)["no_basis"])}</span>'
    return strings(lang)["list_sep"].join(
        f'<a href="#{clause_anchor(c)}">{_esc(c.cite or c.ref)}</a>' for c in clauses
    )


def notice_text(lang: str) -> str:
    """The notice once, in full: its title, number and the short name citations use."""
    notice = catalogue().notice
    return strings(lang)["notice_full"].format(
        title=notice.get("title", ""),
        reference=notice.get("reference", ""),
        short=notice.get("short", ""),
    )


def basis_html(clauses: Iterable[Clause], lang: str) -> Html:
    """The 依据 section's list: each clause the page cites, quoted once, under its anchor, in
    the notice's order."""
    wanted = {c.ref for c in clauses}
    rows = [
        f'<dt id="{clause_anchor(c)}">{_esc(c.cite or c.ref)}</dt>'
        f"<dd>{_esc(c.text, quote=False)}</dd>\n"
        for c in catalogue().clauses.values()
        if c.ref in wanted
    ]
    return Html(f'<dl class="clauses">\n{"".join(rows)}</dl>' if rows else "")


# --- evidence ----------------------------------------------------------------------------------


def _marked(text: str, marks: Sequence[str], lang: str) -> str:
    """`text` escaped, with every occurrence of the triggering words in <mark>."""
    text = display_text(text, lang)
    words = sorted({m for m in marks if m and m in text}, key=len, reverse=True)
    if not words:
        return _esc(text, quote=False)
    pattern = re.compile("|".join(re.escape(w) for w in words))
    out, last = [], 0
    for found in pattern.finditer(text):
        out.append(_esc(text[last : found.start()], quote=False))
        out.append(f"<mark>{_esc(found.group(0), quote=False)}</mark>")
        last = found.end()
    out.append(_esc(text[last:], quote=False))
    return "".join(out)


def facts_html(facts: Sequence[Fact], lang: str, css: str = "ev") -> str:
    """Facts as a definition list; the raw ones (names, hashes) in a folded detail."""
    plain = [f for f in facts if not f.raw]
    raw = [f for f in facts if f.raw]
    out = ""
    if plain:
        out = f'<dl class="{css}">' + "".join(_fact(f, lang) for f in plain) + "</dl>"
    if raw:
        summary = _esc(strings(lang)["technical"])
        out += (
            f'<details class="raw"><summary>{summary}</summary><dl>'
            + "".join(_fact(f, lang) for f in raw)
            + "</dl></details>"
        )
    return out


def _fact(fact: Fact, lang: str) -> str:
    value = _marked(fact.value, fact.marks, lang) if fact.marks else text_html(fact.value, lang)
    return f"<dt>{repeated_html(fact.label, lang)}</dt><dd>{value or '—'}</dd>"


def match_html(found: Mapping[str, Any], lang: str) -> str:
    """What an item matched in the registry, for its header."""
    return facts_html(evidence.match_facts(found, lang), lang, "entry")


# --- metadata ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Provenance:
    version: str
    generated_at: str
    run_id: int | None
    registry_source: str
    registry_counts: str
    registry_digest: str
    catalogue_digest: str
    registry_empty: bool
    """The registry had no entries: every app will have been judged unfiled."""


def provenance(result: ScanResult, s: Strings) -> Provenance:
    registry = result.registry
    counts = (
        f"{s['registry_entries']} {registry.entries} · "
        f"{s['registry_adoptions']} {registry.adoptions}"
    )
    return Provenance(
        version=result.tool_version,
        generated_at=shown_time(result.generated_at, result.timezone),
        run_id=result.run_id,
        registry_source=registry.source,
        registry_counts=counts,
        registry_digest=registry.digest,
        catalogue_digest=result.catalogue_digest,
        registry_empty=registry.entries == 0,
    )


def file_names(paths: Iterable[str]) -> list[str]:
    """Submission files by their names, as a school knows them (no folders of this machine)."""
    return sorted({PurePath(p).name or p for p in paths if p})


def compact_numbers(numbers: Iterable[int], lang: str) -> str:
    """1、2、3、5 → 1～3、5 (1–3, 5): numbers of the rectification list, rows."""
    if isinstance(numbers, list | tuple) and len(numbers) == 1:
        return str(numbers[0])
    sep, dash = strings(lang)["list_sep"], strings(lang)["range_sep"]
    runs: list[list[int]] = []
    for n in sorted(set(numbers)):
        if runs and n == runs[-1][-1] + 1:
            runs[-1].append(n)
        else:
            runs.append([n])
    parts = []
    for run in runs:
        if len(run) > 2:
            parts.append(f"{run[0]}{dash}{run[-1]}")
        else:
            parts.extend(str(n) for n in run)
    return sep.join(parts)
