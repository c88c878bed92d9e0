"""`appaudit scan`, `rules` and `runs` end to end: example data, exit codes, history, config."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from tablefactory import ENCODINGS, write_csv, write_xlsx
from typer.testing import CliRunner, Result

from appaudit.cli import app
from policies.model import catalogue

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
    assert "report: " in result.stderr and "index.html" in result.stderr
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
            assert finding["severity"] in ("high", "medium", "info")
            assert finding["row"] is None or isinstance(finding["row"], int)
            assert isinstance(finding["evidence"], dict) and finding["message"]
        for problem in school["input_problems"]:
            assert {"row", "message"} <= set(problem)
    revoked = next(f for f in all_findings(doc) if f["rule"] == "FILING-REVOKED")
    assert revoked["row"] == 18 and "已撤销" in revoked["message"]  # type: ignore[operator]
    assert "附件2 (三)1" in revoked["basis"]  # type: ignore[operator]


def test_english_reports(tmp_path: Path) -> None:
    scan(tmp_path, EXAMPLES / "submission.csv", extra=("--lang", "en"))
    revoked = next(
        f for f in all_findings(findings_json(tmp_path)) if f["rule"] == "FILING-REVOKED"
    )
    assert "is revoked" in revoked["message"]  # type: ignore[operator]


@pytest.mark.parametrize(
    ("fail_on", "code"), [("never", 0), ("info", 1), ("medium", 1), ("high", 1)]
)
def test_fail_on(tmp_path: Path, fail_on: str, code: int) -> None:
    assert (
        scan(tmp_path, EXAMPLES / "submission.csv", extra=("--fail-on", fail_on)).exit_code == code
    )


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
        (["scan", "nonexistent.csv"], "no such file"),
        (["scan", "EXAMPLE", "--lang", "fr"], "--lang must be one of"),
        (["scan", "EXAMPLE", "--fail-on", "low"], "--fail-on must be one of"),
        (["scan", "EXAMPLE", "--format", "pdf"], "--format must be one of"),
        (["scan", "EXAMPLE", "--db", "nosuch://x"], "unsupported database URL"),
        (["scan", "EXAMPLE", "--registry", "nonexistent.csv"], "cannot read"),
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
    assert result.exit_code == 2 and "no header row" in result.stderr
    assert not (tmp_path / "report").exists()


def test_refuses_to_replace_a_folder_that_is_not_a_report(tmp_path: Path) -> None:
    precious = tmp_path / "mine"
    precious.mkdir()
    (precious / "thesis.docx").write_text("do not delete")
    result = run("scan", str(EXAMPLES / "submission.csv"), "--out", str(precious), *REGISTRY_ARGS)
    assert result.exit_code == 2 and "not an appaudit report folder" in result.stderr
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
    assert bad.exit_code == 2 and "unknown rule 'NO-SUCH-RULE'" in bad.stderr


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
    assert "FILING-REVOKED" in rules and len(shown["registry_snapshot"]["entries"]) == 24
    table = run("runs", "--db", db_url).stdout
    assert "submission.csv" in table
    missing = run("runs", "--show", "99", "--db", db_url)
    assert missing.exit_code == 2 and "no scan run #99" in missing.stderr


def test_rules_lists_the_catalogue() -> None:
    result = run("rules")
    assert result.exit_code == 0
    for rule in catalogue().rules:
        assert rule in result.stdout
    listed = json.loads(run("rules", "--format", "json", "--lang", "en").stdout)
    assert {r["id"] for r in listed} == set(catalogue().rules)
    quota = next(r for r in listed if r["id"] == "QUOTA")
    assert quota["basis"] == "工作措施(三)" and "参与率" in quota["basis_text"]
