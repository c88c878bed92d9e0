"""Word rules read clause by clause: a table of field phrases, each firing or staying silent."""

from __future__ import annotations

import pytest
from policyfactory import VIEW, item

from policies.engine import Engine
from policies.keywords import keywords
from policies.model import Finding
from policies.phrases import fold

# (cell, where it is written, rule, fires). An unknown mini-program "某某" stands for a platform
# the school may not set tasks on; TASK-UNRELATED rows are asked by 区文明办.
PHRASES: list[tuple[str, str, str, bool]] = [
    # TASK-PROHIBITED: the notice's tasks and the field's names for them
    ("每天打卡", "action", "TASK-PROHIBITED", True),
    ("连续21天阅读打卡", "action", "TASK-PROHIBITED", True),
    ("为我校节目点赞投票", "action", "TASK-PROHIBITED", True),
    ("参与最美家庭评选", "action", "TASK-PROHIBITED", True),
    ("填写问卷", "action", "TASK-PROHIBITED", True),
    ("参加网络答题活动", "action", "TASK-PROHIBITED", True),
    ("在群里接龙报名", "action", "TASK-PROHIBITED", True),
    ("转发集赞满30个", "action", "TASK-PROHIBITED", True),
    ("邀请亲友助力", "action", "TASK-PROHIBITED", True),
    ("帮孩子拉票", "action", "TASK-PROHIBITED", True),
    ("每日做题10道", "action", "TASK-PROHIBITED", True),
    ("刷课时长不少于2小时", "action", "TASK-PROHIBITED", True),
    ("观看时长达到45分钟", "action", "TASK-PROHIBITED", True),
    ("按积分排名评优", "action", "TASK-PROHIBITED", True),
    ("分享到朋友圈", "action", "TASK-PROHIBITED", True),
    ("每日签到", "action", "TASK-PROHIBITED", True),
    ("自愿收听，每周打卡三次", "action", "TASK-PROHIBITED", True),
    ("不收费，但须每日打卡", "action", "TASK-PROHIBITED", True),
    ("对未打卡的学生进行通报", "note", "TASK-PROHIBITED", True),
    ("不仅要打卡还要投票", "action", "TASK-PROHIBITED", True),
    ("不定期答题", "action", "TASK-PROHIBITED", True),
    ("打\u200b卡", "action", "TASK-PROHIBITED", True),
    ("自愿收听，不要求打卡", "action", "TASK-PROHIBITED", False),
    ("不要求打卡、投票", "action", "TASK-PROHIBITED", False),
    ("严禁要求家长点赞", "note", "TASK-PROHIBITED", False),
    ("禁止组织网络投票", "note", "TASK-PROHIBITED", False),
    ("不得要求学生答题", "note", "TASK-PROHIBITED", False),
    ("打卡自愿", "action", "TASK-PROHIBITED", False),
    ("投票不作要求", "action", "TASK-PROHIBITED", False),
    ("无需打卡", "action", "TASK-PROHIBITED", False),
    ("取消每日签到", "action", "TASK-PROHIBITED", False),
    ("不强制转发", "action", "TASK-PROHIBITED", False),
    ("目前已有30%家长完成打卡", "note", "TASK-PROHIBITED", False),
    ("阅读", "action", "TASK-PROHIBITED", False),
    ("下载安装、注册", "action", "TASK-PROHIBITED", False),
    # TASK-UNRELATED: surveys and data entry asked by a non-education body
    ("填写调查问卷", "action", "TASK-UNRELATED", True),
    ("信息采集", "action", "TASK-UNRELATED", True),
    ("网上填报家庭信息", "action", "TASK-UNRELATED", True),
    ("人口普查登记", "action", "TASK-UNRELATED", True),
    ("不需要填报", "action", "TASK-UNRELATED", False),
    ("无需登记", "action", "TASK-UNRELATED", False),
    ("观看宣传片", "action", "TASK-UNRELATED", False),
    # QUOTA: a target needs a rate with a number, a number with a target word, or a hard word
    ("参与率100%", "quota", "QUOTA", True),
    ("注册率不低于95%", "quota", "QUOTA", True),
    ("班级完成率达到90%", "action", "QUOTA", True),
    ("确保100%家长参与", "action", "QUOTA", True),
    ("100%参与", "action", "QUOTA", True),
    ("要求关注率达百分之九十", "action", "QUOTA", True),
    ("完成情况纳入班级考核", "note", "QUOTA", True),
    ("与教师绩效考核挂钩", "note", "QUOTA", True),
    ("每周通报排名", "note", "QUOTA", True),
    ("通报未完成名单", "note", "QUOTA", True),
    ("全员注册", "action", "QUOTA", True),
    ("每人必须完成", "action", "QUOTA", True),
    ("参与人数不少于300人", "action", "QUOTA", True),
    ("约30%家长已安装", "note", "QUOTA", False),
    ("目前参与率约为60%", "note", "QUOTA", False),
    ("截至5月已有80%家长注册", "note", "QUOTA", False),
    ("不设参与率", "action", "QUOTA", False),
    ("不设参与率", "quota", "QUOTA", False),
    ("无", "quota", "QUOTA", False),
    ("自愿参加", "quota", "QUOTA", False),
    ("不作要求", "quota", "QUOTA", False),
    ("不纳入考核", "note", "QUOTA", False),
    ("不与考核挂钩", "note", "QUOTA", False),
    ("提高家长参与度", "action", "QUOTA", False),
    ("每天阅读30分钟", "action", "QUOTA", False),
    ("不要求全员参与", "action", "QUOTA", False),
    # PROOF-SCREENSHOT
    ("完成后截图上传班级群", "action", "PROOF-SCREENSHOT", True),
    ("拍照上传", "action", "PROOF-SCREENSHOT", True),
    ("拍照打卡", "action", "PROOF-SCREENSHOT", True),
    ("在群里晒照", "action", "PROOF-SCREENSHOT", True),
    ("录制视频提交", "action", "PROOF-SCREENSHOT", True),
    ("上报活动简报", "action", "PROOF-SCREENSHOT", True),
    ("无需截图", "action", "PROOF-SCREENSHOT", False),
    ("不要求拍照上传", "action", "PROOF-SCREENSHOT", False),
    ("用拍照搜题检查作业", "action", "PROOF-SCREENSHOT", False),
    ("严禁以截图留痕", "note", "PROOF-SCREENSHOT", False),
    # COMMERCIAL
    ("需购买会员", "action", "COMMERCIAL", True),
    ("开通VIP会员", "action", "COMMERCIAL", True),
    ("充值学习币", "action", "COMMERCIAL", True),
    ("推荐购买教辅", "note", "COMMERCIAL", True),
    ("无广告但需充值", "note", "COMMERCIAL", True),
    ("本平台不收费、无广告", "note", "COMMERCIAL", False),
    ("不得要求家长购买教辅", "note", "COMMERCIAL", False),
    ("家委会会员", "note", "COMMERCIAL", False),
    ("免费使用，无需付费", "note", "COMMERCIAL", False),
    ("观看公益广告", "action", "COMMERCIAL", False),
    ("谨防虚假广告和贷款诈骗", "note", "COMMERCIAL", False),
]


def _item(cell: str, column: str, rule: str) -> object:
    fields: dict[str, object] = {"note": cell} if column == "note" else {}
    if column == "action":
        fields["action_text"] = cell
    elif column == "quota":
        fields["quota"] = cell
    if rule == "TASK-UNRELATED":
        fields["requested_by"] = "区文明办"
    name = "闽教高分" if rule in ("QUOTA", "PROOF-SCREENSHOT", "COMMERCIAL") else "某某"
    kind = "app" if name == "闽教高分" else "miniprogram"
    return item(name, kind=kind, **fields)


def _fired(cell: str, column: str, rule: str) -> list[Finding]:
    found = Engine(VIEW).check_item(_item(cell, column, rule))[1]  # type: ignore[arg-type]
    return [f for f in found if f.rule == rule]


@pytest.mark.parametrize(("cell", "column", "rule", "fires"), PHRASES)
def test_phrase(cell: str, column: str, rule: str, fires: bool) -> None:
    fired = _fired(cell, column, rule)
    assert bool(fired) is fires, (cell, rule, [f.evidence for f in fired])
    if fired:
        assert len(fired) == 1  # one finding per item and rule
        clauses = [c["clause"] for c in fired[0].evidence.get("clauses", [])]
        if clauses:
            assert all(c in cell for c in clauses)  # the clause that fired, not the cell


def test_the_finding_quotes_the_clause_not_the_cell() -> None:
    cell = "请家长下载安装，每天打卡，自愿收听"
    [found] = _fired(cell, "action", "TASK-PROHIBITED")
    assert found.params["clause"] == "每天打卡"
    [quota] = _fired("约30%家长已安装；要求注册率达到100%", "note", "QUOTA")
    assert quota.params["quota"] == "要求注册率达到100%"


def test_the_table_covers_every_list_both_ways() -> None:
    rules = {rule for _, _, rule, _ in PHRASES}
    for rule in rules:
        outcomes = {fires for _, _, r, fires in PHRASES if r == rule}
        assert outcomes == {True, False}, rule
    assert len(PHRASES) >= 80
    text = fold(" ".join(cell for cell, *_ in PHRASES))
    words = keywords()
    lists = {
        "negators before": words.grammar.negators_before,
        "negators after": words.grammar.negators_after,
        "resets": words.grammar.resets,
        "facts": words.grammar.facts,
        "targets": words.quota.targets,
        "rates": words.quota.rates,
        "hard targets": words.quota.hard,
        "not negators": words.grammar.not_negators,
        "commercial exceptions": words.commercial.exceptions,
        "proof exceptions": words.proof.exceptions,
    }
    for name, pattern in lists.items():
        assert pattern.search(text), f"no phrase exercises the {name}"
    for name, labelled in (
        ("prohibited tasks", words.prohibited_tasks),
        ("survey tasks", words.survey_tasks),
        ("proof", words.proof),
        ("commercial", words.commercial),
    ):
        assert labelled.pattern.search(text), f"no phrase exercises the {name} list"


@pytest.mark.parametrize(
    "word",
    ["接龙", "转发", "集赞", "助力", "拉票", "做题", "刷课", "刷时长", "观看时长", "积分排名"],
)
def test_every_field_task_word_fires_and_has_a_source(word: str) -> None:
    assert _fired(f"要求{word}", "action", "TASK-PROHIBITED")
    assert keywords().prohibited_tasks.labels[fold(word)].get("source"), word
