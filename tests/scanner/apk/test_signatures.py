"""Signature verification: our verdicts on APKs built in code, genuine, tampered and forged,
and agreement with Android's own `apksigner verify` on those and on every fixture APK."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import apkfactory
import pytest

from scanner.apk import ApkFacts, analyse_apk
from scanner.apk.problems import catalogue, describe, reason_kind
from scanner.apk.signing import verify_file

PACKAGE = "cn.edu.example.app"
NEW_DEX = apkfactory.dex_file(["cn.edu.example.app.MainActivity", "com.evil.Payload"])
APKSIGNER = shutil.which("apksigner")
needs_apksigner = pytest.mark.skipif(
    APKSIGNER is None, reason="apksigner (Debian package apksigner) is not installed"
)


def genuine(tmp_path: Path, signer: apkfactory.SigningKey, schemes: tuple[str, ...]) -> Path:
    name = "genuine-" + "-".join(schemes) + ".apk"
    min_sdk = 21 if "v1" in schemes else 24
    return apkfactory.simple_apk(tmp_path / name, signer=signer, schemes=schemes, min_sdk=min_sdk)


def verdict(facts: ApkFacts) -> tuple[bool, list[str]]:
    """What apksigner prints: verifies or not, and the signers' certificate SHA-256."""
    return facts.signature_verified, sorted(
        s.sha256 for s in facts.signers if s.verified and not s.lineage
    )


def apksigner(path: Path, *options: str) -> tuple[bool, list[str]]:
    assert APKSIGNER is not None
    run = subprocess.run(
        [APKSIGNER, "verify", "--print-certs", *options, str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    verified = run.returncode == 0 and "DOES NOT VERIFY" not in run.stdout
    digests = re.findall(r"Signer #\d+ certificate SHA-256 digest: ([0-9a-f]{64})", run.stdout)
    return verified, sorted(digests) if verified else []


# --------------------------------------------------------------------------- genuine APKs


@pytest.mark.parametrize(
    "schemes", [("v1",), ("v2",), ("v1", "v2"), ("v2", "v3"), ("v1", "v2", "v3"), ("v3",)]
)
def test_genuine_apks_verify(
    tmp_path: Path,
    signer: apkfactory.SigningKey,
    ec_signer: apkfactory.SigningKey,
    schemes: tuple[str, ...],
) -> None:
    for key in (signer, ec_signer):
        path = apkfactory.simple_apk(
            tmp_path / f"{key.block_suffix[1:]}.apk",
            signer=key,
            schemes=schemes,
            min_sdk=21 if "v1" in schemes else 28,
            target_sdk=29 if schemes == ("v1",) else 33,
        )
        facts = analyse_apk(path)
        assert verdict(facts) == (True, [key.sha256]), facts.signature_reason
        assert facts.signature_reason == ""
        checked = {v.scheme for v in facts.signatures if v.checked}
        assert all(v.verified for v in facts.signatures if v.checked)
        assert checked <= set(schemes)


def test_v1_only_apk_targeting_android_11_needs_v2(
    tmp_path: Path, signer: apkfactory.SigningKey
) -> None:
    facts = analyse_apk(genuine(tmp_path, signer, ("v1",)))  # targetSdk 33
    assert not facts.signature_verified
    assert facts.signature_reason == "scheme-required-for-target"
    assert facts.verified_signers() == ()


def test_v1_beside_v2_is_not_checked_from_android_7(
    tmp_path: Path, signer: apkfactory.SigningKey
) -> None:
    path = apkfactory.simple_apk(
        tmp_path / "n.apk", signer=signer, schemes=("v1", "v2"), min_sdk=24
    )
    facts = analyse_apk(path)
    assert facts.signature_verified
    by_scheme = {v.scheme: v for v in facts.signatures}
    assert by_scheme["v2"].checked and by_scheme["v2"].verified
    assert not by_scheme["v1"].checked  # shown, not judged: Android 7+ uses v2
    assert [s.sha256 for s in by_scheme["v1"].signers] == [signer.sha256]


def test_unsigned_apk(tmp_path: Path) -> None:
    facts = analyse_apk(apkfactory.simple_apk(tmp_path / "plain.apk"))
    assert verdict(facts) == (False, [])
    assert facts.signature_reason == "unsigned"


# --------------------------------------------------------------------------- tampered, forged


TAMPERINGS: dict[str, Callable[[Path, Path], Path]] = {
    "rebuilt with a new classes.dex and an added file": lambda g, o: apkfactory.rebuild(
        g, o, replace={"classes.dex": NEW_DEX}, add={"assets/payload.bin": b"\x00evil"}
    ),
    "changed entry": lambda g, o: apkfactory.rebuild(g, o, replace={"classes.dex": NEW_DEX}),
    "added entry": lambda g, o: apkfactory.rebuild(g, o, add={"lib/x86/libhook.so": b"ELF"}),
    "removed entry": lambda g, o: apkfactory.rebuild(g, o, remove=["classes.dex"]),
}
EXPECTED_REASONS = {
    ("v1",): {
        # The added file is seen before any entry is read; the new DEX only by its digest.
        "rebuilt with a new classes.dex and an added file": "v1-entry-added",
        "changed entry": "v1-entry-modified",
        "added entry": "v1-entry-added",
        "removed entry": "v1-entry-removed",
    },
    ("v2",): dict.fromkeys(TAMPERINGS, "content-modified"),
    ("v1", "v2"): dict.fromkeys(TAMPERINGS, "content-modified"),
}


def tampered_apks(tmp_path: Path, signer: apkfactory.SigningKey) -> list[tuple[str, Path, str]]:
    """(description, path, the reason we expect) for every tampered or forged APK."""
    out: list[tuple[str, Path, str]] = []
    for schemes, reasons in EXPECTED_REASONS.items():
        target = 29 if schemes == ("v1",) else 33
        original = apkfactory.simple_apk(
            tmp_path / ("genuine-" + "-".join(schemes) + ".apk"),
            signer=signer,
            schemes=schemes,
            min_sdk=21 if "v1" in schemes else 24,
            target_sdk=target,
        )
        for what, tamper in TAMPERINGS.items():
            name = f"{'-'.join(schemes)}-{what.replace(' ', '_')}.apk"
            out.append(
                (f"{what} ({'+'.join(schemes)})", tamper(original, tmp_path / name), reasons[what])
            )

    # A new APK carrying only the genuine CERT.RSA and CERT.SF, with its own MANIFEST.MF.
    v1 = tmp_path / "genuine-v1.apk"
    stolen = apkfactory.read_entries(v1)
    forged_files = {
        "AndroidManifest.xml": apkfactory.manifest(PACKAGE, target_sdk=29),
        "classes.dex": NEW_DEX,
    }
    fresh = apkfactory.v1_signature(forged_files, apkfactory.signing_key("someone else"))
    forged_files["META-INF/MANIFEST.MF"] = fresh["META-INF/MANIFEST.MF"]
    forged_files["META-INF/CERT.SF"] = stolen["META-INF/CERT.SF"]
    forged_files["META-INF/CERT.RSA"] = stolen["META-INF/CERT.RSA"]
    out.append(
        (
            "new APK with only the genuine CERT.RSA/CERT.SF",
            apkfactory.write_zip(tmp_path / "cert-only.apk", forged_files),
            "v1-sf-manifest-mismatch",
        )
    )
    v1v2 = tmp_path / "genuine-v1-v2.apk"
    out.append(
        (
            "v1-only copy of a v1+v2 APK (v2 block stripped)",
            apkfactory.strip_block(v1v2, tmp_path / "stripped.apk"),
            "stripped-scheme",
        )
    )
    v2 = tmp_path / "genuine-v2.apk"
    out.append(
        (
            "truncated signing block",
            apkfactory.truncate_block(v2, tmp_path / "truncated.apk"),
            "block-malformed",
        )
    )
    # Block size, pair length and id, then the signer's length-prefixed fields: byte 60
    # lies in the content digest inside the signed data, which the signature covers.
    out.append(
        (
            "signed data altered (forged v2 signature)",
            apkfactory.flip_block_byte(v2, tmp_path / "forged-v2.apk", 60),
            "signature-forged",
        )
    )
    return out


def test_tampered_and_forged_apks_do_not_verify(
    tmp_path: Path, signer: apkfactory.SigningKey
) -> None:
    cases = tampered_apks(tmp_path, signer)
    assert len(cases) == 16
    for what, path, reason in cases:
        facts = analyse_apk(path)
        assert not facts.signature_verified, what
        assert facts.verified_signers() == (), what
        assert (facts.signature_reason, what) == (reason, what)
        # The certificate is still there to be shown: it just proves nothing.
        assert facts.readable or reason == "v1-entry-removed"


def test_reasons_say_modified_or_forged(tmp_path: Path, signer: apkfactory.SigningKey) -> None:
    kinds = {what: reason_kind(reason) for what, _, reason in tampered_apks(tmp_path, signer)}
    assert kinds["changed entry (v1)"] == "modified"
    assert kinds["signed data altered (forged v2 signature)"] == "forged"
    assert describe("v1-entry-modified", "classes.dex") == (
        "文件“classes.dex”在签名后被修改（摘要与签名时记录的不符）"
    )
    assert "changed after signing" in describe("content-modified", "v2", "en")


def test_every_reason_code_used_has_catalogue_text() -> None:
    source = "\n".join(
        p.read_text("utf-8")
        for p in Path(__file__).parents[3].joinpath("scanner", "apk").glob("*.py")
    )
    used = set(re.findall(r'Problem\(\s*"([a-z0-9.-]+)"', source))
    assert used, "no reason codes found in the sources"
    assert used <= set(catalogue()) | {"v1-sf-ignored"}, used - set(catalogue())


def test_stripped_v2_counts_only_where_android_checks_it(
    tmp_path: Path, signer: apkfactory.SigningKey
) -> None:
    stripped = apkfactory.strip_block(
        genuine(tmp_path, signer, ("v1", "v2")), tmp_path / "stripped.apk"
    )
    # Android 7+ would look for the v2 block the .SF promises; Android 6 and older would not.
    assert verify_file(stripped).problem is not None
    assert verify_file(stripped, max_sdk=23).verified


# --------------------------------------------------------------------------- oracle


@needs_apksigner
def test_apksigner_agrees_on_built_apks(tmp_path: Path, signer: apkfactory.SigningKey) -> None:
    cases = [(what, path) for what, path, _ in tampered_apks(tmp_path, signer)]
    for schemes in (("v1",), ("v2",), ("v1", "v2"), ("v2", "v3"), ("v3",)):
        path = apkfactory.simple_apk(
            tmp_path / ("ok-" + "-".join(schemes) + ".apk"),
            signer=signer,
            schemes=schemes,
            min_sdk=21 if "v1" in schemes else 28,
        )
        cases.append(("genuine " + "+".join(schemes), path))
    # SHA-256 with RSA in a JAR signature needs Android 4.3; signed attributes need 4.4.
    for min_sdk in (15, 18, 19):
        path = apkfactory.simple_apk(tmp_path / f"old-{min_sdk}.apk", signer=signer,
                                     min_sdk=min_sdk, target_sdk=28)  # fmt: skip
        cases.append((f"v1+v2 for Android API {min_sdk}+", path))
    disagreements = []
    for what, path in cases:
        ours, theirs = verdict(analyse_apk(path)), apksigner(path)
        if ours != theirs:
            disagreements.append((what, ours, theirs))
    assert disagreements == []


@needs_apksigner
@pytest.mark.shared
def test_apksigner_agrees_on_every_fixture(fixture_apks: Path) -> None:
    disagreements = []
    paths = sorted(fixture_apks.glob("*.apk"))
    assert paths
    for path in paths:
        if path.name == "ag-apksig-v31-ec-p256.apk":
            continue  # see the test below: Debian's apksigner predates v3.1
        ours, theirs = verdict(analyse_apk(path)), apksigner(path)
        if ours != theirs:
            disagreements.append((path.name, ours, theirs))
    assert disagreements == []


@needs_apksigner
@pytest.mark.shared
def test_v31_fixture_agrees_below_android_13(fixture_apks: Path) -> None:
    path = fixture_apks / "ag-apksig-v31-ec-p256.apk"
    # apksigner 31 knows no v3.1 (Android 13+): compare over the range it understands.
    below = verify_file(path, max_sdk=32)
    ours = (below.verified, sorted(s.sha256 for s in below.signers if s.verified))
    assert ours == apksigner(path, "--max-sdk-version", "32")
    # Over every version, Android 13+ uses the rotated key the v3.1 block names, and the
    # original key is the root of its proof-of-rotation lineage.
    facts = analyse_apk(path)
    rotated = [s for s in facts.signers if s.verified and not s.lineage]
    original = [s for s in facts.signers if s.lineage]
    assert [s.schemes for s in rotated] == [("v3.1",)]
    assert [s.sha256 for s in original] == [below.signers[0].sha256] or [
        s.sha256 for s in original
    ] == [s.sha256 for s in below.signers if s.verified]


def test_rsa_pss_v2_signature(tmp_path: Path, signer: apkfactory.SigningKey) -> None:
    path = apkfactory.simple_apk(tmp_path / "pss.apk", schemes=(), min_sdk=24)
    apkfactory.sign_block(path, signer, schemes=("v2", "v3"), pss=True)
    assert verdict(analyse_apk(path)) == (True, [signer.sha256])
    forged = apkfactory.flip_block_byte(path, tmp_path / "forged.apk", 60)
    assert analyse_apk(forged).signature_reason == "signature-forged"


# --------------------------------------------------------------------------- apksigner sign


def _key_files(folder: Path, name: str, key: object) -> list[str]:
    """--key/--cert options for apksigner sign, with a fresh self-signed certificate."""
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509.oid import NameOID

    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    start = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())  # type: ignore[attr-defined]
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=9000))
        .sign(key, hashes.SHA256())  # type: ignore[arg-type]
    )
    pk8, pem = folder / f"{name}.pk8", folder / f"{name}.pem"
    pk8.write_bytes(
        key.private_bytes(  # type: ignore[attr-defined]
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    pem.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return ["--key", str(pk8), "--cert", str(pem)]


@needs_apksigner
def test_apksigner_signed_apks_every_algorithm_verity_and_rotation(tmp_path: Path) -> None:
    """APKs signed by apksigner itself: RSA 2048 (SHA-256) and 4096 (SHA-512), EC P-256 and
    P-521 (SHA-512), DSA, with and without the verity algorithms, and a rotated key."""
    from cryptography.hazmat.primitives.asymmetric import dsa, ec, rsa

    assert APKSIGNER is not None
    keys = {
        "rsa2048": rsa.generate_private_key(65537, 2048),
        "rsa4096": rsa.generate_private_key(65537, 4096),
        "p256": ec.generate_private_key(ec.SECP256R1()),
        "p521": ec.generate_private_key(ec.SECP521R1()),
        "dsa": dsa.generate_private_key(2048),
    }
    options = {name: _key_files(tmp_path, name, key) for name, key in keys.items()}
    cases: list[tuple[str, Path]] = []
    # (key, verity, minSdk): v1+v2+v3 below Android 7, v2+v3 below 9, v3 alone from 9 on.
    # apksigner cannot make a DSA v1 signature, so DSA starts at Android 7.
    plan = [("rsa2048", False, 18), ("rsa4096", True, 28), ("p256", True, 18),
            ("p521", False, 28), ("dsa", True, 24)]  # fmt: skip
    for name, verity, min_sdk in plan:
        path = apkfactory.simple_apk(
            tmp_path / f"{name}-{verity}-{min_sdk}.apk", min_sdk=min_sdk, schemes=()
        )
        subprocess.run(
            [APKSIGNER, "sign", *options[name], "--min-sdk-version", str(min_sdk),
             "--verity-enabled", str(verity).lower(), str(path)],
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip
        cases.append((path.name, path))
    lineage = tmp_path / "lineage.bin"
    subprocess.run(
        [APKSIGNER, "rotate", "--out", str(lineage), "--old-signer", *options["rsa2048"],
         "--new-signer", *options["p256"]],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    for min_sdk in (18, 28):
        path = apkfactory.simple_apk(
            tmp_path / f"rotated-{min_sdk}.apk", min_sdk=min_sdk, schemes=()
        )
        subprocess.run(
            [APKSIGNER, "sign", "--lineage", str(lineage), *options["rsa2048"], "--next-signer",
             *options["p256"], "--min-sdk-version", str(min_sdk), str(path)],
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip
        cases.append((path.name, path))
    verity = tmp_path / "p256-True-18.apk"
    cases.append(("verity, entry changed", apkfactory.rebuild(
        verity, tmp_path / "verity-tampered.apk", replace={"classes.dex": NEW_DEX})))  # fmt: skip
    disagreements = []
    for what, path in cases:
        ours, theirs = verdict(analyse_apk(path)), apksigner(path)
        if ours != theirs or (not theirs[0] and what != "verity, entry changed"):
            disagreements.append((what, ours, theirs))
    assert disagreements == []
    rotated = analyse_apk(tmp_path / "rotated-28.apk")
    assert [s.key for s in rotated.signers if s.lineage] == ["RSA 2048"]


def test_mutated_signatures_end_in_a_verdict_with_a_reason(
    tmp_path: Path, signer: apkfactory.SigningKey, ec_signer: apkfactory.SigningKey
) -> None:
    """Seeded mutations of signing blocks (lengths, ids, bytes) and META-INF files: every
    case gives facts and, unless it still verifies, a catalogued reason; none raises."""
    import random

    rng = random.Random(20241129)
    originals = [
        apkfactory.simple_apk(
            tmp_path / "a.apk", signer=signer, schemes=("v1", "v2", "v3"), min_sdk=18
        ),
        apkfactory.simple_apk(
            tmp_path / "b.apk", signer=ec_signer, schemes=("v2", "v3"), min_sdk=24
        ),
    ]
    reasons = set(catalogue())
    outcomes = set()
    for case in range(160):
        original = originals[case % 2]
        parts = apkfactory.split_zip(original.read_bytes())
        block = bytearray(parts.block)
        entries = parts.entries
        if case % 3:
            for _ in range(rng.randint(1, 4)):
                at = rng.randrange(len(block) - 4)
                value = rng.choice([0, 3, 4, 0x7FFFFFFF, 0xFFFFFFFF, rng.randrange(1 << 32)])
                block[at : at + 4] = value.to_bytes(4, "little")
        else:
            files = apkfactory.read_entries(original)
            name = rng.choice(sorted(n for n in files if n.startswith("META-INF/")) or ["x"])
            damaged = bytearray(files.get(name, b""))
            for _ in range(rng.randint(1, 6)):
                if damaged:
                    damaged[rng.randrange(len(damaged))] = rng.randrange(256)
            files[name] = bytes(damaged[: rng.randrange(len(damaged) + 1)] if case % 2 else damaged)
            rebuilt = apkfactory.split_zip(
                apkfactory.write_zip(tmp_path / "m.apk", files).read_bytes()
            )
            entries = rebuilt.entries
            parts = apkfactory.ZipParts(entries, b"", rebuilt.central_directory, rebuilt.eocd)
        path = tmp_path / f"case{case}.apk"
        path.write_bytes(apkfactory.join_zip(
            apkfactory.ZipParts(entries, bytes(block), parts.central_directory, parts.eocd)))  # fmt: skip
        facts = analyse_apk(path)
        assert facts.readable
        assert facts.signature_verified or facts.signature_reason in reasons, facts.signature_reason
        outcomes.add(facts.signature_reason)
    assert len(outcomes) >= 4  # the mutations reach several different checks


def test_corrupt_entry_data_is_a_reason_not_a_crash(
    tmp_path: Path, signer: apkfactory.SigningKey
) -> None:
    """Deflate data broken inside a large entry (inflated by ISA-L) and a small one (zlib)."""
    import random
    import struct
    import zipfile

    noise = random.Random(5).randbytes(200_000)
    files = {
        "AndroidManifest.xml": apkfactory.manifest(PACKAGE, min_sdk=21, target_sdk=29),
        "classes.dex": apkfactory.dex_file([f"{PACKAGE}.MainActivity"]),
        "assets/big.txt": (b"lesson plan " * 40_000) + noise,
        "assets/small.txt": b"small " * 200,
    }
    files.update(apkfactory.v1_signature(files, signer))
    genuine = apkfactory.write_zip(tmp_path / "genuine.apk", files)
    assert verdict(analyse_apk(genuine)) == (True, [signer.sha256])
    data = genuine.read_bytes()
    for name in ("assets/big.txt", "assets/small.txt"):
        with zipfile.ZipFile(genuine) as archive:
            info = archive.getinfo(name)
        at, span = info.header_offset, min(64, info.compress_size)
        name_len, extra_len = struct.unpack_from("<HH", data, at + 26)
        start = at + 30 + name_len + extra_len
        broken = bytearray(data)
        broken[start : start + span] = bytes(span)  # its deflate block headers ruined
        path = tmp_path / f"broken-{name.rsplit('/', 1)[1]}.apk"
        path.write_bytes(bytes(broken))
        facts = analyse_apk(path)
        assert not facts.signature_verified
        assert facts.signature_reason in {"v1-entry-unreadable", "v1-entry-modified"}, name


@pytest.mark.shared
def test_v31_block_stripped_from_a_rotated_apk(fixture_apks: Path, tmp_path: Path) -> None:
    """The v3 signer names the SDK from which the rotated key (v3.1) applies; removing the
    v3.1 block to fall back to the old key is caught, as Android 13+ does."""
    import struct

    original = fixture_apks / "ag-apksig-v31-ec-p256.apk"
    parts = apkfactory.split_zip(original.read_bytes())
    block, pairs, at = parts.block, [], 8
    while at < len(block) - 24:
        (length,) = struct.unpack_from("<Q", block, at)
        (pair_id,) = struct.unpack_from("<I", block, at + 8)
        pairs.append((pair_id, block[at + 12 : at + 8 + length]))
        at += 8 + length
    assert 0x1B93AD61 in {i for i, _ in pairs}
    kept = [(i, v) for i, v in pairs if i != 0x1B93AD61]
    stripped = tmp_path / "stripped-v31.apk"
    stripped.write_bytes(apkfactory.join_zip(apkfactory.ZipParts(
        parts.entries, apkfactory.signing_block(kept), parts.central_directory, parts.eocd)))  # fmt: skip
    facts = analyse_apk(stripped)
    assert not facts.signature_verified
    assert (facts.signature_reason, facts.signature_detail) == ("stripped-scheme", "v3.1")
    # Below Android 13 nothing looks at v3.1, and the rest still verifies.
    assert verify_file(stripped, max_sdk=32).verified


def test_local_header_that_disagrees_with_the_directory(
    tmp_path: Path, signer: apkfactory.SigningKey
) -> None:
    """One name in the central directory, another in the local header: readers disagree on
    what the file holds, and Android refuses it (so does apksigner)."""
    genuine = apkfactory.simple_apk(tmp_path / "genuine.apk", signer=signer, schemes=("v1",),
                                    target_sdk=29)  # fmt: skip
    data = bytearray(genuine.read_bytes())
    at = bytes(data).index(b"classes.dex")  # the first occurrence is its local header
    data[at : at + len("classes.dex")] = b"classes.dey"
    path = tmp_path / "renamed.apk"
    path.write_bytes(bytes(data))
    facts = analyse_apk(path)
    assert not facts.signature_verified
    assert facts.signature_reason == "v1-entry-unreadable"
    assert "names another file" in facts.signature_detail
    if APKSIGNER is not None:
        assert apksigner(path) == (False, [])
