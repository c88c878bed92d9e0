"""The direct DEX table reader: same types as androguard, and failures instead of crashes."""

from __future__ import annotations

import random
import struct
import zipfile
from pathlib import Path
from typing import Any

import apkfactory
import pytest

from scanner.apk.androguard_quiet import quiet_androguard
from scanner.apk.dex import DexTypes, class_name, class_names, read_dex_types
from scanner.apk.ziparchive import Failure


def types_of(data: bytes) -> DexTypes:
    result = read_dex_types(data)
    assert isinstance(result, DexTypes), result
    return result


def test_built_dex_lists_defined_and_referenced_types() -> None:
    data = apkfactory.dex_file(
        ["com.qq.e.ads.banner.BannerView", "cn.edu.app.Main"],
        referenced=["com.bytedance.sdk.openadsdk.TTAdSdk", "I", "[Ljava/lang/String;"],
    )
    types = types_of(data)
    assert set(types.descriptors) == {
        "I",
        "Lcn/edu/app/Main;",
        "Lcom/bytedance/sdk/openadsdk/TTAdSdk;",
        "Lcom/qq/e/ads/banner/BannerView;",
        "Ljava/lang/Object;",
        "[Ljava/lang/String;",
    }
    assert types.class_defs == 2
    assert class_names(types.descriptors) == {
        "cn.edu.app.Main",
        "com.bytedance.sdk.openadsdk.TTAdSdk",
        "com.qq.e.ads.banner.BannerView",
        "java.lang.Object",
        "java.lang.String",
    }


def test_modified_utf8_names_decode() -> None:
    # A CJK class name (3-byte sequences) and one outside the BMP (a surrogate pair,
    # which Modified UTF-8 writes as two 3-byte sequences, invalid as plain UTF-8).
    names = ["cn.edu.学校.Main", "cn.edu.app.Emoji\U0001f600"]
    types = types_of(apkfactory.dex_file(names))
    assert class_names(types.descriptors) >= set(names)


def test_class_name_of_descriptors() -> None:
    assert class_name("Lcom/qq/e/Ad;") == "com.qq.e.Ad"
    assert class_name("[[Lcom/qq/e/Ad;") == "com.qq.e.Ad"
    assert class_name("I") is None
    assert class_name("[J") is None


@pytest.mark.parametrize(
    ("patch", "reason"),
    [
        (lambda d: b"zip\n035\0" + d[8:], "not a DEX file"),
        (lambda d: d[:4] + b"999\0" + d[8:], "unsupported DEX version"),
        (lambda d: d[:0x40] + struct.pack("<I", 0x10000) + d[0x44:], "more than the format"),
        (lambda d: d[:0x44] + struct.pack("<I", 0x7FFFFFF0) + d[0x48:], "outside the file"),
        (lambda d: d[:0x3C] + struct.pack("<I", 0xFFFFFFF0) + d[0x40:], "outside the file"),
        (lambda d: d[:0x60], "shorter than its header"),
    ],
)
def test_corrupt_dex_is_a_failure_with_a_reason(patch: Any, reason: str) -> None:
    data = apkfactory.dex_file(["cn.edu.app.Main"])
    result = read_dex_types(patch(data))
    assert isinstance(result, Failure)
    assert reason in result.reason


def test_dex_cut_short_is_a_failure() -> None:
    data = apkfactory.dex_file(["cn.edu.app.Main", "cn.edu.app.Other"])
    for size in (0x70, 0x80, len(data) // 2, len(data) - 8):
        result = read_dex_types(data[:size])
        assert isinstance(result, Failure | DexTypes)
    assert isinstance(read_dex_types(data[:0x80]), Failure)


def test_random_corruption_never_raises() -> None:
    rng = random.Random(20240601)
    original = apkfactory.dex_file(
        [f"com.example.p{i}.C{i}" for i in range(40)], referenced=["com.qq.e.ads.Ad"]
    )
    for _ in range(2000):
        data = bytearray(original)
        for _ in range(rng.randint(1, 8)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        if rng.random() < 0.3:
            del data[rng.randrange(0x70, len(data)) :]
        result = read_dex_types(bytes(data))
        assert isinstance(result, DexTypes | Failure)


FIXTURES_WITH_DEX = [
    "ag-a2dp.Vol_137.apk",
    "ag-apksig-golden-aligned-v3-lineage.apk",
    "ag-apksig-v2-only-sig-block-size-mismatch.apk",
    "ag-apksig-v31-ec-p256.apk",
    "ag-app-prod-debug.apk",
    "ag-multidex-nomanifest.apk",
    "npm-appium-settings-8.0.10.apk",
    "npm-espresso-server-androidTest-9.3.6.apk",
    "npm-uia2-server-v10.6.6.apk",
    "pypi-airtest-Yosemite.apk",
    "pypi-pocoui-pocoservice-debug.apk",
    "pypi-uiautomator2-app-uiautomator.apk",
]


@pytest.mark.slow
@pytest.mark.shared
@pytest.mark.parametrize("name", FIXTURES_WITH_DEX)
def test_types_equal_androguards_on_every_fixture_dex(fixture_apks: Path, name: str) -> None:
    """Each DEX of the fixture: our type list equals androguard's, defined classes included.

    Slow (androguard parses every class, about 50 s for all fixtures), kept in the suite
    because it is the proof that the direct reader misses nothing.
    """
    quiet_androguard()
    from androguard.core.dex import DEX

    path = fixture_apks / name
    if not path.is_file():
        pytest.skip(f"{name} is not in {fixture_apks}")
    with zipfile.ZipFile(path) as archive:
        dex_files = [
            (entry, archive.read(entry))
            for entry in archive.namelist()
            if entry.startswith("classes") and entry.endswith(".dex")
        ]
    assert dex_files
    for entry, data in dex_files:
        ours = types_of(data)
        parsed = DEX(data)
        manager = parsed.get_class_manager()
        theirs = {manager.get_type(i) for i in range(parsed.header.type_ids_size)}
        assert set(ours.descriptors) == theirs, entry
        assert len(ours.descriptors) == parsed.header.type_ids_size, entry
        defined = set(parsed.get_classes_names())
        assert defined <= set(ours.descriptors), entry
        assert ours.class_defs == len(defined), entry
