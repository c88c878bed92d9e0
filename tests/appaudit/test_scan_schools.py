"""A city-level submission end to end: schools told apart by 学校标识码, spellings kept."""

from __future__ import annotations

import json
from pathlib import Path

from tablefactory import write_csv
from typer.testing import CliRunner

from appaudit.cli import app

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
HEADER = ["学校", "学校标识码", "类型", "名称", "包名", "要求对象", "要求内容"]
ROWS = [
    ["实验小学", "3505030001", "APP", "国家反诈中心", "com.hicorenational.antifraud", "家长", "下载安装"],
    ["实验小学", "3505040001", "APP", "学习强国", "cn.xuexi.android", "家长", "下载安装"],
    ["丰泽区实验小学", "3505030001", "APP", "个人所得税", "cn.gov.tax.its", "家长", "下载安装"],
    ["实验小学", "3505050001", "APP", "交管12123", "com.tmri.app.main", "家长", "下载安装"],
]  # fmt: skip


def test_same_named_schools_with_different_codes_each_get_their_report(tmp_path: Path) -> None:
    submission = write_csv(tmp_path / "city.csv", [HEADER, *ROWS], "gb18030")
    out = tmp_path / "report"
    result = CliRunner().invoke(
        app,
        ["scan", str(submission), "--out", str(out), "--fail-on", "never",
         "--registry", str(EXAMPLES / "registry.csv")],
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    doc = json.loads((out / "findings.json").read_text("utf-8"))
    got = [
        (
            s["school"],
            s["school_code"],
            s["school_names"],
            sorted({f["row"] for f in s["findings"]}),
        )
        for s in doc["schools"]
    ]
    assert got == [
        ("实验小学", "3505030001", ["实验小学", "丰泽区实验小学"], [2, 4]),
        ("实验小学", "3505040001", ["实验小学"], [3]),
        ("实验小学", "3505050001", ["实验小学"], [5]),
    ]
    pages = sorted(p.name for p in (out / "schools").iterdir())
    assert pages == ["3505030001.html", "3505040001.html", "3505050001.html"]
    first = (out / "schools" / "3505030001.html").read_text("utf-8")
    assert "填报中的其他写法" in first and "丰泽区实验小学" in first
    assert "填报中的其他写法" not in (out / "schools" / "3505040001.html").read_text("utf-8")
    index = (out / "index.html").read_text("utf-8")
    assert index.count('href="schools/35050') == 3
    assert 'data-search="实验小学 丰泽区实验小学 3505030001"' in index
