"""Which signature schemes must verify, and the verdict: Android's rules, as apksig's
ApkVerifier applies them for the APK's [minSdk from the manifest, any newer version].

Android 13+ checks v3.1, 9+ v3, 7+ v2 when no v3 was found (or for older versions in
range), and v1 (JAR) before 7 or when no v2+ block exists; a block that is present must
verify, and the schemes must name the same signer. The checks themselves live in
`jarsig` (v1) and `sigblock` (v2/v3/v3.1); this module asks them, in two steps around
the single read of the file: `plan_signing` before it (what to digest), `finish_signing`
after it (compare, decide, describe).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import BinaryIO

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa

from scanner.apk.facts import SIGNING_SCHEMES, SchemeSigner, SchemeVerification, Signer
from scanner.apk.filepass import PassPlan, read_once
from scanner.apk.jarsig import (
    V1Prepared,
    V1Result,
    finish_v1,
    has_v1_files,
    prepare_v1,
    v1_certificates,
)
from scanner.apk.manifest import parse_manifest
from scanner.apk.problems import Problem
from scanner.apk.sigblock import (
    MAX_SDK,
    NOUGAT,
    PAGE,
    PIE,
    SCHEME_BLOCK_IDS,
    TIRAMISU,
    SchemePrepared,
    SchemeResult,
    SigningBlock,
    finish_scheme,
    locate_block,
    prepare_scheme,
)
from scanner.apk.sigcrypto import lenient_certificates
from scanner.apk.ziparchive import (
    DEFAULT_LIMITS,
    Directory,
    Failure,
    Limits,
    read_directory,
    read_member,
)

_SCHEME_NUMBER = {"v2": 2, "v3": 3, "v3.1": 31}
ANDROID_R = 30
"""From Android 11, an APK targeting it must carry v2 or newer."""


@dataclass
class SigningPlan:
    """The signature checks prepared before the single read, and what that read must digest."""

    min_sdk: int
    target_sdk: int
    max_sdk: int
    block: SigningBlock | None
    block_problem: Problem | None
    prepared: dict[str, SchemePrepared] = field(default_factory=dict)
    """Schemes Android checks for this SDK range, in the order it checks them."""
    unchecked: dict[str, SchemePrepared] = field(default_factory=dict)
    v1: V1Prepared | None = None
    v1_unchecked: V1Prepared | None = None
    rotation_min_sdk: int | None = None
    stop: Problem | None = None
    """A defect found before the read that already decides the verdict."""
    has_v1_files: bool = False

    @property
    def entry_digests(self) -> dict[str, tuple[str, ...]]:
        if self.v1 is None or self.v1.problem is not None or self.stop is not None:
            return {}
        return {name: tuple(h for h, _ in pairs) for name, pairs in self.v1.digests.items()}

    @property
    def content_kinds(self) -> frozenset[str]:
        if self.stop is not None:
            return frozenset()
        kinds: set[str] = set()
        for prepared in self.prepared.values():
            if prepared.problem is None:
                kinds |= prepared.digest_kinds
        return frozenset(kinds)

    @property
    def block_offset(self) -> int:
        return self.block.offset if self.block is not None else 0


@dataclass(frozen=True)
class SigningInfo:
    """The schemes present, every certificate they carry, and the verdict."""

    schemes: tuple[str, ...]
    signers: tuple[Signer, ...]
    verifications: tuple[SchemeVerification, ...]
    verified: bool
    problem: Problem | None
    problems: tuple[str, ...] = ()


def plan_signing(
    fh: BinaryIO,
    directory: Directory,
    *,
    min_sdk: int | None,
    target_sdk: int | None,
    max_sdk: int = MAX_SDK,
    limits: Limits = DEFAULT_LIMITS,
) -> SigningPlan:
    """Everything that can be checked before the read: the signing block's signers (their
    signatures over signed data) and META-INF (the PKCS#7 over each .SF, the .SF over the
    manifest); says which entry and content digests the read must compute."""
    low = 1 if min_sdk is None else max(min_sdk, 0)
    target = target_sdk if target_sdk is not None else low
    located = locate_block(fh, directory, limits)
    block = located if isinstance(located, SigningBlock) else None
    high = max(max_sdk, low)
    plan = SigningPlan(low, target, high, block, located if isinstance(located, Problem) else None)
    if high < NOUGAT:
        block = None  # Android before 7 never looks at the signing block
    names = [m.name for m in directory.entries]
    plan.has_v1_files = has_v1_files(names)
    if directory.cd_truncated:
        # apksig refuses such a file outright: it is not a well-formed zip archive.
        plan.stop = Problem("zip-malformed", "central directory overlaps its end record")
        return plan
    found: set[int] = set()

    v31 = block.find(SCHEME_BLOCK_IDS["v3.1"]) if block is not None and high >= TIRAMISU else None
    if v31 is not None:
        prepared = prepare_scheme("v3.1", v31, min_sdk=high, max_sdk=high, found=found)
        found.add(31)
        plan.prepared["v3.1"] = prepared
        if prepared.problem is not None:
            plan.stop = prepared.problem
            return plan
        plan.rotation_min_sdk = min((s.min_sdk for s in prepared.signers), default=0) or None
    v3 = block.find(SCHEME_BLOCK_IDS["v3"]) if block is not None and high >= PIE else None
    if v3 is not None:
        prepared = prepare_scheme("v3", v3, min_sdk=max(low, PIE), max_sdk=high, found=found,
                                  rotation_min_sdk=plan.rotation_min_sdk)  # fmt: skip
        found.add(3)
        plan.prepared["v3"] = prepared
        if prepared.problem is not None:
            plan.stop = prepared.problem
            return plan
    elif 31 in found:
        plan.stop = Problem("stripped-scheme", "v3")
        return plan
    v2 = block.find(SCHEME_BLOCK_IDS["v2"]) if block is not None else None
    if v2 is not None:
        prepared = prepare_scheme("v2", v2, min_sdk=max(low, NOUGAT), max_sdk=high, found=found)
        if low < PIE or not found:
            found.add(2)
            plan.prepared["v2"] = prepared
            if prepared.problem is not None:
                plan.stop = prepared.problem
                return plan
        else:
            plan.unchecked["v2"] = prepared

    def read(name: str) -> bytes | Failure:
        member = directory.members.get(name)
        if member is None:
            return Failure(f"{name} is missing")
        return read_member(fh, directory, member, limits.max_meta_inf_entry, limits)

    # v1 defects are reported after the block's (content digests included), as apksig
    # checks v1 last; they still decide the verdict.
    if low < NOUGAT or not found:
        if not plan.has_v1_files:
            if found:
                plan.v1 = V1Prepared(Problem("v1-missing", str(low)))
            else:
                plan.stop = plan.block_problem or Problem("unsigned")
            return plan
        plan.v1 = prepare_v1(names, read, found, low, high)
    elif plan.has_v1_files:
        plan.v1_unchecked = v1_certificates(names, read)
    return plan


def verify_file(
    path: Path, *, max_sdk: int = MAX_SDK, limits: Limits = DEFAULT_LIMITS
) -> SigningInfo:
    """Only the signature verdict of one APK, for an SDK range ending at `max_sdk` (the
    whole analysis gets it from `analyse_apk`); a file that is no zip gives a Failure's
    reason as a `zip-malformed` problem."""
    with path.open("rb") as fh:
        directory = read_directory(fh, os.fstat(fh.fileno()).st_size, limits)
        if isinstance(directory, Failure):
            return SigningInfo((), (), (), False, Problem("zip-malformed", directory.reason))
        member = directory.members.get("AndroidManifest.xml")
        raw = read_member(fh, directory, member, limits.max_manifest, limits) if member else None
        manifest = parse_manifest(raw) if isinstance(raw, bytes) else None
        if manifest is None or isinstance(manifest, Failure) or not manifest.package:
            return SigningInfo((), (), (), False, Problem("no-android-manifest"))
        plan = plan_signing(fh, directory, min_sdk=manifest.min_sdk,
                            target_sdk=manifest.target_sdk, max_sdk=max_sdk, limits=limits)  # fmt: skip
        read = read_once(
            fh,
            directory,
            PassPlan(plan.entry_digests, frozenset(), plan.content_kinds, plan.block_offset),
        )
        if isinstance(read, Failure):
            return SigningInfo((), (), (), False, Problem("zip-malformed", read.reason))
        return finish_signing(plan, directory, read.entry_digests, read.content)


def finish_signing(
    plan: SigningPlan,
    directory: Directory,
    entry_digests: Mapping[str, Mapping[str, bytes] | Failure],
    content: Mapping[str, bytes],
) -> SigningInfo:
    """The verdict once the read has produced the digests, with every scheme described."""
    results: dict[str, SchemeResult] = {}
    problem = plan.stop
    aligned = (
        plan.block is not None
        and plan.block.offset % PAGE == 0
        and (directory.cd_offset - plan.block.offset) % PAGE == 0
    )
    if problem is None:
        for scheme, prepared in plan.prepared.items():
            low = max(plan.min_sdk, PIE) if scheme == "v3" else plan.min_sdk
            result = finish_scheme(
                prepared,
                content,
                min_sdk=low,
                max_sdk=plan.max_sdk,
                rotation_min_sdk=plan.rotation_min_sdk if scheme == "v3" else None,
                aligned_for_verity=aligned,
            )
            results[scheme] = result
            if result.problem is not None:
                problem = result.problem
                break
    v1 = finish_v1(plan.v1, entry_digests) if plan.v1 is not None else None
    if problem is None and v1 is not None and v1.problem is not None:
        problem = v1.problem
    if problem is None:
        problem = _consistency(results, v1)
    if (
        problem is None
        and plan.target_sdk >= ANDROID_R
        and plan.max_sdk >= plan.target_sdk
        and not any(r.verified for s, r in results.items() if s in ("v2", "v3", "v3.1"))
    ):
        problem = Problem("scheme-required-for-target", str(plan.target_sdk))
    verified = problem is None and (bool(results) or v1 is not None)
    if verified and not results and v1 is not None and not v1.verified:
        verified = False
    return _describe_all(plan, results, v1, verified, problem)


def _consistency(results: Mapping[str, SchemeResult], v1: V1Result | None) -> Problem | None:
    """The schemes must name the same signer (and a rotated v3 key descend from it)."""
    v1_certs = [s.certificate for s in v1.signers] if v1 is not None and v1.verified else []
    v2 = results.get("v2")
    v2_certs = [s.certificate for s in v2.signers] if v2 is not None and v2.verified else []
    if (
        v1_certs
        and v2_certs
        and (any(c not in v2_certs for c in v1_certs) or any(c not in v1_certs for c in v2_certs))
    ):
        return Problem("signers-differ", "v1 / v2")
    v3 = results.get("v3")
    if v3 is None or not v3.verified or not (v1_certs or v2_certs):
        return None
    older = v1_certs if v1_certs else v2_certs
    if len(older) != 1:
        return Problem("signers-differ", "v3 / several older signers")
    lineage = list(v3.lineage)
    v31 = results.get("v3.1")
    if v31 is not None and v31.lineage and not lineage:
        lineage = list(v31.lineage)
    if not lineage:
        if len(v3.signers) != 1 or v3.signers[0].certificate != older[0]:
            return Problem("signers-differ", "v3 / " + ("v1" if v1_certs else "v2"))
        return None
    if lineage[0] != older[0]:
        return Problem("signers-differ", "v3 lineage / " + ("v1" if v1_certs else "v2"))
    return None


def _describe_all(
    plan: SigningPlan,
    results: Mapping[str, SchemeResult],
    v1: V1Result | None,
    verified: bool,
    problem: Problem | None,
) -> SigningInfo:
    verifications: list[SchemeVerification] = []
    carried: dict[str, list[str]] = {}  # certificate SHA-256 → schemes
    ders: dict[str, bytes] = {}
    trusted: set[str] = set()
    lineage: set[str] = set()
    problems: list[str] = []
    if plan.block_problem is not None:
        problems.append(f"broken APK signature block: {plan.block_problem.detail}")

    def note(scheme: str, certificate: bytes | None) -> str:
        if certificate is None:
            return ""
        digest = hashlib.sha256(certificate).hexdigest()
        ders.setdefault(digest, certificate)
        schemes = carried.setdefault(digest, [])
        if scheme not in schemes:
            schemes.append(scheme)
        return digest

    for scheme in ("v3.1", "v3", "v2"):
        prepared = plan.prepared.get(scheme) or plan.unchecked.get(scheme)
        if prepared is None:
            continue
        checked = scheme in plan.prepared
        result = results.get(scheme)
        scheme_ok = result is not None and result.verified
        scheme_problem = result.problem if result is not None else prepared.problem
        if checked and result is None and scheme_problem is None and problem is not None:
            scheme_problem = None  # not reached: an earlier scheme already failed
        signers = []
        for signer in prepared.signers:
            digest = note(scheme, signer.certificate)
            own = signer.problem
            signers.append(SchemeSigner(digest, scheme_ok and own is None,
                                        own.code if own else "", own.detail if own else ""))  # fmt: skip
        verifications.append(
            SchemeVerification(
                scheme,
                checked,
                scheme_ok,
                scheme_problem.code if scheme_problem and checked else "",
                scheme_problem.detail if scheme_problem and checked else "",
                tuple(signers),
            )
        )
        if scheme_ok and result is not None:
            # Earlier keys of a rotation are listed, but not as signers of this scheme.
            for certificate in result.lineage[:-1]:
                digest = hashlib.sha256(certificate).hexdigest()
                ders.setdefault(digest, certificate)
                carried.setdefault(digest, [])
                lineage.add(digest)
    v1_prepared = plan.v1 if plan.v1 is not None else plan.v1_unchecked
    if v1_prepared is not None and plan.has_v1_files:
        checked = plan.v1 is not None
        v1_ok = v1 is not None and v1.verified
        v1_problem = v1.problem if v1 is not None else v1_prepared.problem
        signers = []
        for jar_signer in v1.signers if v1 is not None else tuple(v1_prepared.signers):
            digest = note("v1", jar_signer.certificate)
            own = jar_signer.problem
            signers.append(SchemeSigner(digest, v1_ok and own is None,
                                        own.code if own else "", own.detail if own else ""))  # fmt: skip
        verifications.append(
            SchemeVerification(
                "v1",
                checked,
                v1_ok,
                v1_problem.code if v1_problem and checked else "",
                v1_problem.detail if v1_problem and checked else "",
                tuple(signers),
            )
        )
    elif plan.has_v1_files:
        verifications.append(SchemeVerification("v1", False, False))

    apk_signers = _apk_signers(results, v1)
    if verified:
        trusted = apk_signers | lineage
    order = {s: i for i, s in enumerate(SIGNING_SCHEMES)}
    verifications.sort(key=lambda v: order[v.scheme])
    signers_out = []
    for digest, schemes in carried.items():
        ordered = tuple(s for s in SIGNING_SCHEMES if s in schemes)
        described = describe_certificate(ders[digest], ordered)
        if isinstance(described, Failure):
            problems.append(described.reason)
            described = Signer(schemes=ordered, sha256=digest)
        signers_out.append(
            replace(
                described,
                verified=digest in trusted,
                lineage=digest in lineage and digest not in apk_signers,
            )
        )
    present = {v.scheme for v in verifications}
    return SigningInfo(
        schemes=tuple(s for s in SIGNING_SCHEMES if s in present),
        signers=tuple(signers_out),
        verifications=tuple(verifications),
        verified=verified,
        problem=None if verified else (problem or Problem("unsigned")),
        problems=tuple(problems),
    )


def _apk_signers(results: Mapping[str, SchemeResult], v1: V1Result | None) -> set[str]:
    """The certificates apksig reports as the APK's signers: the newest scheme verified."""
    for scheme in ("v3.1", "v3"):
        result = results.get(scheme)
        if result is not None and result.verified and result.signers:
            certificate = result.signers[-1].certificate
            return {hashlib.sha256(certificate).hexdigest()} if certificate else set()
    v2 = results.get("v2")
    if v2 is not None and v2.verified:
        return {hashlib.sha256(s.certificate).hexdigest() for s in v2.signers if s.certificate}
    if v1 is not None and v1.verified:
        return {hashlib.sha256(s.certificate).hexdigest() for s in v1.signers if s.certificate}
    return set()


def describe_certificate(der: bytes, schemes: tuple[str, ...]) -> Signer | Failure:
    """A `Signer` from DER bytes: fingerprint, names, validity and key type."""
    digest = hashlib.sha256(der).hexdigest()
    with lenient_certificates():
        return _describe(der, digest, schemes)


def _describe(der: bytes, digest: str, schemes: tuple[str, ...]) -> Signer | Failure:
    try:
        cert = x509.load_der_x509_certificate(der)
        subject = _name(cert.subject)
        issuer = _name(cert.issuer)
        not_before = cert.not_valid_before_utc.isoformat()
        not_after = cert.not_valid_after_utc.isoformat()
        key = _key(cert)
    except Exception as exc:  # cryptography raises several kinds for odd certificates
        return Failure(f"signing certificate {digest[:12]}… could not be parsed ({exc})")
    return Signer(
        schemes=schemes,
        sha256=digest,
        subject=subject,
        issuer=issuer,
        not_before=not_before,
        not_after=not_after,
        key=key,
    )


def _name(name: x509.Name) -> str:
    # Most-specific first (CN=…, O=…, C=…), the way keytool and apksigner print names.
    parts = []
    for rdn in reversed(name.rdns):
        for attribute in rdn:
            value = attribute.value
            text = value if isinstance(value, str) else value.hex()
            parts.append(f"{attribute.rfc4514_attribute_name}={text}")
    return ", ".join(parts)


def _key(cert: x509.Certificate) -> str:
    try:
        key = cert.public_key()
    except Exception:  # cryptography raises several kinds for odd keys
        return "unknown"
    if isinstance(key, rsa.RSAPublicKey):
        return f"RSA {key.key_size}"
    if isinstance(key, ec.EllipticCurvePublicKey):
        return f"EC {key.curve.name}"
    if isinstance(key, dsa.DSAPublicKey):
        return f"DSA {key.key_size}"
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "Ed25519"
    if isinstance(key, ed448.Ed448PublicKey):
        return "Ed448"
    return type(key).__name__
