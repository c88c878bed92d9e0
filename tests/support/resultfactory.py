"""Scan results built in code: a realistic small district, and large synthetic ones."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

from policies.model import Finding, catalogue
from policies.results import ApkPanel, RegistryInfo, ScanResult, SchoolResult
from scanner.apk.facts import ApkFacts, EmbeddedSdk, Signer
from scanner.submission import InputFile, InputProblem, RequiredItem

CST = timezone(timedelta(hours=8))
GENERATED_AT = datetime(2024, 5, 20, 9, 30, 15, tzinfo=CST)
SOURCE = "丰泽区2024春季填报.csv"

SCRIPT_SCHOOL = "<script>alert(1)</script>小学"
SCRIPT_APP = '<script>alert("app")</script>'
QUOTED_APP = '"quotes" & ampersands <b>家校通</b>'
FORMULA_ITEM = '=HYPERLINK("http://x")'

# Message parameters as the rules fill them in, so messages read as they would in a scan.
RULE_PARAMS: dict[str, dict[str, Any]] = {
    "FILING-MISSING": {
        "detail_zh": "登记表中没有同名、同包名的应用",
        "detail_en": "no app of that name or package is registered",
    },
    "FILING-REVOKED": {
        "filing_no": "教APP备3500012号",
        "status_zh": "撤销",
        "status_en": "revoked",
    },
    "FILING-MISMATCH": {
        "stated": "教APP备1100023号",
        "detail_zh": "该备案号属于“智慧校园通”",
        "detail_en": "that number belongs to “智慧校园通”",
    },
    "FILING-FORMAT": {"stated": "教APP备12号"},
    "ADOPTION-MISSING": {},
    "ADOPTION-UNRECORDED": {
        "decision_ref": "2024年3月校务会纪要",
        "detail_zh": "没有该决策的记录",
        "detail_en": "has no record of it",
    },
    "NON-EDU-APP": {"category": "反诈"},
    "NON-EDU-ACCOUNT": {
        "kind_zh": "公众号",
        "kind_en": "official account",
        "detail_zh": "登记为政务类",
        "detail_en": "registered as government",
    },
    "ACCOUNT-UNLISTED": {"kind_zh": "小程序", "kind_en": "mini-program"},
    "TASK-PROHIBITED": {
        "where_zh": "与教育教学无关的公众号",
        "where_en": "the non-education official account",
        "tasks": "打卡、投票",
    },
    "TASK-UNRELATED": {"requested_by": "区文明办", "tasks": "网络投票"},
    "QUOTA": {"quota": "注册率100%"},
    "PROOF-SCREENSHOT": {"proof": "截图"},
    "COMMERCIAL": {"words": "广告 & 付费课程"},
    "TOO-MANY-APPS": {"count": 7, "limit": 5},
    "DUPLICATE-FUNCTION": {
        "audience_zh": "家长",
        "audience_en": "parents",
        "count": 2,
        "function_zh": "家校沟通",
        "function_en": "school-home messaging",
        "items": "钉钉、家校通",
    },
    "APK-UNREADABLE": {
        "reason": "not a zip file",
        "reason_zh": "文件已损坏或不是安装包（无法按ZIP格式读取）",
        "reason_en": "not a zip file",
    },
    "APK-UNSIGNED": {},
    "APK-SIGNATURE-INVALID": {
        "verdict_zh": "安装包在签名之后被人改动过",
        "verdict_en": "the APK was changed after it was signed",
        "reason_zh": "文件“classes.dex”在签名后被修改",
        "reason_en": "the entry “classes.dex” was changed after signing",
    },
    "APK-PACKAGE-MISMATCH": {
        "apk_package": "com.fake.study",
        "expected_source_zh": "登记的包名",
        "expected_source_en": "registered package",
        "expected": "com.study.real",
    },
    "APK-SIGNER-MISMATCH": {},
    "APK-AD-SDK": {"sdks": "穿山甲 (com.bytedance.sdk.openadsdk)"},
    "APK-TRACKER-SDK": {"sdks": "友盟统计 (com.umeng.analytics)"},
    "APK-SENSITIVE-PERMISSION": {
        "permissions": "android.permission.ACCESS_FINE_LOCATION, android.permission.READ_CONTACTS"
    },
    "INPUT-INVALID": {
        "row": 0,
        "reason": "类型为空，且无法从标识判断",
        "reason_zh": "类型为空，且无法从标识判断",
        "reason_en": "the kind (类型) is empty and the identifier does not tell it",
    },
}


def finding(
    rule: str,
    school: SchoolResult,
    *,
    item: str = "",
    row: int | None = None,
    kind: str = "app",
    evidence: Mapping[str, Any] | None = None,
    params: Mapping[str, Any] | None = None,
    source: str = SOURCE,
    severity: str | None = None,
) -> Finding:
    """A finding as the policy engine makes it, added to `school` and returned."""
    merged = dict(RULE_PARAMS.get(rule, {}))
    if rule == "INPUT-INVALID":
        merged["row"] = row
    merged.update(params or {})
    made = Finding(
        rule=rule,
        severity=severity or catalogue()[rule].severity,
        school=school.school,
        row=row,
        item=item,
        kind=kind,
        evidence=dict(evidence or {}),
        params=merged,
        school_code=school.school_code,
        source=source,
    )
    school.findings.append(made)
    return made


def item(
    school: SchoolResult,
    row: int,
    name: str,
    kind: str = "app",
    *,
    identifier: str = "",
    actions: Sequence[str] = (),
    quota: str = "",
    apk: str = "",
    source: str = SOURCE,
) -> RequiredItem:
    """A submission row, added to `school` and returned."""
    made = RequiredItem(
        source=source,
        row=row,
        school=school.school,
        kind=kind,
        name=name,
        school_code=school.school_code,
        identifier=identifier,
        audience=("家长",),
        action_text="、".join(actions),
        quota=quota,
        apk=apk,
        kind_text={"app": "APP", "miniprogram": "小程序", "official_account": "公众号"}.get(
            kind, kind
        ),
    )
    school.items.append(made)
    return made


def apk_facts(package: str = "com.example.study", label: str = "智学网") -> ApkFacts:
    """The facts of a readable, validly signed APK with two SDKs and four permissions."""
    return ApkFacts(
        analyser_version="apk-facts/1",
        sha256="9f" * 32,
        size=25_431_552,
        package=package,
        label=label,
        version_name="5.2.1",
        version_code=50201,
        min_sdk=21,
        target_sdk=33,
        permissions=(
            "android.permission.INTERNET",
            "android.permission.ACCESS_FINE_LOCATION",
            "android.permission.READ_CONTACTS",
            "android.permission.CAMERA",
        ),
        signing_schemes=("v1", "v2"),
        signers=(
            Signer(
                schemes=("v1", "v2"),
                sha256="a1" * 32,
                subject="CN=Example Education Technology Co., Ltd., C=CN",
                issuer="CN=Example Education Technology Co., Ltd., C=CN",
                not_before="2019-01-01T00:00:00Z",
                not_after="2049-01-01T00:00:00Z",
                key="RSA 2048",
                verified=True,
            ),
        ),
        signature_verified=True,
        sdks=(
            EmbeddedSdk(
                name="友盟统计",
                vendor="友盟+",
                category="analytics",
                prefix="com.umeng.analytics",
                example="com.umeng.analytics.MobclickAgent",
                where=("dex",),
            ),
            EmbeddedSdk(
                name="极光推送",
                vendor="极光",
                category="push",
                prefix="cn.jpush.android",
                example="cn.jpush.android.service.PushService",
                where=("dex", "manifest"),
            ),
        ),
        dex_count=3,
        class_count=12840,
        readable=True,
        problems=("resources.arsc: no zh-CN label; the default label is used",),
        sdk_catalogue="sdk-prefixes:1f2e",
    )


def scan_result(
    schools: list[SchoolResult],
    *,
    inputs: Sequence[InputFile] = (),
    file_problems: Sequence[InputProblem] = (),
) -> ScanResult:
    return ScanResult(
        schools=schools,
        generated_at=GENERATED_AT,
        tool_version="0.1.0",
        registry=RegistryInfo(
            source="sqlite:///registry.db", digest="5e" * 32, entries=128, adoptions=342
        ),
        catalogue_digest=catalogue().digest,
        inputs=tuple(inputs),
        file_problems=list(file_problems),
        run_id=17,
    )


def realistic_result() -> ScanResult:
    """A small district: every severity (a review one at the middle school), hostile names,
    an unreadable row, APK panels."""
    first = SchoolResult("泉州市丰泽区第一实验小学", "3505030001")
    item(
        first,
        2,
        "国家反诈中心",
        identifier="com.hicorenational.antifraud",
        actions=("下载安装", "注册", "截图"),
        quota="注册率100%",
    )
    finding(
        "NON-EDU-APP",
        first,
        item="国家反诈中心",
        row=2,
        evidence={
            "registry_entry": "国家反诈中心",
            "category": "反诈",
            "matched_on": ["package", "name"],
        },
    )
    finding("QUOTA", first, item="国家反诈中心", row=2, evidence={"quota": "注册率100%"})
    finding("PROOF-SCREENSHOT", first, item="国家反诈中心", row=2, evidence={"actions": ["截图"]})
    item(first, 3, "智学网", identifier="com.example.study", apk="apks/zhixue.apk")
    finding(
        "FILING-MISSING",
        first,
        item="智学网",
        row=3,
        evidence={"name": "智学网", "package": "com.example.study", "registry": None},
    )
    finding(
        "APK-TRACKER-SDK",
        first,
        item="智学网",
        row=3,
        evidence={"sdks": [{"name": "友盟统计", "where": ["dex"]}, {"name": "极光推送"}]},
    )
    item(
        first,
        4,
        "文明丰泽",
        "official_account",
        identifier="gh_0123456789ab",
        actions=("关注", "投票"),
    )
    finding(
        "NON-EDU-ACCOUNT",
        first,
        item="文明丰泽",
        row=4,
        kind="official_account",
        evidence={"original_id": "gh_0123456789ab", "category": "政务"},
    )
    finding(
        "TASK-PROHIBITED",
        first,
        item="文明丰泽",
        row=4,
        kind="official_account",
        evidence={"actions": ["关注", "投票"]},
    )
    item(first, 5, "作业帮帮", "miniprogram", identifier="wx0123456789abcdef")
    finding(
        "ACCOUNT-UNLISTED",
        first,
        item="作业帮帮",
        row=5,
        kind="miniprogram",
        evidence={"appid": "wx0123456789abcdef"},
    )
    finding("TOO-MANY-APPS", first, kind="", evidence={"count": 7, "limit": 5})
    first.apks.append(ApkPanel(row=3, item="智学网", source="apks/zhixue.apk", facts=apk_facts()))

    hostile = SchoolResult(SCRIPT_SCHOOL, "")
    item(hostile, 2, SCRIPT_APP, identifier="javascript:alert(1)")
    finding(
        "FILING-MISSING",
        hostile,
        item=SCRIPT_APP,
        row=2,
        evidence={"name": SCRIPT_APP, "note": "<img src=x onerror=alert(2)>"},
    )
    item(hostile, 3, QUOTED_APP, identifier="https://example.invalid/jxt")
    finding(
        "COMMERCIAL",
        hostile,
        item=QUOTED_APP,
        row=3,
        evidence={"words": ["广告", "付费"], "url": "https://example.invalid/pay"},
    )
    item(hostile, 4, FORMULA_ITEM, "platform", identifier=FORMULA_ITEM)
    finding(
        "ACCOUNT-UNLISTED",
        hostile,
        item=FORMULA_ITEM,
        row=4,
        kind="platform",
        params={"kind_zh": "平台", "kind_en": "platform"},
        evidence={"identifier": "@SUM(A1:A9)"},
    )

    middle = SchoolResult("丰泽区实验中学", "3505030002")
    item(middle, 8, "国家 反诈中心", identifier="com.hicorenational.antifraud")
    finding(
        "NON-EDU-APP",
        middle,
        item="国家 反诈中心",
        row=8,
        evidence={"registry_entry": "国家反诈中心", "category": "反诈"},
    )
    item(middle, 9, "优学派", apk="https://example.invalid/yxp.apk")
    finding(
        "FILING-REVOKED",
        middle,
        item="优学派",
        row=9,
        evidence={"filing_no": "教APP备3500012号", "status": "revoked"},
    )
    finding("APK-UNREADABLE", middle, item="优学派", row=9, evidence={"reason": "HTTP 404"})
    # A contested case (需人工研判): party-building study required of the party members.
    item(middle, 10, "学习强国", identifier="cn.xuexi.android", actions=("下载安装", "学习"))
    finding(
        "NON-EDU-APP",
        middle,
        item="学习强国",
        row=10,
        params={"category": "党建学习"},
        evidence={"registry_entry": "学习强国", "category": "党建学习", "audience": ["党员教师"]},
        severity="review",
    )
    middle.apks.append(
        ApkPanel(
            row=9,
            item="优学派",
            source="https://example.invalid/yxp.apk",
            facts=None,
            failure="下载失败：HTTP 404",
        )
    )
    problem = InputProblem(
        SOURCE,
        7,
        "the kind (类型) is empty and the identifier does not tell it",
        "类型为空，且无法从标识判断",
        middle.school,
        middle.school_code,
        {"name": "某打卡平台"},
    )
    middle.problems.append(problem)
    finding(
        "INPUT-INVALID", middle, item="某打卡平台", row=7, kind="", evidence={"名称": "某打卡平台"}
    )
    middle.findings.sort(key=lambda f: (f.row is None, f.row or 0))

    clean = SchoolResult("清源山小学", "3505030003")
    item(clean, 10, "智慧中小学", identifier="com.ict.smartedu")

    inputs = (
        InputFile(SOURCE, "3c" * 32, "gb18030", None, 3, 9, 1, ()),
        InputFile("东海学校.xlsx", "d4" * 32, "xlsx", "Sheet1", 0, 0, 1, ()),
    )
    file_problems = (
        InputProblem(
            "东海学校.xlsx",
            None,
            "the file has no 学校 (school) column; none of its rows can be checked",
            "文件缺少“学校”列，无法核查其中任何一行",
        ),
    )
    return scan_result([first, hostile, middle, clean], inputs=inputs, file_problems=file_problems)


_SYNTHETIC_RULES = (
    "FILING-MISSING",
    "ADOPTION-MISSING",
    "NON-EDU-APP",
    "TASK-PROHIBITED",
    "QUOTA",
    "PROOF-SCREENSHOT",
    "ACCOUNT-UNLISTED",
    "APK-TRACKER-SDK",
    "APK-SENSITIVE-PERMISSION",
    "COMMERCIAL",
)
_SYNTHETIC_NAMES = ("国家反诈中心", "学习强国", "个人所得税", "交管12123", "某某学习", "家校通")


def synthetic_result(schools: int = 500, findings_per_school: int = 200) -> ScanResult:
    """A large district for timing: five findings per item, 40 items per school at 200."""
    results = []
    for number in range(schools):
        school = SchoolResult(f"丰泽区第{number + 1}小学", f"35050{number:05d}")
        for n in range(findings_per_school):
            row = 2 + n // 5
            name = f"{_SYNTHETIC_NAMES[(number + row) % len(_SYNTHETIC_NAMES)]}{row % 7}"
            if n % 5 == 0:
                item(school, row, name, identifier=f"com.example.app{row}")
            rule = _SYNTHETIC_RULES[(number + n) % len(_SYNTHETIC_RULES)]
            finding(
                rule,
                school,
                item=name,
                row=row,
                evidence={"name": name, "package": f"com.example.app{row}", "matched": ["name"]},
            )
        results.append(school)
    return scan_result(results)
