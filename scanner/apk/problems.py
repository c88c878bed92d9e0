"""Why a signature does not verify: a reason code, the detail it names, and its catalogue text.

The codes are the vocabulary of `ApkFacts` (stored, compared, shown in JSON); the words a
person reads come from `data/signature-reasons.toml` in zh and en. Each reason also says
what kind of defect it is: the content was changed after signing (`modified`), the
signature itself is forged or damaged (`forged`), or something is missing (`missing`).
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Literal

Kind = Literal["modified", "forged", "missing"]
_PROSE = re.compile(r"[A-Za-z]{2,}[ ,:;]+[A-Za-z]{2,}")
"""Two English words in a row: a detail written as prose, not a name or a number."""
KINDS: tuple[Kind, ...] = ("modified", "forged", "missing")


@dataclass(frozen=True)
class Problem:
    """A reason code from the catalogue and the entry, scheme or value it concerns."""

    code: str
    detail: str = ""


@dataclass(frozen=True)
class ReasonText:
    kind: Kind
    zh: str
    en: str


@cache
def catalogue() -> dict[str, ReasonText]:
    out: dict[str, ReasonText] = {}
    for code, entry in _tables()["reasons"].items():
        kind = entry["kind"]
        if kind not in KINDS:
            raise ValueError(f"signature reason {code}: unknown kind {kind!r}")
        out[code] = ReasonText(kind, entry["zh"], entry["en"])
    return out


@cache
def _tables() -> dict[str, dict[str, dict[str, str]]]:
    raw: dict[str, dict[str, dict[str, str]]] = tomllib.loads(
        resources.files("scanner").joinpath("data/signature-reasons.toml").read_text("utf-8")
    )
    return raw


def _kinds() -> dict[str, dict[str, str]]:
    return _tables()["kinds"]


def describe_verdict(verified: bool, code: str, detail: str = "", lang: str = "zh") -> str:
    """签名有效, or 签名无效（reason）: the verdict in one line."""
    key = "zh" if lang == "zh" else "en"
    if verified:
        return _tables()["verdict"]["valid"][key]
    return _tables()["verdict"]["invalid"][key].format(reason=describe(code, detail, lang))


def describe_kind(kind: Kind, lang: str = "zh") -> str:
    """What a reason's kind means for the reader: tampered, forged, or missing."""
    return _kinds()[kind]["zh" if lang == "zh" else "en"]


def reason_kind(code: str) -> Kind:
    entry = catalogue().get(code)
    return entry.kind if entry is not None else "forged"


def describe(code: str, detail: str = "", lang: str = "zh") -> str:
    """The reason in plain words; an unknown code (from newer cached facts) is shown as is."""
    entry = catalogue().get(code)
    if entry is None:
        return f"{code} {detail}".strip()
    if lang == "zh" and _PROSE.search(detail):
        # Some details are the analyser's English account (a broken ZIP directory, an
        # unparsable block): a Chinese reader gets the reason alone; findings keep the detail.
        return entry.zh.format(detail="").replace("（）", "").replace("“”", "")
    template = entry.zh if lang == "zh" else entry.en
    return template.format(detail=detail or "?")


@dataclass(frozen=True)
class _FailureText:
    pattern: re.Pattern[str]
    zh: str
    en: str


@cache
def _failures() -> tuple[_FailureText, ...]:
    raw = tomllib.loads(
        resources.files("scanner").joinpath("data/apk-failures.toml").read_text("utf-8")
    )
    return tuple(
        _FailureText(re.compile(entry["match"]), entry["zh"], entry["en"])
        for entry in raw["failure"]
    )


def describe_failure(text: str, lang: str = "zh") -> str:
    """Why no APK could be had or read, in plain words (`data/apk-failures.toml`); the
    scanner's own English text stays the technical detail."""
    for entry in _failures():
        found = entry.pattern.search(text)
        if found is not None:
            template = entry.zh if lang == "zh" else entry.en
            return template.format_map({k: v or "" for k, v in found.groupdict().items()})
    return text
