"""The rules of DESIGN §4 (all but the APK ones): pure functions of an item and what it matched.

Item rules take an `Assessed` item (the row, its registry match and adoption) and the scan's
`Context`; school rules take all of a school's assessed items. Each returns the findings it
makes; none reads the database or renders anything.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from policies.config import PolicyConfig
from policies.keywords import Keywords
from policies.matching import NOT_SCHOOL_KINDS, Match, entry_evidence
from policies.model import Finding
from registry import values
from registry.records import AdoptionRecord, EntryRecord
from registry.snapshot import RegistryView
from scanner.submission import RequiredItem

ACCOUNT_LIKE = frozenset({"official_account", "miniprogram", "channels", "platform"})
STATUS_WORDS = {"revoked": ("撤销", "revoked"), "cancelled": ("注销", "cancelled")}


class Assessed(NamedTuple):
    """An item with its registry match and this school's adoption of it."""

    item: RequiredItem
    match: Match
    adoption: AdoptionRecord | None
    text: str
    """What the school asks, as one lower-case text: actions, quota and note."""

    @property
    def revoked(self) -> bool:
        entry = self.match.entry
        return entry is not None and entry.status in STATUS_WORDS

    @property
    def adopted(self) -> bool:
        """Adopted by the school or the bureau, filed or listed, and not revoked."""
        return self.adoption is not None and not self.revoked


@dataclass(frozen=True)
class Context:
    """What every rule may consult besides the item: configuration, word lists, registry."""

    config: PolicyConfig
    words: Keywords
    view: RegistryView | None = None

    def registry_entry_for_package(self, package: str) -> EntryRecord | None:
        if not package or self.view is None:
            return None
        return self.view.index.by_identifier("package", package)

    def finding(
        self,
        rule: str,
        a: Assessed,
        evidence: dict[str, Any],
        **params: Any,
    ) -> Finding:
        item = a.item
        return Finding(
            rule=rule,
            severity=self.config.severity_of(rule),
            school=item.school,
            school_code=item.school_code,
            row=item.row,
            item=item.name,
            kind=item.kind,
            evidence=evidence,
            params=params,
            source=item.source,
        )


ItemRule = Callable[[Assessed, Context], Iterable[Finding]]
SchoolRule = Callable[[str, str, Sequence[Assessed], Context], Iterable[Finding]]


def filing_format(a: Assessed, ctx: Context) -> Iterable[Finding]:
    if a.match.filing_malformed:
        yield ctx.finding(
            "FILING-FORMAT",
            a,
            {"stated_filing_no": a.item.filing_no, "expected": "教APP备 + 6–7 digits + 号"},
            stated=a.item.filing_no,
        )


def filing_missing(a: Assessed, ctx: Context) -> Iterable[Finding]:
    m = a.match
    if a.item.kind != "app" or m.educational is False or m.mismatch:
        return
    if m.entry is not None and m.entry.filing_no:
        return
    if m.entry is not None:
        zh, en = "登记表中有该应用，但没有备案号", "the registry lists it without a filing number"
    elif m.stated_filing:
        zh = f"学校填报的备案号{m.stated_filing}不在登记表中"
        en = f"the filing number {m.stated_filing} the school gave is not in the registry"
    else:
        zh, en = "登记表中没有该应用", "the registry does not list it"
    evidence = m.evidence() | {"stated_filing_no": a.item.filing_no}
    yield ctx.finding("FILING-MISSING", a, evidence, detail_zh=zh, detail_en=en)


def filing_revoked(a: Assessed, ctx: Context) -> Iterable[Finding]:
    entry = a.match.entry
    if entry is None or entry.status not in STATUS_WORDS:
        return
    zh, en = STATUS_WORDS[entry.status]
    yield ctx.finding(
        "FILING-REVOKED",
        a,
        a.match.evidence(),
        filing_no=entry.filing_no,
        status_zh=zh,
        status_en=en,
    )


def filing_mismatch(a: Assessed, ctx: Context) -> Iterable[Finding]:
    m = a.match
    if not m.mismatch:
        return
    evidence = m.evidence() | {
        "stated_filing_no": m.stated_filing,
        "filing_belongs_to": [entry_evidence(e) for e in m.filing_entries],
    }
    yield ctx.finding(
        "FILING-MISMATCH",
        a,
        evidence,
        stated=m.stated_filing,
        detail_zh=m.mismatch["zh"],
        detail_en=m.mismatch["en"],
    )


def _needs_adoption(a: Assessed) -> bool:
    """An education entry on the registry that is in force: schools must adopt it to require it."""
    entry = a.match.entry
    if entry is None or a.revoked or a.match.educational is False:
        return False
    if entry.kind == "app":
        return entry.filed
    return a.match.educational is True or entry.filed


def adoption_missing(a: Assessed, ctx: Context) -> Iterable[Finding]:
    if _needs_adoption(a) and a.adoption is None and not a.item.decision_ref:
        yield ctx.finding("ADOPTION-MISSING", a, a.match.evidence() | {"adoption": None})


def adoption_unrecorded(a: Assessed, ctx: Context) -> Iterable[Finding]:
    cited = a.item.decision_ref
    if not cited or not _needs_adoption(a):
        return
    recorded = a.adoption
    if recorded is None:
        zh, en = "没有本校或区教育局的选用记录", "has no adoption by this school or the bureau"
    elif (
        not recorded.is_district
        and recorded.decision_ref
        and values.normalised_name(recorded.decision_ref) != values.normalised_name(cited)
    ):
        zh = f"登记的选用依据是“{recorded.decision_ref}”"
        en = f"records the decision “{recorded.decision_ref}” instead"
    else:
        return
    evidence = a.match.evidence() | {
        "cited_decision": cited,
        "recorded_decision": recorded.decision_ref if recorded else None,
    }
    yield ctx.finding(
        "ADOPTION-UNRECORDED", a, evidence, decision_ref=cited, detail_zh=zh, detail_en=en
    )


def _category(m: Match) -> str:
    if m.entry is not None and m.entry.category:
        return m.entry.category
    if m.known is not None:
        return m.known.category
    if m.related is not None and m.related.category:
        return m.related.category
    return "非教育类"


def non_edu_app(a: Assessed, ctx: Context) -> Iterable[Finding]:
    if a.item.kind == "app" and a.match.educational is False:
        yield ctx.finding("NON-EDU-APP", a, a.match.evidence(), category=_category(a.match))


def non_edu_account(a: Assessed, ctx: Context) -> Iterable[Finding]:
    m = a.match
    if a.item.kind not in ACCOUNT_LIKE or m.educational is not False:
        return
    if m.account_word and m.entry is None and m.known is None and m.related is None:
        zh = f"名称含“{m.account_word}”"
        en = f"its name contains “{m.account_word}”"
    else:
        zh = en = _category(m)
    yield ctx.finding(
        "NON-EDU-ACCOUNT",
        a,
        m.evidence(),
        kind_zh=values.label(a.item.kind, "zh"),
        kind_en=values.label(a.item.kind, "en"),
        detail_zh=zh,
        detail_en=en,
    )


def account_unlisted(a: Assessed, ctx: Context) -> Iterable[Finding]:
    if a.item.kind in ACCOUNT_LIKE and a.match.entry is None and a.match.educational is not False:
        yield ctx.finding(
            "ACCOUNT-UNLISTED",
            a,
            a.match.evidence(),
            kind_zh=values.label(a.item.kind, "zh"),
            kind_en=values.label(a.item.kind, "en"),
        )


def task_prohibited(a: Assessed, ctx: Context) -> Iterable[Finding]:
    found = ctx.words.prohibited_tasks.find(a.text)
    if not found:
        return
    m = a.match
    if m.educational is False:
        where_zh, where_en = "与教育教学无关的", "the non-education "
    elif not a.adopted:
        where_zh, where_en = "未经选用的", "the unadopted "
    else:
        return
    kind_zh, kind_en = values.label(a.item.kind, "zh"), values.label(a.item.kind, "en")
    evidence = m.evidence() | {
        "words": [w for w, _ in found],
        "adopted": a.adoption is not None,
        "educational": m.educational,
    }
    yield ctx.finding(
        "TASK-PROHIBITED",
        a,
        evidence,
        tasks=_join_labels(found, "zh"),
        tasks_en=_join_labels(found, "en"),
        where_zh=where_zh + kind_zh,
        where_en=where_en + kind_en,
    )


def _join_labels(found: Sequence[tuple[str, Any]], lang: str) -> str:
    labels = list(dict.fromkeys(label[lang] for _, label in found))
    return "、".join(labels) if lang == "zh" else ", ".join(labels)


def task_unrelated(a: Assessed, ctx: Context) -> Iterable[Finding]:
    body = a.item.requested_by
    if not body:
        return
    folded = body.lower()
    if ctx.words.education_bodies.search(folded):
        return
    other = ctx.words.other_bodies.search(folded)
    if other is None:
        return
    found = ctx.words.survey_tasks.find(a.text)
    if not found:
        return
    yield ctx.finding(
        "TASK-UNRELATED",
        a,
        {"requested_by": body, "body_word": other.group(0), "words": [w for w, _ in found]},
        requested_by=body,
        tasks=_join_labels(found, "zh"),
        tasks_en=_join_labels(found, "en"),
    )


def quota(a: Assessed, ctx: Context) -> Iterable[Finding]:
    cell = a.item.quota.strip()
    if cell and cell.lower() not in ctx.words.quota_none:
        yield ctx.finding("QUOTA", a, {"quota": cell, "column": "quota"}, quota=cell)
        return
    text = " ".join((*a.item.actions, a.item.note))
    hit = ctx.words.quota.search(text)
    if hit:
        yield ctx.finding(
            "QUOTA", a, {"quota": hit.group(0), "column": "action/note", "text": text}, quota=text
        )


def proof_screenshot(a: Assessed, ctx: Context) -> Iterable[Finding]:
    found = ctx.words.proof.find(a.text)
    if found:
        yield ctx.finding(
            "PROOF-SCREENSHOT",
            a,
            {"words": [w for w, _ in found]},
            proof=_join_labels(found, "zh"),
            proof_en=_join_labels(found, "en"),
        )


def commercial(a: Assessed, ctx: Context) -> Iterable[Finding]:
    words = [*ctx.words.commercial.find(a.item.name), *ctx.words.commercial.find(a.text)]
    words = list(dict.fromkeys(words))
    entry = a.match.entry
    if entry is not None and entry.category == "购物":
        words.append(f"类别:{entry.category}")
    if words:
        yield ctx.finding(
            "COMMERCIAL", a, a.match.evidence() | {"words": words}, words="、".join(words)
        )


def _app_key(a: Assessed, ctx: Context) -> str:
    entry = a.match.entry
    return f"#{entry.id}" if entry is not None else ctx.words.strip_name(a.item.name)


def school_rule_key(a: Assessed, ctx: Context) -> tuple[object, ...]:
    """Everything the school rules read of an item: they get the first item of each key.

    A school lists the same app on many rows (one per class or grade); keeping the first of
    each key keeps a district's school rules in bounded memory with the same findings. The
    items kept carry only source, row, school, kind, name, code and audience besides their
    match and adoption: a school rule that reads more of an item must add it here and there
    (`policies.engine`).
    """
    return (a.item.kind, _app_key(a, ctx), a.item.name, a.item.audience)


def _school_finding(
    rule: str,
    school: str,
    code: str,
    members: Sequence[Assessed],
    ctx: Context,
    evidence: dict[str, Any],
    *,
    item: str,
    **params: Any,
) -> Finding:
    """A finding about the school as a whole; `item` names what it is about, or is empty."""
    return Finding(
        rule=rule,
        severity=ctx.config.severity_of(rule),
        school=school,
        school_code=code,
        row=None,
        item=item,
        kind="",
        evidence=evidence,
        params=params,
        source=members[0].item.source if members else "",
    )


def too_many_apps(
    school: str, code: str, assessed: Sequence[Assessed], ctx: Context
) -> Iterable[Finding]:
    apps: dict[str, Assessed] = {}
    for a in assessed:
        if a.item.kind == "app":
            apps.setdefault(_app_key(a, ctx), a)
    limit = ctx.config.max_apps
    if len(apps) > limit:
        listed = list(apps.values())
        evidence = {
            "count": len(apps),
            "limit": limit,
            "apps": [{"name": a.item.name, "row": a.item.row} for a in listed],
        }
        yield _school_finding(
            "TOO-MANY-APPS",
            school,
            code,
            listed,
            ctx,
            evidence,
            item="",  # the whole school: the list of apps is in the evidence
            count=len(apps),
            limit=limit,
        )


AUDIENCE_WORDS = {"家长": "parents", "学生": "students", "教师": "teachers"}


def duplicate_function(
    school: str, code: str, assessed: Sequence[Assessed], ctx: Context
) -> Iterable[Finding]:
    groups: dict[tuple[str, str], dict[str, Assessed]] = {}
    for a in assessed:
        if a.item.kind in NOT_SCHOOL_KINDS:
            continue
        entry = a.match.entry
        codes = ctx.words.functions_of(
            a.item.name, entry.name if entry else "", entry.category if entry else ""
        )
        if not codes:
            continue
        audiences = [x for x in a.item.audience if x in AUDIENCE_WORDS] or list(AUDIENCE_WORDS)
        key = _app_key(a, ctx)
        for code_ in codes:
            for audience in audiences:
                groups.setdefault((code_, audience), {}).setdefault(key, a)
    reported: dict[tuple[str, frozenset[str]], list[str]] = {}
    for (code_, audience), members in groups.items():
        if len(members) > 1:
            reported.setdefault((code_, frozenset(members)), []).append(audience)
    functions = {f.code: f for f in ctx.words.functions}
    for (code_, keys), audiences in reported.items():
        members = groups[(code_, audiences[0])]
        listed = [members[k] for k in sorted(keys, key=lambda k: members[k].item.row)]
        function = functions[code_]
        evidence = {
            "function": function.code,
            "audience": audiences,
            "items": [
                {"name": a.item.name, "row": a.item.row, "kind": a.item.kind} for a in listed
            ],
        }
        yield _school_finding(
            "DUPLICATE-FUNCTION",
            school,
            code,
            listed,
            ctx,
            evidence,
            item="、".join(dict.fromkeys(a.item.name for a in listed)),
            count=len(listed),
            items="、".join(a.item.name for a in listed),
            function_zh=function.zh,
            function_en=function.en,
            audience_zh="、".join(audiences),
            audience_en=", ".join(AUDIENCE_WORDS[x] for x in audiences),
        )


ITEM_RULES: dict[str, ItemRule] = {
    "FILING-MISSING": filing_missing,
    "FILING-REVOKED": filing_revoked,
    "FILING-MISMATCH": filing_mismatch,
    "FILING-FORMAT": filing_format,
    "ADOPTION-MISSING": adoption_missing,
    "ADOPTION-UNRECORDED": adoption_unrecorded,
    "NON-EDU-APP": non_edu_app,
    "NON-EDU-ACCOUNT": non_edu_account,
    "ACCOUNT-UNLISTED": account_unlisted,
    "TASK-PROHIBITED": task_prohibited,
    "TASK-UNRELATED": task_unrelated,
    "QUOTA": quota,
    "PROOF-SCREENSHOT": proof_screenshot,
    "COMMERCIAL": commercial,
}

SCHOOL_RULES: dict[str, SchoolRule] = {
    "TOO-MANY-APPS": too_many_apps,
    "DUPLICATE-FUNCTION": duplicate_function,
}
