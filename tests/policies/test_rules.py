"""Every non-APK rule of the catalogue, firing and not firing, on a registry built in code."""

from __future__ import annotations

import pytest
from policyfactory import ADOPTIONS, CODE, ENTRIES, SCHOOL, VIEW, basis, item, message  # noqa: F401

from policies.config import PolicyConfig
from policies.engine import UNKNOWN_SCHOOL, Engine
from policies.model import Finding, catalogue
from policies.rules import ITEM_RULES, SCHOOL_RULES
from scanner.submission import InputProblem, RequiredItem


def findings(it: RequiredItem, config: PolicyConfig | None = None) -> list[Finding]:
    return Engine(VIEW, config).check_item(it)[1]


def rules_of(it: RequiredItem, config: PolicyConfig | None = None) -> set[str]:
    return {f.rule for f in findings(it, config)}


def only(it: RequiredItem, rule: str) -> Finding:
    hits = [f for f in findings(it) if f.rule == rule]
    assert len(hits) == 1, [f.rule for f in findings(it)]
    return hits[0]


def test_a_filed_adopted_education_app_is_clean() -> None:
    assert rules_of(item("闽教高分", identifier="com.zhl.mjqk.aphone", filing_no="教APP备1100819号",
                         actions=("下载安装", "注册"), audience=("学生",))) == set()  # fmt: skip


# --- matching -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("it", "how"),
    [
        (item("随便写的名字", identifier="com.zhl.mjqk.aphone"), "package"),
        (item("闽教高分家长版", filing_no="教APP备１１００８１９号"), "filing_no"),
        (item(" 闽教高分 APP "), "name"),
        (item("闽教高分（家长端）"), "name"),
        (item("示例区教育局公众号", kind="official_account"), "name"),
        (item("x", kind="official_account", identifier="GH_5A3C0E9B7D21"), "original_id"),
    ],
)
def test_items_match_by_identifier_then_filing_then_name(it: RequiredItem, how: str) -> None:
    engine = Engine(VIEW)
    match = engine.assess(it).match
    assert match.entry is not None and match.matched_by == how
    assert match.evidence()["matched_by"] == how  # what findings show as evidence


def test_adoption_counts_by_code_name_or_district() -> None:
    by_name = item("闽教高分", school_code="")
    assert "ADOPTION-MISSING" not in rules_of(by_name)
    other_school = item("闽教高分", school="示例第二中学", school_code="3135000002")
    assert "ADOPTION-MISSING" in rules_of(other_school)
    district = item("示例区教育局", kind="official_account", school="任何学校", school_code="")
    assert "ADOPTION-MISSING" not in rules_of(district)


# --- each rule, firing and not firing -------------------------------------------------------


def test_filing_missing() -> None:
    unknown = only(item("某某作业"), "FILING-MISSING")
    assert unknown.severity == "high" and unknown.evidence["matched_by"] == "none"
    assert message(unknown) == "本区登记表中没有“某某作业”的备案记录（备案号待核实）。"
    listed = only(item("学习通", identifier="com.chaoxing.mobile"), "FILING-MISSING")
    assert "没有登记备案号" in message(listed)
    stated = only(item("某某作业", filing_no="教APP备3500999号"), "FILING-MISSING")
    assert "教APP备3500999号不在本区登记表中" in message(stated)
    assert "FILING-MISSING" not in rules_of(item("巧考"))
    assert "FILING-MISSING" not in rules_of(item("国家反诈中心"))  # non-education: other rule
    assert "FILING-MISSING" not in rules_of(item("某某", kind="official_account"))


def test_filing_revoked() -> None:
    found = only(item("示例口算练习"), "FILING-REVOKED")
    assert found.params["status_zh"] == "撤销" and found.params["filing_no"] == "教APP备9900002号"
    assert "FILING-REVOKED" not in rules_of(item("巧考"))


def test_filing_mismatch() -> None:
    other_app = only(item("作业帮", filing_no="教APP备1100819号"), "FILING-MISMATCH")
    assert "闽教高分" in other_app.params["detail_zh"]
    assert other_app.evidence["filing_belongs_to"][0]["name"] == "闽教高分"
    registry_says = only(item("巧考", filing_no="教APP备1100819号"), "FILING-MISMATCH")
    assert "教APP备1100871号" in registry_says.params["detail_zh"]
    package = only(item("闽教高分", identifier="com.example.fake", filing_no="教APP备1100819号"),
                   "FILING-MISMATCH")  # fmt: skip
    assert "com.example.fake" in package.params["detail_en"]
    assert "FILING-MISMATCH" not in rules_of(item("巧考", filing_no="教APP备1100871号"))
    assert "FILING-MISMATCH" not in rules_of(item("某某作业", filing_no="教APP备3500999号"))


def test_filing_format() -> None:
    found = only(item("巧考", filing_no="教APP备12号"), "FILING-FORMAT")
    assert found.severity == "medium" and found.params["stated"] == "教APP备12号"
    assert "FILING-FORMAT" not in rules_of(item("巧考", filing_no="教APP备1100871号"))
    assert "FILING-FORMAT" not in rules_of(item("巧考"))


def test_adoption_missing() -> None:
    found = only(item("巧考"), "ADOPTION-MISSING")
    assert found.evidence["registry_entry"]["filing_no"] == "教APP备1100871号"
    assert "ADOPTION-MISSING" not in rules_of(item("闽教高分"))
    assert "ADOPTION-MISSING" not in rules_of(
        item("巧考", decision_ref="纪要")
    )  # unrecorded instead
    assert "ADOPTION-MISSING" not in rules_of(item("国家反诈中心"))
    assert "ADOPTION-MISSING" not in rules_of(item("示例口算练习"))  # revoked: other rule


def test_adoption_unrecorded() -> None:
    none = only(item("巧考", decision_ref="2024年第5次校务会"), "ADOPTION-UNRECORDED")
    assert none.severity == "medium" and none.evidence["recorded_decision"] is None
    differs = only(item("闽教高分", decision_ref="另一份纪要"), "ADOPTION-UNRECORDED")
    assert differs.evidence["recorded_decision"] == "2024年第3次校务会议纪要"
    assert "ADOPTION-UNRECORDED" not in rules_of(
        item("闽教高分", decision_ref="2024年第3次校务会议纪要")
    )
    assert "ADOPTION-UNRECORDED" not in rules_of(item("巧考"))


def test_non_edu_app() -> None:
    registered = only(item("国家反诈中心"), "NON-EDU-APP")
    assert registered.params["category"] == "反诈"
    # The entry in the evidence gives what the registry has: no empty filing number.
    entry = registered.evidence["registry_entry"]
    assert entry["category"] == "反诈" and entry["status"] == "none"
    assert "filing_no" not in entry
    filed = only(item("巧考", actions=("打卡",)), "TASK-PROHIBITED")
    assert filed.evidence["registry_entry"]["filing_no"].startswith("教APP备")
    catalogued = only(item("学习强国", identifier="cn.xuexi.android"), "NON-EDU-APP")
    assert catalogued.evidence["known_app"]["source"] and catalogued.severity == "high"
    assert "NON-EDU-APP" in rules_of(item("个人所得税APP"))
    assert "NON-EDU-APP" not in rules_of(item("巧考"))
    general = only(item("钉钉", audience=("家长",)), "NON-EDU-APP")  # a general tool: a hint
    assert general.severity == "info" and "通用工具" in message(general)


def test_non_edu_account() -> None:
    assert "NON-EDU-ACCOUNT" in rules_of(item("示例反诈宣传", kind="official_account"))
    by_word = only(item("某市公安局", kind="official_account"), "NON-EDU-ACCOUNT")
    assert by_word.evidence["name_word"] == "公安"
    assert "NON-EDU-ACCOUNT" in rules_of(item("示例优选商城", kind="miniprogram"))
    assert "NON-EDU-ACCOUNT" in rules_of(item("国家反诈中心", kind="official_account"))
    assert "NON-EDU-ACCOUNT" not in rules_of(item("示例区教育局", kind="official_account"))
    assert "NON-EDU-ACCOUNT" not in rules_of(
        item("某区公安局校园安全教育", kind="official_account")
    )


def test_account_unlisted() -> None:
    found = only(item("某某学习打卡", kind="miniprogram"), "ACCOUNT-UNLISTED")
    assert found.severity == "medium" and found.params["kind_zh"] == "小程序"
    assert "ACCOUNT-UNLISTED" in rules_of(
        item("某学习平台", kind="platform", identifier="www.example.com")
    )
    assert "ACCOUNT-UNLISTED" not in rules_of(item("示例区教育局", kind="official_account"))
    assert "ACCOUNT-UNLISTED" not in rules_of(item("某市公安局", kind="official_account"))


def test_task_prohibited() -> None:
    non_edu = only(item("国家反诈中心", actions=("下载", "答题")), "TASK-PROHIBITED")
    assert non_edu.params["tasks"] == "网络答题" and "无关" in message(non_edu)
    unadopted = only(item("巧考", actions=("每日阅读打卡", "点赞")), "TASK-PROHIBITED")
    assert unadopted.params["tasks"] == "阅读打卡、点赞"
    assert message(unadopted) == (
        "“巧考”未经本校或区教育局集体决策选用，却要求在其上阅读打卡、点赞（“每日阅读打卡、点赞”）。"
    )
    assert basis(unadopted) == ("附件2（三）2", "附件2（三）3")
    assert "TASK-PROHIBITED" in rules_of(item("某某", kind="miniprogram", actions=("投票",)))
    assert "TASK-PROHIBITED" not in rules_of(item("闽教高分", actions=("打卡",)))  # adopted, filed
    assert "TASK-PROHIBITED" not in rules_of(item("国家反诈中心", actions=("下载安装",)))
    # The machine evidence names the reason by a code, not in words.
    assert non_edu.evidence["cause"] == "not_educational"
    assert unadopted.evidence["cause"] == "not_adopted"
    unlisted = only(item("某某", kind="miniprogram", actions=("投票",)), "TASK-PROHIBITED")
    assert unlisted.evidence["cause"] == "unregistered"
    unfiled = only(item("某某学习", actions=("打卡",)), "TASK-PROHIBITED")
    assert unfiled.evidence["cause"] == "unfiled"


def test_task_unrelated() -> None:
    found = only(item("某某", kind="platform", actions=("问卷调查",), requested_by="区文明办"),
                 "TASK-UNRELATED")  # fmt: skip
    assert found.evidence["body_word"] == "文明办"
    assert "TASK-UNRELATED" in rules_of(
        item("x", actions=("信息填报",), requested_by="某某街道社区")
    )
    assert "TASK-UNRELATED" not in rules_of(
        item("x", actions=("信息填报",), requested_by="区教育局")
    )
    assert "TASK-UNRELATED" not in rules_of(
        item("x", actions=("下载安装",), requested_by="区文明办")
    )
    assert "TASK-UNRELATED" not in rules_of(item("x", actions=("问卷",)))


@pytest.mark.parametrize(
    "fields",
    [
        {"quota": "参与率100%"},
        {"quota": "注册率不低于95%"},
        {"actions": ("全员注册",)},
        {"note": "完成率纳入班级考核"},
    ],
)
def test_quota_fires(fields: dict[str, object]) -> None:
    assert "QUOTA" in rules_of(item("闽教高分", **fields))


@pytest.mark.parametrize(
    "fields", [{"quota": "无"}, {"quota": "/"}, {"actions": ("自愿参加",)}, {}]
)
def test_quota_does_not_fire(fields: dict[str, object]) -> None:
    assert "QUOTA" not in rules_of(item("闽教高分", **fields))


def test_proof_screenshot() -> None:
    found = only(item("闽教高分", actions=("完成后截图上传班级群",)), "PROOF-SCREENSHOT")
    assert found.params["proof"] == "截图"
    assert "PROOF-SCREENSHOT" in rules_of(item("闽教高分", note="需录制视频"))
    assert "PROOF-SCREENSHOT" not in rules_of(item("闽教高分", actions=("完成作业",)))


def test_commercial() -> None:
    assert only(item("闽教高分", note="开通VIP会员"), "COMMERCIAL").params["words"] == "vip、会员"
    assert "COMMERCIAL" in rules_of(item("示例优选商城", kind="miniprogram"))
    assert "COMMERCIAL" not in rules_of(item("闽教高分", actions=("完成作业",)))


def school_findings(items: list[RequiredItem], config: PolicyConfig | None = None) -> list[Finding]:
    results, _ = Engine(VIEW, config).evaluate(items)
    return [f for r in results for f in r.findings if f.row is None]


def test_too_many_apps() -> None:
    names = ["闽教高分", "巧考", "学习通", "作业帮", "小猿搜题", "一起小学学生"]
    many = [item(n, row=i + 2) for i, n in enumerate(names)]
    (found,) = [f for f in school_findings(many) if f.rule == "TOO-MANY-APPS"]
    assert found.params == {"count": 6, "limit": 5} and found.severity == "info"
    assert [a["row"] for a in found.evidence["apps"]] == [2, 3, 4, 5, 6, 7]
    assert not [f for f in school_findings(many[:5]) if f.rule == "TOO-MANY-APPS"]
    same_twice = [*many[:5], item("巧考家长版", row=9)]
    assert not [f for f in school_findings(same_twice) if f.rule == "TOO-MANY-APPS"]
    assert [
        f for f in school_findings(many[:3], PolicyConfig(max_apps=2)) if f.rule == "TOO-MANY-APPS"
    ]


def test_duplicate_function() -> None:
    items = [
        item("作业帮", row=2, audience=("学生",)),
        item("小猿搜题", row=3, audience=("学生",)),
        item("小猿口算", row=4, audience=("家长",)),
    ]
    (found,) = [f for f in school_findings(items) if f.rule == "DUPLICATE-FUNCTION"]
    assert found.evidence["function"] == "homework" and found.evidence["audience"] == ["学生"]
    assert [i["row"] for i in found.evidence["items"]] == [2, 3]
    apart = [item("作业帮", row=2, audience=("学生",)), item("小猿口算", row=3, audience=("家长",))]
    assert not [f for f in school_findings(apart) if f.rule == "DUPLICATE-FUNCTION"]


def test_input_invalid() -> None:
    problem = InputProblem("school.csv", 7, "the name (名称) is empty", "名称为空", SCHOOL, CODE,
                           {"school": SCHOOL, "kind": "APP"})  # fmt: skip
    results, file_problems = Engine(VIEW).evaluate([problem])
    (school,) = results
    (finding,) = school.findings
    assert finding.rule == "INPUT-INVALID" and finding.row == 7 and finding.severity == "medium"
    assert school.problems == [problem] and file_problems == []
    orphan = InputProblem("school.csv", 8, "the school (学校) is empty", "学校名称为空")
    results, _ = Engine(VIEW).evaluate([orphan])
    assert results[0].school == UNKNOWN_SCHOOL
    whole_file = InputProblem("school.csv", None, "no school column")
    results, file_problems = Engine(VIEW).evaluate([whole_file])
    assert len(results) == 0 and file_problems == [whole_file]


def test_every_non_apk_rule_has_an_implementation() -> None:
    non_apk = {r for r, s in catalogue().rules.items() if s.scope in ("item", "school", "input")}
    assert non_apk == set(ITEM_RULES) | set(SCHOOL_RULES) | {"INPUT-INVALID"}


def test_severity_overrides_and_disabled_rules() -> None:
    config = PolicyConfig.from_mapping(
        {"rules": {"severity": {"ACCOUNT-UNLISTED": "high"}, "disabled": ["COMMERCIAL"]}}
    )
    it = item("示例优选商城", kind="miniprogram", note="会员")
    assert "COMMERCIAL" not in rules_of(it, config)
    unlisted = [
        f
        for f in findings(item("某某学习", kind="miniprogram"), config)
        if f.rule == "ACCOUNT-UNLISTED"
    ]
    assert unlisted[0].severity == "high"


def test_every_finding_renders_a_message_in_both_languages() -> None:
    items = [
        item("作业帮", filing_no="教APP备1100819号", actions=("打卡", "截图"), quota="参与率100%",
             note="开通会员", requested_by="区文明办"),
        item("示例口算练习", row=3), item("巧考", row=4, decision_ref="纪要", filing_no="教APP备12号"),
        item("国家反诈中心", row=5, actions=("问卷",), requested_by="公安分局"),
        item("某市公安局", kind="official_account", row=6), item("某某小程序", kind="miniprogram", row=7),
    ]  # fmt: skip
    results, _ = Engine(VIEW, PolicyConfig(max_apps=1)).evaluate(items)
    seen = set()
    for f in results[0].findings:
        seen.add(f.rule)
        for lang in ("zh", "en"):
            text = catalogue().message(f, lang)
            assert "{" not in text, (f.rule, lang, text)
    assert len(seen) >= 12


def test_listing_removed_and_certified_owner() -> None:
    from datetime import date

    from registry.records import EntryRecord
    from registry.snapshot import RegistryView

    entries = [
        EntryRecord(id=1, name="示例成长记录", kind="official_account", original_id="gh_1234567890ab",
                    category="家校沟通", listing="removed", listing_date=date(2024, 11, 1),
                    listing_ref="示例区教育局〔2024〕30号"),
        EntryRecord(id=2, name="平安校园", kind="official_account", original_id="gh_abcdefabcdef",
                    category="教育", certified_entity="某某市公安局某某分局"),
        EntryRecord(id=3, name="示例暂停号", kind="official_account", original_id="gh_999999999999",
                    category="教育", listing="suspended"),
    ]  # fmt: skip
    engine = Engine(RegistryView.build(entries, []))
    removed = [f for f in engine.check_item(item("示例成长记录", kind="official_account",
                                                 actions=("关注", "打卡")))[1]]  # fmt: skip
    listing = next(f for f in removed if f.rule == "LISTING-REMOVED")
    assert listing.severity == "high" and basis(listing) == ("附件2（三）2",)
    assert message(listing) == (
        "区教育局已将公众号“示例成长记录”移出准入清单（示例区教育局〔2024〕30号，2024年11月1日），"
        "学校仍要求使用。"
    )
    task = next(f for f in removed if f.rule == "TASK-PROHIBITED")
    assert "已被区教育局移出准入清单" in message(task)
    suspended = engine.check_item(item("示例暂停号", kind="official_account"))[1]
    assert "暂停准入" in message(next(f for f in suspended if f.rule == "LISTING-REMOVED"))
    owned = engine.check_item(item("平安校园", kind="official_account"))[1]
    account = next(f for f in owned if f.rule == "NON-EDU-ACCOUNT")
    assert "认证主体为“某某市公安局某某分局”" in message(account)


def test_an_entry_the_bureau_lists_is_adopted_district_wide() -> None:
    from registry.records import EntryRecord
    from registry.snapshot import RegistryView

    listed = EntryRecord(id=1, name="示例家长学校", kind="official_account",
                         original_id="gh_1234567890ab", category="家校沟通", listing="listed",
                         listing_ref="示例区教育局〔2025〕3号")  # fmt: skip
    engine = Engine(RegistryView.build([listed], []))
    found = engine.check_item(
        item("示例家长学校", kind="official_account", actions=("关注", "打卡"))
    )
    assert [f.rule for f in found[1]] == []
    assert (
        found[0].adoption is not None
        and found[0].adoption.decision_ref == "示例区教育局〔2025〕3号"
    )


def test_a_survey_link_is_judged_by_its_task() -> None:
    link = "https://www.wjx.cn/vm/abc.aspx"
    own = item("家长满意度调查", kind="platform", identifier=link, actions=("填写问卷",))
    assert rules_of(own) == set()  # the school's own questionnaire: no listing, no platform finding
    vote = only(item("最美班级", kind="platform", identifier=link, actions=("投票",)),
                "TASK-PROHIBITED")  # fmt: skip
    assert "问卷星问卷表单链接" in message(vote)
    asked = only(item("家庭情况", kind="platform", identifier=link, requested_by="某某街道社区"),
                 "TASK-UNRELATED")  # fmt: skip
    assert "通过问卷星链接" in message(asked) and asked.evidence["survey_service"]["source"]


def test_a_company_as_certified_owner_says_nothing_by_itself() -> None:
    from registry.records import EntryRecord
    from registry.snapshot import RegistryView

    owned = EntryRecord(id=1, name="示例成长记录", kind="official_account", original_id="gh_1234567890ab",
                        category="家校沟通", certified_entity="示例文化传媒有限公司")  # fmt: skip
    found = Engine(RegistryView.build([owned], [])).check_item(
        item("示例成长记录", kind="official_account")
    )[1]
    assert "NON-EDU-ACCOUNT" not in {f.rule for f in found}
