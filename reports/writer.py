"""Writing a whole report folder at once: built beside the target, then swapped into place.

The folders beside the target are named `.OUT.new-PID-…` (the report being written) and
`.OUT.old-PID-…` (the previous one, during the swap), after the process that made them, so
that a run killed half-way (kill -9) leaves nothing the next run cannot tidy up.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from policies.results import ScanResult
from reports.formats import DEFAULT_FORMATS, FORMATS
from reports.interface import (
    Preparer,
    ReportError,
    SchoolWriter,
    report_error,
    report_message,
    write_schools,
)
from reports.json_format import JsonFormat, SchoolLines
from reports.text import LANGUAGES
from scanner.leftovers import is_stale

# The writer is where the CLI meets the reports, so it re-exports what the CLI needs.
__all__ = [
    "DEFAULT_FORMATS",
    "FORMATS",
    "MARKER",
    "Preparer",
    "ReportError",
    "SchoolWriter",
    "check_destination",
    "is_replaceable",
    "remove_stale_staging",
    "staged_folder",
    "write_reports",
]

MARKER = ".appaudit-report"
"""The file that says a folder is an appaudit report, which a later run may replace."""


def _choose(formats: Iterable[str]) -> list[str]:
    chosen = list(dict.fromkeys(formats))
    if not chosen:
        raise report_error("no_format")
    unknown = [name for name in chosen if name not in FORMATS]
    if unknown:
        raise report_error("unknown_format", name=unknown[0], known=", ".join(FORMATS))
    return chosen


def is_replaceable(folder: Path) -> bool:
    """Whether `folder` may be replaced by a new report: absent, empty, or one of ours."""
    if not os.path.lexists(folder):
        return True
    if folder.is_symlink() or not folder.is_dir():
        return False
    if (folder / MARKER).is_file():
        return True
    with os.scandir(folder) as entries:
        return next(entries, None) is None


def _check_target(target: Path) -> None:
    if not target.name:
        raise report_error("not_a_report_root", target=target)
    if is_replaceable(target):
        return
    if target.is_symlink():
        reason = report_message("is_symlink")
    elif not target.is_dir():
        reason = report_message("is_file")
    else:
        reason = report_message("not_ours", marker=MARKER)
    raise report_error("refused", target=target, reason=reason)


def _sibling(target: Path, label: str) -> Path:
    """A new, unused folder name next to `target` (same file system, so renames are atomic)."""
    while True:
        candidate = target.with_name(f".{target.name}.{label}-{os.getpid()}-{secrets.token_hex(4)}")
        if not os.path.lexists(candidate):
            return candidate


def remove_stale_staging(target: Path) -> list[Path]:
    """Tidy up what runs killed while writing `target` left beside it; returns what went.

    A `.new` folder of a dead run is half a report: removed. A `.old` folder of a dead run
    is the previous report, which was about to be removed: removed too, unless the run
    died between the two renames of the swap and `target` is missing, in which case the
    newest one is put back. Folders of a run that is writing now are left alone.
    """
    pattern = re.compile(
        rf"^\.{re.escape(target.name)}\.(?P<label>new|old)-(?:(?P<pid>\d+)-)?[0-9a-f]{{8}}$"
    )
    try:
        entries = list(os.scandir(target.parent))
    except OSError:
        return []
    moment = time.time()
    stale: list[tuple[float, str, Path]] = []
    for entry in entries:
        found = pattern.match(entry.name)
        if found is None or not entry.is_dir(follow_symlinks=False):
            continue
        try:
            modified = entry.stat(follow_symlinks=False).st_mtime
        except OSError:
            continue
        owner = int(found.group("pid")) if found.group("pid") else None
        if is_stale(owner, moment - modified):
            stale.append((modified, found.group("label"), Path(entry.path)))
    olds = sorted((s for s in stale if s[1] == "old"), reverse=True)
    if olds and not os.path.lexists(target):
        with contextlib.suppress(OSError):
            olds[0][2].rename(target)
    removed = []
    for _modified, _label, path in stale:
        if os.path.lexists(path):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def _marker_text(result: ScanResult, formats: list[str], lang: str) -> str:
    return json.dumps(
        {
            "tool": "appaudit",
            "version": result.tool_version,
            "generated_at": result.generated_at.isoformat(),
            "formats": formats,
            "lang": lang,
        },
        ensure_ascii=False,
    )


def _swap(staging: Path, target: Path) -> None:
    """Put `staging` where `target` is; the old report is removed only once the new one is in."""
    _check_target(target)  # again: the folder may have changed while the report was written
    if not os.path.lexists(target):
        staging.rename(target)
        return
    old = _sibling(target, "old")
    target.rename(old)
    try:
        staging.rename(target)
    except BaseException:
        old.rename(target)
        raise
    shutil.rmtree(old, ignore_errors=True)


def check_destination(
    out_dir: Path,
    *,
    formats: Iterable[str] = DEFAULT_FORMATS,
    lang: str = "zh",
    headers: str | None = None,
) -> Path:
    """The report folder `write_reports` would write, or ReportError if it would refuse.

    For callers to ask before a long scan rather than after it.
    """
    _choose(formats)
    if lang not in LANGUAGES:
        raise report_error("unknown_lang", lang=lang, known=", ".join(LANGUAGES))
    if headers is not None and headers not in LANGUAGES:
        raise report_error("unknown_headers", headers=headers, known=", ".join(LANGUAGES))
    # abspath, not resolve: `..` is folded but a symlinked parent is kept as the user named it.
    target = Path(os.path.abspath(out_dir))
    _check_target(target)
    return target


@contextmanager
def staged_folder(out_dir: Path) -> Iterator[Path]:
    """A hidden folder beside `out_dir` to write into; swapped into place as a whole when
    the block ends, removed when it fails. `out_dir` must be absent, empty, or an earlier
    appaudit folder (the block writes its `MARKER`), else ReportError before anything."""
    target = Path(os.path.abspath(out_dir))
    _check_target(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_staging(target)
    staging = _sibling(target, "new")
    staging.mkdir()  # not mkdtemp: the folder should get the user's usual permissions
    try:
        yield staging
        _swap(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def write_reports(
    result: ScanResult,
    out_dir: Path,
    *,
    formats: Iterable[str] = DEFAULT_FORMATS,
    lang: str = "zh",
    headers: str | None = None,
    also: Sequence[SchoolWriter] = (),
    jobs: int = 1,
    prepare: Preparer | None = None,
    before_swap: Callable[[], object] | None = None,
    json_lines: SchoolLines | None = None,
) -> Path:
    """Write the chosen formats into `out_dir` as one unit and return the main file.

    `also` are writers that get each school in the same pass and write no report file (the
    scan history): a district's schools are rebuilt once for all of them. `jobs` processes
    may write the school pages.

    `prepare` makes each school what the formats see, in the same pass (the ledger's
    marks). `before_swap` is called once every file is written, before the folder is put in
    place: what it raises leaves the previous report as it was (the ledger commits there).
    `json_lines` makes each school's line of findings.json, shared with an `also` writer
    that keeps them (the scan history): each line is made once.

    `headers` is the language of the CSV and XLSX headers and coded values (zh, or en for
    the canonical names and codes); by default the report language.

    Everything is written into a hidden folder beside `out_dir`, then swapped into place,
    so a run that fails leaves the previous report (or nothing) rather than half a report.
    An existing `out_dir` is replaced only if it is empty or an earlier appaudit report;
    anything else raises `ReportError`, so a mistaken `--out .` deletes nobody's files.

    Every format gets each school in one pass over the schools (a stored scan rebuilds them
    one at a time).

    Returns the path of `index.html`, or of the first file written when html is not chosen.
    """
    chosen = _choose(formats)
    target = check_destination(out_dir, formats=chosen, lang=lang, headers=headers)
    with staged_folder(target) as staging:
        writers: list[SchoolWriter] = []
        try:
            for name in chosen:
                report_format = FORMATS[name](headers=headers, jobs=jobs)
                if json_lines is not None and isinstance(report_format, JsonFormat):
                    report_format.lines = json_lines
                writers.append(report_format.open(result, staging, lang))
        except BaseException:
            for writer in writers:
                writer.abort()
            raise
        passes = write_schools(result.schools, [*writers, *also], prepare)
        written = [path for paths in passes[: len(writers)] for path in paths]
        marker = staging / MARKER
        marker.write_text(_marker_text(result, chosen, lang), encoding="utf-8")
        if before_swap is not None:
            before_swap()

    index = target / "index.html"
    if "html" in chosen and index.is_file():
        return index
    if not written:
        return target
    return target / written[0].relative_to(staging)
