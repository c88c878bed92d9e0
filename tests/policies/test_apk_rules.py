"""The APK rules, firing and not firing, on facts built in code against a registry built in code."""

from __future__ import annotations

from dataclasses import replace

from policies.apk_rules import APK_RULES, ApkOutcome
from policies.config import PolicyConfig
from policies.engine import Engine
from policies.model import Finding, catalogue
from registry.records import EntryRecord
from registry.snapshot import RegistryView
from scanner.apk import ApkFacts, EmbeddedSdk, Signer
from scanner.submission import RequiredItem

GENUINE = "a" * 64
OTHER = "b" * 64
VIEW = RegistryView.build(
    [
        EntryRecord(
            id=1,
            name="闽教高分",
            kind="app",
            filing_no="教APP备1100819号",
            status="active",
            package="com.zhl.mjqk.aphone",
            category="教学",
            signer_sha256=(GENUINE,),
        ),
        EntryRecord(
            id=2,
            name="巧考",
            kind="app",
            filing_no="教APP备1100871号",
            status="active",
            package="com.zhl.qk.aphone",
            category="教学",
        ),
    ],
    [],
)
FACTS = ApkFacts(
    sha256="c" * 64,
    size=1000,
    package="com.zhl.mjqk.aphone",
    label="闽教高分",
    version_name="1.0",
    version_code=1,
    signing_schemes=("v1",),
    signers=(Signer(schemes=("v1",), sha256=GENUINE, subject="CN=Genuine", verified=True),),
    signature_verified=True,
    readable=True,
)
ITEM = RequiredItem(source="s.csv", row=2, school="一中", kind="app", name="闽教高分", apk="x.apk")


def apk_rules(
    facts: ApkFacts | None, item: RequiredItem = ITEM, failure: str = ""
) -> list[Finding]:
    outcome = ApkOutcome("x.apk", facts=facts, failure=failure)
    findings = Engine(VIEW).check_item(item, outcome)[1]
    return [f for f in findings if f.rule.startswith("APK-")]


def rules(facts: ApkFacts | None, **kwargs: object) -> set[str]:
    return {f.rule for f in apk_rules(facts, **kwargs)}  # type: ignore[arg-type]


def test_the_genuine_apk_is_clean() -> None:
    assert rules(FACTS) == set()


def test_unreadable() -> None:
    (found,) = apk_rules(None, failure="HTTP 404 Not Found")
    assert found.rule == "APK-UNREADABLE" and found.params["reason"] == "HTTP 404 Not Found"
    broken = replace(FACTS, readable=False, package="", problems=("not a zip archive",))
    (found,) = apk_rules(broken)
    assert found.rule == "APK-UNREADABLE" and "not a zip" in found.params["reason"]


def test_code_left_unread_is_said() -> None:
    """The app is known, but SDKs in code that was not read would go unseen."""
    cap = "the APK has 20000 DEX files, more than the cap of 256"
    partly = replace(FACTS, problems=(cap,), code_unread=(cap,))
    (found,) = apk_rules(partly)
    assert found.rule == "APK-UNREADABLE" and found.params["reason"].endswith(cap)
    assert "only part of its code" in found.params["reason"]
    odd_label = replace(FACTS, problems=("app label @7F010001 could not be resolved",))
    assert rules(odd_label) == set()


def test_unsigned() -> None:
    unsigned = replace(
        FACTS, signers=(), signing_schemes=(), signature_verified=False, signature_reason="unsigned"
    )
    assert rules(unsigned) == {"APK-UNSIGNED"}


def test_signature_invalid_says_tampered_or_forged() -> None:
    # The genuine certificate is in the file, but the content no longer matches its signature.
    tampered = replace(
        FACTS,
        signers=(Signer(("v1",), GENUINE, "CN=Genuine"),),
        signature_verified=False,
        signature_reason="v1-entry-modified",
        signature_detail="classes.dex",
    )
    (found,) = apk_rules(tampered)
    assert found.rule == "APK-SIGNATURE-INVALID" and found.severity == "high"
    assert found.evidence["kind"] == "modified"
    assert found.evidence["certificates_found"] == [{"sha256": GENUINE, "subject": "CN=Genuine"}]
    message = catalogue().message(found, "zh")
    assert "签名之后被人改动过" in message and "classes.dex" in message
    assert "changed after it was signed" in catalogue().message(found, "en")
    forged = replace(tampered, signature_reason="signature-forged", signature_detail="v2")
    (found,) = apk_rules(forged)
    assert "伪造" in catalogue().message(found, "zh")
    # Neither is reported as a signer mismatch: an unverified certificate proves nothing.
    other = replace(forged, signers=(Signer(("v2",), OTHER, "CN=Repackager"),))
    assert rules(other) == {"APK-SIGNATURE-INVALID"}


def test_signer_mismatch() -> None:
    repackaged = replace(FACTS, signers=(Signer(("v1",), OTHER, "CN=Repackager", verified=True),))
    (found,) = apk_rules(repackaged)
    assert found.rule == "APK-SIGNER-MISMATCH" and found.severity == "high"
    assert found.evidence["registry_signers"] == [GENUINE]
    assert found.evidence["apk_signers"][0]["sha256"] == OTHER
    also = replace(FACTS, signers=(*repackaged.signers, *FACTS.signers))
    assert rules(also) == set()  # one known signer (key rotation) is enough
    no_known = replace(FACTS, package="com.zhl.qk.aphone", signers=repackaged.signers)
    item = ITEM._replace(name="巧考")
    assert rules(no_known, item=item) == set()  # the registry knows no signer for 巧考


def test_package_mismatch_against_the_row_and_the_registry() -> None:
    other = replace(
        FACTS, package="com.example.fake", signers=(Signer(("v1",), OTHER, verified=True),)
    )
    (found,) = apk_rules(other)
    assert found.rule == "APK-PACKAGE-MISMATCH"
    assert found.params["expected"] == "com.zhl.mjqk.aphone"
    assert found.evidence["expected_from"] == "registered package of this app"
    stated = ITEM._replace(identifier="com.zhl.qk.aphone", name="巧考")
    (found,) = apk_rules(FACTS, item=stated)
    assert found.params["expected"] == "com.zhl.qk.aphone"
    assert found.evidence["apk_is_registry_entry"]["name"] == "闽教高分"


def test_the_apk_package_identifies_a_loosely_named_item() -> None:
    vague = ITEM._replace(name="高分家长端app")
    engine = Engine(VIEW)
    outcome = ApkOutcome("x.apk", facts=FACTS)
    assessed, findings = engine.check_item(vague, outcome)
    assert assessed.match.matched_by == "apk_package" and assessed.match.entry is not None
    assert "FILING-MISSING" not in {f.rule for f in findings}
    repackaged = replace(FACTS, signers=(Signer(("v1",), OTHER, verified=True),))
    assert "APK-SIGNER-MISMATCH" in {
        f.rule for f in engine.check_item(vague, ApkOutcome("y", repackaged))[1]
    }


def test_sdks() -> None:
    pangle = EmbeddedSdk("穿山甲 Pangle", "ByteDance", "ads", "com.bytedance.sdk.openadsdk",
                         "com.bytedance.sdk.openadsdk.TTAdSdk", ("dex",))  # fmt: skip
    umeng = EmbeddedSdk("友盟统计 U-App", "Umeng", "analytics", "com.umeng.analytics",
                        "com.umeng.analytics.MobclickAgent", ("dex",))  # fmt: skip
    x5 = EmbeddedSdk("腾讯浏览服务 TBS/X5", "Tencent", "webview", "com.tencent.smtt",
                     "com.tencent.smtt.sdk.WebView", ("dex",))  # fmt: skip
    found = {f.rule: f for f in apk_rules(replace(FACTS, sdks=(pangle, umeng, x5)))}
    assert set(found) == {"APK-AD-SDK", "APK-TRACKER-SDK"}
    assert found["APK-AD-SDK"].params["sdks"] == "穿山甲 Pangle"
    assert "not that it sends data" in found["APK-AD-SDK"].evidence["caveat"]
    assert found["APK-TRACKER-SDK"].severity == "info"
    assert rules(replace(FACTS, sdks=(x5,))) == set()


def test_sensitive_permissions() -> None:
    perms = ("android.permission.INTERNET", "android.permission.ACCESS_FINE_LOCATION",
             "android.permission.READ_CONTACTS")  # fmt: skip
    (found,) = apk_rules(replace(FACTS, permissions=perms))
    assert found.rule == "APK-SENSITIVE-PERMISSION"
    assert [p["permission"] for p in found.evidence["permissions"]] == list(perms[1:])
    assert "精确位置" in found.params["permissions"]
    assert rules(replace(FACTS, permissions=perms[:1])) == set()
    extra = PolicyConfig(sensitive_permissions=("android.permission.INTERNET",))
    outcome = ApkOutcome("x.apk", facts=replace(FACTS, permissions=perms[:1]))
    findings = Engine(VIEW, extra).check_item(ITEM, outcome)[1]
    assert {f.rule for f in findings if f.rule.startswith("APK-")} == {"APK-SENSITIVE-PERMISSION"}


def test_every_apk_rule_is_implemented_and_renders() -> None:
    assert set(APK_RULES) == {r for r, s in catalogue().rules.items() if s.scope == "apk"}
    pangle = EmbeddedSdk("穿山甲", "ByteDance", "ads", "com.pgl", "com.pgl.X", ("manifest",))
    facts = replace(FACTS, package="com.other", signers=(), sdks=(pangle,),
                    permissions=("android.permission.CAMERA",), signature_verified=False,
                    signature_reason="unsigned")  # fmt: skip
    invalid = replace(FACTS, signature_verified=False, signature_reason="content-modified",
                      signature_detail="v2")  # fmt: skip
    findings = apk_rules(facts) + apk_rules(None, failure="timeout") + apk_rules(invalid)
    assert {f.rule for f in findings} >= {"APK-UNSIGNED", "APK-PACKAGE-MISMATCH", "APK-AD-SDK",
                                          "APK-SENSITIVE-PERMISSION", "APK-UNREADABLE",
                                          "APK-SIGNATURE-INVALID"}  # fmt: skip
    for finding in findings:
        for lang in ("zh", "en"):
            assert "{" not in catalogue().message(finding, lang)
