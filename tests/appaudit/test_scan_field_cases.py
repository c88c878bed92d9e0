"""The field's cases end to end: what a clerk would sign stays, what a school could dispute goes."""

from __future__ import annotations

import json
from pathlib import Path

from tablefactory import write_csv
from typer.testing import CliRunner

from appaudit.cli import app

HEADER = ["学校", "学校标识码", "类型", "名称", "标识", "备案号", "要求对象", "要求内容", "指标要求",
          "布置单位", "集体决策依据", "备注"]  # fmt: skip
REGISTRY = [
    ["名称", "类型", "备案号", "备案状态", "包名", "类别"],
    ["闽教高分", "APP", "教APP备1100819号", "有效", "com.zhl.mjqk.aphone", "教学"],
    ["示例口算练习", "APP", "教APP备9900002号", "撤销", "org.example.kousuan", "教学"],
    ["钉钉", "APP", "", "", "com.alibaba.android.rimet", "办公"],
]
ADOPTIONS = [
    ["学校", "学校标识码", "应用", "决策依据"],
    ["一中", "3135000001", "闽教高分", "2024年第3次校务会议纪要"],
    ["一中", "3135000001", "示例口算练习", "2023年校务会议纪要"],
]
S, C = "一中", "3135000001"
ROWS = {
    # row number in the sheet: cells after school and code
    2: ["APP", "闽教高分", "", "", "家长", "下载安装", "", "学校", "", "本平台不收费、无广告"],
    3: [
        "APP",
        "闽教高分",
        "",
        "",
        "家长",
        "下载安装",
        "",
        "学校",
        "",
        "不得要求家长购买教辅；家委会会员协助",
    ],
    4: ["APP", "闽教高分", "", "", "家长", "下载安装", "", "学校", "", "约30%家长已安装"],
    5: [
        "公众号",
        "某某少儿频道",
        "",
        "",
        "家长",
        "自愿收听，不要求打卡",
        "不设参与率",
        "学校",
        "",
        "",
    ],
    6: ["APP", "钉钉", "", "", "教师", "考勤打卡", "", "学校", "2024年第1次校务会", ""],
    7: [
        "APP",
        "学习强国",
        "cn.xuexi.android",
        "",
        "党员教师",
        "每日答题",
        "",
        "学校党支部",
        "",
        "",
    ],
    8: [
        "平台",
        "国家中小学智慧教育平台",
        "https://basic.smartedu.cn",
        "",
        "学生",
        "注册登录",
        "",
        "区教育局",
        "",
        "",
    ],
    9: [
        "平台",
        "中国学生体质健康网",
        "",
        "",
        "教师",
        "体质健康数据上报",
        "上报率100%",
        "区教育局",
        "",
        "",
    ],
    10: [
        "H5链接",
        "家庭情况调查",
        "https://www.wjx.cn/vm/abc.aspx",
        "",
        "家长",
        "填写",
        "",
        "某某街道社区",
        "",
        "",
    ],
    11: [
        "小程序",
        "某某助力",
        "",
        "",
        "家长",
        "转发集赞，群内接龙，邀请好友助力，拍照上传",
        "",
        "学校",
        "",
        "",
    ],
    12: ["APP", "示例口算练习", "", "", "学生", "每日打卡", "", "学校", "", ""],
    13: ["APP", "钉钉", "", "", "家长", "每天在群里接龙打卡", "", "学校", "", ""],
    14: ["APP", "学习强国", "cn.xuexi.android", "", "学生", "每日答题", "", "某某街道", "", ""],
}


def scan(tmp_path: Path) -> dict[int, list[dict[str, object]]]:
    rows = [HEADER, *([S, C, *cells] for cells in ROWS.values())]
    sheet = write_csv(tmp_path / "submission.csv", rows, "gb18030")
    registry = write_csv(tmp_path / "registry.csv", REGISTRY, "utf-8-sig")
    adoptions = write_csv(tmp_path / "adoptions.csv", ADOPTIONS, "utf-8-sig")
    out = tmp_path / "report"
    result = CliRunner().invoke(
        app,
        ["scan", str(sheet), "--registry", str(registry), "--registry", str(adoptions),
         "--out", str(out), "--fail-on", "never"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    doc = json.loads((out / "findings.json").read_text("utf-8"))
    by_row: dict[int, list[dict[str, object]]] = {n: [] for n in ROWS}
    for school in doc["schools"]:
        for finding in school["findings"]:
            if finding["row"] is not None:
                by_row[finding["row"]].append(finding)
    return by_row


def rules(found: list[dict[str, object]]) -> dict[str, str]:
    return {str(f["rule"]): str(f["severity"]) for f in found}


def test_field_cases(tmp_path: Path) -> None:
    got = scan(tmp_path)
    for row in (2, 3):
        assert "COMMERCIAL" not in rules(got[row]), got[row]
    assert "QUOTA" not in rules(got[4])
    assert not {"TASK-PROHIBITED", "QUOTA"} & set(rules(got[5])), got[5]
    assert got[6] == []  # a general tool for the school's own staff administration
    assert rules(got[7]).get("NON-EDU-APP") == "review"
    assert "high" not in rules(got[7]).values()
    assert not {"ACCOUNT-UNLISTED", "NON-EDU-ACCOUNT"} & set(rules(got[8])), got[8]
    assert rules(got[9]) == {"QUOTA": "review"}
    quota = next(f for f in got[9] if f["rule"] == "QUOTA")
    assert "除国家有明确规定外" in str(quota["message"]) and "上报率100%" in str(quota["message"])
    assert "INPUT-INVALID" not in rules(got[10]) and rules(got[10]).get("TASK-UNRELATED") == "high"
    assert got[10][0]["kind"] == "platform"
    tasks = next(f for f in got[11] if f["rule"] == "TASK-PROHIBITED")
    for word in ("转发", "集赞", "接龙", "助力"):
        assert word in str(tasks["message"]), tasks["message"]
    assert "PROOF-SCREENSHOT" in rules(got[11])
    revoked = next(f for f in got[12] if f["rule"] == "TASK-PROHIBITED")
    assert "已撤销" in str(revoked["message"]) and "未经" not in str(revoked["message"])
    general = rules(got[13])
    assert general.get("NON-EDU-APP") == "info" and general.get("TASK-PROHIBITED") == "high"
    assert rules(got[14]).get("NON-EDU-APP") == "high"  # party study required of pupils


def test_each_cause_cites_its_own_clause(tmp_path: Path) -> None:
    got = scan(tmp_path)
    doc = json.loads((tmp_path / "report" / "findings.json").read_text("utf-8"))
    proof = next(f for f in got[11] if f["rule"] == "PROOF-SCREENSHOT")
    assert proof["basis"][0] == "整治重点（四）"  # type: ignore[index]
    assert "过度留痕" in doc["clauses"]["整治重点（四）"]["text"]
    revoked = next(f for f in got[12] if f["rule"] == "TASK-PROHIBITED")
    assert revoked["basis"] == ["附件2（三）1", "附件2（三）3"]
    assert revoked["cause"] == "revoked"
    general = next(f for f in got[13] if f["rule"] == "NON-EDU-APP")
    remediation = doc["rules"]["NON-EDU-APP"]["causes"][str(general["cause"])]["remediation"]
    assert "不得借其向学生、家长布置" in remediation
