"""A finding's evidence as short labelled facts in the report's language.

`findings.json` keeps the evidence as machine-readable data (DESIGN §5); pages, CSV and XLSX
show it through this module, with labels and values from `templates/evidence.toml`:

- `match_facts`: what the item matched in the registry (the entry, how it was matched, what
  the catalogues know of it). Every finding about the item carries it, so a page shows it
  once, in the item's header.
- `finding_facts`: what this finding rests on besides the match, chosen per rule (the
  `[rules]` table): the cells and words that triggered it, the filing number given …
- `facts` / `as_text`: both together, for a spreadsheet row that stands alone.

Evidence comes from stored results of any age, so every shape is read defensively and an
unknown key is still shown under its label (or its name).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Mapping, Sequence
from functools import cache
from importlib import resources
from typing import Any, NamedTuple

from policies.model import Finding
from reports.text import around_field

MATCH_KEYS = (
    "matched_by",
    "registry_entry",
    "identifier",
    "known_app",
    "related_entry",
    "national_platform",
    "survey_service",
    "name_word",
    "certified_entity_word",
)
"""Evidence keys that say what the item matched: the same for every finding of the item."""

_READS = {"reason_detail": "reason"}
"""Facts that show another key's value another way."""

_ENTRY_IDENTIFIERS = ("package", "original_id", "appid", "wechat_id", "channels_id", "url")
_CJK = re.compile(r"[\u3400-\u9fff]")


class Fact(NamedTuple):
    """One labelled fact. `marks` are words of `value` that triggered the finding; a `raw`
    fact is technical detail (names, hashes, the analyser's own words) a page folds away."""

    label: str
    value: str
    marks: tuple[str, ...] = ()
    raw: bool = False


@cache
def _catalogue() -> dict[str, Any]:
    text = resources.files("reports").joinpath("templates/evidence.toml").read_text("utf-8")
    return tomllib.loads(text)


def _word(table: str, key: str, lang: str) -> str | None:
    found = _catalogue()[table].get(key)
    return str(found[lang]) if isinstance(found, Mapping) else None


def _punct(name: str, lang: str) -> str:
    return str(_catalogue()["punctuation"][name][lang])


def label(key: str, lang: str) -> str:
    """The label of an evidence key in `lang` (the key itself when the catalogue lacks it)."""
    return _word("labels", key, lang) or key


def rule_keys(rule: str) -> tuple[str, ...] | None:
    """The evidence keys `rule`'s findings show, in order; None for a rule the catalogue
    does not know (all its keys are shown)."""
    keys = _catalogue()["rules"].get(rule)
    return tuple(keys) if keys is not None else None


def column_label(column: str, lang: str) -> str:
    """A submission column (action, note, quota …) as the school's sheet names it."""
    return _word("columns", column, lang) or _word("values.codes", column, lang) or column


def status_label(status: str, lang: str) -> str:
    return _word("status", status, lang) or status


def sdk_category(category: str, lang: str) -> str:
    return _word("sdk_categories", category, lang) or category


def vendor(name: str, lang: str) -> str:
    return _word("vendors", name, lang) or name


def value(raw: Any, lang: str) -> str:
    """A value in words: yes/no, none, coded values named, lists joined, nested facts inline."""
    words = _catalogue()["values"]
    if raw is None or raw == "" or raw == [] or raw == {}:
        return str(words["none"][lang])
    if isinstance(raw, bool):
        return str(words["yes" if raw else "no"][lang])
    if isinstance(raw, Mapping):
        if set(raw) == {"zh", "en"}:
            return str(raw[lang])
        colon = _punct("colon", lang)
        return _punct("parts", lang).join(
            f"{label(str(k), lang)}{colon}{value(v, lang)}" for k, v in raw.items()
        )
    if isinstance(raw, list | tuple | set | frozenset):
        items = sorted(raw, key=str) if isinstance(raw, set | frozenset) else raw
        return _punct("facts", lang).join(value(v, lang) for v in items)
    text = str(raw)
    coded = words["codes"].get(text)
    return str(coded[lang]) if coded else text


def _codes(text: str, lang: str) -> str:
    coded = _catalogue()["values"]["codes"].get(text)
    return str(coded[lang]) if coded else text


def _in_words(key: str, raw: Any, finding: Finding, lang: str) -> str:
    """A value as `lang` reads it: the rule's own wording of it (`reason_zh` beside `reason`)
    where the finding has one, else the value in words."""
    worded = finding.params.get(f"{key}_{lang}")
    if isinstance(worded, str) and worded:
        return worded
    return value(raw, lang)


def _paren(text: str, inner: Sequence[str], lang: str) -> str:
    inner = [i for i in inner if i]
    if not inner:
        return text
    return f"{text}{_punct('open', lang)}{_punct('parts', lang).join(inner)}{_punct('close', lang)}"


# --- what the item matched -------------------------------------------------------------------


def entry_text(entry: Any, lang: str) -> str:
    """A registry entry in a few words: 闽教高分（APP，教APP备1100819号，有效）."""
    if not isinstance(entry, Mapping):
        return value(entry, lang)
    name = str(entry.get("name") or "")
    kind = _codes(str(entry.get("kind") or ""), lang)
    filing = str(entry.get("filing_no") or "")
    status = str(entry.get("status") or "")
    parts = [kind, filing]
    if filing and status:
        parts.append(status_label(status, lang))
    return _paren(name, parts, lang)


def _filing(entry: Mapping[str, Any], lang: str) -> str:
    filing = str(entry.get("filing_no") or "")
    status = str(entry.get("status") or "")
    if not filing:
        return _word("values", "no_filing", lang) or ""
    return _paren(filing, [status_label(status, lang)] if status and status != "none" else [], lang)


def match_facts(evidence: Mapping[str, Any], lang: str) -> list[Fact]:
    """What the item matched in the registry and the catalogues, as the item's header shows
    it once: the entry with its kind, filing number and status, category and provider, and
    how it was matched (包名 / 原始ID / 备案号 / 名称). Empty when the evidence says nothing
    of a match (a finding about a quota or a screenshot)."""
    out: list[Fact] = []
    entry = evidence.get("registry_entry")
    matched_by = evidence.get("matched_by")
    if isinstance(entry, Mapping):
        name = str(entry.get("name") or "")
        about = [_codes(str(entry.get("kind") or ""), lang)]
        if isinstance(matched_by, str) and matched_by not in ("", "none"):
            how = _word("values", "matched_by", lang) or "{how}"
            about.append(how.format(how=_codes(matched_by, lang)))
        out.append(Fact(label("registry_entry", lang), _paren(name, about, lang)))
        out.append(Fact(label("filing_no", lang), _filing(entry, lang)))
        for key in ("category", "provider"):
            if entry.get(key):
                out.append(Fact(label(key, lang), str(entry[key])))
        if matched_by in ("name", "filing_no"):
            # Matched without the school's identifier: say which one the registry has.
            for key in _ENTRY_IDENTIFIERS:
                if entry.get(key):
                    out.append(Fact(_codes(key, lang), str(entry[key])))
                    break
    elif entry is not None:
        out.append(Fact(label("registry_entry", lang), value(entry, lang)))
    elif matched_by == "none":
        out.append(Fact(label("registry_entry", lang), _word("values", "not_found", lang) or ""))
    known = evidence.get("known_app")
    if isinstance(known, Mapping):
        out.append(
            Fact(
                label("known_app", lang),
                _paren(str(known.get("name") or ""), [str(known.get("category") or "")], lang),
            )
        )
    related = evidence.get("related_entry")
    if related is not None:
        out.append(Fact(label("related_entry", lang), entry_text(related, lang)))
    national = evidence.get("national_platform")
    if isinstance(national, Mapping):
        out.append(
            Fact(
                label("national_platform", lang),
                _paren(
                    str(national.get("name") or ""), [str(national.get("operator") or "")], lang
                ),
            )
        )
    survey = evidence.get("survey_service")
    if isinstance(survey, Mapping) and "requested_by" not in evidence:
        out.append(Fact(label("survey_service", lang), str(survey.get("name") or "")))
    for key in ("name_word", "certified_entity_word"):
        if evidence.get(key):
            out.append(Fact(label(key, lang), str(evidence[key]), (str(evidence[key]),)))
    return out


def identifier_fact(evidence: Mapping[str, Any], lang: str) -> Fact | None:
    """The item's identifier as the match read it (包名：com.example), if it had one."""
    ident = evidence.get("identifier")
    if isinstance(ident, Mapping) and ident.get("value"):
        return Fact(_codes(str(ident.get("field") or "identifier"), lang), str(ident["value"]))
    return None


# --- what the finding rests on ---------------------------------------------------------------

_Render = Callable[[Any, Finding, str], list[Fact]]


def _clauses(raw: Any, finding: Finding, lang: str) -> list[Fact]:
    """The cells the triggering words were found in, each once, with its words marked."""
    if not isinstance(raw, list | tuple):
        return [Fact(label("clauses", lang), value(raw, lang))]
    cells: dict[tuple[str, str], list[str]] = {}
    for clause in raw:
        if not isinstance(clause, Mapping):
            cells.setdefault(("", value(clause, lang)), [])
            continue
        key = (str(clause.get("column") or ""), str(clause.get("clause") or ""))
        word = str(clause.get("word") or "")
        words = cells.setdefault(key, [])
        if word and word not in words:
            words.append(word)
    return [
        Fact(column_label(column, lang) if column else label("clauses", lang), text, tuple(words))
        for (column, text), words in cells.items()
    ]


def _words(raw: Any, finding: Finding, lang: str) -> list[Fact]:
    """Trigger words not already marked in a quoted cell (a registry category, say)."""
    if not isinstance(raw, list | tuple):
        return [Fact(label("words", lang), value(raw, lang))]
    clauses = finding.evidence.get("clauses")
    seen = {
        str(c.get("word"))
        for c in (clauses if isinstance(clauses, list | tuple) else ())
        if isinstance(c, Mapping)
    }
    rest = [_word_text(str(w), lang) for w in raw if str(w) not in seen]
    if not rest:
        return []
    return [Fact(label("words", lang), _punct("list", lang).join(rest))]


def _word_text(word: str, lang: str) -> str:
    """A trigger word; one that names where it was found (类别:购物) reads 类别“购物”."""
    where, colon, what = word.partition(":")
    if not colon or not where or not what:
        return word
    return f"{where}“{what}”" if lang == "zh" else f"{where} “{what}”"


def _requested_by(raw: Any, finding: Finding, lang: str) -> list[Fact]:
    word = finding.evidence.get("body_word")
    marks = (str(word),) if isinstance(word, str) and word else ()
    return [Fact(label("requested_by", lang), value(raw, lang), marks)]


def _named(raw: Any, finding: Finding, lang: str, key: str) -> list[Fact]:
    if isinstance(raw, Mapping):
        return [Fact(label(key, lang), str(raw.get("name") or value(raw, lang)))]
    return [Fact(label(key, lang), value(raw, lang))]


def _rows_list(raw: Any, finding: Finding, lang: str, key: str) -> list[Fact]:
    """Apps of a school-wide finding: 示例口算练习（第18行）、示例作业本（第19行）."""
    if not isinstance(raw, list | tuple):
        return [Fact(label(key, lang), value(raw, lang))]
    row_word = _word("values", "row", lang) or "{row}"
    # A school's list runs to a hundred apps, written out for each school: `_paren` of one
    # part, with the punctuation looked up once and the row joined into its words.
    opening, closing = _punct("open", lang), _punct("close", lang)
    around = around_field(row_word, "row")
    before, after = (opening + around[0], around[1] + closing) if around else ("", "")
    parts = []
    for member in raw:
        if type(member) is dict or isinstance(member, Mapping):
            row = member.get("row")
            name = str(member.get("name") or "")
            if not row:
                parts.append(name)
            elif around is not None:
                parts.append(f"{name}{before}{row}{after}")
            else:
                parts.append(f"{name}{opening}{row_word.format(row=row)}{closing}")
        else:
            parts.append(value(member, lang))
    return [Fact(label(key, lang), _punct("list", lang).join(parts))]


def _entries(raw: Any, finding: Finding, lang: str, key: str) -> list[Fact]:
    entries = raw if isinstance(raw, list | tuple) else [raw]
    text = _punct("list", lang).join(entry_text(e, lang) for e in entries)
    return [Fact(label(key, lang), text or value(None, lang))]


def _maybe(raw: Any, finding: Finding, lang: str, key: str) -> list[Fact]:
    """A value worth a line only when the school gave one."""
    if raw is None or raw == "":
        return []
    return [Fact(label(key, lang), _in_words(key, raw, finding, lang))]


def _reason(raw: Any, finding: Finding, lang: str) -> list[Fact]:
    """Why, in the rule's words for `lang`."""
    return [Fact(label("reason", lang), _in_words("reason", raw, finding, lang))]


def _reason_detail(raw: Any, finding: Finding, lang: str) -> list[Fact]:
    """The analyser's own account of why, when the reason in words says less: detail."""
    if not isinstance(raw, str) or not raw or raw == _in_words("reason", raw, finding, lang):
        return []
    return [Fact(label("detail", lang), raw, raw=not _CJK.search(raw))]


def _detail(raw: Any, finding: Finding, lang: str) -> list[Fact]:
    if raw is None or raw == "":
        return []
    text = value(raw, lang)
    return [Fact(label("detail", lang), text, raw=True)]


def _cells(raw: Any, finding: Finding, lang: str) -> list[Fact]:
    """The row as the school filled it in: each non-empty cell under its column's name."""
    if not isinstance(raw, Mapping):
        return [Fact(label("cells", lang), value(raw, lang))]
    colon = _punct("colon", lang)
    parts = [
        f"{column_label(str(k), lang)}{colon}{v}"
        for k, v in raw.items()
        if isinstance(v, str) and v.strip() and k != "seq"
    ]
    return [Fact(label("cells", lang), _punct("facts", lang).join(parts) or value(None, lang))]


def _sdks(raw: Any, finding: Finding, lang: str) -> list[Fact]:
    """穿山甲 Pangle（字节跳动，广告）; the class prefixes they were found by, as detail."""
    if not isinstance(raw, list | tuple):
        return [Fact(label("sdks", lang), value(raw, lang))]
    shown, prefixes = [], []
    for sdk in raw:
        if not isinstance(sdk, Mapping):
            shown.append(value(sdk, lang))
            continue
        shown.append(
            _paren(
                str(sdk.get("name") or ""),
                [
                    vendor(str(sdk.get("vendor") or ""), lang),
                    sdk_category(str(sdk.get("category") or ""), lang),
                ],
                lang,
            )
        )
        if sdk.get("prefix"):
            prefixes.append(str(sdk["prefix"]))
    out = [Fact(label("sdks", lang), _punct("list", lang).join(shown))]
    if prefixes:
        out.append(Fact(label("raw_sdks", lang), ", ".join(prefixes), raw=True))
    return out


def _permissions(raw: Any, finding: Finding, lang: str) -> list[Fact]:
    """精确位置、读取通讯录; the Android names as detail."""
    if not isinstance(raw, list | tuple):
        return [Fact(label("permissions", lang), value(raw, lang))]
    words, names = [], []
    for permission in raw:
        if isinstance(permission, Mapping):
            words.append(str(permission.get(lang) or permission.get("permission") or ""))
            names.append(str(permission.get("permission") or ""))
        else:
            names.append(str(permission))
            words.append(str(permission))
    out = [Fact(label("permissions", lang), _punct("list", lang).join(w for w in words if w))]
    if any(names):
        out.append(Fact(label("raw_permissions", lang), ", ".join(n for n in names if n), raw=True))
    return out


def _technical(raw: Any, finding: Finding, lang: str, key: str) -> list[Fact]:
    """Hashes, certificate names, per-scheme results: for the technician, folded away."""
    if raw is None or raw == [] or raw == "":
        return []
    if isinstance(raw, list | tuple):
        parts = []
        for member in raw:
            if isinstance(member, Mapping):
                parts.append(" ".join(str(v) for v in member.values() if v not in (None, "")))
            else:
                parts.append(str(member))
        text = "; ".join(parts)
    else:
        text = value(raw, lang)
    return [Fact(label(key, lang), text, raw=True)]


def _plain(raw: Any, finding: Finding, lang: str, key: str) -> list[Fact]:
    return [Fact(label(key, lang), _in_words(key, raw, finding, lang))]


_RENDER: dict[str, _Render] = {
    "clauses": _clauses,
    "words": _words,
    "requested_by": _requested_by,
    "survey_service": lambda r, f, lang: _named(r, f, lang, "survey_service"),
    "apps": lambda r, f, lang: _rows_list(r, f, lang, "apps"),
    "items": lambda r, f, lang: _rows_list(r, f, lang, "items"),
    "filing_belongs_to": lambda r, f, lang: _entries(r, f, lang, "filing_belongs_to"),
    "apk_is_registry_entry": lambda r, f, lang: _entries(r, f, lang, "apk_is_registry_entry"),
    "stated_filing_no": lambda r, f, lang: _maybe(r, f, lang, "stated_filing_no"),
    "reason": _reason,
    "reason_detail": _reason_detail,
    "detail": _detail,
    "cells": _cells,
    "sdks": _sdks,
    "permissions": _permissions,
    "certificates_found": lambda r, f, lang: _technical(r, f, lang, "certificates_found"),
    "schemes": lambda r, f, lang: _technical(r, f, lang, "schemes"),
    "apk_signers": lambda r, f, lang: _technical(r, f, lang, "apk_signers"),
    "registry_signers": lambda r, f, lang: _technical(r, f, lang, "registry_signers"),
    "signing_schemes": lambda r, f, lang: _maybe(
        ", ".join(map(str, r)) if isinstance(r, list | tuple) else r, f, lang, "signing_schemes"
    ),
}


def finding_facts(finding: Finding, lang: str) -> list[Fact]:
    """What the finding rests on besides the item's match, in the rule's chosen order."""
    evidence = finding.evidence
    keys = rule_keys(finding.rule)
    if keys is None:
        keys = tuple(k for k in evidence if k not in MATCH_KEYS)
    out: list[Fact] = []
    for key in keys:
        source = _READS.get(key, key)
        if source not in evidence:
            continue
        raw = evidence[source]
        render = _RENDER.get(key)
        out.extend(render(raw, finding, lang) if render else _plain(raw, finding, lang, key))
    return out


def facts(finding: Finding, lang: str) -> list[tuple[str, str]]:
    """(label, value) for everything a reader needs of the finding's evidence: the item's
    match, then what the finding rests on."""
    found = match_facts(finding.evidence, lang)
    ident = identifier_fact(finding.evidence, lang)
    if ident is not None:
        found.insert(0, ident)
    return [(f.label, f.value) for f in (*found, *finding_facts(finding, lang))]


def as_text(finding: Finding, lang: str) -> str:
    """The facts on one line, for a spreadsheet cell."""
    colon, sep = _punct("colon", lang), _punct("facts", lang)
    return sep.join(f"{k}{colon}{v}" for k, v in facts(finding, lang))
