"""What a page says about the APK a row names: the app it is, its signature, its SDKs and
permissions in plain words, and the technical names folded away for whoever checks them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from policies.results import ApkPanel
from reports import evidence
from reports.json_format import compact_json
from reports.text import Strings
from reports.times import DEFAULT_ZONE, shown
from scanner.apk import describe_permission
from scanner.apk.permissions import permission_catalogue
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


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        return ", ".join(_text(v) for v in value)
    if isinstance(value, Mapping):
        return compact_json(value)
    return str(value)


def _list(value: Any) -> list[Any]:
    if isinstance(value, list | tuple):
        return list(value)
    return [] if value is None or value == "" else [value]


def _size(value: Any, s: Strings) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        return (
            f"{value / 1_048_576:.1f} MB（{value:,} {s['bytes']}）"
            if s.lang == "zh"
            else (f"{value / 1_048_576:.1f} MB ({value:,} {s['bytes']})")
        )
    return _text(value)


def apk_view(panel: ApkPanel, s: Strings, zone_name: str = DEFAULT_ZONE) -> ApkView:
    """An APK panel. The facts come from a cache of any age, so they are read defensively."""
    lang = s.lang
    facts: Mapping[str, Any] = panel.facts if isinstance(panel.facts, Mapping) else {}
    rows: list[tuple[str, str]] = []
    technical: list[tuple[str, str]] = []

    def add(into: list[tuple[str, str]], label: str, key: str, show: Any = None) -> None:
        value = facts.get(key)
        if value is None or value == "" or value == []:
            return
        into.append((label, show(value) if show else _text(value)))

    add(rows, s["label"], "label")
    add(rows, s["package"], "package")
    add(rows, s["version"], "version_name")
    add(rows, s["size"], "size", lambda v: _size(v, s))
    if isinstance(facts.get("signature_verified"), bool):
        verdict = describe_verdict(
            facts["signature_verified"],
            _text(facts.get("signature_reason")),
            _text(facts.get("signature_detail")),
            lang,
        )
        rows.append((s["signature"], verdict))
    add(technical, "SHA-256", "sha256")
    add(technical, s["version_code"], "version_code")
    add(technical, s["min_sdk"], "min_sdk")
    add(technical, s["target_sdk"], "target_sdk")
    add(technical, s["signing_schemes"], "signing_schemes")
    if "signing_schemes" not in facts:
        add(technical, s["signing_schemes"], "schemes")
    for signer in _list(facts.get("signers")):
        technical.append((s["signers"], _signer(signer, zone_name)))
    for key, value in facts.items():
        if key not in _KNOWN:
            technical.append((evidence.label(str(key), lang), _text(value)))

    raw_problems = [_text(p) for p in _list(facts.get("problems"))]
    problems = list(dict.fromkeys(describe_failure(p, lang) for p in raw_problems))

    sdks: list[SdkRow] = []
    prefixes: list[str] = []
    for sdk in _list(facts.get("sdks")):
        if isinstance(sdk, Mapping):
            where = [evidence.value(w, lang) for w in _list(sdk.get("where"))]
            sdks.append(
                SdkRow(
                    name=_text(sdk.get("name")),
                    vendor=evidence.vendor(_text(sdk.get("vendor")), lang),
                    category=evidence.sdk_category(_text(sdk.get("category")), lang),
                    where=s["list_sep"].join(where),
                )
            )
            prefixes.extend(x for x in (_text(sdk.get("prefix")), _text(sdk.get("example"))) if x)
        else:
            sdks.append(SdkRow(_text(sdk), "", "", ""))

    names = sorted(_text(p) for p in _list(facts.get("permissions")))
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

    failure = panel.failure or ("" if panel.facts is not None else s["apk_failure"])
    failure_words = describe_failure(failure, lang) if failure else ""
    if failure and failure_words != failure:
        problems_details = [failure, *raw_problems]
    else:
        problems_details = raw_problems
    return ApkView(
        row=panel.row,
        heading=s.row(panel.row) + " · " + (panel.item or _text(facts.get("label"))),
        source=panel.source,
        failure=failure_words,
        facts=rows,
        technical=technical,
        problems=problems,
        problem_details=[p for p in problems_details if p and p not in problems],
        sdks=sdks,
        sdk_prefixes=prefixes,
        has_sdks="sdks" in facts,
        permissions=words,
        unlisted_permissions=unlisted,
        raw_permissions=names,
        has_permissions="permissions" in facts,
    )


_KNOWN = frozenset(
    {
        "analyser_version", "sha256", "size", "package", "label", "version_name",
        "version_code", "min_sdk", "target_sdk", "permissions", "signing_schemes", "schemes",
        "signers", "signatures", "signature_verified", "signature_reason", "signature_detail",
        "sdks", "dex_count", "class_count", "components", "readable", "problems",
        "code_unread", "sdk_catalogue",
    }
)  # fmt: skip
"""Facts the panel shows in its own way or leaves to findings.json; any other is listed."""


def _signer(signer: Any, zone_name: str) -> str:
    if not isinstance(signer, Mapping):
        return _text(signer)
    valid = " – ".join(
        x
        for x in (
            _moment(signer.get("not_before"), zone_name),
            _moment(signer.get("not_after"), zone_name),
        )
        if x
    )
    parts = [_text(signer.get(k)) for k in ("sha256", "subject", "issuer", "key", "schemes")]
    return " · ".join(p for p in (*parts[:3], valid, *parts[3:]) if p)


def _moment(value: Any, zone_name: str) -> str:
    """A certificate's date in the bureau's time zone; a value that is no date, as it is."""
    text = _text(value)
    try:
        return shown(datetime.fromisoformat(text), zone_name, seconds=False)
    except ValueError:
        return text
