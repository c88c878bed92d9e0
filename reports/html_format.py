"""The HTML report: a district index and one self-contained page per school.

The school page is `reports.html_school`, the index `reports.html_index`, and what both
use `reports.html_parts`; this module writes them.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import traceback
from pathlib import Path
from typing import Any

from markupsafe import Markup, escape

from policies.ledger import LEDGER_COUNTS
from policies.model import VerdictMemo
from policies.results import ScanResult, SchoolResult
from reports.html_index import TopItems, Totals, encoding_name, index_rows, reduction_text
from reports.html_parts import (
    asset,
    badges,
    display_text,
    file_names,
    notice_text,
    provenance,
    severity_notes,
    stylesheet,
    template,
)
from reports.html_school import Matched, ProblemRow, Said, ledger_line, school_page
from reports.interface import ReportError, ReportFormat, SchoolWriter
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
        return _HtmlWriter(result, out_dir, lang, self.jobs)


class _HtmlWriter(SchoolWriter):
    """School pages as the schools come; the index, which needs them all, at the end."""

    def __init__(self, result: ScanResult, out_dir: Path, lang: str, jobs: int = 1) -> None:
        self.result = result
        self.lang = lang
        self.s = strings(lang)
        # The interface words as a page prints them, made once: a template passes plain text
        # through `display_text` and escapes it every time it prints it, seventy times a page.
        self.words = {k: Markup(escape(display_text(v, lang))) for k, v in self.s.words.items()}
        self.meta = provenance(result, self.s)
        self.notice = notice_text(lang)
        self.names = page_names(result.summaries())
        self.pages_dir = out_dir / SCHOOLS_DIR
        self.pages_dir.mkdir(exist_ok=True)
        self.index = out_dir / "index.html"
        self.written = [self.index]
        self.template = template("school.html.j2")
        self.memo: VerdictMemo[Said] = VerdictMemo()
        self.match_memo: VerdictMemo[Matched] = VerdictMemo()
        self.top = TopItems()
        self.findings = 0
        self.added = 0
        self.jobs = _usable_jobs(jobs, result)
        self.workers: list[_Worker] = []

    def add(self, school: SchoolResult) -> None:
        number = self.added
        self.added += 1
        self.written.append(self.pages_dir / self.names[number])
        if self.jobs == 1:
            self.findings += self._page(number, school)

    def _pages_in_parallel(self) -> None:
        """With workers, the pass over the schools kept to the other formats, the history
        and the ledger (which numbers the findings the pages show); the pages are written
        once it is done, a share by each worker and one by this process."""
        self.workers = [_Worker.start(self, share) for share in range(1, self.jobs)]
        schools = self.result.schools
        for number in range(0, len(schools), self.jobs):
            self.findings += self._page(number, schools[number])

    def _page(self, number: int, school: SchoolResult) -> int:
        """Write school `number`'s page; count its findings by item for the index."""
        path = self.pages_dir / self.names[number]
        page = school_page(school, self.lang, self.memo, self.match_memo, self.result.timezone)
        _write(
            path,
            self.template.render(
                t=self.words,
                lang=self.lang,
                meta=self.meta,
                notice=self.notice,
                css=stylesheet("school"),
                page=page,
                index_href="../index.html",
            ),
        )
        self.top.add_tallies(number, page.tallies)
        return len(school.findings)

    def abort(self) -> None:
        for worker in self.workers:
            worker.stop()

    def close(self) -> list[Path]:
        if self.jobs > 1:
            self._pages_in_parallel()
        for worker in self.workers:
            tallies, findings = worker.finish()
            for number, tally in tallies:
                self.top.add_tallies(number, tally)
            self.findings += findings
        result, s, lang = self.result, self.s, self.lang
        rows = index_rows(result, self.names)
        counts = result.counts()
        ledger = result.ledger if result.ledger is not None and result.ledger.updated else None
        totals = Totals(
            ledger=ledger_line(ledger.counts, lang) if ledger else "",
            reduction=s["reduction_total"].format(
                rate=reduction_text(ledger.baseline, ledger.required),
                baseline=ledger.baseline,
                now=ledger.required,
            )
            if ledger
            else "",
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
                inputs=[
                    (file_names([f.path])[0] if f.path else "", f, encoding_name(f.encoding, lang))
                    for f in result.inputs
                ],
                file_problems=file_problems,
                rows=rows,
                shown_all=s["shown_of"].format(shown=len(rows), total=len(rows)),
                top=self.top.ranked(lang),
                ledger_columns=LEDGER_COUNTS,
            ),
        )
        return self.written


_MIN_SCHOOLS_PER_WORKER = 50
"""Below this many schools a worker costs more to start than it saves."""


def _usable_jobs(jobs: int, result: ScanResult) -> int:
    """How many processes write pages: workers need `fork` (they rebuild their schools from
    the parent's compact store) and enough schools to be worth starting."""
    if jobs <= 1 or not hasattr(os, "fork") or not hasattr(result.schools, "__getitem__"):
        return 1
    return max(1, min(jobs, len(result.schools) // _MIN_SCHOOLS_PER_WORKER))


class _Worker:
    """A forked process writing every `jobs`-th school page, from page `share` on.

    It reports back, through a pipe, what the index needs of its pages: each school's
    findings by item and the number of findings; or why it failed.
    """

    def __init__(self, pid: int, reader: int) -> None:
        self.pid = pid
        self.reader = reader

    @classmethod
    def start(cls, writer: _HtmlWriter, share: int) -> _Worker:
        reader, sender = os.pipe()
        pid = os.fork()
        if pid:
            os.close(sender)
            return cls(pid, reader)
        os.close(reader)
        status = 0
        try:
            tallies: list[tuple[int, Any]] = []
            writer.top = _Collect(tallies)  # type: ignore[assignment]
            schools = writer.result.schools
            findings = 0
            for number in range(share, len(schools), writer.jobs):
                findings += writer._page(number, schools[number])
            message: Any = ("ok", tallies, findings)
        except BaseException:
            message, status = ("failed", traceback.format_exc(limit=3)), 1
        try:
            with os.fdopen(sender, "wb") as pipe:
                pickle.dump(message, pipe, protocol=pickle.HIGHEST_PROTOCOL)
        finally:
            os._exit(status)  # no cleanup of the parent's files, connections or threads

    def finish(self) -> tuple[list[tuple[int, Any]], int]:
        """The worker's tallies and finding count, once it has written its pages."""
        with os.fdopen(self.reader, "rb") as pipe:
            data = pipe.read()  # before waiting: a full pipe would block the worker
        _, status = os.waitpid(self.pid, 0)
        message: tuple[Any, ...] = pickle.loads(data) if data else ("failed", "no answer")
        if status != 0 or message[0] != "ok":
            raise ReportError(f"school pages could not be written: {message[-1]}")
        tallies: list[tuple[int, Any]] = message[1]
        findings: int = message[2]
        return tallies, findings

    def stop(self) -> None:
        with contextlib.suppress(ProcessLookupError, ChildProcessError):
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
        with contextlib.suppress(OSError):
            os.close(self.reader)


class _Collect:
    """In a worker: what the index will need, kept to send back instead of counted."""

    def __init__(self, into: list[tuple[int, Any]]) -> None:
        self.into = into

    def add_tallies(self, number: int, tallies: Any) -> None:
        self.into.append((number, tallies))
