"""Registry entries and adoptions as plain values, and their parsing from spreadsheet cells."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any

from appaudit.errors import Message
from registry import values
from registry.values import InvalidValue

ENTRY_FIELDS = (
    "name",
    "kind",
    "provider",
    "filing_no",
    "status",
    "listing",
    "listing_date",
    "listing_ref",
    "package",
    "original_id",
    "appid",
    "wechat_id",
    "channels_id",
    "url",
    "category",
    "audience",
    "signer_sha256",
    "certified_entity",
    "icp",
    "mlps_level",
    "note",
)
"""Canonical entry fields, in the order exports and `list --format json` use."""

ENTRY_HEADERS_ZH = {
    "name": "名称",
    "kind": "类型",
    "provider": "提供者",
    "filing_no": "备案号",
    "status": "备案状态",
    "listing": "准入状态",
    "listing_date": "准入日期",
    "listing_ref": "准入依据",
    "package": "包名",
    "original_id": "原始ID",
    "appid": "AppID",
    "wechat_id": "微信号",
    "channels_id": "视频号ID",
    "url": "网址",
    "category": "类别",
    "audience": "使用对象",
    "signer_sha256": "签名证书SHA256",
    "certified_entity": "认证主体",
    "icp": "ICP备案号",
    "mlps_level": "等保级别",
    "note": "备注",
}

ADOPTION_FIELDS = (
    "school",
    "school_code",
    "app",
    "kind",
    "filing_no",
    "identifier",
    "decision_ref",
    "decided_on",
    "audience",
    "note",
)

ADOPTION_HEADERS_ZH = {
    "school": "学校",
    "school_code": "学校标识码",
    "app": "应用",
    "kind": "类型",
    "filing_no": "备案号",
    "identifier": "标识",
    "decision_ref": "决策依据",
    "decided_on": "决策日期",
    "audience": "对象",
    "note": "备注",
}

_OTHER_HEADERS_ZH = {"state": "状态", "identifier": "标识", "entry": "应用"}


def field_name(name: str) -> Message:
    """A field as people call it: its Chinese header, or its canonical name in English."""
    zh = ENTRY_HEADERS_ZH.get(name) or ADOPTION_HEADERS_ZH.get(name) or _OTHER_HEADERS_ZH.get(name)
    return Message(name, zh or name)


# Which identifier fields belong to which kind; a URL may accompany any kind.
KIND_IDENTIFIERS = {
    "package": {"app"},
    "original_id": {"official_account"},
    "wechat_id": {"official_account"},
    "appid": {"miniprogram"},
    "channels_id": {"channels"},
    "url": set(values.KINDS),
}
KIND_OF_IDENTIFIER = {
    "package": "app",
    "original_id": "official_account",
    "wechat_id": "official_account",
    "appid": "miniprogram",
    "channels_id": "channels",
    "url": "platform",
}
# Identifier shapes unmistakable enough to be filed under their own field when they turn
# up in another identifier column; a bare word or a dotted name is not.
_DISTINCT_SHAPES = {"original_id", "appid", "channels_id", "url"}
_LENGTHS = {"certified_entity": 200, "listing_ref": 500}
"""Free-text fields the database holds in a bounded column, by their limit."""
_MLPS = {"1": "一级", "2": "二级", "3": "三级", "4": "四级", "5": "五级"}
_CN_DIGITS = {"一": "1", "二": "2", "三": "3", "四": "4", "五": "5"}


@dataclass(frozen=True)
class EntryRecord:
    """A registry entry as plain values, in canonical form.

    `status` is the filing (备案状态: active, revoked, cancelled, none); `listing` is the
    bureau's own list (准入状态: listed, suspended, removed, or '' for no explicit state),
    set by the decision `listing_ref` on `listing_date`.
    """

    name: str
    kind: str
    provider: str = ""
    filing_no: str = ""
    status: str = "none"
    package: str = ""
    original_id: str = ""
    appid: str = ""
    wechat_id: str = ""
    channels_id: str = ""
    url: str = ""
    category: str = ""
    audience: tuple[str, ...] = ()
    signer_sha256: tuple[str, ...] = ()
    icp: str = ""
    mlps_level: str = ""
    note: str = ""
    listing: str = ""
    listing_date: date | None = None
    listing_ref: str = ""
    certified_entity: str = ""
    """The verified owner (认证主体) of an official account or mini-program."""
    id: int | None = field(default=None, compare=False)

    @property
    def identifiers(self) -> dict[str, str]:
        """The identifier fields that are set."""
        return {f: getattr(self, f) for f in values.IDENTIFIER_FIELDS if getattr(self, f)}

    @property
    def educational(self) -> bool | None:
        return values.is_educational(self.category)

    @property
    def filed(self) -> bool:
        return bool(self.filing_no) and self.status == "active"

    def to_dict(self, *, with_id: bool = False) -> dict[str, Any]:
        """Canonical JSON form: lists for audience and signers, ISO dates, '' for empty."""
        out: dict[str, Any] = {"id": self.id} if with_id else {}
        for name in ENTRY_FIELDS:
            value = getattr(self, name)
            if isinstance(value, tuple):
                value = list(value)
            elif name == "listing_date":
                value = value.isoformat() if value else ""
            out[name] = value
        return out

    def cells(self, lang: str = "en") -> dict[str, str]:
        """Spreadsheet form: multi-valued fields joined, kind, status and listing as words
        of `lang`."""
        out = {}
        for name in ENTRY_FIELDS:
            value = getattr(self, name)
            if name == "audience":
                value = "、".join(value)
            elif name == "signer_sha256":
                value = ";".join(value)
            elif name == "listing_date":
                value = value.isoformat() if value else ""
            elif name == "status" and value == "none":
                value = ""
            elif name in ("kind", "status", "listing") and lang == "zh":
                value = values.label(value, "zh")
            out[name] = value
        return out

    def with_changes(self, **changes: Any) -> EntryRecord:
        return replace(self, **changes)


@dataclass(frozen=True)
class AdoptionRecord:
    """A school's adoption (选用) of an entry by collective decision, as plain values."""

    school: str
    entry_id: int
    school_code: str = ""
    is_district: bool = False
    decision_ref: str = ""
    decided_on: date | None = None
    audience: tuple[str, ...] = ()
    note: str = ""


@dataclass(frozen=True)
class AdoptionRow:
    """An adoption as a file states it: the app still to be found in the registry."""

    school: str
    app: str
    school_code: str = ""
    kind: str = ""
    filing_no: str = ""
    identifier: str = ""
    decision_ref: str = ""
    decided_on: date | None = None
    audience: tuple[str, ...] = ()
    note: str = ""

    @property
    def is_district(self) -> bool:
        return values.is_district(self.school)


@dataclass(frozen=True)
class EntryRow:
    """An entry as one row of a file (or one command) states it."""

    record: EntryRecord
    speaks_for: frozenset[str]
    """Of the filing status and the listing, those this row states, so that updating an
    existing entry changes them: a status column states the filing, or the listing when
    its word is one of the bureau's list; a bare 状态 column states what its word names."""
    listed_without_filing: bool = False
    """有效/正常 (a filing word) with no filing number, read as listed (准入), not filed."""


def parse_entry(cells: Mapping[str, str]) -> EntryRecord:
    """An entry from cells keyed by canonical field; InvalidValue lists every problem."""
    return read_entry(cells).record


def read_entry(cells: Mapping[str, str]) -> EntryRow:
    """An entry row from cells keyed by canonical field (and `identifier`, `state`).

    InvalidValue lists every problem of the row.
    """
    problems: list[Message] = []
    out: dict[str, Any] = {}

    def take(name: str, parse: Any) -> None:
        raw = values.clean(cells.get(name, ""))
        if not raw:
            return
        try:
            out[name] = parse(raw)
        except InvalidValue as error:
            problems.append(error.message)

    for name, normalise in values.NORMALISERS.items():
        if name == "filing_no":
            take(name, normalise)
            continue
        raw = values.clean(cells.get(name, ""))
        if not raw:
            continue
        try:
            out[name] = normalise(raw)
        except InvalidValue as error:
            # An account ID in the 包名 column and the like: file it where it belongs.
            try:
                which, value = values.classify_identifier(raw)
            except InvalidValue:
                which, value = "", ""
            if which in _DISTINCT_SHAPES and out.get(which, value) == value:
                out[which] = value
            else:
                problems.append(error.message)
    identifier = values.clean(cells.get("identifier", ""))
    kind_text = values.clean(cells.get("kind", ""))
    take("kind", values.parse_kind)
    if identifier:
        try:
            which, value = values.classify_identifier(identifier, out.get("kind", ""))
        except InvalidValue as error:
            problems.append(error.message)
        else:
            if out.get(which, value) != value:
                problems.append(
                    values.message(
                        "identifier_contradicts",
                        identifier=identifier,
                        field=field_name(which),
                        value=out[which],
                    )
                )
            out[which] = value
    stated = _read_states(cells, problems)
    take("listing_date", parse_date)
    take("category", values.parse_category)
    take("audience", values.parse_audience)
    take("signer_sha256", _parse_signers)
    take("mlps_level", _parse_mlps)
    for name in ("name", "provider", "icp", "note", "listing_ref", "certified_entity"):
        out[name] = values.clean(cells.get(name, ""))
    for name, limit in _LENGTHS.items():
        if len(out[name]) > limit:
            problems.append(
                values.message(
                    "too_long", field=field_name(name), limit=limit, length=len(out[name])
                )
            )

    if not out["name"]:
        problems.append(values.message("name_empty"))
    if "kind" not in out and not kind_text:
        found = [KIND_OF_IDENTIFIER[f] for f in values.IDENTIFIER_FIELDS if f in out]
        if found:
            out["kind"] = found[0]
        else:
            problems.append(values.message("kind_empty"))
    kind = out.get("kind")
    if kind:
        for name, kinds in KIND_IDENTIFIERS.items():
            if name in out and kind not in kinds:
                problems.append(
                    values.message(
                        "kind_mismatch",
                        field=field_name(name),
                        value=out[name],
                        kind=values.word(kind),
                        kinds=_words(sorted(kinds)),
                    )
                )
    if problems:
        raise InvalidValue(Message.join(problems))

    speaks_for = set(stated)
    listed_without_filing = False
    if stated.get("status") == "active" and not out.get("filing_no"):
        # 有效/正常 on a row without a filing number: the bureau's list says the app or
        # account is in use (whitelists of official accounts and mini-programs, which are
        # not filed as education apps, read so); it is not a filing. A listing the row
        # states in its own column says more, and stands.
        del stated["status"]
        speaks_for.discard("status")
        if "listing" not in stated:
            stated["listing"] = "listed"
            speaks_for.add("listing")
            listed_without_filing = True
    if "status" in cells and not values.clean(cells["status"]):
        speaks_for.add("status")  # an empty filing status: no filing, or active by number
    if "listing" in cells:
        speaks_for.add("listing")
    out["status"] = stated.get("status") or ("active" if out.get("filing_no") else "none")
    out["listing"] = stated.get("listing", "")
    return EntryRow(EntryRecord(**out), frozenset(speaks_for), listed_without_filing)


def _words(names: list[str]) -> Message:
    """Kinds, statuses or listings as a list of words: app/miniprogram, APP、小程序."""
    words = [values.word(name) for name in names]
    return Message("/".join(names), "、".join(w.zh for w in words))


def _read_states(cells: Mapping[str, str], problems: list[Message]) -> dict[str, str]:
    """The filing status and listing a row states, by field, from its 备案状态, 状态 and
    准入状态 columns; a status column is read by its word (filing or listing)."""
    stated: dict[str, str] = {}
    said_by: dict[str, Message] = {}

    def state(field: str, value: str, column: str, raw: str) -> None:
        said = values.message("stated_as", field=field_name(column), value=raw)
        if field in stated and stated[field] != value:
            problems.append(
                values.message("state_contradicts", stated=said, earlier=said_by[field])
            )
            return
        stated[field] = value
        said_by[field] = said

    for column in ("status", "state", "listing"):
        raw = values.clean(cells.get(column, ""))
        if not raw:
            continue
        try:
            if column == "listing":
                field, value = "listing", values.parse_listing(raw)
            else:
                field, value = values.read_state(raw)
        except InvalidValue as error:
            problems.append(error.message)
            continue
        if field == "listing" and not value:
            continue  # "-", "/", 无 in a listing column: no explicit state
        state(field, value, column, raw)
    return stated


def parse_adoption(cells: Mapping[str, str]) -> AdoptionRow:
    """An adoption row from cells keyed by canonical field; InvalidValue lists every problem."""
    problems: list[Message] = []
    school = values.clean(cells.get("school", ""))
    app = values.clean(cells.get("app", ""))
    filing_no = values.clean(cells.get("filing_no", ""))
    identifier = values.clean(cells.get("identifier", ""))
    kind = ""
    decided_on = None
    if not school:
        problems.append(values.message("school_empty"))
    if not (app or filing_no or identifier):
        problems.append(values.message("no_app_named"))
    if values.clean(cells.get("kind", "")):
        try:
            kind = values.parse_kind(cells["kind"])
        except InvalidValue as error:
            problems.append(error.message)
    if filing_no:
        try:
            filing_no = values.normalise_filing_no(filing_no)
        except InvalidValue as error:
            problems.append(error.message)
    if values.clean(cells.get("decided_on", "")):
        try:
            decided_on = parse_date(cells["decided_on"])
        except InvalidValue as error:
            problems.append(error.message)
    if problems:
        raise InvalidValue(Message.join(problems))
    return AdoptionRow(
        school=school,
        app=app,
        school_code=values.clean(cells.get("school_code", "")),
        kind=kind,
        filing_no=filing_no,
        identifier=identifier,
        decision_ref=values.clean(cells.get("decision_ref", "")),
        decided_on=decided_on,
        audience=values.parse_audience(cells.get("audience", "")),
        note=values.clean(cells.get("note", "")),
    )


def parse_date(text: str) -> date:
    """A date as people write it: 2024-05-09, 2024/5/9, 2024.5.9, 2024年5月9日, 20240509."""
    value = values.clean(text)
    match = re.fullmatch(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?", value)
    if match is None:
        match = re.fullmatch(r"(\d{4})(\d{2})(\d{2})", value)
    if match is None:
        match = re.fullmatch(r"(\d{4})-(\d{2})-(\d{2})[ T][\d:.]+", value)
    if match is not None:
        try:
            return date(*(int(g) for g in match.groups()))
        except ValueError:
            pass
    elif re.fullmatch(r"\d{5}", value):
        # An Excel serial day number that lost its date format on the way.
        return (datetime(1899, 12, 30) + timedelta(days=int(value))).date()
    raise InvalidValue(values.message("unreadable_date", text=text))


def _parse_signers(text: str) -> tuple[str, ...]:
    found: list[str] = []
    for part in re.split(r"[;,；，\s]+", text):
        if part:
            digest = values.normalise_sha256(part)
            if digest not in found:
                found.append(digest)
    return tuple(found)


def _parse_mlps(text: str) -> str:
    value = re.sub(r"\s+", "", text)
    match = re.fullmatch(r"(?:第|等保|level)?([1-5一二三四五])(?:级|level)?", value, re.IGNORECASE)
    if match is None:
        raise InvalidValue(values.message("unknown_mlps", text=text))
    digit = _CN_DIGITS.get(match.group(1), match.group(1))
    return _MLPS[digit]
