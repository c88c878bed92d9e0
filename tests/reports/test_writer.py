"""The report folder is written as one unit and never replaces a folder that is not ours."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import resultfactory

from policies.results import ScanResult, SchoolResult
from reports import FORMATS, MARKER, ReportError, ReportFormat, write_reports
from reports.interface import SchoolWriter
from reports.writer import remove_stale_staging


class HalfWritten(ReportFormat):
    """A format that writes its first school and then fails, as a full disk would."""

    name = "half"

    def open(self, result: ScanResult, out_dir: Path, lang: str) -> SchoolWriter:
        return _HalfWriter(out_dir)


class _HalfWriter(SchoolWriter):
    def __init__(self, out_dir: Path) -> None:
        self.out_dir = out_dir
        self.schools = 0

    def add(self, school: SchoolResult) -> None:
        self.schools += 1
        if self.schools > 1:
            raise OSError(28, "No space left on device")
        (self.out_dir / "part-1.txt").write_text("written before the failure", encoding="utf-8")

    def close(self) -> list[Path]:
        raise OSError(28, "No space left on device")


def _tree(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def test_a_new_report_folder_with_its_marker(tmp_path: Path) -> None:
    out = tmp_path / "nested" / "report"
    index = write_reports(resultfactory.realistic_result(), out)
    assert index == out / "index.html"
    assert index.is_file()
    names = {p.name for p in out.iterdir()}
    assert names == {"index.html", "schools", "findings.json", "findings.csv", MARKER}
    marker = json.loads((out / MARKER).read_text("utf-8"))
    assert marker["tool"] == "appaudit"
    assert marker["formats"] == ["html", "json", "csv"]
    assert marker["lang"] == "zh"
    assert sorted(p.name for p in out.parent.iterdir()) == ["report"]


def test_files_are_not_left_private_to_the_writer(tmp_path: Path) -> None:
    out = tmp_path / "report"
    write_reports(resultfactory.realistic_result(), out, formats=tuple(FORMATS))
    expected = (out / MARKER).stat().st_mode & 0o777
    modes = {
        str(p.relative_to(out)): p.stat().st_mode & 0o777 for p in out.rglob("*") if p.is_file()
    }
    assert set(modes.values()) == {expected}, modes


def test_the_main_file_is_the_first_written_without_html(tmp_path: Path) -> None:
    out = tmp_path / "report"
    first = write_reports(resultfactory.realistic_result(), out, formats=("csv", "json"))
    assert first == out / "findings.csv"
    assert {p.name for p in out.iterdir()} == {"findings.csv", "findings.json", MARKER}


def test_an_earlier_report_is_replaced_whole(tmp_path: Path) -> None:
    out = tmp_path / "report"
    write_reports(resultfactory.realistic_result(), out, formats=("html", "xlsx"))
    (out / "schools" / "stale.html").write_text("from an older run", encoding="utf-8")
    write_reports(resultfactory.realistic_result(), out, formats=("json",))
    assert {p.name for p in out.iterdir()} == {"findings.json", MARKER}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report"]


def test_an_empty_folder_is_used(tmp_path: Path) -> None:
    out = tmp_path / "report"
    out.mkdir()
    write_reports(resultfactory.realistic_result(), out)
    assert (out / "index.html").is_file()


def test_a_folder_that_is_not_a_report_is_never_replaced(tmp_path: Path) -> None:
    out = tmp_path / "documents"
    out.mkdir()
    (out / "学校名单.xlsx").write_bytes(b"the user's own file")
    (out / "sub").mkdir()
    (out / "sub" / "notes.txt").write_text("keep me", encoding="utf-8")
    before = _tree(out)
    with pytest.raises(ReportError) as raised:
        write_reports(resultfactory.realistic_result(), out)
    message = str(raised.value)
    assert message.startswith(f"refusing to replace {out}")
    assert "not an appaudit report folder" in message
    assert _tree(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["documents"]


def test_out_dot_in_a_users_folder_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "school.csv").write_text("学校,名称\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ReportError, match="not an appaudit report folder"):
        write_reports(resultfactory.realistic_result(), Path("."))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["school.csv"]


def test_a_file_in_the_way_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "report"
    out.write_text("not a folder", encoding="utf-8")
    with pytest.raises(ReportError, match=r"refusing to replace .*a file, not a folder") as raised:
        write_reports(resultfactory.realistic_result(), out)
    assert out.read_text("utf-8") == "not a folder"
    assert (
        raised.value.text("zh")
        == f"{out} 不予替换：这是文件，不是文件夹；请另选 --out，或自行移走它"
    )


def test_a_failure_midway_leaves_no_report_and_no_debris(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(FORMATS, "half", HalfWritten)
    out = tmp_path / "report"
    with pytest.raises(OSError, match="No space left"):
        write_reports(resultfactory.realistic_result(), out, formats=("html", "json", "half"))
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


def test_a_failure_midway_keeps_the_previous_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "report"
    write_reports(resultfactory.realistic_result(), out)
    before = _tree(out)
    monkeypatch.setitem(FORMATS, "half", HalfWritten)
    with pytest.raises(OSError):
        write_reports(resultfactory.realistic_result(), out, formats=("csv", "half"), lang="en")
    assert _tree(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report"]


@pytest.mark.skipif(not hasattr(os, "symlink") or os.name == "nt", reason="needs symlinks")
def test_a_symlink_is_not_followed_into_someone_elses_folder(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / MARKER).write_text("{}", encoding="utf-8")
    link = tmp_path / "report"
    link.symlink_to(elsewhere, target_is_directory=True)
    with pytest.raises(ReportError, match="symbolic link"):
        write_reports(resultfactory.realistic_result(), link)
    assert link.is_symlink()
    assert [p.name for p in elsewhere.iterdir()] == [MARKER]


# A report writer stopped half-way: a format that writes a file, says so, and waits.
STUCK_WRITER = """
import sys, time
from pathlib import Path
sys.path.insert(0, sys.argv[2])
import resultfactory
from reports import FORMATS, ReportFormat, write_reports

class Stuck(ReportFormat):
    name = "stuck"
    def open(self, result, out_dir, lang):
        (out_dir / "findings.json").write_text("{half", encoding="utf-8")
        print("writing", flush=True)
        time.sleep(120)

FORMATS["stuck"] = Stuck
write_reports(resultfactory.realistic_result(), Path(sys.argv[1]), formats=("stuck",))
"""
SUPPORT = Path(__file__).resolve().parents[1] / "support"
REPO = Path(__file__).resolve().parents[2]


def _stuck_writer(out: Path) -> subprocess.Popen[str]:
    child = subprocess.Popen(
        [sys.executable, "-c", STUCK_WRITER, str(out), str(SUPPORT)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    assert child.stdout is not None and child.stdout.readline().strip() == "writing"
    return child


def _staging(out: Path) -> list[str]:
    return sorted(p.name for p in out.parent.iterdir() if p.name.startswith(f".{out.name}."))


def test_the_staging_folder_of_a_killed_run_is_removed_by_the_next(tmp_path: Path) -> None:
    out = tmp_path / "report"
    write_reports(resultfactory.realistic_result(), out)
    before = _tree(out)
    child = _stuck_writer(out)
    child.send_signal(signal.SIGKILL)
    child.wait()
    (left,) = _staging(out)
    assert left.startswith(f".report.new-{child.pid}-")  # kill -9 leaves it behind …
    assert _tree(out) == before  # … and the previous report whole
    write_reports(resultfactory.realistic_result(), out, formats=("json",))
    assert _staging(out) == []  # … and the next run removes it
    assert {p.name for p in out.iterdir()} == {"findings.json", MARKER}


def test_the_staging_folder_of_a_run_writing_now_is_left_alone(tmp_path: Path) -> None:
    out = tmp_path / "report"
    child = _stuck_writer(out)
    try:
        (theirs,) = _staging(out)
        write_reports(resultfactory.realistic_result(), out, formats=("json",))
        assert _staging(out) == [theirs]
        assert (out.parent / theirs / "findings.json").read_text("utf-8") == "{half"
    finally:
        child.kill()
        child.wait()


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_run_killed_between_the_renames_of_the_swap_gets_its_old_report_back(
    tmp_path: Path,
) -> None:
    out = tmp_path / "report"
    write_reports(resultfactory.realistic_result(), out, formats=("json",))
    dead = _dead_pid()
    # The state the swap leaves between its renames: the old report moved aside, the new
    # one not yet in place.
    out.rename(tmp_path / f".report.old-{dead}-0123abcd")
    (tmp_path / f".report.new-{dead}-4567cdef").mkdir()
    assert remove_stale_staging(out) == [tmp_path / f".report.new-{dead}-4567cdef"]
    assert {p.name for p in out.iterdir()} == {"findings.json", MARKER}
    assert _staging(out) == []


def test_staging_folders_of_an_older_naming_go_after_an_hour(tmp_path: Path) -> None:
    out = tmp_path / "report"
    out.mkdir()
    names = [".report.new-89abcdef", ".report.old-fedcba98", ".report.new-01234567"]
    for name in names:
        (tmp_path / name).mkdir()
        (tmp_path / name / "index.html").write_text("x")
    long_ago = time.time() - 2 * 3600
    for name in names[:2]:
        os.utime(tmp_path / name, (long_ago, long_ago))
    untouched = [".report.new-notes", ".report.newer-0123abcd", ".other.new-89abcdef"]
    for name in untouched:
        (tmp_path / name).mkdir()
    removed = remove_stale_staging(out)
    assert sorted(p.name for p in removed) == sorted(names[:2])
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["report", names[2], *untouched])
