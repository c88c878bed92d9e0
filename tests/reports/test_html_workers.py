"""School pages written by worker processes are the pages one process writes."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
from policyfactory import VIEW, item

from policies.engine import Engine
from policies.results import RegistryInfo, ScanResult
from reports.html_format import HtmlFormat, _usable_jobs


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
