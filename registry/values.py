"""The registry's values: kinds, statuses, categories, audiences and identifiers, validated.

Every parser accepts what staff type in Chinese or English (`公众号` = `official_account`,
`撤销` = `revoked`), folds full-width characters and stray spaces, and raises `InvalidValue`
with a message that says what was expected.
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources
from typing import Any

from appaudit.errors import AppauditError, Message, phrase

KINDS = ("app", "miniprogram", "official_account", "channels", "platform")
STATUSES = ("active", "revoked", "cancelled", "none")
"""Filing statuses (备案状态): 有效, 撤销, 注销, and none for no filing."""
LISTINGS = ("listed", "suspended", "removed")
"""States on the bureau's own list (准入状态): 准入, 暂停, 移出; '' is no explicit state."""
CATEGORY_GROUPS = ("education", "general_tool", "party_study", "non_education")
"""How the rules tell categories apart: education, general tools outside the filing scope
(微信, 钉钉 …), party-building study (党建学习), and everything else."""
ACCOUNT_KINDS = frozenset({"miniprogram", "official_account", "channels"})

IDENTIFIER_FIELDS = ("package", "original_id", "appid", "wechat_id", "channels_id", "url")
"""Entry fields that identify an app or account; each is unique within the registry."""

_SEPARATORS = re.compile(r"[、,，;；/／|\s]+")
_FILING = re.compile(r"^教APP备(\d{6,7})号?$")
_PACKAGE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)+$")
_ORIGINAL_ID = re.compile(r"^gh_[0-9a-z]{12}$")
_APPID = re.compile(r"^wx[0-9a-f]{16}$")
_WECHAT_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{5,19}$")
_CHANNELS_ID = re.compile(r"^sph[A-Za-z0-9_-]{3,40}$")
_URL = re.compile(r"^(https?://)?([A-Za-z0-9-]+\.)+[A-Za-z]{2,}(:\d+)?(/\S*)?$", re.IGNORECASE)
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_NAME_NOISE = re.compile(r"[\s\W_]+")
_WEB_HINT = re.compile(
    r"^(https?://|www\.)|\.(com|cn|net|org|edu|gov)(\.cn)?(/|:|$)", re.IGNORECASE
)


class InvalidValue(AppauditError, ValueError):
    """A value that does not fit its field; the message says what was expected."""


@dataclass(frozen=True)
class Vocabulary:
    """The registry's words, loaded once from the vocabulary data file."""

    kinds: Mapping[str, str]
    statuses: Mapping[str, str]
    listings: Mapping[str, str]
    categories: Mapping[str, str]
    educational: frozenset[str]
    category_groups: Mapping[str, str]
    audiences: Mapping[str, str]
    district_words: frozenset[str]
    kind_labels: Mapping[str, Mapping[str, str]]
    status_labels: Mapping[str, Mapping[str, str]]
    listing_labels: Mapping[str, Mapping[str, str]]
    messages: Mapping[str, Mapping[str, str]]
    message_units: Mapping[str, Mapping[str, str]]
    entry_fields: Mapping[str, tuple[str, ...]]
    adoption_fields: Mapping[str, tuple[str, ...]]


def word_key(text: str) -> str:
    """Comparable form of a vocabulary word: width folded, lower case, no spaces."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text)).lower()


@cache
def vocabulary() -> Vocabulary:
    raw: dict[str, Any] = tomllib.loads(
        resources.files("registry").joinpath("data/vocabulary.toml").read_text("utf-8")
    )

    def index(groups: Mapping[str, list[str]]) -> dict[str, str]:
        out: dict[str, str] = {}
        for canonical, words in groups.items():
            for word in (canonical, *words):
                out.setdefault(word_key(word), canonical)
        return out

    categories = {name: spec["aliases"] for name, spec in raw["categories"].items()}
    groups = {name: _category_group(name, spec) for name, spec in raw["categories"].items()}
    return Vocabulary(
        kinds=index(raw["kinds"]),
        statuses=index(raw["statuses"]),
        listings=index(raw["listings"]),
        categories=index(categories),
        educational=frozenset(n for n, spec in raw["categories"].items() if spec["educational"]),
        category_groups=groups,
        audiences=index(raw["audiences"]),
        district_words=frozenset(word_key(w) for w in raw["district"]["words"]),
        kind_labels=raw["kind_labels"],
        status_labels=raw["status_labels"],
        listing_labels=raw["listing_labels"],
        messages=raw["messages"],
        message_units=raw["message_units"],
        entry_fields={k: tuple(v) for k, v in raw["entry_fields"].items()},
        adoption_fields={k: tuple(v) for k, v in raw["adoption_fields"].items()},
    )


def _category_group(name: str, spec: Mapping[str, Any]) -> str:
    """A category's group as the data gives it, else as its `educational` flag implies."""
    educational = bool(spec["educational"])
    group = str(spec.get("group") or ("education" if educational else "non_education"))
    if group not in CATEGORY_GROUPS or (group == "education") != educational:
        raise ValueError(
            f"vocabulary: category {name} has group {group!r} and educational={educational}"
        )
    return group


def clean(text: str | None) -> str:
    """Full-width forms folded and outer spaces removed."""
    if not text:
        return ""
    return unicodedata.normalize("NFKC", text).strip()


# Words inside a longer kind cell ("手机APP", "微信服务号", "学习平台网址"), most telling first.
_KIND_HINTS = (
    ("视频号", "channels"),
    ("小程序", "miniprogram"),
    ("公众号", "official_account"),
    ("服务号", "official_account"),
    ("订阅号", "official_account"),
    ("app", "app"),
    ("客户端", "app"),
    ("软件", "app"),
    ("平台", "platform"),
    ("网站", "platform"),
    ("网页", "platform"),
    ("网址", "platform"),
    ("h5", "platform"),
    ("问卷链接", "platform"),
)


@lru_cache(maxsize=1024)
def kind_of(text: str) -> str | None:
    """The kind a cell names: a word of the vocabulary, or one inside a longer phrase."""
    key = word_key(text)
    found = vocabulary().kinds.get(key)
    if found is not None or not key:
        return found
    hits = {kind for word, kind in _KIND_HINTS if word in key}
    return hits.pop() if len(hits) == 1 else None


def parse_kind(text: str) -> str:
    found = kind_of(text)
    if found is None:
        raise InvalidValue(message("unknown_kind", text=text, kinds=", ".join(KINDS)))
    return found


def parse_status(text: str) -> str:
    found = vocabulary().statuses.get(word_key(text))
    if found is None:
        raise InvalidValue(message("unknown_status", text=text))
    return found


def parse_listing(text: str) -> str:
    """The canonical listing state (准入 listed, 暂停 suspended, 移出 removed), or ''."""
    if not clean(text):
        return ""
    found = vocabulary().listings.get(word_key(text))
    if found is None:
        raise InvalidValue(message("unknown_listing", text=text))
    return found


def read_state(text: str) -> tuple[str, str]:
    """A status cell read by its value: ("status", filing status) for a filing word,
    ("listing", listing state) for a word of the bureau's list.

    Filing words come first, so 有效 and 正常 are a filing here; whether a row without a
    filing number keeps them as one is for the row to decide.
    """
    key = word_key(text)
    vocab = vocabulary()
    if key in vocab.statuses:
        return "status", vocab.statuses[key]
    if key in vocab.listings:
        return "listing", vocab.listings[key]
    raise InvalidValue(message("unknown_state", text=text))


def parse_category(text: str) -> str:
    """The canonical (Chinese) category, or '' when none is given."""
    if not clean(text):
        return ""
    found = vocabulary().categories.get(word_key(text))
    if found is None:
        known = "、".join(dict.fromkeys(vocabulary().categories.values()))
        raise InvalidValue(message("unknown_category", text=text, known=known))
    return found


def is_educational(category: str) -> bool | None:
    """True for education categories, False for others, None when the category is unknown."""
    if not category:
        return None
    return category in vocabulary().educational


def category_group(category: str) -> str:
    """The group of a canonical category: "education", "general_tool", "party_study",
    "non_education", or "" when the category is empty or unknown."""
    return vocabulary().category_groups.get(category, "")


def split_values(text: str) -> list[str]:
    """A multi-valued cell split on 、,，;；/ and spaces."""
    return [part for part in _SEPARATORS.split(clean(text)) if part]


def parse_audience(text: str) -> tuple[str, ...]:
    """Audience words folded to 家长/学生/教师; unknown words are kept as written."""
    words = vocabulary().audiences
    out: list[str] = []
    for part in split_values(text):
        value = words.get(word_key(part), part)
        if value not in out:
            out.append(value)
    return tuple(out)


def is_district(school: str) -> bool:
    """Whether a school cell means the whole district (a bureau-level adoption)."""
    return word_key(school) in vocabulary().district_words


def normalise_filing_no(text: str) -> str:
    """`教APP备NNNNNNN号` from what people type (full-width digits, spaces, lower case)."""
    compact = re.sub(r"\s+", "", clean(text))
    compact = re.sub(r"(?i)教app备", "教APP备", compact)
    match = _FILING.match(compact)
    if match is None:
        raise InvalidValue(message("malformed_filing_no", text=text))
    return f"教APP备{match.group(1)}号"


def normalise_package(text: str) -> str:
    value = clean(text)
    if not _PACKAGE.match(value):
        raise InvalidValue(message("invalid_package", text=text))
    return value


def normalise_original_id(text: str) -> str:
    value = clean(text).lower()
    if not _ORIGINAL_ID.match(value):
        raise InvalidValue(message("invalid_original_id", text=text))
    return value


def normalise_appid(text: str) -> str:
    value = clean(text).lower()
    if not _APPID.match(value):
        raise InvalidValue(message("invalid_appid", text=text))
    return value


def normalise_wechat_id(text: str) -> str:
    value = clean(text)
    if not _WECHAT_ID.match(value):
        raise InvalidValue(message("invalid_wechat_id", text=text))
    return value


def normalise_channels_id(text: str) -> str:
    value = clean(text)
    if not _CHANNELS_ID.match(value):
        raise InvalidValue(message("invalid_channels_id", text=text))
    return value


def normalise_url(text: str) -> str:
    value = clean(text)
    if not _URL.match(value):
        raise InvalidValue(message("invalid_url", text=text))
    if not value.lower().startswith(("http://", "https://")):
        value = "https://" + value
    return value.rstrip("/")


def normalise_sha256(text: str) -> str:
    value = re.sub(r"[\s:]", "", clean(text)).lower()
    if not _SHA256.match(value):
        raise InvalidValue(message("invalid_sha256", text=text))
    return value


NORMALISERS = {
    "filing_no": normalise_filing_no,
    "package": normalise_package,
    "original_id": normalise_original_id,
    "appid": normalise_appid,
    "wechat_id": normalise_wechat_id,
    "channels_id": normalise_channels_id,
    "url": normalise_url,
}


def classify_identifier(text: str, kind: str = "") -> tuple[str, str]:
    """Which identifier field a free-form value is, and its normal form.

    `gh_…` is an original ID, `wx` + 16 hex an AppID, `sph…` a channels ID, an address a
    URL, a dotted name a package (or a URL for a platform); anything else that looks like a
    WeChat ID is one. Raises InvalidValue when the value fits none.
    """
    value = re.sub(r"\s+", "", clean(text))
    lower = value.lower()
    if lower.startswith("gh_"):
        return "original_id", normalise_original_id(value)
    if _APPID.match(lower):
        return "appid", lower
    if lower.startswith("sph") and _CHANNELS_ID.match(value):
        return "channels_id", value
    web = bool(_WEB_HINT.search(value))
    if "://" in value or (web and kind != "app") or (kind == "platform" and _URL.match(value)):
        return "url", normalise_url(value)
    if _PACKAGE.match(value):
        return "package", value
    if _WECHAT_ID.match(value):
        return "wechat_id", value
    raise InvalidValue(message("unrecognised_identifier", text=text))


@lru_cache(maxsize=1 << 16)
def normalised_name(text: str) -> str:
    """A name folded for comparison: width, case, spaces and punctuation ignored."""
    value = unicodedata.normalize("NFKC", text).lower()
    return _NAME_NOISE.sub("", value)


def same_name(a: str, b: str) -> bool:
    return normalised_name(a) == normalised_name(b)


def label(value: str, lang: str = "zh") -> str:
    """A display label for a kind, filing status or listing state in the given language."""
    vocab = vocabulary()
    labels = (
        vocab.kind_labels.get(value)
        or vocab.status_labels.get(value)
        or vocab.listing_labels.get(value)
    )
    if labels is None:
        return value
    return labels.get(lang, value)


def word(value: str) -> Message:
    """A kind, filing status or listing state as a word of each language: the canonical
    value in English (as options and files give it), the label in Chinese."""
    return Message(value, label(value, "zh"))


def message(key: str, /, **params: Any) -> Message:
    """A sentence of the registry's catalogue (`[messages]`), in each language."""
    return phrase(vocabulary().messages[key], **params)
