"""School pages written by worker processes are the pages one process writes."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from policyfactory import VIEW, item

from policies.engine import Engine
from policies.results import RegistryInfo, ScanResult, SchoolResult
from reports import FORMATS, ReportError, ReportFormat, html_format, write_reports
from reports.html_format import HtmlFormat, _usable_jobs
from reports.html_school import school_page
from reports.interface import SchoolWriter


def _district(schools: int) -> ScanResult:
    rows = [
        item(name, row=2 + n * 3 + k, school=f"第{n}小学", school_code=f"31350{n:05d}",
             actions=("下载安装", "每日打卡"), quota="参与率100%" if k == 1 else "")
        for n in range(schools)
        for k, name in enumerate(("闽教高分", "国家反诈中心", "某某作业"))
    ]  # fmt: skip
    stored, _ = Engine(VIEW).evaluate(rows)
    return ScanResult(
        schools=stored,
        generated_at=datetime(2026, 11, 30, tzinfo=UTC),
        tool_version="test",
        registry=RegistryInfo(source="test", digest="d", entries=10, adoptions=4),
        catalogue_digest="c",
    )


def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


@pytest.mark.skipif(not hasattr(os, "fork"), reason="page workers need fork")
def test_pages_from_workers_equal_pages_from_one_process(tmp_path: Path) -> None:
    result = _district(130)
    assert _usable_jobs(3, result) == 2  # two workers write every other page each
    one, three = tmp_path / "one", tmp_path / "three"
    one.mkdir()
    three.mkdir()
    HtmlFormat(jobs=1).write(result, one, "zh")
    written = HtmlFormat(jobs=3).write(result, three, "zh")
    assert len(written) == 131  # the index and every school's page
    assert _tree(one) == _tree(three)


def _children() -> set[int]:
    """This process's child processes, running or unreaped (from /proc)."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # gone meanwhile
        if int(fields[1]) == os.getpid():  # the parent's pid, after the state
            found.add(int(stat.parent.name))
    return found


needs_proc = pytest.mark.skipif(
    not Path("/proc/self/stat").exists(), reason="counts child processes in /proc"
)


def _failing_page(error: Exception) -> Callable[..., object]:
    """`school_page` failing with `error` on one school of `_district` (the workers inherit
    it when it is set before they start)."""

    def broken(school: SchoolResult, *args: object, **kwargs: object) -> object:
        if school.school == "第77小学":
            raise error
        return school_page(school, *args, **kwargs)  # type: ignore[arg-type]

    return broken


@needs_proc
@pytest.mark.skipif(not hasattr(os, "fork"), reason="page workers need fork")
@pytest.mark.parametrize(
    ("error", "raised", "said"),
    [
        # A system error, as one process raises it: the command says 磁盘空间已满, and where.
        (OSError(28, "No space left on device"), OSError, "No space left on device"),
        # Anything else: the pages failed, with the reason.
        (ValueError("a page the writer cannot make"), ReportError, "学校页面未能写完"),
    ],
    ids=["system", "other"],
)
def test_a_worker_that_fails_fails_the_pages_and_leaves_no_process(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    error: Exception,
    raised: type[Exception],
    said: str,
) -> None:
    monkeypatch.setattr(html_format, "school_page", _failing_page(error))
    out = tmp_path / "report"
    before = _children()
    with pytest.raises(raised) as failed:
        write_reports(_district(130), out, formats=("html",), jobs=3)
    if isinstance(failed.value, ReportError):
        assert said in failed.value.message.zh and str(error) in failed.value.message.zh
    else:
        assert isinstance(failed.value, OSError) and failed.value.errno == 28
        assert str(failed.value).endswith(said)
    assert not out.exists() and _children() <= before


@needs_proc
@pytest.mark.skipif(not hasattr(os, "fork"), reason="page workers need fork")
def test_a_pass_that_fails_stops_the_workers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another format failing midway: the workers writing pages are stopped and reaped,
    and no report is left."""

    class Failing(ReportFormat):
        name = "failing"

        def open(self, result: ScanResult, out_dir: Path, lang: str) -> SchoolWriter:
            return _FailAt(60)

    monkeypatch.setitem(FORMATS, "failing", Failing)
    out = tmp_path / "report"
    before = _children()
    with pytest.raises(OSError, match="No space left"):
        write_reports(_district(130), out, formats=("html", "failing"), jobs=3)
    assert not out.exists() and _children() <= before


class _FailAt(SchoolWriter):
    def __init__(self, at: int) -> None:
        self.at = at
        self.added = 0

    def add(self, school: SchoolResult) -> None:
        self.added += 1
        if self.added == self.at:
            raise OSError(28, "No space left on device")

    def close(self) -> list[Path]:
        return []
