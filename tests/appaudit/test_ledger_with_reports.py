"""A scan's ledger and its reports stand together: the ledger numbers the findings in the
pass that writes the reports and is committed just before the report folder is put in place.
A report that cannot be written leaves the ledger as it was; a ledger the database refuses
leaves a complete report without ledger numbers."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from examplereport import SUBMISSION, filled, run
from sqlalchemy import create_engine, text

from appaudit.pipeline import ScanOptions, run_scan
from registry.db import open_database
from registry.ledger import Ledger
from reports.writer import ReportError


def ledger_items(db_url: str) -> list[dict[str, object]]:
    return [r.to_dict() for r in Ledger(open_database(db_url, create=False)).items()]


def run_ids(db_url: str) -> list[int]:
    result = run("runs", "--format", "json", "--db", db_url)
    assert result.exit_code == 0, result.stderr
    return [r["id"] for r in json.loads(result.stdout)]


class _SpoilsTheFolder:
    """An observer that, as the reports start, puts someone's file where they are to go:
    the report folder is then not appaudit's to replace, and writing it fails at the end."""

    def __init__(self, out: Path) -> None:
        self.out = out

    def row_done(self) -> None:
        pass

    def stage(self, name: str) -> None:
        if name == "reports":
            self.out.mkdir()
            (self.out / "notes.txt").write_text("someone's notes", "utf-8")


def test_a_report_that_cannot_be_written_leaves_the_ledger_as_it_was(
    db_url: str, tmp_path: Path
) -> None:
    db = filled(db_url)
    first = run("scan", str(SUBMISSION), "--out", str(tmp_path / "r1"), "--db", db,
                "--fail-on", "never")  # fmt: skip
    assert first.exit_code == 0, first.stderr
    before, runs = ledger_items(db), run_ids(db)
    assert before and len(runs) == 1

    out = tmp_path / "r2"
    options = ScanOptions(inputs=[SUBMISSION], out=out, db=db, fail_on="never")
    with pytest.raises(ReportError):
        run_scan(options, _SpoilsTheFolder(out))
    assert ledger_items(db) == before  # not seen again by a run whose report is gone
    assert run_ids(db) == runs
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]


def test_a_ledger_the_database_refuses_leaves_a_complete_report_without_numbers(
    tmp_path: Path,
) -> None:
    db = filled(f"sqlite:///{tmp_path / 'registry.db'}")
    # The database refuses one item half-way through the schools, as a full disk or a
    # constraint would: every item the scan had written before it is rolled back.
    engine = create_engine(db)
    with engine.begin() as connection:
        connection.execute(
            text(
                "CREATE TRIGGER refuse BEFORE INSERT ON ledger_items "
                "WHEN NEW.school = '示例第三小学' "
                "BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"
            )
        )
    engine.dispose()
    out = tmp_path / "report"
    result = run("scan", str(SUBMISSION), "--out", str(out), "--db", db, "--fail-on", "never")
    assert result.exit_code == 0, result.stderr
    assert "refused by the test" in result.stderr and "不含台账编号" in result.stderr
    assert "Traceback" not in result.stderr
    assert ledger_items(db) == []
    assert len(run_ids(db)) == 1  # the run is stored: its findings stand without the ledger

    doc = json.loads((out / "findings.json").read_text("utf-8"))
    found = [f for school in doc["schools"] for f in school["findings"]]
    assert len(doc["schools"]) == 4 and found
    assert not any("ledger_id" in f for f in found)
    assert sum(doc["counts"].values()) == len(found)
    for page in (out / "schools").glob("*.html"):
        assert "问题编号" not in page.read_text("utf-8")


def _district(path: Path, schools: int) -> Path:
    header = "序号,学校,学校标识码,类型,名称,包名/原始ID,要求对象,要求内容,指标要求\n"
    lines = [
        f"{n * 3 + k + 1},第{n}小学,31350{n:05d},APP,{name},,家长,{action},{quota}\n"
        for n in range(schools)
        for k, (name, action, quota) in enumerate(
            (("闽教高分", "下载安装", ""), ("国家反诈中心", "下载安装、答题", ""),
             ("某某作业", "每日打卡", "参与率100%"))
        )
    ]  # fmt: skip
    path.write_text(header + "".join(lines), "utf-8")
    return path


@pytest.mark.skipif(not hasattr(os, "fork"), reason="page workers need fork")
def test_pages_written_by_workers_carry_the_ledger_numbers(tmp_path: Path) -> None:
    """With workers, each page is written from the marks the pass sends: the ledger's
    numbers and the waivers, as one process writes them."""
    submission = _district(tmp_path / "district.csv", 120)
    numbers: dict[int, dict[str, set[str]]] = {}
    waived: dict[int, dict[str, str]] = {}
    for jobs in (1, 2):
        db = filled(f"sqlite:///{tmp_path / f'registry-{jobs}.db'}")
        result = run("waive", "--school", "第7小学", "--rule", "QUOTA", "--reason", "试点",
                     "--until", "2099-12-31", "--db", db)  # fmt: skip
        assert result.exit_code == 0, result.stderr
        out = tmp_path / f"report-{jobs}"
        result = run("scan", str(submission), "--out", str(out), "--db", db,
                     "--fail-on", "never", "--jobs", str(jobs))  # fmt: skip
        assert result.exit_code == 0, result.stderr
        doc = json.loads((out / "findings.json").read_text("utf-8"))
        by_page = {}
        waived[jobs] = {}
        for page in (out / "schools").glob("*.html"):
            html = page.read_text("utf-8")
            by_page[page.name] = set(re.findall(r"\b2\d{3}-\d{4}\b", html))
            if "试点" in html:  # the waiver's reason, in the page's 已豁免 list
                waived[jobs][page.name] = html[html.index("试点") - 200 : html.index("试点")]
        findings = [f for school in doc["schools"] for f in school["findings"]]
        from_json = {f["ledger_id"] for f in findings if "waived" not in f}
        assert any("waived" in f for f in findings)
        assert len(by_page) == 120 and set().union(*by_page.values()) == from_json
        numbers[jobs] = by_page
    assert numbers[1] == numbers[2]
    assert len(waived[1]) == 1 and waived[1] == waived[2]


def test_a_rescan_reads_its_stored_items_a_batch_of_schools_at_a_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The stored items are read a few schools ahead of the pass, not all at once; every
    school finds its own, across the batches' edges."""
    import appaudit.ledger_scan

    monkeypatch.setattr(appaudit.ledger_scan, "_READ_AHEAD", 4)
    submission = _district(tmp_path / "district.csv", 11)
    db = filled(f"sqlite:///{tmp_path / 'registry.db'}")
    first = run("scan", str(submission), "--out", str(tmp_path / "r1"), "--db", db,
                "--fail-on", "never")  # fmt: skip
    assert first.exit_code == 0, first.stderr
    opened = json.loads(run("ledger", "list", "--format", "json", "--db", db).stdout)
    assert len({i["school"] for i in opened}) == 11
    again = run("scan", str(submission), "--out", str(tmp_path / "r2"), "--db", db,
                "--fail-on", "never")  # fmt: skip
    assert f"新增 0 项，持续 {len(opened)} 项，拟销号 0 项" in again.stderr, again.stderr
    seen = json.loads(run("ledger", "list", "--format", "json", "--db", db).stdout)
    assert {i["last_seen_run"] for i in seen} == {2}
