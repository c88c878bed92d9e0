"""analyse_apk on APKs built in code: labels, versions, signers, problems, JSON round trip."""

from __future__ import annotations

import json
import random
import zipfile
from pathlib import Path

import apkfactory
import pytest

from scanner.apk import ANALYSER_VERSION, ApkFacts, analyse_apk, identify_apk
from scanner.apk.arsc import resolve_string
from scanner.apk.manifest import read_axml_manifest
from scanner.apk.permissions import describe_permission, sensitive_permissions
from scanner.apk.problems import describe_failure
from scanner.apk.ziparchive import Failure

PACKAGE = "cn.edu.example.app"


def arsc_apk(path: Path, labels: dict[str, str]) -> Path:
    table, ids = apkfactory.resources_table(PACKAGE, {"app_name": labels})
    return apkfactory.build_apk(
        path,
        manifest_xml=apkfactory.manifest(PACKAGE, label=apkfactory.Ref(ids["app_name"])),
        dex=[apkfactory.dex_file([f"{PACKAGE}.Main"])],
        resources=table,
    )


def test_raw_chinese_label_and_versions(tmp_path: Path) -> None:
    path = apkfactory.build_apk(
        tmp_path / "a.apk",
        manifest_xml=apkfactory.manifest(
            PACKAGE,
            version_code=2024090,
            version_name="9.0 正式版",
            min_sdk=24,
            target_sdk=34,
            label="智慧校园 家长端",
            utf8=False,
        ),
    )
    facts = analyse_apk(path)
    assert facts.readable
    assert facts.label == "智慧校园 家长端"
    assert (facts.version_code, facts.version_name) == (2024090, "9.0 正式版")
    assert (facts.min_sdk, facts.target_sdk) == (24, 34)
    assert facts.dex_count == 0 and facts.signing_schemes == ()


@pytest.mark.parametrize(
    ("labels", "expected"),
    [
        ({"": "Smart Campus", "zh-CN": "智慧校园", "zh-TW": "智慧校園"}, "智慧校园"),
        ({"": "Smart Campus", "zh": "智慧校园（通用）", "zh-TW": "智慧校園"}, "智慧校园（通用）"),
        ({"": "Smart Campus", "zh-TW": "智慧校園", "en": "Smart Campus EN"}, "Smart Campus"),
        ({"en": "Only English"}, "Only English"),
    ],
)
def test_label_prefers_simplified_chinese_then_default(
    tmp_path: Path, labels: dict[str, str], expected: str
) -> None:
    facts = analyse_apk(arsc_apk(tmp_path / "label.apk", labels))
    assert facts.label == expected
    assert facts.problems == ()


def test_label_from_the_launcher_activity_when_application_has_none(tmp_path: Path) -> None:
    path = apkfactory.build_apk(
        tmp_path / "launcher.apk",
        manifest_xml=apkfactory.manifest(
            PACKAGE, label=None, launcher=".Main", launcher_label="课堂派"
        ),
    )
    facts = analyse_apk(path)
    assert facts.label == "课堂派"
    assert facts.components.activities == (f"{PACKAGE}.Main",)


def test_unresolvable_label_is_empty_with_a_problem_never_a_resource_id(tmp_path: Path) -> None:
    path = apkfactory.build_apk(
        tmp_path / "dangling.apk",
        manifest_xml=apkfactory.manifest(PACKAGE, label=apkfactory.Ref(0x7F0B0042)),
    )
    facts = analyse_apk(path)
    assert facts.readable
    assert facts.label == ""
    assert any("@7F0B0042" in p and "no resources.arsc" in p for p in facts.problems)


def test_same_app_signed_with_another_key_has_another_signer(
    tmp_path: Path, signer: apkfactory.SigningKey, other_signer: apkfactory.SigningKey
) -> None:
    genuine = analyse_apk(apkfactory.simple_apk(tmp_path / "genuine.apk", signer=signer))
    repacked = analyse_apk(apkfactory.simple_apk(tmp_path / "repacked.apk", signer=other_signer))
    assert genuine.package == repacked.package
    assert genuine.signing_schemes == repacked.signing_schemes == ("v1", "v2")
    assert genuine.signature_verified and repacked.signature_verified
    assert [s.sha256 for s in genuine.signers] == [signer.sha256]
    assert [s.sha256 for s in repacked.signers] == [other_signer.sha256]
    described = genuine.signers[0]
    assert described.subject == "CN=示例教育科技有限公司, O=Example Edu, C=CN"
    assert described.issuer == described.subject
    assert described.key == "RSA 2048"
    assert described.not_before.startswith("2024-01-01")


def test_ec_signer_is_described(tmp_path: Path, ec_signer: apkfactory.SigningKey) -> None:
    facts = analyse_apk(apkfactory.simple_apk(tmp_path / "ec.apk", signer=ec_signer))
    assert [(s.sha256, s.key) for s in facts.signers] == [(ec_signer.sha256, "EC secp256r1")]


def test_v1_block_without_its_sf_is_a_partial_signature(
    tmp_path: Path, signer: apkfactory.SigningKey
) -> None:
    files = {"AndroidManifest.xml": apkfactory.manifest(PACKAGE)}
    signature = apkfactory.v1_signature(files, signer)
    del signature["META-INF/CERT.SF"]
    path = apkfactory.build_apk(
        tmp_path / "partial.apk", manifest_xml=files["AndroidManifest.xml"], extra=signature
    )
    facts = analyse_apk(path)
    assert not facts.signature_verified
    assert facts.signature_reason == "v1-no-signature"
    assert facts.verified_signers() == ()


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "not a zip archive (the file is empty)"),
        (b"<!DOCTYPE html><html><body>login</body></html>", "web page"),
        (b"PK\x03\x04 this is no archive" * 10, "not a zip archive"),
    ],
)
def test_files_that_are_not_apks(tmp_path: Path, content: bytes, reason: str) -> None:
    path = tmp_path / "download.apk"
    path.write_bytes(content)
    facts = analyse_apk(path)
    assert not facts.readable
    assert reason in facts.problems[0]
    assert facts.size == len(content)


def test_missing_file_is_facts_with_a_reason(tmp_path: Path) -> None:
    facts = analyse_apk(tmp_path / "nowhere.apk")
    assert not facts.readable
    assert facts.problems[0].startswith("cannot read the file")


def test_corrupt_manifest_and_dex_are_problems_not_crashes(tmp_path: Path) -> None:
    path = apkfactory.build_apk(
        tmp_path / "corrupt.apk",
        manifest_xml=b"\x03\x00\x08\x00" + b"\xff" * 40,
        dex=[b"dex\n035\x00" + b"\x00" * 20],
    )
    facts = analyse_apk(path)
    assert not facts.readable
    assert any(p.startswith("AndroidManifest.xml could not be read") for p in facts.problems)
    assert any(p.startswith("classes.dex:") for p in facts.problems)


def test_plain_text_manifest_is_named_as_such(tmp_path: Path) -> None:
    path = apkfactory.build_apk(
        tmp_path / "source.apk", manifest_xml=b'<?xml version="1.0"?><manifest package="x.y"/>'
    )
    facts = analyse_apk(path)
    assert not facts.readable
    assert any("plain-text XML" in p for p in facts.problems)


def test_facts_round_trip_through_json(tmp_path: Path, signer: apkfactory.SigningKey) -> None:
    path = apkfactory.build_apk(
        tmp_path / "full.apk",
        manifest_xml=apkfactory.manifest(
            PACKAGE,
            label="示例",
            permissions=["android.permission.CAMERA"],
            services=["com.igexin.sdk.PushService"],
        ),
        dex=[apkfactory.dex_file([f"{PACKAGE}.Main", "com.qq.e.ads.Ad"])],
        signer=signer,
    )
    facts = analyse_apk(path)
    assert facts.sdks and facts.signers and facts.permissions
    text = json.dumps(facts.to_dict(), ensure_ascii=False)
    assert ApkFacts.from_dict(json.loads(text)) == facts
    assert json.loads(text)["analyser_version"] == ANALYSER_VERSION


def test_from_dict_rejects_malformed_data() -> None:
    good = ApkFacts(sha256="0" * 64, size=1).to_dict()
    with pytest.raises(ValueError, match="lack the field"):
        ApkFacts.from_dict({k: v for k, v in good.items() if k != "permissions"})
    with pytest.raises(ValueError, match="size"):
        ApkFacts.from_dict({**good, "size": "12"})
    with pytest.raises(ValueError, match="where"):
        sdk = {"name": "x", "vendor": "", "category": "ads", "prefix": "a.b", "example": "a.b.C"}
        ApkFacts.from_dict({**good, "sdks": [{**sdk, "where": ["elsewhere"]}]})


def test_sensitive_permissions_come_from_the_catalogue() -> None:
    facts = ApkFacts(
        sha256="0" * 64,
        size=1,
        permissions=(
            "android.permission.ACCESS_FINE_LOCATION",
            "android.permission.INTERNET",
            "android.permission.READ_SMS",
            "com.example.permission.C2D_MESSAGE",
        ),
    )
    assert set(facts.sensitive_permissions()) == {
        "android.permission.ACCESS_FINE_LOCATION",
        "android.permission.READ_SMS",
    }
    sms = sensitive_permissions(["android.permission.READ_SMS"])[0]
    assert sms.name_zh == "读取短信" and "text messages" in sms.meaning_en
    unknown = describe_permission("com.example.permission.C2D_MESSAGE")
    assert not unknown.listed and not unknown.sensitive


def test_identify_apk_reads_only_what_a_folder_index_needs(tmp_path: Path) -> None:
    path = apkfactory.build_apk(
        tmp_path / "id.apk",
        manifest_xml=apkfactory.manifest(PACKAGE, version_code=7, version_name="1.7"),
    )
    identity = identify_apk(path)
    assert not isinstance(identity, Failure)
    assert (identity.package, identity.version_code, identity.version_name) == (PACKAGE, 7, "1.7")
    junk = tmp_path / "junk.apk"
    junk.write_text("not an apk")
    assert isinstance(identify_apk(junk), Failure)


def test_manifest_and_resource_readers_never_raise_on_corruption(tmp_path: Path) -> None:
    rng = random.Random(7)
    manifest = apkfactory.manifest(
        PACKAGE, label="示例", permissions=["android.permission.CAMERA"], activities=[".Main"]
    )
    table, ids = apkfactory.resources_table(PACKAGE, {"app_name": {"": "A", "zh-CN": "甲"}})
    for _ in range(1500):
        for original, read in (
            (manifest, read_axml_manifest),
            (table, lambda data: resolve_string(data, ids["app_name"])),
        ):
            data = bytearray(original)
            for _ in range(rng.randint(1, 6)):
                data[rng.randrange(len(data))] = rng.randrange(256)
            if rng.random() < 0.2:
                del data[rng.randrange(len(data)) :]
            read(bytes(data))  # must return a value, whatever the damage


def test_zip_with_duplicate_manifest_uses_the_first_and_says_so(tmp_path: Path) -> None:
    path = tmp_path / "dup.apk"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("AndroidManifest.xml", apkfactory.manifest("cn.first.app"))
        with pytest.warns(UserWarning, match="Duplicate name"):
            archive.writestr("AndroidManifest.xml", apkfactory.manifest("cn.second.app"))
    facts = analyse_apk(path)
    assert facts.package == "cn.first.app"
    assert any("duplicate zip entry" in p for p in facts.problems)


@pytest.mark.parametrize("layout", ["offset32", "offset16", "sparse"])
def test_resource_lookup_agrees_with_androguard_on_every_entry_layout(layout: str) -> None:
    from androguard.core.axml import ARSCParser, ARSCResTableConfig

    from scanner.apk.androguard_quiet import quiet_androguard

    quiet_androguard()
    strings = {
        "app_name": {"": "Classroom", "zh-CN": "课堂"},
        "only_default": {"": "Default only"},
        "title": {"zh-CN": "标题", "zh-TW": "標題", "": "Title"},
    }
    table, ids = apkfactory.resources_table(PACKAGE, strings, layout=layout)
    parser = ARSCParser(table)
    for name, resource_id in ids.items():
        default = parser.get_resolved_res_configs(resource_id, ARSCResTableConfig.default_config())
        chinese = parser.get_resolved_res_configs(
            resource_id, ARSCResTableConfig(None, locale="zh-rCN")
        )
        assert resolve_string(table, resource_id, ("",)) == default[0][1], name
        assert resolve_string(table, resource_id) == chinese[0][1], name


def test_manifest_the_direct_reader_rejects_is_read_by_androguard(tmp_path: Path) -> None:
    manifest = bytearray(apkfactory.manifest(PACKAGE, label="回退", version_code=5))
    manifest[0:2] = b"\x00\x00"  # not the binary-XML chunk type; androguard does not mind
    path = apkfactory.build_apk(tmp_path / "odd.apk", manifest_xml=bytes(manifest))
    facts = analyse_apk(path)
    assert (facts.package, facts.label, facts.version_code) == (PACKAGE, "回退", 5)
    assert facts.problems == ("AndroidManifest.xml is unusual; read by androguard's parser",)


def test_label_falls_back_to_androguards_resource_parser(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        "scanner.apk.analyse.resolve_string", lambda *_: Failure("simulated reader gap")
    )
    facts = analyse_apk(arsc_apk(tmp_path / "fallback.apk", {"": "Fallback", "zh-CN": "回退"}))
    assert facts.label == "Fallback"  # androguard's default configuration
    assert facts.problems == ()


@pytest.mark.parametrize("suffix", [".xapk", ".apks", ".apk"])
def test_an_app_bundle_is_said_to_be_one(tmp_path: Path, suffix: str) -> None:
    """What app stores hand out as .xapk or .apks (APKs in a zip, a manifest.json beside
    them) is no APK: the report says what it is and what to send instead."""
    base = apkfactory.build_apk(tmp_path / "base.apk", manifest_xml=apkfactory.manifest(PACKAGE))
    bundle = tmp_path / f"bundle{suffix}"
    with zipfile.ZipFile(bundle, "w") as archive:
        archive.write(base, "base.apk")
        archive.write(base, "config.arm64_v8a.apk")
        archive.writestr("manifest.json", json.dumps({"package_name": PACKAGE}))
    facts = analyse_apk(bundle)
    assert not facts.readable
    assert facts.problems == (
        "an app bundle holding 2 APK(s) (XAPK, APKS or APKM), not an APK: "
        "no AndroidManifest.xml of its own",
    )
    assert describe_failure(facts.problems[0]).startswith(
        "这是应用安装包合集（XAPK、APKS 或 APKM 格式，内含 2 个 APK），不是单个 APK"
    )
