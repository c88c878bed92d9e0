"""SDK detection by whole-segment class-name prefixes, in code and in the manifest."""

from __future__ import annotations

from pathlib import Path

import apkfactory
import pytest

from scanner.apk import SdkCatalogueError, analyse_apk, builtin_catalogue, load_catalogue
from scanner.apk.sdk import parse_catalogue

PACKAGE = "cn.edu.example.reader"


def apk_with(
    tmp_path: Path,
    classes: list[str],
    *,
    referenced: list[str] | None = None,
    services: list[str] | None = None,
    activities: list[str] | None = None,
) -> Path:
    return apkfactory.build_apk(
        tmp_path / "app.apk",
        manifest_xml=apkfactory.manifest(
            PACKAGE, label="阅读", services=services or [], activities=activities or []
        ),
        dex=[apkfactory.dex_file(classes, referenced=referenced or [])],
    )


def test_pangle_and_gdt_ads_are_detected(tmp_path: Path) -> None:
    path = apk_with(
        tmp_path,
        [f"{PACKAGE}.Main", "com.qq.e.ads.banner2.UnifiedBannerView"],
        referenced=["com.bytedance.sdk.openadsdk.TTAdSdk"],  # called, defined elsewhere
    )
    sdks = {s.prefix: s for s in analyse_apk(path).sdks}
    assert set(sdks) == {"com.bytedance.sdk.openadsdk", "com.qq.e"}
    pangle = sdks["com.bytedance.sdk.openadsdk"]
    assert (pangle.name, pangle.vendor, pangle.category) == ("穿山甲 Pangle", "ByteDance", "ads")
    assert pangle.example == "com.bytedance.sdk.openadsdk.TTAdSdk"
    assert pangle.where == ("dex",)
    gdt = sdks["com.qq.e"]
    assert gdt.category == "ads" and gdt.vendor == "Tencent"
    assert gdt.example == "com.qq.e.ads.banner2.UnifiedBannerView"


def test_prefix_matches_whole_segments_only(tmp_path: Path) -> None:
    path = apk_with(
        tmp_path,
        [f"{PACKAGE}.Main", "com.qq.example.Foo", "com.qq.ea.Bar", "com.umengx.Tracker"],
    )
    assert analyse_apk(path).sdks == ()


def test_a_class_named_exactly_like_the_prefix_matches(tmp_path: Path) -> None:
    path = apk_with(tmp_path, [f"{PACKAGE}.Main", "com.qq.e"])
    assert [s.example for s in analyse_apk(path).sdks] == ["com.qq.e"]


def test_array_types_reveal_their_element_class(tmp_path: Path) -> None:
    path = apk_with(tmp_path, [f"{PACKAGE}.Main"], referenced=["[[Lcom/umeng/analytics/Event;"])
    assert [s.prefix for s in analyse_apk(path).sdks] == ["com.umeng.analytics"]


def test_sdk_only_in_the_manifest_is_found_despite_obfuscated_code(tmp_path: Path) -> None:
    # The DEX holds only renamed classes (a.a, a.b …), as after R8 obfuscation, but
    # Android components keep their names in the manifest.
    path = apk_with(
        tmp_path,
        ["a.a", "a.b", "b.a"],
        services=["com.igexin.sdk.PushService"],
        activities=["com.qq.e.ads.PortraitADActivity"],
    )
    sdks = {s.prefix: s for s in analyse_apk(path).sdks}
    assert set(sdks) == {"com.igexin", "com.qq.e"}
    assert sdks["com.igexin"].where == ("manifest",)
    assert sdks["com.igexin"].example == "com.igexin.sdk.PushService"
    assert sdks["com.igexin"].category == "push"


def test_sdk_in_both_places_is_one_finding(tmp_path: Path) -> None:
    path = apk_with(
        tmp_path,
        ["com.igexin.sdk.PushManager"],
        services=["com.igexin.sdk.PushService"],
    )
    (getui,) = analyse_apk(path).sdks
    assert getui.where == ("dex", "manifest")
    assert getui.example == "com.igexin.sdk.PushManager"


def test_match_names_checks_every_segment_boundary() -> None:
    catalogue = builtin_catalogue()
    assert catalogue.match_names(["com.qq.e.ads.X", "com.qq.example.Y", "com.qq.e"]) == {
        "com.qq.e": "com.qq.e.ads.X"
    }
    assert catalogue.match_names(["com.tencent.smtt.sdk.WebView"]) == {
        "com.tencent.smtt": "com.tencent.smtt.sdk.WebView"
    }


def test_builtin_catalogue_is_the_shipped_csv() -> None:
    catalogue = builtin_catalogue()
    names = {d.name for d in catalogue.definitions}
    assert {"穿山甲 Pangle", "优量汇/广点通 GDT", "腾讯浏览服务 TBS/X5"} <= names
    assert "com.bytedance.sdk.openadsdk" in catalogue.prefixes
    assert len(catalogue.fingerprint) == 16


def test_user_prefix_list_adds_sdks_and_changes_the_fingerprint(tmp_path: Path) -> None:
    extra = tmp_path / "my-trackers.csv"
    extra.write_text(
        "sdk,vendor,category,prefixes,source\n"
        "某统计 SDK,Example Co,analytics,cn.example.stat;cn.example.track,our own list\n",
        encoding="utf-8-sig",
    )
    catalogue = load_catalogue(extra)
    assert catalogue.fingerprint != builtin_catalogue().fingerprint
    path = apk_with(tmp_path, ["cn.example.track.Beacon", "com.qq.e.ads.Ad"])
    facts = analyse_apk(path, catalogue=catalogue)
    assert {s.name for s in facts.sdks} == {"某统计 SDK", "优量汇/广点通 GDT"}
    assert facts.sdk_catalogue == catalogue.fingerprint


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name,prefixes\nX,com.x\n", "missing column"),
        ("sdk,prefixes\nX,\n", "needs a name and a prefix"),
        ("sdk,prefixes\nX,com..x\n", "not a dotted package prefix"),
        ("sdk,prefixes\nX,com/x/y\n", "not a dotted package prefix"),
    ],
)
def test_bad_prefix_lists_are_refused_with_the_line(text: str, message: str) -> None:
    with pytest.raises(SdkCatalogueError, match=message):
        parse_catalogue(text, "mine.csv")


def test_unreadable_prefix_list_is_a_catalogue_error(tmp_path: Path) -> None:
    with pytest.raises(SdkCatalogueError, match="cannot read"):
        load_catalogue(tmp_path / "missing.csv")
