"""v1 (JAR) signature verification, following Android's rules as apksig's V1SchemeVerifier does.

Split in two so the entries' digests can come from the single read of the file:
`prepare_v1` checks everything in META-INF (the PKCS#7 signature over each .SF, the .SF
digests of MANIFEST.MF or of its sections, which entries are covered) and says which
digest of which entry to compute; `finish_v1` compares the digests the read produced.
Reference: https://source.android.com/docs/security/features/apksigning#v1
"""

from __future__ import annotations

import base64
import binascii
import csv
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources

from cryptography import x509

from scanner.apk import der
from scanner.apk.jarmanifest import Manifest, Section, parse_manifest
from scanner.apk.problems import Problem
from scanner.apk.sigcrypto import (
    KeyKind,
    certificate_key,
    digest,
    lenient_certificates,
    load_certificate,
    verify,
)
from scanner.apk.ziparchive import Failure

MANIFEST_NAME = "META-INF/MANIFEST.MF"
BLOCK_SUFFIXES = (".RSA", ".DSA", ".EC")
MAX_SIGNERS = 10
"""apksig refuses more JAR signers than this (a cost cap against hostile APKs)."""
SCHEME_IDS = {2: "v2", 3: "v3"}
"""Ids in `X-Android-APK-Signed` that Android knows; others are ignored."""

JELLY_BEAN_MR2 = 18
NOUGAT = 24
KITKAT = 19
GINGERBREAD = 9

_OID_SIGNED_DATA = "1.2.840.113549.1.7.2"
_OID_CONTENT_TYPE = "1.2.840.113549.1.9.3"
_OID_MESSAGE_DIGEST = "1.2.840.113549.1.9.4"
_DIGEST_OIDS = {
    "1.2.840.113549.2.5": "MD5",
    "1.3.14.3.2.26": "SHA-1",
    "2.16.840.1.101.3.4.2.4": "SHA-224",
    "2.16.840.1.101.3.4.2.1": "SHA-256",
    "2.16.840.1.101.3.4.2.2": "SHA-384",
    "2.16.840.1.101.3.4.2.3": "SHA-512",
}
# Digest attributes in manifests, strongest first, as Android from 4.3 picks them.
_STRONGEST_FIRST = ("SHA-512", "SHA-384", "SHA-256", "SHA-1")
_MANIFEST_DIGEST_NAMES = {
    "MD5": "MD5",
    "SHA": "SHA-1",
    "SHA1": "SHA-1",
    "SHA-1": "SHA-1",
    "SHA-256": "SHA-256",
    "SHA-384": "SHA-384",
    "SHA-512": "SHA-512",
}
_MANIFEST_DIGEST_SINCE = {"MD5": 0, "SHA-1": 0, "SHA-256": 0, "SHA-384": GINGERBREAD, "SHA-512": 9}
# Critical extensions the platform's certificate code understands; any other fails.
_KNOWN_CRITICAL = {
    "2.5.29.15",  # keyUsage
    "2.5.29.19",  # basicConstraints
    "2.5.29.37",  # extKeyUsage
    "2.5.29.17",  # subjectAltName
    "2.5.29.18",  # issuerAltName
    "2.5.29.30",  # nameConstraints
    "2.5.29.32",  # certificatePolicies
    "2.5.29.33",  # policyMappings
    "2.5.29.36",  # policyConstraints
    "2.5.29.54",  # inhibitAnyPolicy
}

ExpectedDigests = tuple[tuple[str, bytes], ...]
"""(JCA digest name, expected digest) pairs for one entry."""


@dataclass(frozen=True)
class JarSigner:
    """One signature block file and what came of checking it."""

    name: str
    """The block file, e.g. META-INF/CERT.RSA."""
    certificate: bytes | None
    """DER of the signing certificate, once known."""
    problem: Problem | None = None


@dataclass
class V1Prepared:
    """META-INF checked; what the single read must still digest, or the verdict already."""

    problem: Problem | None
    signers: list[JarSigner] = field(default_factory=list)
    digests: dict[str, ExpectedDigests] = field(default_factory=dict)
    """Entry name → digests to compute over its uncompressed bytes."""


@dataclass(frozen=True)
class V1Result:
    verified: bool
    problem: Problem | None
    signers: tuple[JarSigner, ...]


def has_v1_files(names: Sequence[str]) -> bool:
    """Whether the APK carries any JAR-signing file at all (manifest, .SF or block)."""
    return any(
        n == MANIFEST_NAME or (n.startswith("META-INF/") and n.endswith((".SF", *BLOCK_SUFFIXES)))
        for n in names
    )


def prepare_v1(
    names: Sequence[str],
    read: Callable[[str], bytes | Failure],
    found_schemes: set[int],
    min_sdk: int,
    max_sdk: int,
) -> V1Prepared:
    """Check the JAR signature's META-INF files; `names` are all entries, in directory order."""
    seen: set[str] = set()
    for name in names:
        if name in seen:
            return V1Prepared(Problem("v1-duplicate-entry", name))
        seen.add(name)
    manifest_name = None
    sig_files: set[str] = set()
    blocks: list[str] = []
    for name in names:
        if not name.startswith("META-INF/"):
            continue
        if manifest_name is None and name == MANIFEST_NAME:
            manifest_name = name
        elif name.endswith(".SF"):
            sig_files.add(name)
        elif name.endswith(BLOCK_SUFFIXES):
            blocks.append(name)
    if manifest_name is None:
        return V1Prepared(Problem("v1-no-manifest"))
    manifest_bytes = read(manifest_name)
    if isinstance(manifest_bytes, Failure):
        return V1Prepared(Problem("v1-unreadable", f"{manifest_name}: {manifest_bytes.reason}"))
    manifest = parse_manifest(manifest_bytes)
    sections: dict[str, Section] = {}
    for number, section in enumerate(manifest.sections, 1):
        if section.name is None:
            return V1Prepared(Problem("v1-manifest-malformed", f"section {number} has no name"))
        if section.name in sections:
            return V1Prepared(Problem("v1-manifest-malformed", f"{section.name} listed twice"))
        if section.name not in seen:
            return V1Prepared(Problem("v1-entry-removed", section.name))
        sections[section.name] = section

    pairs = [(b, b.rsplit(".", 1)[0] + ".SF") for b in blocks]
    pairs = [(b, sf) for b, sf in pairs if sf in sig_files]
    if not pairs:
        return V1Prepared(Problem("v1-no-signature"))
    if len(pairs) > MAX_SIGNERS:
        return V1Prepared(Problem("v1-too-many-signers", str(len(pairs))))

    signers: list[tuple[JarSigner, bytes]] = []
    for block_name, sf_name in pairs:
        block = read(block_name)
        sf = read(sf_name)
        if isinstance(block, Failure) or isinstance(sf, Failure):
            failed = block if isinstance(block, Failure) else sf
            assert isinstance(failed, Failure)
            return V1Prepared(Problem("v1-unreadable", failed.reason))
        signer = _verify_block(block_name, block, sf, min_sdk, max_sdk)
        if signer.problem is not None:
            return V1Prepared(signer.problem, [signer])
        signers.append((signer, sf))

    # Each .SF against the manifest; a signer whose .SF is malformed is ignored, not fatal.
    kept: list[tuple[JarSigner, set[str]]] = []
    for signer, sf in signers:
        checked = _check_sf(signer, sf, manifest_bytes, manifest, sections, found_schemes,
                            min_sdk, max_sdk)  # fmt: skip
        if isinstance(checked, Problem):
            if checked.code == "v1-sf-ignored":
                continue
            return V1Prepared(checked, [signer])
        kept.append((signer, checked))
    if not kept:
        return V1Prepared(Problem("v1-no-signature"), [s for s, _ in signers])

    # Which entries must be digested, and by whom they are signed.
    digests: dict[str, ExpectedDigests] = {}
    first: list[JarSigner] | None = None
    for name in names:
        if name.startswith("META-INF/") or name.endswith("/"):
            continue
        entry_section = sections.get(name)
        if entry_section is None:
            return V1Prepared(Problem("v1-entry-added", name), [s for s, _ in kept])
        entry_signers = [s for s, covered in kept if name in covered]
        if not entry_signers:
            return V1Prepared(Problem("v1-entry-not-signed", name), [s for s, _ in kept])
        if first is None:
            first = entry_signers
        elif entry_signers != first:
            return V1Prepared(Problem("v1-signers-differ", name), [s for s, _ in kept])
        expected = _digests_to_verify(entry_section, "-Digest", min_sdk, max_sdk)
        if isinstance(expected, Problem):
            return V1Prepared(Problem(expected.code, name), [s for s, _ in kept])
        if not expected:
            return V1Prepared(Problem("v1-entry-added", name), [s for s, _ in kept])
        digests[name] = expected
    if first is None:
        return V1Prepared(Problem("v1-no-signed-entries"), [s for s, _ in kept])
    return V1Prepared(None, first, digests)


def v1_certificates(names: Sequence[str], read: Callable[[str], bytes | Failure]) -> V1Prepared:
    """The signers' certificates of a v1 signature Android does not check for this APK's
    SDK range: shown for information, so nothing is verified (and nothing costs much)."""
    out = V1Prepared(None)
    present = set(names)
    for name in names:
        if not (name.startswith("META-INF/") and name.endswith(BLOCK_SUFFIXES)):
            continue
        if name.rsplit(".", 1)[0] + ".SF" not in present:
            continue
        block = read(name)
        parsed = Failure(block.reason) if isinstance(block, Failure) else _parse_signed_data(block)
        if isinstance(parsed, Failure) or not parsed[2]:
            out.signers.append(JarSigner(name, None))
            continue
        _, certificates, infos = parsed
        loaded = []
        for cert_der in certificates:
            certificate = load_certificate(cert_der)
            if not isinstance(certificate, Failure):
                loaded.append((cert_der, certificate, der.certificate_parts(cert_der)))
        found = _find_certificate(infos[0], loaded)
        out.signers.append(JarSigner(name, found[0] if found is not None else None))
    return out


def finish_v1(
    prepared: V1Prepared, computed: Mapping[str, Mapping[str, bytes] | Failure]
) -> V1Result:
    """Compare the entry digests from the read with the manifest's; the first mismatch fails."""
    signers = tuple(prepared.signers)
    if prepared.problem is not None:
        return V1Result(False, prepared.problem, signers)
    for name, expected in prepared.digests.items():
        actual = computed.get(name)
        if actual is None:
            return V1Result(False, Problem("v1-entry-unreadable", name), signers)
        if isinstance(actual, Failure):
            return V1Result(
                False, Problem("v1-entry-unreadable", f"{name}: {actual.reason}"), signers
            )
        for hash_name, value in expected:
            if actual.get(hash_name) != value:
                return V1Result(False, Problem("v1-entry-modified", name), signers)
    return V1Result(True, None, signers)


# --------------------------------------------------------------------------- .SF vs manifest


def _check_sf(
    signer: JarSigner,
    sf: bytes,
    manifest_bytes: bytes,
    manifest: Manifest,
    sections: Mapping[str, Section],
    found_schemes: set[int],
    min_sdk: int,
    max_sdk: int,
) -> set[str] | Problem:
    """The entry names the .SF covers, once its digests of the manifest check out."""
    parsed = parse_manifest(sf)
    main = parsed.main
    if main is None or main.get("Signature-Version") is None:
        return Problem("v1-sf-ignored")
    if max_sdk >= NOUGAT:
        stripped = _stripped_scheme(main, found_schemes, max_sdk)
        if stripped is not None:
            return stripped
    created_by = main.get("Created-By") or ""
    by_signtool = "signtool" in created_by
    whole = _digests_to_verify(
        main, "-Digest" if by_signtool else "-Digest-Manifest", min_sdk, max_sdk
    )
    if isinstance(whole, Problem):
        return whole
    whole_verified = bool(whole) and all(digest(h, manifest_bytes) == v for h, v in whole)
    if not by_signtool and manifest.main is not None:
        main_digests = _digests_to_verify(
            main, "-Digest-Manifest-Main-Attributes", min_sdk, max_sdk
        )
        if isinstance(main_digests, Problem):
            return main_digests
        span = manifest_bytes[manifest.main.start : manifest.main.start + manifest.main.size]
        for hash_name, value in main_digests:
            if digest(hash_name, span) != value:
                return Problem("v1-sf-manifest-mismatch", "main attributes")
    covered: set[str] = set()
    for section in parsed.sections:
        name = section.name
        if name is None or name in covered:
            return Problem("v1-sf-ignored")
        covered.add(name)
        if whole_verified:
            continue
        entry = sections.get(name)
        if entry is None:
            # The .SF names an entry the manifest lacks: Android ignores this signer.
            return Problem("v1-sf-ignored")
        expected = _digests_to_verify(section, "-Digest", min_sdk, max_sdk)
        if isinstance(expected, Problem):
            return expected
        if not expected:
            return Problem("v1-sf-manifest-mismatch", name)
        size = entry.size
        if by_signtool and manifest_bytes[entry.start + size - 2 : entry.start + size] == b"\n\n":
            size -= 1
        span = manifest_bytes[entry.start : entry.start + size]
        for hash_name, value in expected:
            if digest(hash_name, span) != value:
                return Problem("v1-sf-manifest-mismatch", name)
    return covered


def _stripped_scheme(main: Section, found: set[int], max_sdk: int) -> Problem | None:
    """The .SF says the APK was also signed with v2/v3 (`X-Android-APK-Signed`), yet the
    APK Signing Block lacks that scheme: someone stripped it to fall back to v1."""
    listed = main.get("X-Android-APK-Signed")
    if listed is None:
        return None
    known = {2, 3} if max_sdk >= 28 else {2}
    for token in listed.split(","):
        token = token.strip()
        if not token.isdigit():
            continue
        scheme = int(token)
        if scheme in known and scheme not in found:
            return Problem("stripped-scheme", SCHEME_IDS[scheme])
    return None


def _digests_to_verify(
    section: Section, suffix: str, min_sdk: int, max_sdk: int
) -> ExpectedDigests | Problem:
    """The digests Android checks for a section over [min_sdk, max_sdk]."""
    out: list[tuple[str, bytes]] = []
    if min_sdk < JELLY_BEAN_MR2:
        # Before 4.3: the Digest-Algorithms list (default "SHA SHA1"), first one present.
        names = (section.get("Digest-Algorithms") or "SHA SHA1").split()
        for alg in names:
            value = section.get(alg + suffix)
            if value is None:
                continue
            canonical = _MANIFEST_DIGEST_NAMES.get(alg.upper())
            if canonical is None or _MANIFEST_DIGEST_SINCE[canonical] > min_sdk:
                continue
            decoded = _base64(value)
            if decoded is None:
                return Problem("v1-manifest-malformed", f"{alg}{suffix}")
            out.append((canonical, decoded))
            break
        if not out:
            return ()
    if max_sdk >= JELLY_BEAN_MR2:
        for alg in _STRONGEST_FIRST:
            attribute = ("SHA1" if alg == "SHA-1" else alg) + suffix
            value = section.get(attribute)
            if value is None:
                continue
            decoded = _base64(value)
            if decoded is None:
                return Problem("v1-manifest-malformed", attribute)
            if (alg, decoded) not in out:
                out.append((alg, decoded))
            break
    return tuple(out)


def _base64(text: str) -> bytes | None:
    try:
        return base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None


# --------------------------------------------------------------------------- PKCS#7


@dataclass(frozen=True)
class _SignerInfo:
    issuer: bytes
    serial: bytes
    digest_oid: str
    signature_oid: str
    signed_attributes: der.Tlv | None
    signature: bytes


def _verify_block(name: str, block: bytes, sf: bytes, min_sdk: int, max_sdk: int) -> JarSigner:
    """The PKCS#7 SignedData in `block` must carry a SignerInfo whose signature covers `sf`."""
    parsed = _parse_signed_data(block)
    if isinstance(parsed, Failure):
        return JarSigner(name, None, Problem("v1-block-malformed", f"{name}: {parsed.reason}"))
    content_type, certificates_der, infos = parsed
    if not infos:
        return JarSigner(name, None, Problem("v1-block-malformed", f"{name}: no SignerInfo"))
    certificates: list[tuple[bytes, x509.Certificate, der.CertificateParts | Failure]] = []
    for cert_der in certificates_der:
        loaded = load_certificate(cert_der)
        if isinstance(loaded, Failure):
            return JarSigner(name, None, Problem("v1-block-malformed", f"{name}: {loaded.reason}"))
        certificates.append((cert_der, loaded, der.certificate_parts(cert_der)))
    # Before Android 7 only the first SignerInfo counts; from 7 on, the first that verifies.
    candidates = infos[:1] if min_sdk < NOUGAT else infos
    for info in candidates:
        outcome = _verify_signer_info(info, certificates, content_type, sf, min_sdk, max_sdk)
        if isinstance(outcome, Problem):
            return JarSigner(name, None, Problem(outcome.code, f"{name}: {outcome.detail}"))
        if outcome is not None:
            return JarSigner(name, outcome)
    return JarSigner(name, None, Problem("v1-signature-forged", name))


def _verify_signer_info(
    info: _SignerInfo,
    certificates: Sequence[tuple[bytes, x509.Certificate, der.CertificateParts | Failure]],
    content_type: str,
    sf: bytes,
    min_sdk: int,
    max_sdk: int,
) -> bytes | Problem | None:
    """The signing certificate's DER if this SignerInfo verifies; None if it simply does
    not; a Problem for what Android treats as an error of the whole block."""
    levels = _supported_levels(info.digest_oid, info.signature_oid)
    if not _covers(levels, min_sdk, max_sdk):
        known = _algorithm_table().get((info.digest_oid, info.signature_oid))
        named = f"{known[0]}, {known[1]}" if known else f"{info.digest_oid}, {info.signature_oid}"
        return Problem("v1-unsupported-algorithm", f"{named}; Android {min_sdk}+")
    found = _find_certificate(info, certificates)
    if found is None:
        return Problem("v1-signature-forged", "signing certificate not in the block")
    cert_der, certificate = found
    refused = _certificate_refused(certificate)
    if refused is not None:
        return Problem("v1-signature-forged", refused)
    key = certificate_key(certificate)
    if isinstance(key, Failure):
        return Problem("v1-block-malformed", key.reason)
    hash_name, kind = _jca_algorithm(info.digest_oid, info.signature_oid)
    if hash_name is None or kind is None:
        return Problem("v1-unsupported-algorithm", info.signature_oid)
    if info.signed_attributes is not None:
        if min_sdk < KITKAT:
            return Problem("v1-unsupported-algorithm", "signed attributes before Android 4.4")
        attributes = _signed_attributes(info.signed_attributes)
        if isinstance(attributes, Failure):
            return Problem("v1-block-malformed", attributes.reason)
        if max_sdk >= NOUGAT:
            declared = attributes.get(_OID_CONTENT_TYPE)
            if declared is None:
                return Problem("v1-block-malformed", "no content type in signed attributes")
            declared_oid = der.read(declared)
            if isinstance(declared_oid, Failure):
                return Problem("v1-block-malformed", declared_oid.reason)
            if der.oid(declared_oid) != content_type:
                return None
        message_digest = attributes.get(_OID_MESSAGE_DIGEST)
        if message_digest is None:
            return Problem("v1-block-malformed", "no message digest in signed attributes")
        octets = der.expect(der.read(message_digest), der.OCTET_STRING, "message digest")
        if isinstance(octets, Failure):
            return Problem("v1-block-malformed", octets.reason)
        digest_name = _DIGEST_OIDS.get(info.digest_oid)
        if digest_name is None:
            return Problem("v1-unsupported-algorithm", info.digest_oid)
        if octets.value != digest(digest_name, sf):
            return None
        # Android signs the attributes' original encoding with the [0] tag made a SET.
        signed = b"\x31" + info.signed_attributes.encoded[1:]
    else:
        signed = sf
    outcome = verify(key, kind, hash_name, info.signature, signed)
    if isinstance(outcome, Failure):
        return Problem("v1-signature-forged", outcome.reason)
    return cert_der if outcome else None


def _parse_signed_data(block: bytes) -> tuple[str, list[bytes], list[_SignerInfo]] | Failure:
    content_info = der.expect(der.read(block), der.SEQUENCE, "ContentInfo")
    if isinstance(content_info, Failure):
        return content_info
    parts = content_info.children()
    if isinstance(parts, Failure):
        return parts
    if len(parts) < 2 or der.oid(parts[0]) != _OID_SIGNED_DATA or parts[1].tag != der.CONTEXT_0:
        return Failure("not PKCS#7 SignedData")
    signed_data = der.expect(
        der.read(block, parts[1].content, parts[1].end), der.SEQUENCE, "SignedData"
    )
    if isinstance(signed_data, Failure):
        return signed_data
    fields = signed_data.children()
    if isinstance(fields, Failure):
        return fields
    if len(fields) < 4 or fields[0].tag != der.INTEGER or fields[2].tag != der.SEQUENCE:
        return Failure("SignedData is incomplete")
    encap = fields[2].children()
    if isinstance(encap, Failure):
        return encap
    if not encap:
        return Failure("SignedData has no content type")
    content_type = der.oid(encap[0])
    if isinstance(content_type, Failure):
        return content_type
    rest = fields[3:]
    certificates: list[bytes] = []
    if rest and rest[0].tag == der.CONTEXT_0:
        items = rest[0].children()
        if isinstance(items, Failure):
            return items
        certificates = [i.encoded for i in items if i.tag == der.SEQUENCE]
        rest = rest[1:]
    if rest and rest[0].tag == der.CONTEXT_1:
        rest = rest[1:]  # CRLs: Android ignores them
    if len(rest) != 1 or rest[0].tag != der.SET:
        return Failure("SignedData has no SignerInfos")
    infos_raw = rest[0].children()
    if isinstance(infos_raw, Failure):
        return infos_raw
    infos: list[_SignerInfo] = []
    for raw in infos_raw:
        info = _parse_signer_info(raw)
        if isinstance(info, Failure):
            return info
        infos.append(info)
    return content_type, certificates, infos


def _parse_signer_info(raw: der.Tlv) -> _SignerInfo | Failure:
    if raw.tag != der.SEQUENCE:
        return Failure("SignerInfo is not a SEQUENCE")
    fields = raw.children()
    if isinstance(fields, Failure):
        return fields
    if len(fields) < 5 or fields[0].tag != der.INTEGER:
        return Failure("SignerInfo is incomplete")
    sid = fields[1]
    issuer, serial = b"", b""
    if sid.tag == der.SEQUENCE:
        parts = sid.children()
        if isinstance(parts, Failure):
            return parts
        if len(parts) != 2 or parts[1].tag != der.INTEGER:
            return Failure("SignerInfo's IssuerAndSerialNumber is malformed")
        issuer, serial = parts[0].encoded, parts[1].value
    digest_oid = der.algorithm(fields[2])
    if isinstance(digest_oid, Failure):
        return digest_oid
    index = 3
    signed_attributes = None
    if fields[index].tag == der.CONTEXT_0:
        signed_attributes = fields[index]
        index += 1
    if index >= len(fields):
        return Failure("SignerInfo is incomplete")
    signature_oid = der.algorithm(fields[index])
    if isinstance(signature_oid, Failure):
        return signature_oid
    if index + 1 >= len(fields) or fields[index + 1].tag != der.OCTET_STRING:
        return Failure("SignerInfo has no signature")
    return _SignerInfo(
        issuer, serial, digest_oid, signature_oid, signed_attributes, fields[index + 1].value
    )


def _signed_attributes(element: der.Tlv) -> dict[str, bytes] | Failure:
    """OID → the encoding of its single value; duplicates or multiple values fail."""
    items = element.children()
    if isinstance(items, Failure):
        return items
    out: dict[str, bytes] = {}
    for item in items:
        parts = item.children() if item.tag == der.SEQUENCE else Failure("attribute not a SEQUENCE")
        if isinstance(parts, Failure):
            return parts
        if len(parts) != 2 or parts[1].tag != der.SET:
            return Failure("malformed signed attribute")
        attribute_oid = der.oid(parts[0])
        if isinstance(attribute_oid, Failure):
            return attribute_oid
        if attribute_oid in out:
            return Failure(f"duplicate signed attribute {attribute_oid}")
        values = parts[1].children()
        if isinstance(values, Failure):
            return values
        if len(values) > 1:
            return Failure(f"signed attribute {attribute_oid} has several values")
        if values:
            out[attribute_oid] = values[0].encoded
    return out


def _find_certificate(
    info: _SignerInfo,
    certificates: Sequence[tuple[bytes, x509.Certificate, der.CertificateParts | Failure]],
) -> tuple[bytes, x509.Certificate] | None:
    if not info.issuer:
        return None  # Android identifies the signer only by issuer and serial number
    wanted_serial = int.from_bytes(info.serial, "big", signed=True)
    for cert_der, certificate, parts in certificates:
        if isinstance(parts, Failure):
            continue
        if int.from_bytes(parts.serial, "big", signed=True) != wanted_serial:
            continue
        if parts.issuer == info.issuer or _issuer_der(certificate) == info.issuer:
            return cert_der, certificate
    return None


def _issuer_der(certificate: x509.Certificate) -> bytes:
    with lenient_certificates():
        try:
            return certificate.issuer.public_bytes()
        except Exception:  # a name cryptography cannot re-encode matches nothing
            return b""


def _certificate_refused(certificate: x509.Certificate) -> str | None:
    with lenient_certificates():
        try:
            extensions = list(certificate.extensions)
        except Exception as exc:  # ValueError, DuplicateExtension …
            return f"certificate extensions cannot be read ({exc})"
    for extension in extensions:
        if extension.critical and extension.oid.dotted_string not in _KNOWN_CRITICAL:
            return (
                f"certificate has an unsupported critical extension {extension.oid.dotted_string}"
            )
        if isinstance(extension.value, x509.KeyUsage):
            usage = extension.value
            if not (usage.digital_signature or usage.content_commitment):
                return "certificate is not allowed to make digital signatures"
    return None


@cache
def _algorithm_table() -> dict[tuple[str, str], tuple[str, str, tuple[tuple[int, int], ...]]]:
    """(digest OID, signature OID) → (digest name, signature name, API level ranges)."""
    text = (
        resources.files("scanner").joinpath("data/jar-signature-algorithms.csv").read_text("utf-8")
    )
    table = {}
    for row in csv.DictReader(text.splitlines()):
        ranges = []
        for part in row["api_levels"].split():
            low, _, high = part.partition("-")
            ranges.append((int(low), int(high) if high else 1 << 31))
        table[(row["digest_oid"], row["signature_oid"])] = (
            row["digest"],
            row["signature"],
            tuple(ranges),
        )
    return table


def _supported_levels(digest_oid: str, signature_oid: str) -> tuple[tuple[int, int], ...]:
    entry = _algorithm_table().get((digest_oid, signature_oid))
    return entry[2] if entry is not None else ()


def _covers(ranges: tuple[tuple[int, int], ...], low: int, high: int) -> bool:
    """Whether the ranges cover every level in [low, high]."""
    level = low
    for start, end in sorted(ranges):
        if start > level:
            return False
        level = max(level, end + 1)
        if level > high:
            return True
    return level > high


def _jca_algorithm(digest_oid: str, signature_oid: str) -> tuple[str | None, KeyKind | None]:
    """Hash and key type that check the signature: the signature OID names both (e.g.
    SHA256withRSA), or only the key (rsaEncryption), when the digest OID gives the hash."""
    entry = _algorithm_table().get((digest_oid, signature_oid))
    if entry is None:
        return None, None
    digest_name, signature_name, _ = entry
    kinds: dict[str, KeyKind] = {"RSA": "RSA", "DSA": "DSA", "EC": "EC", "ECDSA": "EC"}
    if "with" in signature_name:
        hash_part, _, key_part = signature_name.partition("with")
        hash_name = {"MD5": "MD5", "SHA1": "SHA-1"}.get(hash_part, hash_part.replace("SHA", "SHA-"))
        return hash_name, kinds.get(key_part)
    return digest_name, kinds.get(signature_name)
