"""A small registry and submission rows built in code, for the policy tests."""

from __future__ import annotations

from datetime import date

from appaudit.vocabulary import submission_vocabulary
from policies.model import Finding, catalogue, variant_of
from registry.records import AdoptionRecord, EntryRecord
from registry.snapshot import RegistryView
from scanner.submission import RequiredItem

SCHOOL = "示例实验小学"
CODE = "3135000001"

ENTRIES = [
    EntryRecord(id=1, name="闽教高分", kind="app", filing_no="教APP备1100819号", status="active",
                package="com.zhl.mjqk.aphone", category="教学"),
    EntryRecord(id=2, name="巧考", kind="app", filing_no="教APP备1100871号", status="active",
                package="com.zhl.qk.aphone", category="教学"),
    EntryRecord(id=3, name="示例口算练习", kind="app", filing_no="教APP备9900002号", status="revoked",
                package="org.example.kousuan", category="教学"),
    EntryRecord(id=4, name="学习通", kind="app", package="com.chaoxing.mobile", category="教学"),
    EntryRecord(id=5, name="国家反诈中心", kind="app", package="com.hicorenational.antifraud",
                category="反诈"),
    EntryRecord(id=6, name="示例区教育局", kind="official_account", original_id="gh_5a3c0e9b7d21",
                category="管理"),
    EntryRecord(id=7, name="示例反诈宣传", kind="official_account", original_id="gh_7f1e2d3c4b5a",
                category="反诈"),
    EntryRecord(id=8, name="示例作业打卡", kind="miniprogram", filing_no="教APP备9900001号",
                status="active", appid="wx5e8f1a2b3c4d5e6f", category="教学"),
    EntryRecord(id=9, name="示例优选商城", kind="miniprogram", appid="wx0a1b2c3d4e5f6a7b", category="购物"),
    EntryRecord(id=10, name="示例家校通", kind="app", filing_no="教APP备9900003号", status="active",
                package="org.example.jiaxiao", category="家校沟通"),
]  # fmt: skip
ADOPTIONS = [
    AdoptionRecord(school=SCHOOL, school_code=CODE, entry_id=1, decision_ref="2024年第3次校务会议纪要",
                   decided_on=date(2024, 9, 2)),
    AdoptionRecord(school="全区", is_district=True, entry_id=6, decision_ref="区教育局〔2024〕12号"),
    AdoptionRecord(school=SCHOOL, school_code=CODE, entry_id=3, decision_ref="旧纪要"),
    AdoptionRecord(school=SCHOOL, school_code=CODE, entry_id=8, decision_ref="校务会议"),
]  # fmt: skip
VIEW = RegistryView.build(ENTRIES, ADOPTIONS)


def item(name: str, kind: str = "app", **fields: object) -> RequiredItem:
    """A row as the intake makes it; `actions` (a sequence) fills the 要求 cell, joined by 、."""
    actions = fields.pop("actions", None)
    if actions is not None:
        fields["action_text"] = "、".join(actions)  # type: ignore[arg-type]
    base = RequiredItem(
        source="school.csv", row=2, school=SCHOOL, school_code=CODE, kind=kind, name=name
    )
    return submission_vocabulary().complete(base._replace(**fields))  # type: ignore[arg-type]


def message(finding: Finding, lang: str = "zh") -> str:
    """The finding's message as reports print it."""
    return catalogue().message(finding, lang)


def basis(finding: Finding) -> tuple[str, ...]:
    """The clause references the finding cites."""
    spec = catalogue()[finding.rule]
    return tuple(c.ref for c in spec.basis_of(variant_of(finding)))
