"""The test APK factory makes APKs that androguard reads as intended: proof the factory is right."""

from __future__ import annotations

import hashlib
import zlib
from pathlib import Path
from typing import Any

import apkfactory
import pytest

from scanner.apk.androguard_quiet import quiet_androguard


def androguard_apk(path: Path) -> Any:
    quiet_androguard()
    from androguard.core.apk import APK

    return APK(str(path))


@pytest.mark.parametrize("utf8", [True, False], ids=["utf8-pool", "utf16-pool"])
def test_androguard_reads_the_built_manifest(
    tmp_path: Path, signer: apkfactory.SigningKey, utf8: bool
) -> None:
    manifest = apkfactory.manifest(
        "cn.edu.example.homework",
        version_code=305,
        version_name="3.0.5",
        min_sdk=23,
        target_sdk=34,
        permissions=["android.permission.CAMERA", "android.permission.READ_CONTACTS"],
        label="作业帮手 学生版",
        activities=[".ui.MainActivity", "cn.edu.example.homework.ui.Settings"],
        services=["com.igexin.sdk.PushService"],
        receivers=["Receiver"],
        providers=["cn.edu.example.homework.Files"],
        utf8=utf8,
    )
    path = apkfactory.build_apk(
        tmp_path / "homework.apk",
        manifest_xml=manifest,
        dex=[apkfactory.dex_file(["cn.edu.example.homework.ui.MainActivity"])],
        signer=signer,
    )
    apk = androguard_apk(path)
    assert apk.is_valid_APK()
    assert apk.get_package() == "cn.edu.example.homework"
    assert apk.get_app_name() == "作业帮手 学生版"
    assert apk.get_androidversion_code() == "305"
    assert apk.get_androidversion_name() == "3.0.5"
    assert (apk.get_min_sdk_version(), apk.get_target_sdk_version()) == ("23", "34")
    assert sorted(apk.get_permissions()) == [
        "android.permission.CAMERA",
        "android.permission.READ_CONTACTS",
    ]
    assert sorted(apk.get_activities()) == [
        "cn.edu.example.homework.ui.MainActivity",
        "cn.edu.example.homework.ui.Settings",
    ]
    assert apk.get_services() == ["com.igexin.sdk.PushService"]
    assert apk.get_receivers() == ["cn.edu.example.homework.Receiver"]
    assert apk.get_providers() == ["cn.edu.example.homework.Files"]


def test_androguard_verifies_the_v1_signature(
    tmp_path: Path, signer: apkfactory.SigningKey, ec_signer: apkfactory.SigningKey
) -> None:
    for key, name in ((signer, "rsa.apk"), (ec_signer, "ec.apk")):
        path = apkfactory.simple_apk(tmp_path / name, signer=key, schemes=("v1",))
        apk = androguard_apk(path)
        assert apk.is_signed_v1()
        assert not apk.is_signed_v2()
        certificates = apk.get_certificates_v1()  # returned only when the signature verifies
        assert [c.sha256.hex() for c in certificates] == [key.sha256]
        assert hashlib.sha256(certificates[0].dump()).hexdigest() == key.sha256


def test_androguard_reads_the_v2_and_v3_signatures(
    tmp_path: Path, signer: apkfactory.SigningKey, ec_signer: apkfactory.SigningKey
) -> None:
    for key, name in ((signer, "rsa.apk"), (ec_signer, "ec.apk")):
        path = apkfactory.simple_apk(tmp_path / name, signer=key, schemes=("v2", "v3"))
        apk = androguard_apk(path)
        assert apk.is_signed_v2() and apk.is_signed_v3() and not apk.is_signed_v1()
        for ders in (apk.get_certificates_der_v2(), apk.get_certificates_der_v3()):
            assert [hashlib.sha256(d).hexdigest() for d in ders] == [key.sha256]


def test_androguard_rejects_a_tampered_v1_signature(
    tmp_path: Path, signer: apkfactory.SigningKey, other_signer: apkfactory.SigningKey
) -> None:
    # The .SF signed by one key, the certificate of another: verification must fail,
    # which shows the positive case above is a real verification.
    files = {"AndroidManifest.xml": apkfactory.manifest("cn.edu.example.app")}
    signature = apkfactory.v1_signature(files, signer)
    forged = apkfactory.v1_signature(files, other_signer)
    signature["META-INF/CERT.SF"] = forged["META-INF/CERT.SF"] + b"X-Tampered: yes\r\n"
    path = apkfactory.build_apk(
        tmp_path / "tampered.apk", manifest_xml=files["AndroidManifest.xml"], extra=signature
    )
    assert androguard_apk(path).get_certificates_v1() == []


def test_androguard_resolves_the_built_resource_table(tmp_path: Path) -> None:
    table, ids = apkfactory.resources_table(
        "cn.edu.example.app",
        {"app_name": {"": "Example Classroom", "zh-CN": "示例课堂", "zh-TW": "示例課堂"}},
    )
    path = apkfactory.build_apk(
        tmp_path / "arsc.apk",
        manifest_xml=apkfactory.manifest(
            "cn.edu.example.app", label=apkfactory.Ref(ids["app_name"])
        ),
        resources=table,
    )
    apk = androguard_apk(path)
    assert apk.get_app_name() == "Example Classroom"
    assert apk.get_app_name(locale="zh-rCN") == "示例课堂"
    assert apk.get_app_name(locale="zh-rTW") == "示例課堂"


def test_androguard_reads_the_built_dex() -> None:
    quiet_androguard()
    from androguard.core.dex import DEX

    data = apkfactory.dex_file(
        ["com.qq.e.ads.banner.BannerView", "cn.edu.example.app.Main"],
        referenced=["com.bytedance.sdk.openadsdk.TTAdSdk"],
    )
    parsed = DEX(data)
    assert sorted(parsed.get_classes_names()) == [
        "Lcn/edu/example/app/Main;",
        "Lcom/qq/e/ads/banner/BannerView;",
    ]
    manager = parsed.get_class_manager()
    assert {manager.get_type(i) for i in range(parsed.header.type_ids_size)} == {
        "Lcn/edu/example/app/Main;",
        "Lcom/bytedance/sdk/openadsdk/TTAdSdk;",
        "Lcom/qq/e/ads/banner/BannerView;",
        "Ljava/lang/Object;",
    }
    # The checksum and signature fields are right, as a strict reader would demand.
    assert int.from_bytes(data[8:12], "little") == zlib.adler32(data[12:])
    assert data[12:32] == hashlib.sha1(data[32:]).digest()
