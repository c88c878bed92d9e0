"""The rules of DESIGN §4 (all but the APK ones): pure functions of an item and what it matched.

Item rules take an `Assessed` item (the row, its registry match and adoption) and the scan's
`Context`; school rules take all of a school's assessed items. Each returns the findings it
makes; none reads the database or renders anything.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from policies.config import PolicyConfig
from policies.keywords import Keywords
from policies.matching import NOT_SCHOOL_KINDS, Match, entry_evidence
from policies.model import Finding
from policies.phrases import Clause, Hit, fold, quoted
from registry import values
from registry.records import AdoptionRecord, EntryRecord
from registry.snapshot import RegistryView
from scanner.submission import RequiredItem

ACCOUNT_LIKE = frozenset({"official_account", "miniprogram", "channels", "platform"})
STATUS_WORDS = {"revoked": ("撤销", "revoked"), "cancelled": ("注销", "cancelled")}
LISTING_WORDS = {"suspended": ("暂停准入", "suspended"), "removed": ("移出准入清单", "removed")}
OUTSIDE_FILING = frozenset({"general_tool", "party_study"})
"""Groups outside the filing system that rules judge by who requires them, and of whom."""

VERDICT_FIELDS = (
    "kind",
    "name",
    "filing_no",
    "audience",
    "action_text",
    "quota",
    "requested_by",
    "decision_ref",
    "note",
)
"""The fields of a `RequiredItem` the item rules read, besides where it is (`ADDRESS_FIELDS`)
and what its match and adoption already hold. Rows equal in these share one verdict; a rule
that reads another field must be listed here (a test enforces it)."""

ADDRESS_FIELDS = ("source", "row", "school", "school_code")
"""Where a finding is: the result store re-addresses a shared verdict to each row."""


class Assessed(NamedTuple):
    """An item with its registry match and this school's adoption of it."""

    item: RequiredItem
    match: Match
    adoption: AdoptionRecord | None
    clauses: tuple[Clause, ...]
    """What the school asks, clause by clause: the 要求 cell, then the 备注 cell."""

    @property
    def revoked(self) -> bool:
        entry = self.match.entry
        return entry is not None and entry.status in STATUS_WORDS

    @property
    def delisted(self) -> bool:
        """The bureau suspended it or removed it from its list."""
        entry = self.match.entry
        return entry is not None and entry.listing in LISTING_WORDS

    @property
    def adopted(self) -> bool:
        """Adopted by the school or the bureau, filed or listed, and not revoked or delisted."""
        return self.adoption is not None and not self.revoked and not self.delisted


@dataclass(frozen=True)
class Context:
    """What every rule may consult besides the item: configuration, word lists, registry."""

    config: PolicyConfig
    words: Keywords
    view: RegistryView | None = None
    _app_keys: dict[str, str] = field(default_factory=dict, compare=False, repr=False)
    """Names folded for matching, by name: the school rules ask for each item's twice."""

    def registry_entry_for_package(self, package: str) -> EntryRecord | None:
        if not package or self.view is None:
            return None
        return self.view.index.by_identifier("package", package)

    def finding(
        self,
        rule: str,
        a: Assessed,
        evidence: dict[str, Any],
        *,
        contested: bool = False,
        **params: Any,
    ) -> Finding:
        """A finding on the item; `contested` makes it one for a person to judge (review)."""
        item = a.item
        return Finding(
            rule=rule,
            severity=self.severity(rule, contested),
            school=item.school,
            school_code=item.school_code,
            row=item.row,
            item=item.name,
            kind=item.kind,
            evidence=evidence,
            params=params,
            source=item.source,
        )

    def severity(self, rule: str, contested: bool = False) -> str:
        configured = self.config.severity_of(rule)
        return "review" if contested and configured in ("high", "medium") else configured

    def clauses(self, *columns: tuple[str, str]) -> tuple[Clause, ...]:
        return self.words.grammar.clauses(*columns)


ItemRule = Callable[[Assessed, Context], Iterable[Finding]]
SchoolRule = Callable[[str, str, Sequence[Assessed], Context], Iterable[Finding]]


# --- who asks, of whom ---------------------------------------------------------------------


def _staff_only(item: RequiredItem, ctx: Context) -> bool:
    """Required of the school's staff alone (教师, 教职工 …), not of students or parents."""
    return bool(item.audience) and all(ctx.words.staff.search(fold(a)) for a in item.audience)


def _education_body(body: str, ctx: Context) -> bool:
    return ctx.words.education_bodies.search(fold(body)) is not None


def _school_business(a: Assessed, ctx: Context) -> bool:
    """A general tool the school's own staff use for its administration (钉钉考勤 …)."""
    body = a.item.requested_by
    return _staff_only(a.item, ctx) and (not body or _education_body(body, ctx))


def _party_arrangement(a: Assessed, ctx: Context) -> bool:
    """Party-building study the Party asks of its members among the staff (学习强国 …)."""
    if a.match.group != "party_study" or not _staff_only(a.item, ctx):
        return False
    words = ctx.words
    asked_by_party = words.party_bodies.search(fold(a.item.requested_by)) is not None
    members = any(words.party_members.search(fold(x)) for x in a.item.audience)
    return asked_by_party or members


def _audience(item: RequiredItem, lang: str) -> str:
    if not item.audience:
        return "未注明对象" if lang == "zh" else "no one named"
    return ("、" if lang == "zh" else ", ").join(item.audience)


def _quote(hits: Sequence[Hit]) -> str:
    return "；".join(quoted(hits))


def _clause_evidence(hits: Sequence[Hit]) -> list[dict[str, str]]:
    return [{"column": h.clause.column, "clause": h.clause.text, "word": h.word} for h in hits]


# --- filing and adoption -------------------------------------------------------------------


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
    if a.item.kind != "app" or m.educational is False or m.mismatch or m.national is not None:
        return
    if m.entry is not None and m.entry.filing_no:
        return
    if m.entry is not None:
        variant = "unnumbered"
    elif m.stated_filing:
        variant = "stated"
    else:
        variant = ""
    evidence = m.evidence() | {"stated_filing_no": a.item.filing_no}
    yield ctx.finding("FILING-MISSING", a, evidence, variant=variant, stated=m.stated_filing)


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
    if entry is None or a.revoked or a.delisted or a.match.educational is False:
        return False
    if a.match.national is not None:
        return False  # deployed by the Ministry itself
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


def listing_removed(a: Assessed, ctx: Context) -> Iterable[Finding]:
    entry = a.match.entry
    if entry is None or entry.listing not in LISTING_WORDS:
        return
    zh, en = LISTING_WORDS[entry.listing]
    ref, when = entry.listing_ref, entry.listing_date
    detail_zh = "，".join(p for p in (ref, f"{when:%Y年%-m月%-d日}" if when else "") if p)
    detail_en = ", ".join(p for p in (ref, when.isoformat() if when else "") if p)
    yield ctx.finding(
        "LISTING-REMOVED",
        a,
        a.match.evidence(),
        kind_zh=values.label(a.item.kind, "zh"),
        kind_en=values.label(a.item.kind, "en"),
        listing_zh=zh,
        listing_en=en,
        listing_detail_zh=f"（{detail_zh}）" if detail_zh else "",
        listing_detail_en=f" ({detail_en})" if detail_en else "",
    )


# --- what the item is ----------------------------------------------------------------------


def _category(m: Match) -> str:
    if m.entry is not None and m.entry.category:
        return m.entry.category
    if m.known is not None:
        return m.known.category
    if m.related is not None and m.related.category:
        return m.related.category
    return "非教育类"


def _outside_filing(a: Assessed, ctx: Context) -> tuple[str, bool] | None:
    """How a non-education finding reads: (variant, contested) — ('', False) as the rule's
    own; a general tool's or party study's wording; None for no finding at all (a general
    tool for the school's own administration)."""
    group = a.match.group
    if group not in OUTSIDE_FILING:
        return "", False
    if group == "general_tool":
        return None if _school_business(a, ctx) else ("general_tool", False)
    if _party_arrangement(a, ctx):
        return "party_study", True
    return "", False


def non_edu_app(a: Assessed, ctx: Context) -> Iterable[Finding]:
    if a.item.kind != "app" or a.match.educational is not False:
        return
    judged = _outside_filing(a, ctx)
    if judged is None:
        return
    variant, contested = judged
    finding = ctx.finding(
        "NON-EDU-APP",
        a,
        a.match.evidence(),
        contested=contested,
        variant=variant,
        category=_category(a.match),
        audience_zh=_audience(a.item, "zh"),
        audience_en=_audience(a.item, "en"),
        requested_by=a.item.requested_by,
    )
    yield _at_most(finding, "info" if variant == "general_tool" else "")


def _at_most(finding: Finding, cap: str) -> Finding:
    """A general tool's finding is at most a hint (提示), whatever the rule's severity."""
    if cap and finding.severity != cap and finding.severity in ("high", "medium", "review"):
        return finding._replace(severity=cap)
    return finding


def non_edu_account(a: Assessed, ctx: Context) -> Iterable[Finding]:
    m = a.match
    if a.item.kind not in ACCOUNT_LIKE or m.educational is not False:
        return
    judged = _outside_filing(a, ctx)
    if judged is None:
        return
    variant, contested = judged
    owner = m.entry.certified_entity if m.entry is not None else ""
    if m.owner_word and owner:
        zh = f"认证主体为“{owner}”"
        en = f"its verified owner is “{owner}”"
    elif m.account_word and m.entry is None and m.known is None and m.related is None:
        zh = f"名称含“{m.account_word}”"
        en = f"its name contains “{m.account_word}”"
    else:
        zh = en = _category(m)
    finding = ctx.finding(
        "NON-EDU-ACCOUNT",
        a,
        m.evidence(),
        contested=contested,
        variant=variant,
        kind_zh=values.label(a.item.kind, "zh"),
        kind_en=values.label(a.item.kind, "en"),
        detail_zh=zh,
        detail_en=en,
        audience_zh=_audience(a.item, "zh"),
        audience_en=_audience(a.item, "en"),
        requested_by=a.item.requested_by,
    )
    yield _at_most(finding, "info" if variant == "general_tool" else "")


def account_unlisted(a: Assessed, ctx: Context) -> Iterable[Finding]:
    m = a.match
    if a.item.kind not in ACCOUNT_LIKE or m.entry is not None or m.educational is False:
        return
    if m.national is not None or m.survey is not None:
        return  # a national platform needs no listing; a survey link is judged by its task
    yield ctx.finding(
        "ACCOUNT-UNLISTED",
        a,
        m.evidence(),
        kind_zh=values.label(a.item.kind, "zh"),
        kind_en=values.label(a.item.kind, "en"),
    )


# --- what the school asks ------------------------------------------------------------------


def _a(noun: str) -> str:
    """An English noun with its article: an app, an official account, a mini-program."""
    return f"{'an' if noun[:1].lower() in 'aeiou' else 'a'} {noun}"


def _unacceptable(a: Assessed, ctx: Context) -> tuple[str, str, str, str] | None:
    """Why tasks may not be required on this platform: (variant, code, zh, en); None if they
    may. The code names the reason in the machine evidence (`cause`)."""
    m = a.match
    kind_zh, kind_en = values.label(a.item.kind, "zh"), values.label(a.item.kind, "en")
    entry = m.entry
    if m.group in OUTSIDE_FILING:
        if m.group == "general_tool":
            if _school_business(a, ctx):
                return None
            return (
                "",
                "general_tool",
                "是通用工具，不是教育移动应用",
                "is a general tool, not an education app",
            )
        if _party_arrangement(a, ctx):
            return "party_study", "party_study", "", ""
        return (
            "",
            "party_platform",
            "是党建学习平台，与学校教育教学无关",
            "is a party-study platform, unrelated to teaching",
        )
    if m.survey is not None and entry is None:
        return (
            "",
            "survey_form",
            f"是{m.survey.name}问卷表单链接，不是教育平台",
            f"is a {m.survey.name} form link, not an education platform",
        )
    if m.educational is False:
        return (
            "",
            "not_educational",
            f"是与教育教学无关的{kind_zh}",
            f"is {_a(kind_en)} unrelated to teaching",
        )
    if m.national is not None:
        return None
    if entry is not None and a.revoked:
        zh, en = STATUS_WORDS[entry.status]
        return (
            "revoked",
            "revoked",
            f"的备案{entry.filing_no}已{zh}",
            f"has its filing {entry.filing_no} {en}",
        )
    if entry is not None and a.delisted:
        zh, en = LISTING_WORDS[entry.listing]
        return "delisted", "delisted", f"已被区教育局{zh}", f"has been {en} by the bureau"
    if a.item.kind == "app" and (entry is None or not entry.filed):
        if entry is None:
            return (
                "",
                "unfiled",
                "在本区登记表中没有备案记录",
                "has no filing in the district's registry",
            )
        return (
            "",
            "no_filing_number",
            "在本区登记表中没有备案号",
            "is in the district's registry with no filing number",
        )
    if entry is None:
        return (
            "",
            "unregistered",
            f"是未列入区教育局登记表的{kind_zh}",
            f"is {_a(kind_en)} not on the bureau's registry",
        )
    if a.adoption is None:
        return (
            "not_adopted",
            "not_adopted",
            "未经本校或区教育局集体决策选用",
            ("was not adopted by the school's or the bureau's collective decision"),
        )
    return None


def task_prohibited(a: Assessed, ctx: Context) -> Iterable[Finding]:
    hits = ctx.words.prohibited_tasks.hits(ctx.words.grammar, a.clauses)
    if a.match.survey is not None:
        # A survey link's questionnaire is its own purpose, judged by who asks for it
        # (TASK-UNRELATED); votes, quizzes and check-ins through it are still prohibited.
        hits = [h for h in hits if h.label["zh"] != "问卷调查"]
    if not hits:
        return
    why = _unacceptable(a, ctx)
    if why is None:
        return
    variant, code, cause_zh, cause_en = why
    evidence = a.match.evidence() | {
        "words": [h.word for h in hits],
        "clauses": _clause_evidence(hits),
        "adopted": a.adoption is not None,
        "educational": a.match.educational,
        "cause": code,
    }
    yield ctx.finding(
        "TASK-PROHIBITED",
        a,
        evidence,
        contested=variant == "party_study",
        variant=variant,
        tasks=_join_labels(hits, "zh"),
        tasks_en=_join_labels(hits, "en"),
        clause=_quote(hits),
        cause_zh=cause_zh,
        cause_en=cause_en,
        audience_zh=_audience(a.item, "zh"),
        audience_en=_audience(a.item, "en"),
        requested_by=a.item.requested_by,
    )


def _join_labels(hits: Sequence[Hit], lang: str) -> str:
    labels = list(dict.fromkeys(h.label[lang] for h in hits))
    return "、".join(labels) if lang == "zh" else ", ".join(labels)


def task_unrelated(a: Assessed, ctx: Context) -> Iterable[Finding]:
    body = a.item.requested_by
    if not body or _education_body(body, ctx):
        return
    other = ctx.words.other_bodies.search(fold(body))
    if other is None:
        return
    hits = ctx.words.survey_tasks.hits(ctx.words.grammar, a.clauses)
    survey = a.match.survey
    if not hits and survey is None:
        return
    evidence: dict[str, Any] = {"requested_by": body, "body_word": other.group(0)}
    if hits:
        evidence |= {"words": [h.word for h in hits], "clauses": _clause_evidence(hits)}
    if survey is not None:
        evidence["survey_service"] = {"name": survey.name, "source": survey.source}
    yield ctx.finding(
        "TASK-UNRELATED",
        a,
        evidence,
        variant="" if hits else "survey_link",
        requested_by=body,
        tasks=_join_labels(hits, "zh"),
        tasks_en=_join_labels(hits, "en"),
        clause=_quote(hits),
        survey=survey.name if survey is not None else "",
    )


def quota(a: Assessed, ctx: Context) -> Iterable[Finding]:
    words = ctx.words
    clauses = (*ctx.clauses(("quota", a.item.quota)), *a.clauses)
    hits = words.quota.hits(words.grammar, clauses)
    if not hits:
        return
    mandate = _national_mandate(a, hits, ctx)
    evidence: dict[str, Any] = {
        "quota": hits[0].clause.text,
        "column": hits[0].clause.column,
        "clauses": _clause_evidence(hits),
    }
    if mandate:
        evidence["national"] = mandate
    yield ctx.finding(
        "QUOTA",
        a,
        evidence,
        contested=bool(mandate),
        variant="national" if mandate else "",
        quota=_quote(hits),
        mandate=mandate.get("zh", "") if mandate else "",
    )


def _national_mandate(a: Assessed, hits: Sequence[Hit], ctx: Context) -> dict[str, str]:
    """What makes a target possibly a national requirement: a mandated task, a national
    platform's mandate, or a national rule cited in 备注/决策依据. Empty when nothing does."""
    words = ctx.words
    text = fold(" ".join((a.item.name, *(h.clause.text for h in hits), *a.item.actions)))
    national = a.match.national
    if national is not None:
        for mandate in national.mandates:
            if fold(mandate)[:4] in text:
                return {"zh": f"{national.name}的{mandate}", "en": f"{mandate} on {national.name}"}
    found = words.national_mandates.search(text)
    if found is not None:
        return {
            "zh": f"国家规定的{found.group(0)}工作",
            "en": f"the national task {found.group(0)}",
        }
    for column in (a.item.note, a.item.decision_ref):
        cited = words.national_citations.search(fold(column))
        if cited is not None:
            return {
                "zh": f"学校注明的国家依据（“{column}”）",
                "en": f"a national rule the school cites (“{column}”)",
            }
    return {}


def _of_parents(item: RequiredItem) -> bool:
    return "家长" in item.audience


def proof_screenshot(a: Assessed, ctx: Context) -> Iterable[Finding]:
    hits = ctx.words.proof.hits(ctx.words.grammar, a.clauses)
    if hits:
        yield ctx.finding(
            "PROOF-SCREENSHOT",
            a,
            {"words": [h.word for h in hits], "clauses": _clause_evidence(hits)},
            variant="parents" if _of_parents(a.item) else "",
            proof=_join_labels(hits, "zh"),
            proof_en=_join_labels(hits, "en"),
            clause=_quote(hits),
        )


def commercial(a: Assessed, ctx: Context) -> Iterable[Finding]:
    words, grammar = ctx.words, ctx.words.grammar
    hits = words.commercial.hits(grammar, (*grammar.clauses(("name", a.item.name)), *a.clauses))
    found = [h.word for h in hits]
    entry = a.match.entry
    if entry is not None and entry.category == "购物":
        found.append(f"类别:{entry.category}")
    if found:
        yield ctx.finding(
            "COMMERCIAL",
            a,
            a.match.evidence() | {"words": found, "clauses": _clause_evidence(hits)},
            words="、".join(found),
            clause=_quote(hits) or a.item.name,
        )


def _app_key(a: Assessed, ctx: Context) -> str:
    entry = a.match.entry
    if entry is not None:
        return f"#{entry.id}"
    name = a.item.name
    found = ctx._app_keys.get(name)
    if found is None:
        if len(ctx._app_keys) >= _APP_KEYS_MAX:
            ctx._app_keys.clear()
        found = ctx._app_keys[name] = ctx.words.strip_name(name)
    return found


_APP_KEYS_MAX = 1 << 16


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
    "LISTING-REMOVED": listing_removed,
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
