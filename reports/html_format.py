"""The HTML report: a district index and one self-contained page per school.

The school page is `reports.html_school`, the index `reports.html_index`, and what both
use `reports.html_parts`; this module writes them.
"""

from __future__ import annotations

from pathlib import Path

from policies.model import VerdictMemo
from policies.results import ScanResult, SchoolResult
from reports.html_index import TopItems, Totals, index_rows
from reports.html_parts import (
    asset,
    badges,
    file_names,
    notice_text,
    provenance,
    severity_notes,
    stylesheet,
    template,
)
from reports.html_school import ProblemRow, school_page
from reports.interface import ReportFormat, SchoolWriter
from reports.names import SCHOOLS_DIR, page_names
from reports.text import check_lang, strings
from reports.times import zone
from scanner.safetext import REPLACE_ERRORS


def _write(path: Path, text: str) -> None:
    with path.open("w", encoding="utf-8", errors=REPLACE_ERRORS, newline="\n") as handle:
        handle.write(text)


class HtmlFormat(ReportFormat):
    """`index.html` (district summary and school table) and `schools/<name>.html`."""

    name = "html"

    def open(self, result: ScanResult, out_dir: Path, lang: str) -> SchoolWriter:
        check_lang(lang)
        zone(result.timezone)  # an unknown time zone fails before any page is written
        return _HtmlWriter(result, out_dir, lang)


class _HtmlWriter(SchoolWriter):
    """School pages as the schools come; the index, which needs them all, at the end."""

    def __init__(self, result: ScanResult, out_dir: Path, lang: str) -> None:
        self.result = result
        self.lang = lang
        self.s = strings(lang)
        self.meta = provenance(result, self.s)
        self.notice = notice_text(lang)
        self.names = page_names(result.summaries())
        self.pages_dir = out_dir / SCHOOLS_DIR
        self.pages_dir.mkdir(exist_ok=True)
        self.index = out_dir / "index.html"
        self.written = [self.index]
        self.template = template("school.html.j2")
        self.memo: VerdictMemo[str] = VerdictMemo()
        self.match_memo: VerdictMemo[str] = VerdictMemo()
        self.top = TopItems()
        self.findings = 0

    def add(self, school: SchoolResult) -> None:
        number = len(self.written) - 1
        path = self.pages_dir / self.names[number]
        page = school_page(school, self.lang, self.memo, self.match_memo, self.result.timezone)
        _write(
            path,
            self.template.render(
                t=self.s.words,
                lang=self.lang,
                meta=self.meta,
                notice=self.notice,
                css=stylesheet("school"),
                page=page,
                index_href="../index.html",
            ),
        )
        self.written.append(path)
        self.top.add_tallies(number, page.tallies)
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
            template("index.html.j2").render(
                t=s.words,
                lang=lang,
                meta=self.meta,
                notice=self.notice,
                css=stylesheet("index"),
                js=asset("index.js"),
                totals=totals,
                inputs=[(file_names([f.path])[0] if f.path else "", f) for f in result.inputs],
                file_problems=file_problems,
                rows=rows,
                shown_all=s["shown_of"].format(shown=len(rows), total=len(rows)),
                top=self.top.ranked(lang),
            ),
        )
        return self.written
