"""APK Signature Scheme v2, v3 and v3.1 verification, following apksig's verifiers.

`locate_block` finds the APK Signing Block before the central directory; `prepare_scheme`
checks one scheme's signers (the signature over each signer's signed data, its
certificate against its key, the digest list against the signature list, v3 SDK ranges,
the proof-of-rotation lineage, stripping-protection attributes) and says which content
digests the single read must compute; `finish_scheme` compares them and checks that the
v3 signers cover the SDK range. A malformed structure is a `Problem`, never an exception.
Format: https://source.android.com/docs/security/features/apksigning/v2 (and v3)
"""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import BinaryIO

from scanner.apk import der
from scanner.apk.contentdigest import CHUNKED_SHA256, CHUNKED_SHA512, VERITY_SHA256
from scanner.apk.problems import Problem
from scanner.apk.sigcrypto import (
    KeyKind,
    Padding,
    certificate_key,
    load_certificate,
    load_public_key,
    public_key_der,
    verify,
)
from scanner.apk.ziparchive import Directory, Failure, Limits, read_raw

MAGIC = b"APK Sig Block 42"
V2_ID = 0x7109871A
V3_ID = 0xF05368C0
V31_ID = 0x1B93AD61
SCHEME_BLOCK_IDS = {"v2": V2_ID, "v3": V3_ID, "v3.1": V31_ID}
SCHEME_NUMBERS = {"v2": 2, "v3": 3, "v3.1": 31}

STRIPPING_PROTECTION_ATTR = 0xBEEFF00D
PROOF_OF_ROTATION_ATTR = 0x3BA06F8C
ROTATION_MIN_SDK_ATTR = 0x559F8B02
ROTATION_ON_DEV_RELEASE_ATTR = 0xC2A6B3BA

NOUGAT, PIE, TIRAMISU = 24, 28, 33
MAX_SDK = 0x7FFFFFFF
MAX_V2_SIGNERS = 10
PAGE = 4096


@dataclass(frozen=True)
class Algorithm:
    """A signature algorithm id of the APK Signing Block and what it means."""

    id: int
    content_digest: str
    key: KeyKind
    hash: str
    padding: Padding
    min_sdk: int
    """First Android version that verifies it in an APK Signing Block."""


_ALGORITHMS = (
    Algorithm(0x0101, CHUNKED_SHA256, "RSA", "SHA-256", "pss", NOUGAT),
    Algorithm(0x0102, CHUNKED_SHA512, "RSA", "SHA-512", "pss", NOUGAT),
    Algorithm(0x0103, CHUNKED_SHA256, "RSA", "SHA-256", "pkcs1", NOUGAT),
    Algorithm(0x0104, CHUNKED_SHA512, "RSA", "SHA-512", "pkcs1", NOUGAT),
    Algorithm(0x0201, CHUNKED_SHA256, "EC", "SHA-256", "pkcs1", NOUGAT),
    Algorithm(0x0202, CHUNKED_SHA512, "EC", "SHA-512", "pkcs1", NOUGAT),
    Algorithm(0x0301, CHUNKED_SHA256, "DSA", "SHA-256", "pkcs1", NOUGAT),
    Algorithm(0x0421, VERITY_SHA256, "RSA", "SHA-256", "pkcs1", PIE),
    Algorithm(0x0423, VERITY_SHA256, "EC", "SHA-256", "pkcs1", PIE),
    Algorithm(0x0425, VERITY_SHA256, "DSA", "SHA-256", "pkcs1", PIE),
)
ALGORITHMS = {a.id: a for a in _ALGORITHMS}
_STRENGTH = {CHUNKED_SHA256: 0, VERITY_SHA256: 1, CHUNKED_SHA512: 2}


@dataclass(frozen=True)
class SigningBlock:
    """The APK Signing Block: where it starts, and its bytes (size fields and magic included)."""

    offset: int
    data: bytes

    def find(self, block_id: int) -> bytes | None:
        """The value of the first pair with `block_id`, walking pairs as Android does: a
        malformed pair ends the walk, and what lies beyond it is not found."""
        pos, end = 8, len(self.data) - 24
        while pos < end:
            if end - pos < 8:
                return None
            (length,) = struct.unpack_from("<Q", self.data, pos)
            pos += 8
            if length < 4 or length > end - pos:
                return None
            (pair_id,) = struct.unpack_from("<I", self.data, pos)
            if pair_id == block_id:
                return self.data[pos + 4 : pos + length]
            pos += length
        return None


def locate_block(
    fh: BinaryIO, directory: Directory, limits: Limits
) -> SigningBlock | Problem | None:
    """The signing block, None when there is none, a Problem when it is damaged (Android
    then treats the APK as having none)."""
    cd_offset = directory.cd_offset
    if cd_offset < 32:
        return None
    footer = read_raw(fh, cd_offset - 24, 24)
    if len(footer) < 24 or footer[8:] != MAGIC:
        return None
    if directory.cd_offset + directory.cd_size != directory.eocd_offset:
        return Problem("block-malformed", "central directory is not followed by its end record")
    (size,) = struct.unpack_from("<Q", footer, 0)
    if size < 24 or size > 0x7FFFFFFF - 8 or cd_offset - size - 8 < 0:
        return Problem("block-malformed", f"declared size {size} does not fit the file")
    if size > limits.max_signing_block:
        return Problem(
            "block-malformed", f"{size} bytes, over the cap of {limits.max_signing_block}"
        )
    start = cd_offset - size - 8
    data = read_raw(fh, start, size + 8)
    if len(data) != size + 8 or struct.unpack_from("<Q", data, 0)[0] != size:
        return Problem("block-malformed", "sizes at its start and end differ")
    return SigningBlock(start, data)


# --------------------------------------------------------------------------- reading helpers


class _Malformed(Exception):
    """Internal: a length-prefixed field does not fit its parent (caught in this module)."""


class _Reader:
    """Little-endian reads from one parent, each checked against the parent's end."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def remaining(self) -> int:
        return len(self.data) - self.pos

    def u32(self) -> int:
        if self.remaining() < 4:
            raise _Malformed("a number is cut off")
        (value,) = struct.unpack_from("<I", self.data, self.pos)
        self.pos += 4
        return int(value)

    def i32(self) -> int:
        value = self.u32()
        return value - (1 << 32) if value >= 1 << 31 else value

    def prefixed(self) -> bytes:
        length = self.i32()
        if length < 0 or length > self.remaining():
            raise _Malformed("a field runs past its parent")
        value = self.data[self.pos : self.pos + length]
        self.pos += length
        return value


# --------------------------------------------------------------------------- signers


@dataclass
class BlockSigner:
    """One signer of a scheme block and what came of checking it."""

    index: int
    certificate: bytes | None = None
    certificates: list[bytes] = field(default_factory=list)
    problem: Problem | None = None
    min_sdk: int = 0
    max_sdk: int = MAX_SDK
    content_digests: list[tuple[int, bytes]] = field(default_factory=list)
    signature_ids: list[int] = field(default_factory=list)
    digest_kinds: set[str] = field(default_factory=set)
    lineage: list[bytes] | None = None
    dev_release: bool = False


@dataclass
class SchemePrepared:
    scheme: str
    problem: Problem | None
    signers: list[BlockSigner] = field(default_factory=list)

    @property
    def digest_kinds(self) -> set[str]:
        kinds: set[str] = set()
        for signer in self.signers:
            kinds |= signer.digest_kinds
        return kinds


@dataclass(frozen=True)
class SchemeResult:
    scheme: str
    verified: bool
    problem: Problem | None
    signers: tuple[BlockSigner, ...]
    lineage: tuple[bytes, ...] = ()
    """Certificates of the proof-of-rotation lineage, oldest first (v3/v3.1)."""


def prepare_scheme(
    scheme: str,
    value: bytes,
    *,
    min_sdk: int,
    max_sdk: int,
    found: set[int],
    rotation_min_sdk: int | None = None,
) -> SchemePrepared:
    """Parse and check the signers of one scheme block; `found` are the scheme numbers
    (2, 3, 31) whose blocks were found so far, for the stripping protections."""
    v3 = scheme != "v2"
    prepared = SchemePrepared(scheme, None)
    try:
        outer = _Reader(value)
        signers = _Reader(outer.prefixed())
    except _Malformed as exc:
        prepared.problem = Problem("block-malformed", f"{scheme}: {exc}")
        return prepared
    if not signers.remaining():
        prepared.problem = Problem("no-signers", scheme)
        return prepared
    count = 0
    while signers.remaining():
        signer = BlockSigner(count)
        count += 1
        prepared.signers.append(signer)
        try:
            _parse_signer(_Reader(signers.prefixed()), signer, scheme, v3, min_sdk, max_sdk,
                          found, rotation_min_sdk)  # fmt: skip
        except _Malformed as exc:
            signer.problem = Problem(
                "block-malformed", f"{scheme} signer {signer.index + 1}: {exc}"
            )
        if signer.problem is not None:
            prepared.problem = signer.problem
            return prepared
    if not v3 and count > MAX_V2_SIGNERS:
        prepared.problem = Problem("too-many-signers", str(count))
    return prepared


def _parse_signer(
    reader: _Reader,
    signer: BlockSigner,
    scheme: str,
    v3: bool,
    min_sdk: int,
    max_sdk: int,
    found: set[int],
    rotation_min_sdk: int | None,
) -> None:
    signed_data = reader.prefixed()
    if v3:
        signer.min_sdk = reader.i32()
        signer.max_sdk = reader.i32()
        if signer.min_sdk < 0 or signer.min_sdk > signer.max_sdk:
            signer.problem = Problem("sdk-range-invalid", f"{signer.min_sdk}-{signer.max_sdk}")
    signatures = _Reader(reader.prefixed())
    public_key = reader.prefixed()
    supported: list[tuple[Algorithm, bytes]] = []
    number = 0
    while signatures.remaining():
        number += 1
        try:
            entry = _Reader(signatures.prefixed())
            algorithm_id = entry.u32()
            signature = entry.prefixed()
        except _Malformed:
            signer.problem = Problem("block-malformed", f"{scheme} signature {number}")
            return
        signer.signature_ids.append(algorithm_id)
        algorithm = ALGORITHMS.get(algorithm_id)
        if algorithm is not None:
            supported.append((algorithm, signature))
    if not signer.signature_ids:
        signer.problem = Problem("no-signatures", scheme)
        return
    # v2 signatures must serve the whole range; a v3 signer only its own.
    low, high = (signer.min_sdk, signer.max_sdk) if v3 else (min_sdk, max_sdk)
    to_verify = _signatures_to_verify(supported, low, high)
    if to_verify is None:
        signer.problem = Problem("no-supported-signature", scheme)
        return
    for algorithm, signature in to_verify:
        key = load_public_key(public_key)
        if isinstance(key, Failure):
            signer.problem = Problem("public-key-malformed", key.reason)
            return
        outcome = verify(
            key, algorithm.key, algorithm.hash, signature, signed_data, algorithm.padding
        )
        if isinstance(outcome, Failure):
            signer.problem = Problem("signature-forged", f"{scheme}: {outcome.reason}")
            return
        if not outcome:
            signer.problem = Problem("signature-forged", scheme)
            return
        signer.digest_kinds.add(algorithm.content_digest)

    data = _Reader(signed_data)
    digests = _Reader(data.prefixed())
    certificates = _Reader(data.prefixed())
    if v3:
        signed_min, signed_max = data.i32(), data.i32()
        if (signed_min, signed_max) != (signer.min_sdk, signer.max_sdk):
            signer.problem = signer.problem or Problem(
                "sdk-range-mismatch",
                f"{signer.min_sdk}-{signer.max_sdk} / {signed_min}-{signed_max}",
            )
    attributes = _Reader(data.prefixed())
    while certificates.remaining():
        certificate = certificates.prefixed()
        loaded = load_certificate(certificate)
        if isinstance(loaded, Failure):
            signer.problem = Problem("certificate-malformed", loaded.reason)
            return
        signer.certificates.append(certificate)
    if not signer.certificates:
        signer.problem = Problem("no-certificate", scheme)
        return
    signer.certificate = signer.certificates[0]
    if not _same_key(signer.certificate, public_key):
        signer.problem = Problem("public-key-mismatch", scheme)
        return
    number = 0
    while digests.remaining():
        number += 1
        try:
            entry = _Reader(digests.prefixed())
            algorithm_id = entry.u32()
            signer.content_digests.append((algorithm_id, entry.prefixed()))
        except _Malformed:
            signer.problem = Problem("block-malformed", f"{scheme} digest {number}")
            return
    if [a for a, _ in signer.content_digests] != signer.signature_ids:
        signer.problem = Problem("digest-algorithms-mismatch", scheme)
        return
    _attributes(attributes, signer, scheme, v3, max_sdk, found, rotation_min_sdk)


def _attributes(
    attributes: _Reader,
    signer: BlockSigner,
    scheme: str,
    v3: bool,
    max_sdk: int,
    found: set[int],
    rotation_min_sdk: int | None,
) -> None:
    number = 0
    expected: set[int] = set()
    known = {2, 3} if max_sdk >= PIE else {2} if max_sdk >= NOUGAT else set()
    while attributes.remaining():
        number += 1
        try:
            entry = _Reader(attributes.prefixed())
            attribute_id = entry.u32()
            value = entry.data[entry.pos :]
            if not v3 and attribute_id == STRIPPING_PROTECTION_ATTR:
                listed = _Reader(value).i32()
                if listed in known:
                    expected.add(listed)
            elif v3 and attribute_id == PROOF_OF_ROTATION_ATTR:
                lineage = _lineage(value)
                if isinstance(lineage, Problem):
                    signer.problem = signer.problem or lineage
                elif not lineage or lineage[-1] != signer.certificate:
                    signer.problem = signer.problem or Problem("lineage-invalid", "signer not last")
                else:
                    signer.lineage = lineage
            elif v3 and attribute_id == ROTATION_MIN_SDK_ATTR:
                declared = _Reader(value).i32()
                if max_sdk >= TIRAMISU:
                    if rotation_min_sdk is None:
                        signer.problem = signer.problem or Problem("stripped-scheme", "v3.1")
                    elif declared != rotation_min_sdk:
                        signer.problem = signer.problem or Problem(
                            "rotation-mismatch", f"{declared} / {rotation_min_sdk}"
                        )
            elif v3 and attribute_id == ROTATION_ON_DEV_RELEASE_ATTR:
                signer.dev_release = True
        except _Malformed:
            signer.problem = signer.problem or Problem(
                "block-malformed", f"{scheme} attribute {number}"
            )
            return
    for listed in sorted(expected):
        if listed not in found:
            signer.problem = signer.problem or Problem("stripped-scheme", f"v{listed}")


def _signatures_to_verify(
    supported: Sequence[tuple[Algorithm, bytes]], min_sdk: int, max_sdk: int
) -> list[tuple[Algorithm, bytes]] | None:
    """The strongest signature for each platform range, as apksig picks them; None when
    some platform in [min_sdk, max_sdk] would find none it supports."""
    best: dict[int, tuple[Algorithm, bytes]] = {}
    lowest = None
    for algorithm, signature in supported:
        if algorithm.min_sdk > max_sdk:
            continue
        lowest = algorithm.min_sdk if lowest is None else min(lowest, algorithm.min_sdk)
        current = best.get(algorithm.min_sdk)
        if (
            current is None
            or _STRENGTH[algorithm.content_digest] > _STRENGTH[current[0].content_digest]
        ):
            best[algorithm.min_sdk] = (algorithm, signature)
    if lowest is None or min_sdk < lowest:
        return None
    return sorted(best.values(), key=lambda pair: pair[0].id)


def _same_key(certificate: bytes, public_key: bytes) -> bool:
    parts = der.certificate_parts(certificate)
    if not isinstance(parts, Failure) and parts.subject_public_key_info == public_key:
        return True
    loaded = load_certificate(certificate)
    if isinstance(loaded, Failure):
        return False
    key = certificate_key(loaded)
    return not isinstance(key, Failure) and public_key_der(key) == public_key


def _lineage(value: bytes) -> list[bytes] | Problem:
    """Certificates of a proof-of-rotation lineage, each node signed by the one before."""
    reader = _Reader(value)
    try:
        if reader.u32() != 1:
            return Problem("lineage-invalid", "unknown lineage version")
        certificates: list[bytes] = []
        previous_key = None
        previous_algorithm = 0
        while reader.remaining():
            node = _Reader(reader.prefixed())
            signed = node.prefixed()
            node.u32()  # flags: what the older key still may do; not needed to verify
            algorithm_id = node.u32()
            signature = node.prefixed()
            signed_reader = _Reader(signed)
            certificate = signed_reader.prefixed()
            signed_algorithm = signed_reader.u32()
            if previous_key is not None:
                algorithm = ALGORITHMS.get(previous_algorithm)
                if algorithm is None:
                    return Problem("lineage-invalid", f"unknown algorithm {previous_algorithm:#x}")
                outcome = verify(previous_key, algorithm.key, algorithm.hash, signature, signed,
                                 algorithm.padding)  # fmt: skip
                if outcome is not True:
                    return Problem("lineage-invalid", f"node {len(certificates) + 1} not signed")
                if signed_algorithm != previous_algorithm:
                    return Problem("lineage-invalid", "algorithm differs from the one signed")
            loaded = load_certificate(certificate)
            if isinstance(loaded, Failure):
                return Problem("lineage-invalid", loaded.reason)
            if certificate in certificates:
                return Problem("lineage-invalid", "a certificate appears twice")
            key = certificate_key(loaded)
            if isinstance(key, Failure):
                return Problem("lineage-invalid", key.reason)
            certificates.append(certificate)
            previous_key = key
            previous_algorithm = algorithm_id
    except _Malformed as exc:
        return Problem("lineage-invalid", str(exc))
    return certificates


# --------------------------------------------------------------------------- content digests


def finish_scheme(
    prepared: SchemePrepared,
    computed: Mapping[str, bytes],
    *,
    min_sdk: int,
    max_sdk: int,
    rotation_min_sdk: int | None = None,
    aligned_for_verity: bool = True,
) -> SchemeResult:
    """Compare the content digests with the single read's, then (v3) the SDK coverage and
    lineages: the verdict for this scheme."""
    signers = tuple(prepared.signers)
    if prepared.problem is not None:
        return SchemeResult(prepared.scheme, False, prepared.problem, signers)
    kinds = prepared.digest_kinds
    if VERITY_SHA256 in kinds and not aligned_for_verity:
        return SchemeResult(prepared.scheme, False, Problem("verity-misaligned"), signers)
    for signer in signers:
        for algorithm_id, expected in signer.content_digests:
            algorithm = ALGORITHMS.get(algorithm_id)
            if algorithm is None or algorithm.content_digest not in kinds:
                continue
            if computed.get(algorithm.content_digest) != expected:
                return SchemeResult(
                    prepared.scheme, False, Problem("content-modified", prepared.scheme), signers
                )
    if prepared.scheme == "v2":
        return SchemeResult(prepared.scheme, True, None, signers)
    return _check_v3_ranges(prepared.scheme, signers, min_sdk, max_sdk, rotation_min_sdk)


def _check_v3_ranges(
    scheme: str,
    signers: tuple[BlockSigner, ...],
    min_sdk: int,
    max_sdk: int,
    rotation_min_sdk: int | None,
) -> SchemeResult:
    by_max: dict[int, BlockSigner] = {}
    for signer in signers:
        by_max[signer.max_sdk] = signer
    first_min = last_max = last_lineage = 0
    lineages: list[list[bytes]] = []
    problem = None
    for _, signer in sorted(by_max.items()):
        if first_min == 0:
            first_min = signer.min_sdk
        elif signer.min_sdk != last_max + 1 and not (
            signer.min_sdk == last_max and signer.dev_release
        ):
            problem = Problem("sdk-range-gap", f"{last_max}/{signer.min_sdk}")
            break
        last_max = signer.max_sdk
        if signer.lineage is not None:
            if len(signer.lineage) < last_lineage:
                problem = Problem("lineage-invalid", "lineages shrink with newer platforms")
                break
            last_lineage = len(signer.lineage)
            lineages.append(signer.lineage)
    low = max_sdk if scheme == "v3.1" else max(min_sdk, PIE)
    high = rotation_min_sdk - 1 if rotation_min_sdk else max_sdk
    if problem is None and (first_min > low or last_max < high):
        problem = Problem("sdk-range-gap", f"{first_min}-{last_max}")
    longest = max(lineages, key=len) if lineages else []
    if problem is None and any(longest[: len(x)] != x for x in lineages):
        problem = Problem("lineage-invalid", "signers' lineages disagree")
    return SchemeResult(scheme, problem is None, problem, signers, tuple(longest))
