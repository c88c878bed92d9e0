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
from typing import Any, BinaryIO

from policies.ledger import LEDGER_COUNTS, annotate, pack_marks, unpack_marks
from policies.model import VerdictMemo
from policies.results import ScanResult, SchoolResult
from reports.html_index import TopItems, Totals, encoding_name, index_rows, reduction_text
from reports.html_parts import (
    asset,
    badges,
    file_names,
    notice_text,
    page_words,
    provenance,
    severity_notes,
    stylesheet,
    template,
    words_template,
)
from reports.html_school import Matched, ProblemRow, Said, ledger_line, school_page
from reports.interface import ReportFormat, SchoolWriter, report_error
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
        self.words = page_words(lang)
        self.meta = provenance(result, self.s)
        self.notice = notice_text(lang)
        self.names = page_names(result.summaries())
        self.pages_dir = out_dir / SCHOOLS_DIR
        self.pages_dir.mkdir(exist_ok=True)
        self.index = out_dir / "index.html"
        self.written = [self.index]
        self.template = words_template("school.html.j2", lang)
        self.memo: VerdictMemo[Said] = VerdictMemo()
        self.match_memo: VerdictMemo[Matched] = VerdictMemo()
        self.top = TopItems()
        self.findings = 0
        self.added = 0
        self.jobs = _usable_jobs(jobs, result)
        self.workers: list[_Worker] = []
        # With workers, this process keeps to the pass over the schools (the other formats,
        # the history, the ledger); the workers write the pages meanwhile, each school's as
        # the pass hands over the ledger's marks of it (its numbers, its waivers).
        for _ in range(self.jobs - 1):
            self.workers.append(_Worker.start(self))
        for worker in self.workers:  # once all are forked: none inherits another's buffer
            worker.open_inbox()

    def add(self, school: SchoolResult) -> None:
        number = self.added
        self.added += 1
        self.written.append(self.pages_dir / self.names[number])
        if not self.workers:
            self.findings += self._page(number, school)
            return
        marks = None if school.marks is None else pack_marks(school.marks)
        self.workers[number % len(self.workers)].send(number, marks)

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
    """A forked process writing the school pages it is sent, as the pass reaches them.

    It is started before the pass, so it rebuilds each school from the compact store it
    shares with this process; the pass sends it, through a pipe, each school's number and
    the ledger's marks of it (or None), which it applies as the pass did. Once the pass is
    done and the pipe closed, it sends back what the index needs of its pages: each
    school's findings by item and the number of findings; or why it failed (an OSError as
    it was raised, anything else as the last lines of its trace).
    """

    def __init__(self, pid: int, inbox: int, reader: int) -> None:
        self.pid = pid
        self.inbox_fd = inbox
        self.inbox: BinaryIO | None = None
        self.reader = reader
        self.gone = False
        """The worker stopped reading (it failed): `finish` says why."""

    @classmethod
    def start(cls, writer: _HtmlWriter) -> _Worker:
        inbox_reader, inbox_sender = os.pipe()
        reader, sender = os.pipe()
        pid = os.fork()
        if pid:
            os.close(inbox_reader)
            os.close(sender)
            return cls(pid, inbox_sender, reader)
        os.close(inbox_sender)
        os.close(reader)
        for other in writer.workers:  # their pipes stay the parent's: they must see EOF
            other.close_inherited()
        status = 0
        try:
            tallies: list[tuple[int, Any]] = []
            writer.top = _Collect(tallies)  # type: ignore[assignment]
            schools = writer.result.schools
            findings = 0
            with os.fdopen(inbox_reader, "rb") as inbox:
                while True:
                    try:
                        number, marks = pickle.load(inbox)
                    except EOFError:
                        break
                    school = schools[number]
                    if marks is not None and school.marks is None:  # not marked already
                        school = annotate(school, unpack_marks(marks))
                    findings += writer._page(number, school)
            message: Any = ("ok", tallies, findings)
        except OSError as error:  # a full disk, a folder gone: raised again as it was
            message, status = ("failed", OSError(error.errno, error.strerror, error.filename)), 1
        except BaseException:
            message, status = ("failed", traceback.format_exc(limit=3)), 1
        try:
            with os.fdopen(sender, "wb") as pipe:
                pickle.dump(message, pipe, protocol=pickle.HIGHEST_PROTOCOL)
        finally:
            os._exit(status)  # no cleanup of the parent's files, connections or threads

    def open_inbox(self) -> None:
        self.inbox = os.fdopen(self.inbox_fd, "wb")

    def send(self, number: int, marks: bytes | None) -> None:
        """Hand school `number` (and its marks) to the worker; a worker that failed is told
        nothing more."""
        if self.gone or self.inbox is None:
            return
        try:
            pickle.dump((number, marks), self.inbox, protocol=pickle.HIGHEST_PROTOCOL)
        except BrokenPipeError:
            self.gone = True

    def finish(self) -> tuple[list[tuple[int, Any]], int]:
        """The worker's tallies and finding count, once it has written its pages."""
        self._close_inbox()  # the worker sees the end of its schools
        reader, self.reader = self.reader, -1  # closed below: `stop` must not close it again
        with os.fdopen(reader, "rb") as pipe:
            data = pipe.read()  # before waiting: a full pipe would block the worker
        _, status = os.waitpid(self.pid, 0)
        message: tuple[Any, ...] = pickle.loads(data) if data else ("failed", "no answer")
        if status != 0 or message[0] != "ok":
            if isinstance(message[-1], OSError):
                # As one process would have raised it: the command says what the system
                # refused (磁盘空间已满 …) and where.
                raise message[-1]
            lines = str(message[-1]).strip().splitlines() or ["?"]
            raise report_error("pages_failed", reason=lines[-1])  # the exception, not its trace
        tallies: list[tuple[int, Any]] = message[1]
        findings: int = message[2]
        return tallies, findings

    def close_inherited(self) -> None:
        """In a worker started after this one: close this one's pipes, which it inherited
        (before any file object was made of them)."""
        for fd in (self.inbox_fd, self.reader):
            with contextlib.suppress(OSError):
                os.close(fd)

    def _close_inbox(self) -> None:
        inbox, self.inbox = self.inbox, None
        if inbox is not None:
            with contextlib.suppress(OSError):  # BrokenPipeError: the worker failed
                inbox.close()

    def stop(self) -> None:
        with contextlib.suppress(ProcessLookupError, ChildProcessError):
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
        self._close_inbox()
        if self.reader >= 0:
            with contextlib.suppress(OSError):
                os.close(self.reader)
            self.reader = -1


class _Collect:
    """In a worker: what the index will need, kept to send back instead of counted."""

    def __init__(self, into: list[tuple[int, Any]]) -> None:
        self.into = into

    def add_tallies(self, number: int, tallies: Any) -> None:
        self.into.append((number, tallies))
