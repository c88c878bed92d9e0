"""analyse_apk on the real APKs of the shared fixtures, checked against independent readings."""

from __future__ import annotations

import csv
import hashlib
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.serialization import Encoding, pkcs7

from scanner.apk import ApkFacts, analyse_apk
from scanner.apk.androguard_quiet import quiet_androguard

pytestmark = pytest.mark.shared

FIXTURES = [
    "ag-a2dp.Vol_137.apk",
    "ag-apksig-empty-unsigned.apk",
    "ag-apksig-golden-aligned-v3-lineage.apk",
    "ag-apksig-v2-only-sig-block-size-mismatch.apk",
    "ag-apksig-v2-only-truncated-cd.apk",
    "ag-apksig-v31-ec-p256.apk",
    "ag-app-prod-debug.apk",
    "ag-axml-compact-entry.apk",
    "ag-multidex-nomanifest.apk",
    "npm-appium-settings-8.0.10.apk",
    "npm-espresso-server-androidTest-9.3.6.apk",
    "npm-uia2-server-v10.6.6.apk",
    "pypi-airtest-Yosemite.apk",
    "pypi-pocoui-pocoservice-debug.apk",
    "pypi-uiautomator2-app-uiautomator.apk",
]
BROKEN = {
    "ag-apksig-empty-unsigned.apk",
    "ag-multidex-nomanifest.apk",
    "ag-apksig-v2-only-truncated-cd.apk",
    "ag-apksig-v2-only-sig-block-size-mismatch.apk",
}

_cache: dict[Path, ApkFacts] = {}


def facts_of(path: Path) -> ApkFacts:
    if path not in _cache:
        _cache[path] = analyse_apk(path)
    return _cache[path]


def fixture(folder: Path, name: str) -> Path:
    path = folder / name
    if not path.is_file():
        pytest.skip(f"{name} is not in {folder}")
    return path


@pytest.mark.parametrize("name", FIXTURES)
def test_every_fixture_gives_facts_that_survive_a_json_round_trip(
    fixture_apks: Path, name: str
) -> None:
    facts = facts_of(fixture(fixture_apks, name))
    listed = {
        row["file"]: row
        for row in csv.DictReader(
            (fixture_apks / "FIXTURES.tsv").open(encoding="utf-8"), delimiter="\t"
        )
    }
    assert facts.sha256 == listed[name]["sha256"]
    assert facts.size == int(listed[name]["size"])
    assert not any(label.startswith("@") for label in (facts.label, facts.version_name))
    assert facts.readable == bool(facts.package)
    if not facts.readable:
        assert facts.problems, "an unreadable APK must say why"
    restored = ApkFacts.from_dict(json.loads(json.dumps(facts.to_dict(), ensure_ascii=False)))
    assert restored == facts


def test_a2dp_identity_and_fdroid_signer(fixture_apks: Path) -> None:
    path = fixture(fixture_apks, "ag-a2dp.Vol_137.apk")
    facts = facts_of(path)
    assert (facts.package, facts.label) == ("a2dp.Vol", "A2DP Volume")
    assert (facts.version_name, facts.version_code) == ("2.12.9.2", 137)
    assert (facts.min_sdk, facts.target_sdk) == (15, 25)
    assert "android.permission.RECEIVE_BOOT_COMPLETED" in facts.permissions
    assert facts.signing_schemes == ("v1",)
    # The expected fingerprint comes from the PKCS#7 block itself, read here with zipfile.
    with zipfile.ZipFile(path) as archive:
        block = next(n for n in archive.namelist() if n.endswith(".RSA"))
        certificates = pkcs7.load_der_pkcs7_certificates(archive.read(block))
    expected = hashlib.sha256(certificates[0].public_bytes(Encoding.DER)).hexdigest()
    assert [s.sha256 for s in facts.signers] == [expected]
    assert "O=fdroid.org" in facts.signers[0].subject
    assert facts.signers[0].subject.startswith("CN=FDroid")
    assert facts.problems == ()


def test_uia2_server_is_signed_v1_v2_v3_and_has_no_label(fixture_apks: Path) -> None:
    facts = facts_of(fixture(fixture_apks, "npm-uia2-server-v10.6.6.apk"))
    assert facts.package == "io.appium.uiautomator2.server"
    assert facts.signing_schemes == ("v1", "v2", "v3")
    assert facts.label == ""
    assert facts.dex_count == 16
    assert len(facts.signers) == 1 and facts.signers[0].schemes == ("v1", "v2", "v3")


def test_appium_settings_is_v2_only(fixture_apks: Path) -> None:
    facts = facts_of(fixture(fixture_apks, "npm-appium-settings-8.0.10.apk"))
    assert facts.signing_schemes == ("v2",)
    assert facts.label == "Appium Settings"


def test_v31_fixture_has_v31_and_ec_signers(fixture_apks: Path) -> None:
    facts = facts_of(fixture(fixture_apks, "ag-apksig-v31-ec-p256.apk"))
    assert "v3.1" in facts.signing_schemes
    assert all(s.key == "EC secp256r1" for s in facts.signers)
    rotated = [s for s in facts.signers if "v3.1" in s.schemes]
    assert len(rotated) == 1 and rotated[0].schemes == ("v3.1",)


def test_v3_lineage_fixture_is_v3_only(fixture_apks: Path) -> None:
    facts = facts_of(fixture(fixture_apks, "ag-apksig-golden-aligned-v3-lineage.apk"))
    assert facts.signing_schemes == ("v3",)
    signing = [s for s in facts.signers if not s.lineage]
    earlier = [s for s in facts.signers if s.lineage]
    assert len(signing) == 1 and len(earlier) == 1  # the key it rotated from is listed too
    # No v1 signature although its minSdk is below Android 7: Android 6 could not install it.
    assert not facts.signature_verified and facts.signature_reason == "v1-missing"


def test_yosemite_has_tbs_x5_and_label_from_resources(fixture_apks: Path) -> None:
    path = fixture(fixture_apks, "pypi-airtest-Yosemite.apk")
    facts = facts_of(path)
    assert facts.label == "Yosemite"
    with zipfile.ZipFile(path) as archive:
        assert "resources.arsc" in archive.namelist()
    tbs = [s for s in facts.sdks if s.prefix == "com.tencent.smtt"]
    assert len(tbs) == 1
    assert tbs[0].where == ("dex",)
    assert tbs[0].example.startswith("com.tencent.smtt.")
    assert tbs[0].vendor == "Tencent"
    assert len(facts.permissions) == 36
    assert facts.class_count > 13_000
    assert "android.permission.READ_PHONE_STATE" in facts.sensitive_permissions()


def test_espresso_test_apk_has_no_label_and_no_version(fixture_apks: Path) -> None:
    facts = facts_of(fixture(fixture_apks, "npm-espresso-server-androidTest-9.3.6.apk"))
    assert facts.readable
    assert (facts.label, facts.version_name, facts.version_code) == ("", "", None)
    assert facts.dex_count == 17


def test_compact_resource_entry_still_gives_the_label(fixture_apks: Path) -> None:
    facts = facts_of(fixture(fixture_apks, "ag-axml-compact-entry.apk"))
    assert facts.label == "erev0s.com-CompactEntry"


def test_broken_fixtures_are_facts_with_reasons(fixture_apks: Path) -> None:
    empty = facts_of(fixture(fixture_apks, "ag-apksig-empty-unsigned.apk"))
    assert not empty.readable and empty.problems == ("no AndroidManifest.xml",)

    nomanifest = facts_of(fixture(fixture_apks, "ag-multidex-nomanifest.apk"))
    assert not nomanifest.readable
    assert "no AndroidManifest.xml" in nomanifest.problems
    assert nomanifest.dex_count == 2  # the code is still read

    truncated = facts_of(fixture(fixture_apks, "ag-apksig-v2-only-truncated-cd.apk"))
    assert any("central directory is truncated" in p for p in truncated.problems)
    assert truncated.package == "android.appsecurity.cts.tinyapp"

    mismatch = facts_of(fixture(fixture_apks, "ag-apksig-v2-only-sig-block-size-mismatch.apk"))
    assert mismatch.readable
    assert any(p.startswith("broken APK signature block:") for p in mismatch.problems)
    assert "v2" not in mismatch.signing_schemes


def test_healthy_fixtures_have_no_problems(fixture_apks: Path) -> None:
    for name in sorted(set(FIXTURES) - BROKEN):
        facts = facts_of(fixture(fixture_apks, name))
        assert facts.problems == (), name
        assert facts.readable, name


def test_a_file_that_is_not_a_zip_gives_a_reason(tmp_path: Path, fixture_apks: Path) -> None:
    readme = tmp_path / "README.apk"
    readme.write_bytes((fixture_apks / "README.md").read_bytes())
    facts = analyse_apk(readme)
    assert not facts.readable
    assert facts.problems[0].startswith("not a zip archive")


# androguard is the independent oracle below: the same facts, read by other code.


def _androguard(path: Path) -> Any:
    quiet_androguard()
    from androguard.core.apk import APK

    return APK(str(path))


@pytest.mark.parametrize("name", sorted(set(FIXTURES) - BROKEN))
def test_manifest_facts_agree_with_androguard(fixture_apks: Path, name: str) -> None:
    path = fixture(fixture_apks, name)
    facts = facts_of(path)
    apk = _androguard(path)
    assert facts.package == apk.get_package()
    code = apk.get_androidversion_code()
    assert facts.version_code == (int(code) if code else None)
    assert facts.version_name == (apk.get_androidversion_name() or "")
    assert facts.min_sdk == (int(apk.get_min_sdk_version()) if apk.get_min_sdk_version() else None)
    target = apk.get_target_sdk_version()
    assert facts.target_sdk == (int(target) if target else None)
    sdk23 = {apk.get_value_from_tag(tag, "name") for tag in apk.find_tags("uses-permission-sdk-23")}
    assert set(facts.permissions) == set(apk.get_permissions()) | sdk23
    assert set(facts.components.activities) >= set(apk.get_activities())
    assert set(facts.components.services) == set(apk.get_services())
    assert set(facts.components.receivers) == set(apk.get_receivers())
    assert set(facts.components.providers) == set(apk.get_providers())
    # No fixture has a zh-CN label, so the preferred label is androguard's default one.
    assert facts.label == apk.get_app_name()


@pytest.mark.parametrize("name", sorted(set(FIXTURES) - BROKEN))
def test_signatures_agree_with_androguard(fixture_apks: Path, name: str) -> None:
    path = fixture(fixture_apks, name)
    facts = facts_of(path)
    apk = _androguard(path)
    expected_schemes = [
        scheme
        for scheme, present in (
            ("v1", apk.is_signed_v1()),
            ("v2", apk.is_signed_v2()),
            ("v3", apk.is_signed_v3()),
            ("v3.1", apk.is_signed_v31()),
        )
        if present
    ]
    assert list(facts.signing_schemes) == expected_schemes
    by_scheme = {
        "v1": [c.dump() for c in apk.get_certificates_v1()],
        "v2": apk.get_certificates_der_v2(),
        "v3": apk.get_certificates_der_v3(),
        "v3.1": apk.get_certificates_der_v31(),
    }
    for scheme, ders in by_scheme.items():
        expected = {hashlib.sha256(der).hexdigest() for der in ders}
        ours = {s.sha256 for s in facts.signers if scheme in s.schemes}
        assert ours == expected, scheme
