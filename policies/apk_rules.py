"""The APK rules of DESIGN §4: what the APK a school hands out really is, against the registry.

They read `ApkFacts` (what the file is) beside the item's registry match (what it should be).
Static analysis shows that an SDK is present, not that it sends data; the wording says so.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from policies.matching import entry_evidence
from policies.model import Finding
from policies.rules import Assessed, Context
from registry.records import EntryRecord
from scanner.apk import ApkFacts, describe_permission
from scanner.apk.problems import describe, describe_failure, describe_kind, reason_kind

AD_CATEGORIES = frozenset({"ads"})
TRACKER_CATEGORIES = frozenset({"analytics", "push", "attribution", "crash", "location"})


@dataclass(frozen=True)
class ApkOutcome:
    """What came of the APK a submission row names: facts, or why there are none."""

    cell: str
    """The APK cell as the school wrote it."""
    facts: ApkFacts | None = None
    failure: str = ""
    """Why no file could be had (download failed, file missing …)."""
    origin: str = ""
    """Where the file was found (path, folder entry or URL) — for the report."""
    cached: bool = False

    @property
    def package(self) -> str:
        return self.facts.package if self.facts is not None and self.facts.readable else ""


def _facts_evidence(outcome: ApkOutcome) -> dict[str, Any]:
    facts = outcome.facts
    out: dict[str, Any] = {"apk": outcome.cell}
    if outcome.origin and outcome.origin != outcome.cell:
        out["apk_file"] = outcome.origin
    if facts is not None:
        out["sha256"] = facts.sha256
        if facts.package:
            out["package"] = facts.package
        if facts.label:
            out["label"] = facts.label
    return out


def _registry_entry(a: Assessed, outcome: ApkOutcome, ctx: Context) -> EntryRecord | None:
    """The entry the APK should be: the row's match, else the one its package names."""
    if a.match.entry is not None:
        return a.match.entry
    return ctx.registry_entry_for_package(outcome.package)


def apk_unreadable(a: Assessed, outcome: ApkOutcome, ctx: Context) -> Iterable[Finding]:
    facts = outcome.facts
    if facts is None:
        reason = outcome.failure or "no file"
    elif not facts.readable:
        reason = "; ".join(facts.problems) or "unreadable"
    elif facts.code_unread:
        # The app is identified, but SDKs in the unread code would go unseen: say so.
        reason = "only part of its code could be read: " + "; ".join(facts.code_unread)
    else:
        return
    yield ctx.finding(
        "APK-UNREADABLE",
        a,
        _facts_evidence(outcome) | {"reason": reason},
        reason=reason,
        reason_zh=describe_failure(reason, "zh"),
        reason_en=reason,
    )


def apk_unsigned(a: Assessed, outcome: ApkOutcome, ctx: Context) -> Iterable[Finding]:
    facts = outcome.facts
    if facts is None or not facts.readable or facts.signature_reason != "unsigned":
        return
    evidence = _facts_evidence(outcome) | {
        "signing_schemes": list(facts.signing_schemes),
        "problems": list(facts.problems),
    }
    yield ctx.finding("APK-UNSIGNED", a, evidence)


def apk_signature_invalid(a: Assessed, outcome: ApkOutcome, ctx: Context) -> Iterable[Finding]:
    """Signed, but the signature does not verify as Android checks it: the file was changed
    after signing, or the signature is forged (a certificate copied from the genuine app
    proves nothing then)."""
    facts = outcome.facts
    if facts is None or not facts.readable or facts.signature_verified:
        return
    code, detail = facts.signature_reason, facts.signature_detail
    if code == "unsigned":
        return  # APK-UNSIGNED says so
    kind = reason_kind(code)
    evidence = _facts_evidence(outcome) | {
        "reason": code,
        "detail": detail,
        "kind": kind,
        "signing_schemes": list(facts.signing_schemes),
        "schemes": [
            {
                "scheme": v.scheme,
                "checked": v.checked,
                "verified": v.verified,
                "reason": v.reason,
                "detail": v.detail,
            }
            for v in facts.signatures
        ],
        "certificates_found": [
            {"sha256": s.sha256, "subject": s.subject} for s in facts.signers if not s.lineage
        ],
    }
    yield ctx.finding(
        "APK-SIGNATURE-INVALID",
        a,
        evidence,
        verdict_zh=describe_kind(kind, "zh"),
        verdict_en=describe_kind(kind, "en"),
        reason_zh=describe(code, detail, "zh"),
        reason_en=describe(code, detail, "en"),
    )


def apk_package_mismatch(a: Assessed, outcome: ApkOutcome, ctx: Context) -> Iterable[Finding]:
    package = outcome.package
    if not package:
        return
    identifier = a.match.identifier
    expected, source_zh, source_en = "", "", ""
    if identifier is not None and identifier[0] == "package":
        expected, source_zh, source_en = identifier[1], "学校填报的包名", "package the school gave"
    elif a.match.entry is not None and a.match.entry.package:
        expected = a.match.entry.package
        source_zh, source_en = "登记表中该应用的包名", "registered package of this app"
    if not expected or expected.lower() == package.lower():
        return
    evidence = _facts_evidence(outcome) | {"expected_package": expected, "expected_from": source_en}
    entry = ctx.registry_entry_for_package(package)
    if entry is not None:
        evidence["apk_is_registry_entry"] = entry_evidence(entry)
    yield ctx.finding(
        "APK-PACKAGE-MISMATCH",
        a,
        evidence,
        apk_package=package,
        expected=expected,
        expected_source_zh=source_zh,
        expected_source_en=source_en,
    )


def apk_signer_mismatch(a: Assessed, outcome: ApkOutcome, ctx: Context) -> Iterable[Finding]:
    """Only certificates the signature proves count: an APK whose signature does not verify
    gets APK-SIGNATURE-INVALID instead, whatever certificate it carries."""
    facts = outcome.facts
    if facts is None or not facts.readable:
        return
    verified = facts.verified_signers()
    if not verified:
        return
    entry = _registry_entry(a, outcome, ctx)
    if entry is None or not entry.signer_sha256:
        return
    if entry.package and outcome.package and entry.package.lower() != outcome.package.lower():
        return  # another app altogether: APK-PACKAGE-MISMATCH says so
    found = [s.sha256 for s in verified]
    if set(found) & set(entry.signer_sha256):
        return  # a rotated key whose lineage holds the registered one counts too
    evidence = _facts_evidence(outcome) | {
        "apk_signers": [
            {"sha256": s.sha256, "subject": s.subject} for s in verified if not s.lineage
        ],
        "registry_signers": list(entry.signer_sha256),
        "registry_entry": entry_evidence(entry),
    }
    yield ctx.finding("APK-SIGNER-MISMATCH", a, evidence)


def _sdk_finding(
    rule: str, categories: frozenset[str], a: Assessed, outcome: ApkOutcome, ctx: Context
) -> Iterable[Finding]:
    facts = outcome.facts
    if facts is None:
        return
    sdks = [s for s in facts.sdks if s.category in categories]
    if not sdks:
        return
    evidence = _facts_evidence(outcome) | {
        "sdks": [
            {
                "name": s.name,
                "vendor": s.vendor,
                "category": s.category,
                "prefix": s.prefix,
                "example": s.example,
                "where": list(s.where),
            }
            for s in sdks
        ],
        "caveat": "static analysis shows an SDK is present, not that it sends data",
    }
    yield ctx.finding(rule, a, evidence, sdks="、".join(s.name for s in sdks))


def apk_ad_sdk(a: Assessed, outcome: ApkOutcome, ctx: Context) -> Iterable[Finding]:
    return _sdk_finding("APK-AD-SDK", AD_CATEGORIES, a, outcome, ctx)


def apk_tracker_sdk(a: Assessed, outcome: ApkOutcome, ctx: Context) -> Iterable[Finding]:
    return _sdk_finding("APK-TRACKER-SDK", TRACKER_CATEGORIES, a, outcome, ctx)


def apk_sensitive_permission(a: Assessed, outcome: ApkOutcome, ctx: Context) -> Iterable[Finding]:
    facts = outcome.facts
    if facts is None or not facts.readable:
        return
    extra = set(ctx.config.sensitive_permissions)
    sensitive = list(facts.sensitive_permissions()) + [
        p for p in facts.permissions if p in extra and p not in facts.sensitive_permissions()
    ]
    if not sensitive:
        return
    described = [describe_permission(p) for p in sensitive]
    evidence = _facts_evidence(outcome) | {
        "permissions": [
            {"permission": d.permission, "zh": d.name_zh, "en": d.meaning_en} for d in described
        ]
    }
    yield ctx.finding(
        "APK-SENSITIVE-PERMISSION",
        a,
        evidence,
        permissions="、".join(d.name_zh for d in described),
        permissions_en=", ".join(d.meaning_en for d in described),
    )


APK_RULES = {
    "APK-UNREADABLE": apk_unreadable,
    "APK-UNSIGNED": apk_unsigned,
    "APK-SIGNATURE-INVALID": apk_signature_invalid,
    "APK-PACKAGE-MISMATCH": apk_package_mismatch,
    "APK-SIGNER-MISMATCH": apk_signer_mismatch,
    "APK-AD-SDK": apk_ad_sdk,
    "APK-TRACKER-SDK": apk_tracker_sdk,
    "APK-SENSITIVE-PERMISSION": apk_sensitive_permission,
}
