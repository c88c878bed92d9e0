"""Validation and normalisation of registry values, in Chinese and English."""

from __future__ import annotations

import pytest

from registry import values
from registry.records import parse_adoption, parse_date, parse_entry, read_entry
from registry.values import InvalidValue
from scanner.tables import Vocabulary, header_key


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("教APP备1100819号", "教APP备1100819号"),
        (" 教APP备 1100819 号 ", "教APP备1100819号"),
        ("教APP备１１００８１９号", "教APP备1100819号"),
        ("教app备3500123号", "教APP备3500123号"),
        ("教APP备110081号", "教APP备110081号"),  # a 6-digit number exists
        ("教APP备1100819", "教APP备1100819号"),
    ],
)
def test_filing_numbers_are_normalised(text: str, expected: str) -> None:
    assert values.normalise_filing_no(text) == expected


@pytest.mark.parametrize(
    "text", ["教APP备11008号", "教APP备110081999号", "京ICP备12345号", "1100819", ""]
)
def test_malformed_filing_numbers_are_refused(text: str) -> None:
    with pytest.raises(InvalidValue, match="malformed filing number"):
        values.normalise_filing_no(text)


@pytest.mark.parametrize(
    ("text", "kind", "expected"),
    [
        ("com.chaoxing.mobile", "", ("package", "com.chaoxing.mobile")),
        ("com.A17zuoye.mobile.homework", "app", ("package", "com.A17zuoye.mobile.homework")),
        ("GH_0123456789AB", "", ("original_id", "gh_0123456789ab")),
        ("wx5e8f1a2b3c4d5e6f", "", ("appid", "wx5e8f1a2b3c4d5e6f")),
        ("sphExampleRongMei", "channels", ("channels_id", "sphExampleRongMei")),
        ("https://www.xueanquan.com/", "", ("url", "https://www.xueanquan.com")),
        ("www.xueanquan.com", "platform", ("url", "https://www.xueanquan.com")),
        ("xueanquan.com", "platform", ("url", "https://xueanquan.com")),
        ("quanzhou_edu", "official_account", ("wechat_id", "quanzhou_edu")),
    ],
)
def test_identifiers_are_classified_by_shape(
    text: str, kind: str, expected: tuple[str, str]
) -> None:
    assert values.classify_identifier(text, kind) == expected


@pytest.mark.parametrize("text", ["gh_123", "wx12", "学习通", "12345"])
def test_unrecognisable_identifiers_are_refused(text: str) -> None:
    with pytest.raises(InvalidValue):
        values.classify_identifier(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("APP", "app"),
        ("公众号", "official_account"),
        ("微信公众号", "official_account"),
        ("小程序", "miniprogram"),
        ("视频号", "channels"),
        ("平台（网站）", "platform"),
        ("Official Account", "official_account"),
        ("miniprogram", "miniprogram"),
    ],
)
def test_kinds_in_chinese_and_english(text: str, expected: str) -> None:
    assert values.parse_kind(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("有效", "active"),
        ("撤销", "revoked"),
        ("注销", "cancelled"),
        ("Revoked", "revoked"),
        ("", "none"),
    ],
)
def test_statuses_in_chinese_and_english(text: str, expected: str) -> None:
    assert values.parse_status(text) == expected


def test_unknown_kind_status_and_category_say_what_is_expected() -> None:
    with pytest.raises(InvalidValue, match="unknown kind 'game'"):
        values.parse_kind("game")
    with pytest.raises(InvalidValue, match="unknown filing status"):
        values.parse_status("暂停")
    with pytest.raises(InvalidValue, match=r"unknown category .娱乐八卦.*教学"):
        values.parse_category("娱乐八卦")


def test_categories_know_what_is_educational() -> None:
    assert values.parse_category("teaching") == "教学"
    assert values.is_educational("教学管理") is True
    assert values.is_educational(values.parse_category("反诈")) is False
    assert values.is_educational("") is None


@pytest.mark.parametrize(
    ("text", "group"),
    [("教学", "education"), ("家校沟通", "education"), ("general tool", "general_tool"),
     ("通用", "general_tool"), ("党建", "party_study"), ("party-building", "party_study"),
     ("反诈", "non_education"), ("其他", "non_education")],
)  # fmt: skip
def test_category_groups(text: str, group: str) -> None:
    category = values.parse_category(text)
    assert values.category_group(category) == group
    assert values.is_educational(category) is (group == "education")


def test_general_tools_and_party_study_are_neither_education_nor_plain_non_education() -> None:
    assert values.parse_category("通用软件") == "通用工具"
    assert values.parse_category("党员学习") == "党建学习"
    assert values.is_educational("通用工具") is False and values.is_educational("党建学习") is False
    assert values.category_group("") == "" and values.category_group("火箭") == ""


def test_audience_splits_on_every_separator() -> None:
    assert values.parse_audience("家长、学生;老师 / parents") == ("家长", "学生", "教师")


def test_district_words() -> None:
    assert values.is_district("全区") and values.is_district(" 区教育局 ")
    assert not values.is_district("示例实验小学")


def test_entry_parsing_infers_kind_and_status() -> None:
    record = parse_entry(
        {"name": "学习通", "identifier": "com.chaoxing.mobile", "filing_no": "教APP备1100819号"}
    )
    assert (record.kind, record.package, record.status) == ("app", "com.chaoxing.mobile", "active")
    account = parse_entry({"name": "示例区教育局", "package": "gh_5a3c0e9b7d21"})
    assert (account.kind, account.original_id, account.package) == (
        "official_account",
        "gh_5a3c0e9b7d21",
        "",
    )


def test_entry_parsing_lists_every_problem() -> None:
    with pytest.raises(InvalidValue) as caught:
        parse_entry(
            {
                "name": "",
                "kind": "APP",
                "filing_no": "教APP备12号",
                "signer_sha256": "xyz",
                "status": "有效",
            }
        )
    message = str(caught.value)
    for part in ("malformed filing number", "invalid certificate SHA-256", "name (名称) is empty"):
        assert part in message


def test_identifier_must_fit_the_kind() -> None:
    with pytest.raises(InvalidValue, match="does not fit kind official_account"):
        parse_entry({"name": "x", "kind": "公众号", "package": "com.example.app"})


def test_active_without_a_filing_number_is_read_as_listed_not_filed() -> None:
    row = read_entry({"name": "x", "kind": "APP", "filing_no": "", "status": "有效"})
    assert (row.record.status, row.record.listing) == ("none", "listed")
    assert row.listed_without_filing and not row.record.filed
    assert row.speaks_for == {"listing"}  # not the filing: a re-import keeps what is known
    account = read_entry({"name": "示例区教育局", "kind": "公众号", "state": "正常"})
    assert (account.record.status, account.record.listing) == ("none", "listed")
    assert account.listed_without_filing


@pytest.mark.parametrize(
    ("cells", "status", "listing"),
    [
        ({"filing_no": "教APP备1100819号", "state": "有效"}, "active", ""),
        ({"filing_no": "教APP备1100819号", "status": "撤销"}, "revoked", ""),
        ({"filing_no": "教APP备1100819号", "state": "已注销"}, "cancelled", ""),
        ({"state": "暂停"}, "none", "suspended"),
        ({"filing_no": "教APP备1100819号", "state": "暂停"}, "active", "suspended"),
        ({"status": "准入"}, "none", "listed"),
        ({"listing": "移出"}, "none", "removed"),
        ({"listing": "下架", "status": "撤销"}, "revoked", "removed"),
        ({"listing": "白名单"}, "none", "listed"),
        ({"listing": "-", "state": "在册"}, "none", "listed"),
        ({"status": "有效", "listing": "暂停"}, "none", "suspended"),
        ({"state": "suspended"}, "none", "suspended"),
    ],
)
def test_status_cells_are_read_by_their_words(
    cells: dict[str, str], status: str, listing: str
) -> None:
    row = read_entry({"name": "x", "kind": "小程序", **cells})
    assert (row.record.status, row.record.listing) == (status, listing)
    assert not row.listed_without_filing  # only 有效/正常 on their own are reinterpreted


def test_contradicting_status_words_are_refused() -> None:
    with pytest.raises(InvalidValue, match="contradicts"):
        read_entry({"name": "x", "kind": "公众号", "state": "暂停", "listing": "准入"})
    with pytest.raises(InvalidValue, match="unknown listing state '撤销'"):
        read_entry({"name": "x", "kind": "公众号", "listing": "撤销"})
    with pytest.raises(InvalidValue, match="unknown status '火箭'"):
        read_entry({"name": "x", "kind": "公众号", "state": "火箭"})


def test_listing_date_reference_and_certified_entity() -> None:
    record = parse_entry(
        {
            "name": "示例作业打卡",
            "kind": "小程序",
            "listing": "准入",
            "listing_date": "2025年3月1日",
            "listing_ref": "区教育局〔2025〕3号",
            "certified_entity": "示例教育科技有限公司（虚构）",
            "icp": "闽ICP备12345678号-2X",
        }
    )
    assert record.listing_date is not None and record.listing_date.isoformat() == "2025-03-01"
    assert record.listing_ref == "区教育局〔2025〕3号"
    assert record.certified_entity == "示例教育科技有限公司(虚构)"
    assert record.to_dict()["listing_date"] == "2025-03-01"
    assert record.cells("zh")["listing"] == "准入" and record.cells("en")["listing"] == "listed"
    assert parse_entry(record.cells("zh")) == record == parse_entry(record.cells("en"))
    with pytest.raises(InvalidValue, match="certified_entity is longer than 200"):
        parse_entry({"name": "x", "kind": "公众号", "certified_entity": "长" * 201})
    with pytest.raises(InvalidValue, match="unreadable date"):
        parse_entry({"name": "x", "kind": "公众号", "listing_date": "去年"})


@pytest.mark.parametrize(
    ("header", "field"),
    [("状态", "state"), ("备案状态", "status"), ("准入状态", "listing"), ("白名单状态", "listing"),
     ("准入", "listing"), ("准入日期", "listing_date"), ("准入决定日期", "listing_date"),
     ("准入时间", "listing_date"), ("准入依据", "listing_ref"), ("准入文号", "listing_ref"), ("准入决定", "listing_ref"),
     ("认证主体", "certified_entity"), ("认证主体名称", "certified_entity"),
     ("账号主体", "certified_entity"), ("主体名称", "certified_entity"),
     ("运营主体", "certified_entity"), ("Certified Entity", "certified_entity"),
     ("小程序ICP备案号", "icp"), ("ICP备案号", "icp"), ("Listing Date", "listing_date")],
)  # fmt: skip
def test_registry_headers(header: str, field: str) -> None:
    assert Vocabulary.build(values.vocabulary().entry_fields).field_for(header) == field


def test_signers_and_mlps_are_normalised() -> None:
    digest = "AB:" * 31 + "AB"
    record = parse_entry(
        {
            "name": "x",
            "kind": "APP",
            "signer_sha256": f"{digest}; {'c' * 64}",
            "mlps_level": "第三级",
        }
    )
    assert record.signer_sha256 == ("ab" * 32, "c" * 64)
    assert record.mlps_level == "三级"


@pytest.mark.parametrize(
    "text",
    [
        "2024-05-09",
        "2024/5/9",
        "2024.5.9",
        "2024年5月9日",
        "20240509",
        "45421",
        "2024-05-09 00:00:00",
    ],
)
def test_dates_as_people_write_them(text: str) -> None:
    assert parse_date(text).isoformat() == "2024-05-09"


def test_adoption_rows_need_school_and_app() -> None:
    with pytest.raises(InvalidValue, match=r"school.*empty.*no app"):
        parse_adoption({"school": "", "app": ""})
    row = parse_adoption({"school": "全区", "app": "示例作业本", "decided_on": "2024年6月3日"})
    assert row.is_district and row.decided_on is not None


@pytest.mark.parametrize("which", ["entry_fields", "adoption_fields"])
def test_header_words_never_mean_two_fields(which: str) -> None:
    fields = getattr(values.vocabulary(), which)
    seen: dict[str, str] = {}
    for name, words in fields.items():
        for word in (name, *words):
            key = header_key(word)
            assert seen.setdefault(key, name) == name, f"{word!r} means both {seen[key]} and {name}"
    vocab = Vocabulary.build(fields)
    for name in fields:
        assert vocab.field_for(name) == name


@pytest.mark.parametrize(
    ("text", "expected"),
    [("手机APP", "app"), ("安卓app软件", "app"), ("微信服务号", "official_account"),
     ("微信小程序（家长端）", "miniprogram"), ("学习平台网址", "platform"), ("抖音视频号", "channels")],
)  # fmt: skip
def test_kinds_inside_longer_phrases(text: str, expected: str) -> None:
    assert values.parse_kind(text) == expected


def test_a_phrase_naming_two_kinds_is_not_guessed() -> None:
    with pytest.raises(InvalidValue):
        values.parse_kind("APP或小程序")


def test_every_problem_is_also_said_in_chinese() -> None:
    with pytest.raises(InvalidValue) as caught:
        parse_entry({"name": "", "kind": "公众号", "filing_no": "教APP备12号",
                     "package": "com.example.app", "status": "有效"})  # fmt: skip
    assert caught.value.text("zh") == (
        "备案号“教APP备12号”格式不正确（应为“教APP备”加6或7位数字加“号”，如教APP备1100819号）；"
        "名称为空；包名“com.example.app”与类型“公众号”不符（包名只用于APP）"
    )


def test_every_registry_sentence_exists_in_both_languages() -> None:
    for key, texts in values.vocabulary().messages.items():
        assert texts.get("zh", "").strip() and texts.get("en", "").strip(), key
