"""Signing schemes and signer certificates: v1 (JAR) from META-INF, v2/v3/v3.1 from the signing block.

Certificates are read, not verified: the audit needs to know who signed an app (to tell
the filed app from a look-alike signed with another key), while verifying signatures is
the installing phone's job. Format of the APK Signing Block:
https://source.android.com/docs/security/features/apksigning/v2
"""

from __future__ import annotations

import hashlib
import struct
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import BinaryIO

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.serialization import Encoding, pkcs7

from scanner.apk.facts import SIGNING_SCHEMES, Signer
from scanner.apk.ziparchive import (
    DEFAULT_LIMITS,
    Directory,
    Failure,
    Limits,
    read_member,
    read_raw,
)

_MAGIC = b"APK Sig Block 42"
_SCHEME_IDS = {0x7109871A: "v2", 0xF05368C0: "v3", 0x1B93AD61: "v3.1"}
_V1_BLOCK_SUFFIXES = (".RSA", ".DSA", ".EC")


@dataclass(frozen=True)
class SigningInfo:
    """The schemes present, the certificates they carry, and what could not be read."""

    schemes: tuple[str, ...]
    signers: tuple[Signer, ...]
    problems: tuple[str, ...]


def read_signing(
    fh: BinaryIO, directory: Directory, limits: Limits = DEFAULT_LIMITS
) -> SigningInfo:
    """Collect v1 and v2+ signers; every defect becomes a problem, never an exception."""
    problems: list[str] = []
    found: dict[str, list[str]] = {}  # certificate SHA-256 -> schemes
    ders: dict[str, bytes] = {}
    schemes: set[str] = set()

    for scheme, certificates in _v1(fh, directory, limits, problems):
        schemes.add(scheme)
        _collect(found, ders, scheme, certificates)
    for scheme, certificates in _signing_block(fh, directory, limits, problems):
        schemes.add(scheme)
        _collect(found, ders, scheme, certificates)

    signers = []
    for digest, carried in found.items():
        signer = describe_certificate(
            ders[digest], tuple(s for s in SIGNING_SCHEMES if s in carried)
        )
        if isinstance(signer, Failure):
            problems.append(signer.reason)
            signer = Signer(
                schemes=tuple(s for s in SIGNING_SCHEMES if s in carried), sha256=digest
            )
        signers.append(signer)
    return SigningInfo(
        schemes=tuple(s for s in SIGNING_SCHEMES if s in schemes),
        signers=tuple(signers),
        problems=tuple(problems),
    )


def _collect(
    found: dict[str, list[str]], ders: dict[str, bytes], scheme: str, certificates: list[bytes]
) -> None:
    for der in certificates:
        digest = hashlib.sha256(der).hexdigest()
        ders.setdefault(digest, der)
        carried = found.setdefault(digest, [])
        if scheme not in carried:
            carried.append(scheme)


def describe_certificate(der: bytes, schemes: tuple[str, ...]) -> Signer | Failure:
    """A `Signer` from DER bytes: fingerprint, names, validity and key type."""
    digest = hashlib.sha256(der).hexdigest()
    with _lenient_names():
        return _describe(der, digest, schemes)


def _describe(der: bytes, digest: str, schemes: tuple[str, ...]) -> Signer | Failure:
    try:
        cert = x509.load_der_x509_certificate(der)
        subject = _name(cert.subject)
        issuer = _name(cert.issuer)
        not_before = cert.not_valid_before_utc.isoformat()
        not_after = cert.not_valid_after_utc.isoformat()
        key = _key(cert)
    except (ValueError, TypeError) as exc:
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


@contextmanager
def _lenient_names() -> Iterator[None]:
    # Real signing certificates break X.509 rules (a six-letter country code, say);
    # cryptography warns about each, while the audit only wants to print the names.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        yield


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
    except (ValueError, TypeError, NotImplementedError):
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


def _v1(
    fh: BinaryIO, directory: Directory, limits: Limits, problems: list[str]
) -> list[tuple[str, list[bytes]]]:
    """Certificates from META-INF signature block files that have their .SF beside them."""
    out: list[tuple[str, list[bytes]]] = []
    for name, member in directory.members.items():
        if not name.startswith("META-INF/") or "/" in name[9:]:
            continue
        if not name.endswith(_V1_BLOCK_SUFFIXES):
            continue
        if name.rsplit(".", 1)[0] + ".SF" not in directory.members:
            problems.append(f"v1 signature {name} has no .SF file beside it (partial signature)")
            continue
        block = read_member(fh, directory, member, limits.max_meta_inf_entry, limits)
        if isinstance(block, Failure):
            problems.append(f"v1 signature block could not be read: {block.reason}")
            continue
        certificates = _pkcs7_certificates(block)
        if isinstance(certificates, Failure):
            problems.append(f"v1 signature block {name} is unreadable: {certificates.reason}")
            continue
        out.append(("v1", certificates))
    return out


def _pkcs7_certificates(block: bytes) -> list[bytes] | Failure:
    """The signer (leaf) certificates of a PKCS#7 SignedData, as DER."""
    try:
        certs = pkcs7.load_der_pkcs7_certificates(block)
    except ValueError as exc:
        return Failure(str(exc) or "not PKCS#7 SignedData")
    if not certs:
        return Failure("no certificate in the PKCS#7 block")
    # A chain may come along; the signer is the certificate that issued no other one.
    try:  # names are parsed only now, so a corrupt one raises here
        with _lenient_names():
            issuers = {c.issuer for c in certs if c.issuer != c.subject}
            leaves = [c for c in certs if c.subject not in issuers] or certs
    except ValueError as exc:
        return Failure(str(exc) or "a certificate's names are corrupt")
    return [c.public_bytes(Encoding.DER) for c in leaves]


def _signing_block(
    fh: BinaryIO, directory: Directory, limits: Limits, problems: list[str]
) -> list[tuple[str, list[bytes]]]:
    cd_offset = directory.cd_offset
    if cd_offset < 32:
        return []
    footer = read_raw(fh, cd_offset - 24, 24)
    if len(footer) < 24 or footer[8:] != _MAGIC:
        return []
    (size,) = struct.unpack_from("<Q", footer, 0)
    start = cd_offset - size - 8
    if size < 24 or start < 0:
        problems.append(f"broken APK signature block: declared size {size} does not fit the file")
        return []
    if size > limits.max_signing_block:
        problems.append(
            f"broken APK signature block: {size} bytes, over the cap of "
            f"{limits.max_signing_block} bytes"
        )
        return []
    block = read_raw(fh, start, size + 8)
    (leading,) = struct.unpack_from("<Q", block, 0)
    if leading != size:
        problems.append("broken APK signature block: sizes at beginning and end do not match")
        return []
    out: list[tuple[str, list[bytes]]] = []
    seen: set[int] = set()
    pos = 8
    end = len(block) - 24
    while pos < end:
        if pos + 12 > end:
            problems.append("broken APK signature block: an entry is cut off")
            break
        (length,) = struct.unpack_from("<Q", block, pos)
        if length < 4 or pos + 8 + length > end:
            problems.append("broken APK signature block: an entry runs past the block")
            break
        (block_id,) = struct.unpack_from("<I", block, pos + 8)
        scheme = _SCHEME_IDS.get(block_id)
        if scheme is not None:
            if block_id in seen:
                # Android uses the first block of each id; a second one hints at tampering.
                problems.append(f"APK signature block holds two {scheme} entries (first used)")
            else:
                seen.add(block_id)
                certificates = _scheme_certificates(block[pos + 12 : pos + 8 + length])
                if isinstance(certificates, Failure):
                    problems.append(f"{scheme} signature is unreadable: {certificates.reason}")
                out.append((scheme, [] if isinstance(certificates, Failure) else certificates))
        pos += 8 + length
    return out


def _scheme_certificates(value: bytes) -> list[bytes] | Failure:
    """Certificates of every signer; v2, v3 and v3.1 put them at the same place."""
    signers = _sequence(value)
    if isinstance(signers, Failure):
        return signers
    certificates: list[bytes] = []
    for signer in signers:
        fields = _prefixed(signer, 0)
        if isinstance(fields, Failure):
            return fields
        signed_data = fields[0]
        digests = _prefixed(signed_data, 0)
        if isinstance(digests, Failure):
            return digests
        certs = _prefixed(signed_data, digests[1])
        if isinstance(certs, Failure):
            return certs
        items = _items(certs[0])
        if isinstance(items, Failure):
            return items
        if items:
            # The first certificate is the signer's; any others are its chain.
            certificates.append(items[0])
    return certificates


def _sequence(value: bytes) -> list[bytes] | Failure:
    outer = _prefixed(value, 0)
    if isinstance(outer, Failure):
        return outer
    return _items(outer[0])


def _items(data: bytes) -> list[bytes] | Failure:
    items = []
    pos = 0
    while pos < len(data):
        item = _prefixed(data, pos)
        if isinstance(item, Failure):
            return item
        items.append(item[0])
        pos = item[1]
    return items


def _prefixed(data: bytes, pos: int) -> tuple[bytes, int] | Failure:
    if pos + 4 > len(data):
        return Failure("a length prefix is cut off")
    (length,) = struct.unpack_from("<I", data, pos)
    if pos + 4 + length > len(data):
        return Failure("a field runs past its parent")
    return data[pos + 4 : pos + 4 + length], pos + 4 + length
