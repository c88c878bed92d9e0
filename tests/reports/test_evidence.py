"""Evidence in words: what each finding rests on, labelled in the reader's language."""

from __future__ import annotations

import csv
import io
import json
import re
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from examplereport import scan_examples

from policies.model import Finding, catalogue
from reports import evidence
from scanner.apk.problems import describe_failure

CJK = re.compile(r"[\u3400-\u9fff]")


def _toml() -> dict[str, Any]:
    text = resources.files("reports").joinpath("templates/evidence.toml").read_text("utf-8")
    return tomllib.loads(text)


def _finding(rule: str, evidence_: dict[str, Any], **params: Any) -> Finding:
    return Finding(rule, "high", "某校", 3, "某应用", "app", evidence_, params)


@pytest.fixture(scope="module")
def example_findings(tmp_path_factory: pytest.TempPathFactory) -> list[Finding]:
    """The example district's findings, read back from findings.json (evidence unchanged)."""
    report = scan_examples(tmp_path_factory.mktemp("example"), "--format", "json")
    doc = json.loads((report / "findings.json").read_text("utf-8"))
    return [
        Finding(
            f["rule"], f["severity"], s["school"], f["row"], f["item"], f["kind"], f["evidence"]
        )
        for s in doc["schools"]
        for f in s["findings"]
    ]


def test_every_rule_chooses_its_facts_and_every_fact_has_words() -> None:
    table = _toml()
    assert set(table["rules"]) == set(catalogue().rules)
    labels = table["labels"]
    for key, words in labels.items():
        assert set(words) == {"zh", "en"}, key
        assert CJK.search(words["zh"]) or words["zh"] in ("SHA-256", "SDK"), key
    for rule, keys in table["rules"].items():
        for key in keys:
            assert key in labels or key in evidence._READS, (rule, key)
    for key in evidence.MATCH_KEYS:
        assert key in labels
    for section in ("status", "columns", "sdk_categories", "vendors", "punctuation"):
        for key, words in table[section].items():
            assert set(words) == {"zh", "en"}, (section, key)


def test_the_example_evidence_reads_in_chinese(example_findings: list[Finding]) -> None:
    assert len(example_findings) > 30
    for finding in example_findings:
        for key in finding.evidence:
            assert key in _toml()["labels"], (finding.rule, key)
        shown = evidence.match_facts(finding.evidence, "zh") + evidence.finding_facts(finding, "zh")
        for fact in shown:
            assert CJK.search(fact.label), (finding.rule, fact)
            if fact.raw:
                continue
            for word in re.findall(r"[A-Za-z]{3,}[A-Za-z0-9_.]*", fact.value):
                # Identifiers and names written as they are: packages, IDs, addresses, APP.
                assert word in ("APP", "AppID") or "." in word or word.startswith("sph"), (
                    fact,
                    word,
                )
            assert fact.value not in ("true", "false", "None", "none"), (finding.rule, fact)


def test_the_registry_entry_is_one_header_not_every_finding(
    example_findings: list[Finding],
) -> None:
    (revoked,) = [f for f in example_findings if f.rule == "FILING-REVOKED"]
    header = {f.label: f.value for f in evidence.match_facts(revoked.evidence, "zh")}
    assert header == {
        "登记表条目": "示例口算练习（APP，按包名匹配）",
        "备案号": "教APP备9900002号（已撤销）",
        "类别": "教学",
        "提供者": "示例口算科技有限公司(虚构)",
    }
    assert evidence.finding_facts(revoked, "zh") == []  # the message says the rest
    english = {f.label: f.value for f in evidence.match_facts(revoked.evidence, "en")}
    assert english["registry entry"] == "示例口算练习 (app, matched by package)"
    assert english["filing number"] == "教APP备9900002号 (revoked)"
    # A spreadsheet row stands alone: it carries the match and the finding's own facts.
    text = evidence.as_text(revoked, "zh")
    assert text.startswith("包名：org.example.kousuan；登记表条目：示例口算练习（APP，按包名匹配）")


def test_what_triggered_a_finding_is_marked_in_its_cell(example_findings: list[Finding]) -> None:
    unrelated = [f for f in example_findings if f.rule == "TASK-UNRELATED" and f.row == 6]
    (finding,) = unrelated
    facts = evidence.finding_facts(finding, "zh")
    assert facts == [
        evidence.Fact("布置单位", "区公安分局", ("公安",)),
        evidence.Fact("备注", "每周统计各班注册人数", ("统计",)),
    ]
    assert [f.label for f in evidence.finding_facts(finding, "en")] == ["requested by", "note"]
    (shop,) = [f for f in example_findings if f.rule == "COMMERCIAL" and f.item == "示例优选商城"]
    words = {f.label: f for f in evidence.finding_facts(shop, "zh")}
    assert words["要求内容"].marks == ("会员", "购买")
    assert words["触发词"].value == "类别“购物”"


def test_values_in_words() -> None:
    assert evidence.value(True, "zh") == "是" and evidence.value(False, "en") == "no"
    assert evidence.value(None, "zh") == "无" and evidence.value([], "en") == "none"
    assert evidence.value("official_account", "zh") == "公众号"
    assert (
        evidence.value({"zh": "国家规定的体质健康测试", "en": "national"}, "zh")
        == "国家规定的体质健康测试"
    )
    assert evidence.value(["a", "b"], "zh") == "a；b"
    assert (
        evidence.entry_text(
            {
                "name": "闽教高分",
                "kind": "app",
                "filing_no": "教APP备1100819号",
                "status": "active",
            },
            "zh",
        )
        == "闽教高分（APP，教APP备1100819号，有效）"
    )


def test_a_finding_of_unknown_shape_is_still_shown() -> None:
    odd = _finding("FUTURE-RULE", {"registry_entry": "国家反诈中心", "matched_on": ["package"]})
    assert evidence.match_facts(odd.evidence, "zh") == [evidence.Fact("登记表条目", "国家反诈中心")]
    assert evidence.finding_facts(odd, "zh") == [evidence.Fact("matched_on", "包名")]
    assert evidence.facts(odd, "en") == [
        ("registry entry", "国家反诈中心"),
        ("matched_on", "package"),
    ]


def test_apk_evidence_in_plain_words() -> None:
    sdks = _finding(
        "APK-AD-SDK",
        {
            "apk": "a.apk",
            "sdks": [
                {
                    "name": "穿山甲 Pangle",
                    "vendor": "ByteDance",
                    "category": "ads",
                    "prefix": "com.bytedance.sdk.openadsdk",
                },
            ],
            "caveat": "static analysis shows an SDK is present, not that it sends data",
        },
    )
    (shown, raw) = evidence.finding_facts(sdks, "zh")
    assert shown == evidence.Fact("SDK", "穿山甲 Pangle（字节跳动，广告）")
    assert raw.raw and raw.value == "com.bytedance.sdk.openadsdk"
    permissions = _finding(
        "APK-SENSITIVE-PERMISSION",
        {
            "permissions": [
                {
                    "permission": "android.permission.READ_CONTACTS",
                    "zh": "读取通讯录",
                    "en": "Read the contacts",
                }
            ]
        },
    )
    (words, names) = evidence.finding_facts(permissions, "zh")
    assert words == evidence.Fact("敏感权限", "读取通讯录")
    assert names.raw and names.value == "android.permission.READ_CONTACTS"
    assert evidence.finding_facts(permissions, "en")[0].value == "Read the contacts"
    reason = "file not found: apks/x.apk"
    unreadable = _finding(
        "APK-UNREADABLE",
        {"apk": "apks/x.apk", "reason": reason},
        reason=reason,
        reason_zh=describe_failure(reason, "zh"),
        reason_en=reason,
    )
    assert (
        catalogue().message(unreadable, "zh")
        == "“某应用”的安装包无法读取：找不到安装包文件“apks/x.apk”。"
    )
    assert evidence.finding_facts(unreadable, "zh") == [evidence.Fact("技术细节", reason, raw=True)]
    assert evidence.finding_facts(unreadable, "en") == []  # the message says it in full


@pytest.mark.parametrize(
    ("text", "zh"),
    [
        ("file not found: apks/x.apk", "找不到安装包文件“apks/x.apk”"),
        ("download failed: HTTP 404 Not Found", "下载失败：服务器返回错误代码 404"),
        ("download failed: connection failed: refused", "下载失败：网络连接中断或超时"),
        ("not a zip file: EOCD not found", "文件已损坏或不是安装包（无法按ZIP格式读取）"),
        (
            "the analysis took longer than 60 s (the time budget per APK)",
            "分析未能完成（超出时间或内存限制，或分析进程出错），可重新核查",
        ),
        ("something new", "安装包无法读取"),
    ],
)
def test_why_an_apk_could_not_be_read_in_chinese(text: str, zh: str) -> None:
    assert describe_failure(text, "zh") == zh
    assert describe_failure(text, "en")


def test_every_permission_has_a_chinese_name() -> None:
    text = resources.files("scanner").joinpath("data/permissions.csv").read_text("utf-8")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) >= 70
    for row in rows:
        assert CJK.search(row["name_zh"]), row["permission"]
        assert row["meaning_en"], row["permission"]


def test_input_problems_say_why_in_both_languages(tmp_path: Path) -> None:
    report = scan_examples(tmp_path, "--format", "json", "--lang", "en")
    doc = json.loads((report / "findings.json").read_text("utf-8"))
    (invalid,) = [f for s in doc["schools"] for f in s["findings"] if f["rule"] == "INPUT-INVALID"]
    assert invalid["message"] == (
        "Row 27 could not be understood: the kind (类型) is empty and the identifier does not tell it."
    )
    finding = Finding(
        invalid["rule"],
        invalid["severity"],
        "",
        invalid["row"],
        invalid["item"],
        "",
        invalid["evidence"],
    )
    (cells,) = evidence.finding_facts(finding, "zh")
    assert cells.label == "填报内容" and "名称：某应用" in cells.value and "seq" not in cells.value
