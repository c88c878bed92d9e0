"""`appaudit scan`, `rules` and `runs` end to end: example data, exit codes, history, config."""

from __future__ import annotations

import csv
import json
from dataclasses import replace
from pathlib import Path

import pytest
from tablefactory import ENCODINGS, write_csv, write_xlsx
from typer.testing import CliRunner, Result

from appaudit.cli import app
from policies.model import SEVERITIES, catalogue
from registry import runs as run_store
from registry.db import open_database

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
REGISTRY_ARGS = [
    "--registry",
    str(EXAMPLES / "registry.csv"),
    "--registry",
    str(EXAMPLES / "adoptions.csv"),
]
HEADER = ["学校", "学校标识码", "类型", "名称", "包名/原始ID", "备案号", "要求对象", "要求内容", "指标要求",
          "布置单位", "集体决策依据", "备注"]  # fmt: skip
CLEAN_ROW = ["示例实验小学", "3135000001", "APP", "闽教高分", "com.zhl.mjqk.aphone", "教APP备1100819号",
             "学生", "下载安装", "", "学校", "2024年第3次校务会议纪要", ""]  # fmt: skip


def run(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def scan(tmp_path: Path, *files: Path | str, extra: tuple[str, ...] = ()) -> Result:
    out = tmp_path / "report"
    return run("scan", *map(str, files), "--out", str(out), *REGISTRY_ARGS, *extra)


def findings_json(tmp_path: Path) -> dict[str, object]:
    return json.loads((tmp_path / "report" / "findings.json").read_text("utf-8"))


def all_findings(doc: dict[str, object]) -> list[dict[str, object]]:
    return [f for s in doc["schools"] for f in s["findings"]]  # type: ignore[attr-defined,index]


def test_example_triggers_every_non_apk_rule(tmp_path: Path) -> None:
    result = scan(tmp_path, EXAMPLES / "submission.csv")
    assert result.exit_code == 1, result.stderr  # high findings, default --fail-on high
    assert "报告：" in result.stderr and "index.html" in result.stderr
    doc = findings_json(tmp_path)
    rules = {f["rule"] for f in all_findings(doc)}
    non_apk = {r for r, spec in catalogue().rules.items() if spec.scope != "apk"}
    assert rules == non_apk
    assert [s["school"] for s in doc["schools"]] == [
        "示例实验小学",
        "示例第二中学",
        "示例第三小学",
        "示例第四中学",
    ]  # type: ignore[index]
    for name in ("index.html", "findings.json", "findings.csv"):
        assert (tmp_path / "report" / name).is_file()


def test_findings_json_contract(tmp_path: Path) -> None:
    scan(tmp_path, EXAMPLES / "submission.csv")
    doc = findings_json(tmp_path)
    assert doc["tool"]["name"] == "appaudit" and doc["tool"]["version"]  # type: ignore[index]
    assert isinstance(doc["generated_at"], str)
    for school in doc["schools"]:  # type: ignore[attr-defined]
        assert {"school", "school_code", "findings", "input_problems"} <= set(school)
        for finding in school["findings"]:
            assert {
                "rule",
                "severity",
                "row",
                "item",
                "kind",
                "message",
                "basis",
                "evidence",
            } <= set(finding)
            assert finding["severity"] in SEVERITIES
            assert finding["row"] is None or isinstance(finding["row"], int)
            assert isinstance(finding["evidence"], dict) and finding["message"]
        for problem in school["input_problems"]:
            assert {"row", "message"} <= set(problem)
    revoked = next(f for f in all_findings(doc) if f["rule"] == "FILING-REVOKED")
    assert revoked["row"] == 18 and "已撤销" in revoked["message"]  # type: ignore[operator]
    assert revoked["basis"] == ["附件2（三）1"]
    clause = doc["clauses"]["附件2（三）1"]  # type: ignore[index]
    assert "附件2第（三）项第1条" in clause["cite"] and clause["text"]
    assert doc["rules"]["FILING-REVOKED"]["remediation"]  # type: ignore[index]


def test_english_reports(tmp_path: Path) -> None:
    scan(tmp_path, EXAMPLES / "submission.csv", extra=("--lang", "en"))
    revoked = next(
        f for f in all_findings(findings_json(tmp_path)) if f["rule"] == "FILING-REVOKED"
    )
    assert "is revoked" in revoked["message"]  # type: ignore[operator]


@pytest.mark.parametrize(
    ("fail_on", "code"), [("never", 0), ("info", 1), ("review", 1), ("medium", 1), ("high", 1)]
)
def test_fail_on(tmp_path: Path, fail_on: str, code: int) -> None:
    assert (
        scan(tmp_path, EXAMPLES / "submission.csv", extra=("--fail-on", fail_on)).exit_code == code
    )


REVIEW_CONFIG = '[rules.severity]\nQUOTA = "review"\n'
"""A bureau that wants a person to judge every participation target."""


def quota_only(tmp_path: Path) -> Path:
    """A filed, adopted app whose only finding is its participation target (QUOTA)."""
    row = list(CLEAN_ROW)
    row[HEADER.index("指标要求")] = "参与率100%"
    return write_csv(tmp_path / "quota.csv", [HEADER, row], "gb18030")


@pytest.mark.parametrize(
    ("fail_on", "code"),
    [("never", 0), ("high", 0), ("medium", 0), ("review", 1), ("info", 1)],
)
def test_fail_on_with_only_review_findings(tmp_path: Path, fail_on: str, code: int) -> None:
    config = tmp_path / "appaudit.toml"
    config.write_text(REVIEW_CONFIG, "utf-8")
    result = scan(
        tmp_path, quota_only(tmp_path), extra=("--config", str(config), "--fail-on", fail_on)
    )
    assert result.exit_code == code, result.stderr
    assert "发现问题 高 0、中 0、需人工研判 1、提示 0" in result.stderr
    doc = findings_json(tmp_path)
    assert [(f["rule"], f["severity"]) for f in all_findings(doc)] == [("QUOTA", "review")]
    assert doc["counts"] == {"high": 0, "medium": 0, "review": 1, "info": 0}


def test_the_summary_line_counts_review_even_when_there_is_none(tmp_path: Path) -> None:
    result = scan(tmp_path, quota_only(tmp_path))
    assert result.exit_code == 1
    assert "发现问题 高 1、中 0、需人工研判 0、提示 0" in result.stderr


def test_fail_on_help_lists_every_threshold() -> None:
    import typer.main

    command = typer.main.get_command(app).commands["scan"]  # type: ignore[attr-defined]
    option = next(p for p in command.params if p.name == "fail_on")
    assert "high, medium, review, info" in option.help and "never" in option.help
    refused = run("scan", str(EXAMPLES / "submission.csv"), "--fail-on", "low")
    assert "只能是 high, medium, review, info, never 之一" in refused.stderr


def test_a_clean_submission_exits_0(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "clean.csv", [HEADER, CLEAN_ROW], "gb18030")
    result = scan(tmp_path, path)
    assert result.exit_code == 0, result.stderr
    doc = findings_json(tmp_path)
    assert all_findings(doc) == [] and doc["schools"][0]["school"] == "示例实验小学"  # type: ignore[index]


@pytest.mark.parametrize("encoding", sorted(ENCODINGS))
def test_every_encoding_scans_the_same(tmp_path: Path, encoding: str) -> None:
    rows = [
        HEADER,
        CLEAN_ROW,
        ["示例实验小学", "", "APP", "国家反诈中心", "", "", "家长", "下载安装、答题"],
    ]
    path = write_csv(tmp_path / f"s-{encoding}.csv", rows, encoding)
    scan(tmp_path, path)
    got = sorted((f["row"], f["rule"]) for f in all_findings(findings_json(tmp_path)))
    assert got == [(3, "NON-EDU-APP"), (3, "TASK-PROHIBITED")]


def test_xlsx_submission_and_several_files(tmp_path: Path) -> None:
    xlsx = write_xlsx(tmp_path / "s.xlsx", [["附件3"], HEADER, CLEAN_ROW])
    other = write_csv(
        tmp_path / "b.csv",
        [HEADER, ["示例第二中学", "", "公众号", "某市公安局", "", "", "家长", "关注"]],
    )
    result = scan(tmp_path, xlsx, other)
    doc = findings_json(tmp_path)
    assert [s["school"] for s in doc["schools"]] == ["示例实验小学", "示例第二中学"]  # type: ignore[index]
    assert [f["rule"] for f in all_findings(doc)] == ["NON-EDU-ACCOUNT"]
    assert result.exit_code == 1
    assert [i["rows"] for i in doc["inputs"]] == [1, 1]  # type: ignore[index]


def test_csv_report_neutralises_formulas(tmp_path: Path) -> None:
    rows = [HEADER, ["示例实验小学", "", "APP", '=HYPERLINK("http://x")', "", "", "家长", "下载"]]
    scan(tmp_path, write_csv(tmp_path / "f.csv", rows))
    raw = (tmp_path / "report" / "findings.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    cells = [c for row in csv.reader(raw.decode("utf-8-sig").splitlines()) for c in row]
    assert not any(c.startswith("=") for c in cells)
    assert any(c.startswith("'=HYPERLINK") for c in cells)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["scan", "nonexistent.csv"], "文件不存在"),
        (["scan", "EXAMPLE", "--lang", "fr"], "--lang 只能是"),
        (["scan", "EXAMPLE", "--fail-on", "low"], "--fail-on 只能是"),
        (["scan", "EXAMPLE", "--format", "pdf"], "--format 只能是"),
        (["scan", "EXAMPLE", "--db", "nosuch://x"], "不支持的数据库地址"),
        (["scan", "EXAMPLE", "--registry", "nonexistent.csv"], "文件不存在：nonexistent.csv"),
    ],
)
def test_usage_errors_are_one_line_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    args = [str(EXAMPLES / "submission.csv") if a == "EXAMPLE" else a for a in args]
    result = run(*args, "--out", str(tmp_path / "out"))
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr
    assert not (tmp_path / "out").exists()


def test_unreadable_submission_is_exit_2_and_writes_nothing(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"\x00\x01binary\xff\xfe garbage")
    result = scan(tmp_path, bad)
    assert result.exit_code == 2 and "找不到含已知列名的表头行" in result.stderr
    assert result.stderr.count("\n") == 1  # one line
    assert not (tmp_path / "report").exists()
    english = CliRunner().invoke(app, ["scan", str(bad), "--out", str(tmp_path / "r"),
                                       *REGISTRY_ARGS], env={"APPAUDIT_LANG": "en"})  # fmt: skip
    assert english.exit_code == 2 and "no header row" in english.stderr


def test_refuses_to_replace_a_folder_that_is_not_a_report(tmp_path: Path) -> None:
    precious = tmp_path / "mine"
    precious.mkdir()
    (precious / "thesis.docx").write_text("do not delete")
    result = run("scan", str(EXAMPLES / "submission.csv"), "--out", str(precious), *REGISTRY_ARGS)
    assert result.exit_code == 2 and "不是 appaudit 生成的报告文件夹" in result.stderr
    assert (precious / "thesis.docx").read_text() == "do not delete"


def test_a_second_scan_replaces_the_report(tmp_path: Path) -> None:
    scan(tmp_path, EXAMPLES / "submission.csv")
    clean = write_csv(tmp_path / "clean.csv", [HEADER, CLEAN_ROW])
    assert scan(tmp_path, clean).exit_code == 0
    assert all_findings(findings_json(tmp_path)) == []


def test_config_file_disables_rules_and_overrides_severity(tmp_path: Path) -> None:
    config = tmp_path / "appaudit.toml"
    config.write_text(
        '[rules]\ndisabled = ["NON-EDU-APP"]\n[rules.severity]\nTASK-PROHIBITED = "info"\n', "utf-8"
    )
    rows = [HEADER, ["示例实验小学", "", "APP", "国家反诈中心", "", "", "家长", "答题"]]
    result = scan(tmp_path, write_csv(tmp_path / "s.csv", rows), extra=("--config", str(config)))
    got = [(f["rule"], f["severity"]) for f in all_findings(findings_json(tmp_path))]
    assert got == [("TASK-PROHIBITED", "info")] and result.exit_code == 0
    config.write_text('[rules]\ndisabled = ["NO-SUCH-RULE"]\n', "utf-8")
    bad = scan(tmp_path, EXAMPLES / "submission.csv", extra=("--config", str(config)))
    assert bad.exit_code == 2
    assert "[rules] disabled 中的规则编号 NO-SUCH-RULE 不存在" in bad.stderr


def test_scan_with_the_database_stores_runs(db_url: str, tmp_path: Path) -> None:
    for name in ("registry.csv", "adoptions.csv"):
        assert run("registry", "import", str(EXAMPLES / name), "--db", db_url).exit_code == 0
    out = str(tmp_path / "report")
    first = run("scan", str(EXAMPLES / "submission.csv"), "--out", out, "--db", db_url)
    assert first.exit_code == 1, first.stderr
    second = run(
        "scan", str(EXAMPLES / "submission.csv"), "--out", out, "--db", db_url, "--fail-on", "never"
    )
    assert second.exit_code == 0
    listed = json.loads(run("runs", "--format", "json", "--db", db_url).stdout)
    assert [r["id"] for r in listed] == [2, 1]
    sha = listed[0]["inputs"][0]["sha256"]
    import hashlib

    assert sha == hashlib.sha256((EXAMPLES / "submission.csv").read_bytes()).hexdigest()
    assert listed[0]["counts"]["schools"] == 4 and listed[0]["counts"]["high"] > 0
    assert len(listed[0]["registry_digest"]) == 64
    shown = json.loads(run("runs", "--show", "1", "--db", db_url).stdout)
    rules = {f["rule"] for s in shown["schools"] for f in s["findings"]}
    assert "FILING-REVOKED" in rules and len(shown["registry_snapshot"]["entries"]) == 25
    # Each school as findings.json had it: findings in words, with their ledger numbers.
    first = shown["schools"][0]
    assert first["sources"][0].endswith("submission.csv") and first["items"] > 0
    assert all(f["message"] and f["ledger_id"] for f in first["findings"])
    table = run("runs", "--db", db_url).stdout
    assert "submission.csv" in table
    missing = run("runs", "--show", "99", "--db", db_url)
    assert missing.exit_code == 2 and "没有第 99 次核查的记录" in missing.stderr


def test_rules_lists_the_catalogue() -> None:
    result = run("rules")
    assert result.exit_code == 0
    for rule in catalogue().rules:
        assert rule in result.stdout
    listed = json.loads(run("rules", "--format", "json", "--lang", "en").stdout)
    assert {r["id"] for r in listed} == set(catalogue().rules)
    quota = next(r for r in listed if r["id"] == "QUOTA")
    assert quota["basis"] == "工作措施（三）" and "参与率" in quota["basis_text"]


def test_rules_show_severity_labels_and_every_severity(tmp_path: Path) -> None:
    table = run("rules").stdout
    quota = next(line for line in table.splitlines() if line.startswith("QUOTA "))
    assert "高 (high)" in quota
    assert "严重程度（由高到低）：高 (high)、中 (medium)、需人工研判 (review)、提示 (info)" in table
    assert "需人工研判：涉及国家明确规定或党组织安排等情形" in table
    english = run("rules", "--lang", "en").stdout
    assert "high, medium, needs review (review), info" in english
    config = tmp_path / "appaudit.toml"
    config.write_text(REVIEW_CONFIG, "utf-8")
    configured = run("rules", "--config", str(config)).stdout
    quota = next(line for line in configured.splitlines() if line.startswith("QUOTA "))
    assert "需人工研判 (review)" in quota
    listed = json.loads(run("rules", "--format", "json", "--config", str(config)).stdout)
    quota_json = next(r for r in listed if r["id"] == "QUOTA")
    assert quota_json["severity"] == "review" and quota_json["default_severity"] == "high"
    assert quota_json["severity_label"] == "需人工研判"


def test_runs_count_review_and_read_older_runs_with_0(db_url: str, tmp_path: Path) -> None:
    for name in ("registry.csv", "adoptions.csv"):
        assert run("registry", "import", str(EXAMPLES / name), "--db", db_url).exit_code == 0
    config = tmp_path / "appaudit.toml"
    config.write_text(REVIEW_CONFIG, "utf-8")
    scanned = run(
        "scan", str(quota_only(tmp_path)), "--out", str(tmp_path / "report"), "--db", db_url,
        "--config", str(config),
    )  # fmt: skip
    assert scanned.exit_code == 0, scanned.stderr
    # A run stored before review existed: its counts have no such key.
    database = open_database(db_url, create=False)
    (new,) = run_store.list_runs(database)
    old_counts = {"high": 2, "medium": 1, "info": 0, "schools": 1, "items": 3, "input_problems": 0}
    old_school = run_store.SchoolRecord(
        "示例第二中学",
        "",
        {"high": 2, "medium": 1, "info": 0},
        '{"findings": [], "input_problems": []}',
    )
    old_id = run_store.record_run(
        database, replace(new, id=None, counts=old_counts, schools=(old_school,))
    )
    database.close()
    listed = {
        r["id"]: r for r in json.loads(run("runs", "--format", "json", "--db", db_url).stdout)
    }
    assert listed[new.id]["counts"]["review"] == 1 and listed[new.id]["counts"]["high"] == 0
    assert listed[old_id]["counts"] == {"high": 2, "medium": 1, "review": 0, "info": 0,
                                        "schools": 1, "items": 3, "input_problems": 0}  # fmt: skip
    shown = json.loads(run("runs", "--show", str(old_id), "--db", db_url).stdout)
    assert shown["counts"]["review"] == 0 and shown["schools"][0]["counts"]["review"] == 0
    stored = json.loads(run("runs", "--show", str(new.id), "--db", db_url).stdout)
    assert stored["schools"][0]["counts"] == {"high": 0, "medium": 0, "review": 1, "info": 0}
    table = run("runs", "--db", db_url).stdout.splitlines()
    assert "高/中/需人工研判/提示" in table[0]
    assert any(line.startswith(f"{old_id} ") and "2 / 1 / 0 / 0" in line for line in table)
    assert any(line.startswith(f"{new.id} ") and "0 / 0 / 1 / 0" in line for line in table)


def test_rules_show_the_new_rule_and_each_cause_with_its_clauses() -> None:
    table = run("rules")
    assert table.exit_code == 0
    assert "LISTING-REMOVED" in table.stdout and "需人工研判 (review)" in table.stdout
    assert "TASK-PROHIBITED  教育平台未经选用（附件2（三）2; 附件2（三）3）" in table.stdout
    assert "PROOF-SCREENSHOT  要求家长提供（整治重点（四）; 工作措施（一））" in table.stdout
    doc = json.loads(run("rules", "--format", "json").stdout)
    duplicate = next(r for r in doc if r["id"] == "DUPLICATE-FUNCTION")
    assert duplicate["basis"] == "工作措施（四）" and "控制数量" in duplicate["basis_text"]
    quota = next(r for r in doc if r["id"] == "QUOTA")
    assert quota["causes"]["national"]["label"]["zh"] == "涉及国家规定，需人工研判"
