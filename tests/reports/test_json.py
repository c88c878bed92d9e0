"""`findings.json` keeps its published keys and types, in the chosen language."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import resultfactory

from policies.model import SEVERITIES, catalogue
from policies.results import ScanResult
from reports.text import finding_rule_text

FINDING_KEYS = {"rule", "severity", "row", "item", "kind", "message", "basis", "evidence"}


def _load(folder: Path) -> dict[str, Any]:
    data = json.loads((folder / "findings.json").read_text("utf-8"))
    assert isinstance(data, dict)
    return data


def test_the_contract_keys_and_types(report: Path, result: ScanResult) -> None:
    data = _load(report)
    assert data["tool"] == {"name": "appaudit", "version": "0.1.0"}
    assert datetime.fromisoformat(data["generated_at"]) == result.generated_at
    assert [s["school"] for s in data["schools"]] == [s.school for s in result.schools]
    for school_json, school in zip(data["schools"], result.schools, strict=True):
        assert {"school", "school_code", "findings", "input_problems"} <= set(school_json)
        assert school_json["sources"] == sorted({f.source for f in school.findings})
        assert school_json["school_code"] == school.school_code
        assert len(school_json["findings"]) == len(school.findings)
        for got, finding in zip(school_json["findings"], school.findings, strict=True):
            assert set(got) >= FINDING_KEYS
            assert got["rule"] == finding.rule
            assert got["severity"] in SEVERITIES and got["severity"] == finding.severity
            assert got["row"] == finding.row
            assert got["row"] is None or isinstance(got["row"], int)
            assert got["item"] == finding.item and got["kind"] == finding.kind
            assert isinstance(got["message"], str) and got["message"]
            assert got["basis"] == [c.ref for c in finding_rule_text(finding, "zh").clauses]
            assert set(got["basis"]) <= set(data["clauses"])
            for extra in ("title", "remediation", "basis_ref"):
                assert extra not in got  # said once, in `rules`
            assert isinstance(got["evidence"], dict)
            assert got["evidence"] == dict(finding.evidence)
        assert school_json["input_problems"] == [
            {"row": p.row, "message": p.message_zh, "source": p.source} for p in school.problems
        ]
        assert school_json["counts"] == school.counts()


def test_messages_and_titles_are_in_the_report_language(
    report: Path, report_en: Path, result: ScanResult
) -> None:
    zh, en = _load(report), _load(report_en)
    findings = result.findings()
    zh_findings = [f for s in zh["schools"] for f in s["findings"]]
    en_findings = [f for s in en["schools"] for f in s["findings"]]
    for finding, got_zh, got_en in zip(findings, zh_findings, en_findings, strict=True):
        assert got_zh["message"] == catalogue().message(finding, "zh")
        assert got_en["message"] == catalogue().message(finding, "en")
        assert got_zh["message"] != got_en["message"]
        assert zh["rules"][finding.rule]["title"] == catalogue()[finding.rule].title["zh"]
        assert (
            en["rules"][finding.rule]["remediation"] == catalogue()[finding.rule].remediation["en"]
        )
    assert "不是教育类APP" in zh_findings[0]["message"]
    assert "is not an education app" in en_findings[0]["message"]
    middle_en = en["schools"][2]
    assert middle_en["input_problems"][0]["message"].startswith("the kind (类型) is empty")


def test_what_repeats_is_written_once(report: Path) -> None:
    data = _load(report)
    findings = {f["rule"]: f for s in data["schools"] for f in s["findings"]}
    non_edu = findings["NON-EDU-APP"]
    assert non_edu["basis"] == ["整治重点（三）", "附件2（三）3"]
    clause = data["clauses"]["附件2（三）3"]
    assert clause["cite"] == "《工作方案》附件2第（三）项第3条"
    assert "下载安装与教育教学无关的APP" in clause["text"]
    assert findings["INPUT-INVALID"]["basis"] == []
    assert findings["INPUT-INVALID"]["row"] == 7
    rule = data["rules"]["NON-EDU-APP"]
    assert rule["title"] == "与教育教学无关的APP" and rule["severity"] == "high"
    assert rule["basis"] == ["整治重点（三）", "附件2（三）3"]
    assert rule["remediation"] == catalogue()["NON-EDU-APP"].remediation["zh"]
    general = rule["causes"]["general_tool"]
    assert general["label"] == "通用工具，最高为提示"
    assert general["remediation"].startswith("仅用于学校内部办公的不在此列")
    assert data["rules"]["TASK-PROHIBITED"]["causes"]["revoked"]["basis"] == [
        "附件2（三）1",
        "附件2（三）3",
    ]
    assert set(data["rules"]) == set(catalogue().rules)
    cited = {k for r in data["rules"].values() for k in r["basis"]}
    cited |= {k for r in data["rules"].values() for c in r["causes"].values() for k in c["basis"]}
    assert cited <= set(data["clauses"])
    assert data["notice"]["reference"] == "泉丰教〔2024〕59号"
    raw = (report / "findings.json").read_text("utf-8")
    assert raw.count(clause["text"]) == 1
    assert raw.count(rule["remediation"]) == 1


def test_a_finding_names_its_cause(tmp_path: Path) -> None:
    from policies.results import SchoolResult
    from reports.json_format import JsonFormat

    school = SchoolResult("清源山小学", "3505030003")
    resultfactory.finding(
        "TASK-PROHIBITED",
        school,
        item="优学派",
        row=3,
        params={"variant": "revoked", "cause_zh": "的备案已撤销", "tasks": "打卡"},
    )
    resultfactory.finding("QUOTA", school, item="某应用", row=4)
    JsonFormat().write(resultfactory.scan_result([school]), tmp_path, "zh")
    data = _load(tmp_path)
    revoked, quota = data["schools"][0]["findings"]
    assert revoked["cause"] == "revoked"
    assert revoked["basis"] == ["附件2（三）1", "附件2（三）3"]  # the cause's own clauses
    assert "cause" not in quota
    remediation = data["rules"]["TASK-PROHIBITED"]["causes"]["revoked"]["remediation"]
    assert remediation.startswith("立即停止要求使用")


def test_the_run_its_inputs_and_its_registry(report: Path, result: ScanResult) -> None:
    data = _load(report)
    assert data["registry"] == {
        "source": "sqlite:///registry.db",
        "digest": "5e" * 32,
        "entries": 128,
        "adoptions": 342,
    }
    assert data["catalogue_digest"] == catalogue().digest
    assert data["run_id"] == 17
    assert [i["sha256"] for i in data["inputs"]] == [i.sha256 for i in result.inputs]
    assert data["inputs"][0]["rows"] == 9
    assert data["file_problems"] == [
        {
            "row": None,
            "message": "文件缺少“学校”列，无法核查其中任何一行",
            "source": "东海学校.xlsx",
        }
    ]
    assert data["counts"] == result.counts()


def test_text_is_kept_as_written(report: Path) -> None:
    raw = (report / "findings.json").read_bytes()
    assert "泉州市丰泽区第一实验小学".encode() in raw  # not \\u escapes
    data = json.loads(raw)
    hostile = data["schools"][1]
    assert hostile["school"] == resultfactory.SCRIPT_SCHOOL
    assert [f["item"] for f in hostile["findings"]] == [
        resultfactory.SCRIPT_APP,
        resultfactory.QUOTED_APP,
        resultfactory.FORMULA_ITEM,
    ]


def test_evidence_that_is_not_plain_json_is_still_written(tmp_path: Path) -> None:
    from policies.results import SchoolResult
    from reports.json_format import JsonFormat

    school = SchoolResult("测试学校", "1")
    resultfactory.finding(
        "FILING-MISSING",
        school,
        item="某应用",
        row=2,
        evidence={"packages": {"b.pkg", "a.pkg"}, "path": Path("apks/x.apk"), "pair": (1, 2)},
    )
    JsonFormat().write(resultfactory.scan_result([school]), tmp_path, "zh")
    evidence = _load(tmp_path)["schools"][0]["findings"][0]["evidence"]
    assert evidence == {"packages": ["a.pkg", "b.pkg"], "path": "apks/x.apk", "pair": [1, 2]}


def test_school_json_is_exactly_the_dumped_school_dict() -> None:
    from reports.json_format import VerdictJson, compact_json, school_dict, school_json

    result = resultfactory.realistic_result()
    for lang in ("zh", "en"):
        fast = VerdictJson(lang)
        for school in result.schools:
            assert (
                school_json(school, lang, fast) == compact_json(school_dict(school, lang)).encode()
            )


def test_a_finding_names_its_file_when_its_school_has_several(tmp_path: Path) -> None:
    from policies.results import SchoolResult
    from reports.json_format import JsonFormat, VerdictJson, compact_json, school_dict, school_json

    one, two = SchoolResult("清源山小学", "3505030003"), SchoolResult("东海学校", "3505030004")
    resultfactory.finding("QUOTA", one, item="某应用", row=2, source="清源山小学.csv")
    resultfactory.finding("QUOTA", one, item="某应用", row=3, source="清源山小学.csv")
    resultfactory.finding("QUOTA", two, item="某应用", row=2, source="春季.csv")
    resultfactory.finding("QUOTA", two, item="某应用", row=5, source="补报.xlsx")
    JsonFormat().write(resultfactory.scan_result([one, two]), tmp_path, "zh")
    single, several = _load(tmp_path)["schools"]
    assert single["sources"] == ["清源山小学.csv"]
    assert all("source" not in f for f in single["findings"])
    assert several["sources"] == ["春季.csv", "补报.xlsx"]
    assert [f["source"] for f in several["findings"]] == ["春季.csv", "补报.xlsx"]
    assert (
        school_json(two, "zh", VerdictJson("zh")) == compact_json(school_dict(two, "zh")).encode()
    )


def test_ledger_numbers_and_waivers_ride_along_the_same_on_both_paths() -> None:
    from datetime import date

    from policies.ledger import LedgerTag
    from policies.results import SchoolResult
    from reports.json_format import VerdictJson, compact_json, school_dict, school_json

    for sources in (["a.csv"], ["a.csv", "b.csv"]):
        school = SchoolResult("清源山小学", "3505030003")
        for n, source in enumerate(sources * 2):
            resultfactory.finding("QUOTA", school, item="某应用", row=n + 2, source=source)
        waived_finding = school.findings.pop()
        waiver = {"id": 3, "reason": "经批准暂缓", "approved_by": "王五", "until": "2027-01-31"}
        school.waived = [(waived_finding, waiver)]
        school.ledger_tags = [
            LedgerTag(f"2026-{n + 1:04d}", "open", date(2026, 12, 30))
            for n in range(len(school.findings))
        ]
        school.ledger_tags[0] = None  # a finding the ledger does not track
        fast = school_json(school, "zh", VerdictJson("zh"))
        assert fast == compact_json(school_dict(school, "zh")).encode()
        findings = json.loads(fast)["findings"]
        assert "ledger_id" not in findings[0]
        assert [f.get("ledger_id") for f in findings[1:-1]] == [
            t.number for t in school.ledger_tags[1:] if t
        ]
        assert findings[-1]["waived"] == waiver
        assert "ledger_id" not in findings[-1]
