"""What a page says about the APK a row names: the app it is, its signature, its SDKs and
permissions in plain words, and the technical names folded away for whoever checks them.

It reads the scanner's `ApkFacts` as they are typed (the cache rebuilds them, checked, with
`ApkFacts.from_dict`), so nothing here second-guesses their shape."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from policies.results import ApkPanel
from reports import evidence
from reports.text import Strings
from reports.times import DEFAULT_ZONE, shown
from scanner.apk.facts import Signer
from scanner.apk.permissions import describe_permission, permission_catalogue
from scanner.apk.problems import describe_failure, describe_verdict


@dataclass(frozen=True, slots=True)
class SdkRow:
    name: str
    vendor: str
    category: str
    where: str


@dataclass(frozen=True, slots=True)
class PermissionWord:
    permission: str
    name: str
    sensitive: bool


@dataclass(frozen=True, slots=True)
class ApkView:
    row: int
    heading: str
    source: str
    failure: str
    facts: list[tuple[str, str]]
    """What a reader needs: the app, its version and size, whether its signature holds."""
    technical: list[tuple[str, str]]
    """Digests, SDK levels, signature schemes, certificates: folded away."""
    problems: list[str]
    """What could not be read, in plain words."""
    problem_details: list[str]
    """… and as the analyser said it."""
    sdks: list[SdkRow]
    sdk_prefixes: list[str]
    has_sdks: bool
    permissions: list[PermissionWord]
    unlisted_permissions: int
    raw_permissions: list[str]
    has_permissions: bool


def _size(size: int, s: Strings) -> str:
    if s.lang == "zh":
        return f"{size / 1_048_576:.1f} MB（{size:,} {s['bytes']}）"
    return f"{size / 1_048_576:.1f} MB ({size:,} {s['bytes']})"


def apk_view(panel: ApkPanel, s: Strings, zone_name: str = DEFAULT_ZONE) -> ApkView:
    """An APK panel: what the scanner found, or why it found nothing."""
    lang = s.lang
    facts = panel.facts
    failure = panel.failure or ("" if facts is not None else s["apk_failure"])
    failure_words = describe_failure(failure, lang) if failure else ""
    if facts is None:
        return ApkView(
            row=panel.row,
            heading=_heading(panel, s, ""),
            source=panel.source,
            failure=failure_words,
            facts=[],
            technical=[],
            problems=[],
            problem_details=[failure] if failure != failure_words else [],
            sdks=[],
            sdk_prefixes=[],
            has_sdks=False,
            permissions=[],
            unlisted_permissions=0,
            raw_permissions=[],
            has_permissions=False,
        )

    rows = _shown(
        (s["label"], facts.label),
        (s["package"], facts.package),
        (s["version"], facts.version_name),
        (s["size"], _size(facts.size, s)),
    )
    if facts.readable:
        verdict = describe_verdict(
            facts.signature_verified, facts.signature_reason, facts.signature_detail, lang
        )
        rows.append((s["signature"], verdict))
    technical = _shown(
        ("SHA-256", facts.sha256),
        (s["version_code"], facts.version_code),
        (s["min_sdk"], facts.min_sdk),
        (s["target_sdk"], facts.target_sdk),
        (s["signing_schemes"], ", ".join(facts.signing_schemes)),
    )
    technical.extend((s["signers"], _signer(signer, zone_name)) for signer in facts.signers)

    problems = list(dict.fromkeys(describe_failure(p, lang) for p in facts.problems))
    details = [failure, *facts.problems] if failure and failure_words != failure else facts.problems

    sdks = [
        SdkRow(
            name=sdk.name,
            vendor=evidence.vendor(sdk.vendor, lang),
            category=evidence.sdk_category(sdk.category, lang),
            where=s["list_sep"].join(evidence.value(w, lang) for w in sdk.where),
        )
        for sdk in facts.sdks
    ]
    prefixes = [x for sdk in facts.sdks for x in (sdk.prefix, sdk.example) if x]

    names = sorted(facts.permissions)
    words, unlisted = [], 0
    for name in names:
        info = describe_permission(name)
        if not info.listed:
            unlisted += 1
            continue
        words.append(
            PermissionWord(name, info.name_zh if lang == "zh" else info.meaning_en, info.sensitive)
        )
    listed = {name: n for n, name in enumerate(permission_catalogue())}
    words.sort(key=lambda w: (not w.sensitive, listed.get(w.permission, len(listed))))

    return ApkView(
        row=panel.row,
        heading=_heading(panel, s, facts.label),
        source=panel.source,
        failure=failure_words,
        facts=rows,
        technical=technical,
        problems=problems,
        problem_details=[p for p in details if p and p not in problems],
        sdks=sdks,
        sdk_prefixes=prefixes,
        has_sdks=facts.readable,
        permissions=words,
        unlisted_permissions=unlisted,
        raw_permissions=names,
        has_permissions=facts.readable,
    )


def _heading(panel: ApkPanel, s: Strings, label: str) -> str:
    return s.row(panel.row) + " · " + (panel.item or label)


def _shown(*pairs: tuple[str, object]) -> list[tuple[str, str]]:
    """The labelled facts that have a value (a fact the APK lacks is left out, not blank)."""
    return [(label, str(value)) for label, value in pairs if value not in (None, "")]


def _signer(signer: Signer, zone_name: str) -> str:
    dates = (_moment(signer.not_before, zone_name), _moment(signer.not_after, zone_name))
    valid = " – ".join(x for x in dates if x)
    parts = (signer.sha256, signer.subject, signer.issuer, valid, signer.key,
             ", ".join(signer.schemes))  # fmt: skip
    return " · ".join(p for p in parts if p)


def _moment(text: str, zone_name: str) -> str:
    """A certificate's date in the bureau's time zone; a value that is no date, as it is."""
    try:
        return shown(datetime.fromisoformat(text), zone_name, seconds=False)
    except ValueError:
        return text
