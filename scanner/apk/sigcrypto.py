"""Signature primitives for APK verification, on `cryptography`; never raises for bad input."""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, padding, rsa

from scanner.apk.ziparchive import Failure

KeyKind = Literal["RSA", "EC", "DSA"]
Padding = Literal["pkcs1", "pss"]
PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey | dsa.DSAPublicKey

_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "MD5": hashes.MD5,
    "SHA-1": hashes.SHA1,
    "SHA-224": hashes.SHA224,
    "SHA-256": hashes.SHA256,
    "SHA-384": hashes.SHA384,
    "SHA-512": hashes.SHA512,
}
HASHLIB_NAMES = {
    "MD5": "md5",
    "SHA-1": "sha1",
    "SHA-224": "sha224",
    "SHA-256": "sha256",
    "SHA-384": "sha384",
    "SHA-512": "sha512",
}


def digest(hash_name: str, data: bytes) -> bytes:
    """`hash_name` is one of the JCA names above (SHA-256 …)."""
    return hashlib.new(HASHLIB_NAMES[hash_name], data).digest()


@contextmanager
def lenient_certificates() -> Iterator[None]:
    """Real signing certificates break X.509 rules (a six-letter country, a negative serial);
    cryptography warns about each, while Android accepts them: so do we, quietly."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def load_certificate(der: bytes) -> x509.Certificate | Failure:
    with lenient_certificates():
        try:
            certificate = x509.load_der_x509_certificate(der)
            certificate.public_key()
        except Exception as exc:  # ValueError, InvalidVersion … : any of them means unusable
            return Failure(f"certificate cannot be parsed ({exc})")
    return certificate


def certificate_key(certificate: x509.Certificate) -> PublicKey | Failure:
    with lenient_certificates():
        try:
            key = certificate.public_key()
        except Exception as exc:  # cryptography raises several kinds for bad keys
            return Failure(f"certificate's public key cannot be read ({exc})")
    if isinstance(key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey | dsa.DSAPublicKey):
        return key
    return Failure(f"certificate's key type {type(key).__name__} cannot sign APKs")


def load_public_key(spki: bytes) -> PublicKey | Failure:
    """A SubjectPublicKeyInfo (DER) as APK Signing Block signers carry it."""
    try:
        key = serialization.load_der_public_key(spki)
    except Exception as exc:  # cryptography raises several kinds for bad keys
        return Failure(f"public key cannot be parsed ({exc})")
    if isinstance(key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey | dsa.DSAPublicKey):
        return key
    return Failure(f"key type {type(key).__name__} cannot sign APKs")


def key_kind(key: PublicKey) -> KeyKind:
    if isinstance(key, rsa.RSAPublicKey):
        return "RSA"
    if isinstance(key, ec.EllipticCurvePublicKey):
        return "EC"
    return "DSA"


def public_key_der(key: PublicKey) -> bytes:
    return key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def verify(
    key: PublicKey,
    kind: KeyKind,
    hash_name: str,
    signature: bytes,
    data: bytes,
    scheme: Padding = "pkcs1",
) -> bool | Failure:
    """True if `signature` over `data` verifies; a Failure when it cannot even be checked
    (wrong key type for the algorithm, unknown hash), which Android treats as an error."""
    hash_type = _HASHES.get(hash_name)
    if hash_type is None:
        return Failure(f"unsupported digest {hash_name}")
    if key_kind(key) != kind:
        return Failure(f"a {kind} signature cannot be checked with a {key_kind(key)} key")
    algorithm = hash_type()
    try:
        if isinstance(key, rsa.RSAPublicKey):
            pad: padding.AsymmetricPadding
            if scheme == "pss":
                pad = padding.PSS(mgf=padding.MGF1(hash_type()), salt_length=algorithm.digest_size)
            else:
                pad = padding.PKCS1v15()
            key.verify(signature, data, pad, algorithm)
        elif isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, data, ec.ECDSA(algorithm))
        else:
            key.verify(signature, data, algorithm)
    except InvalidSignature:
        return False
    except Exception as exc:  # ValueError, UnsupportedAlgorithm …: not checkable
        return Failure(f"signature cannot be checked ({exc})")
    return True
