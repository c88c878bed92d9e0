"""A small, bounded DER reader: enough ASN.1 to walk PKCS#7 SignedData and X.509 certificates.

Every length is checked against its parent before anything is sliced, and nesting is
walked one level at a time by the caller, so a hostile signature block costs at most its
own size in memory and time. Malformed input gives a `Failure`, never an exception.
"""

from __future__ import annotations

from dataclasses import dataclass

from scanner.apk.ziparchive import Failure

SEQUENCE = 0x30
SET = 0x31
INTEGER = 0x02
BIT_STRING = 0x03
OCTET_STRING = 0x04
NULL = 0x05
OID = 0x06
CONTEXT_0 = 0xA0  # [0] constructed
CONTEXT_1 = 0xA1  # [1] constructed
CONTEXT_0_PRIMITIVE = 0x80

_MAX_LENGTH_OCTETS = 4


@dataclass(frozen=True)
class Tlv:
    """One DER element: its tag byte and where its header and content lie in `data`."""

    data: bytes
    tag: int
    start: int
    """Offset of the tag byte."""
    content: int
    """Offset of the first content byte."""
    end: int
    """Offset just past the content."""

    @property
    def value(self) -> bytes:
        return self.data[self.content : self.end]

    @property
    def encoded(self) -> bytes:
        return self.data[self.start : self.end]

    def children(self) -> list[Tlv] | Failure:
        """The elements inside a constructed element, each checked against this one's end."""
        if not self.tag & 0x20:
            return Failure(f"DER element with tag 0x{self.tag:02x} is not constructed")
        return read_all(self.data, self.content, self.end)


def read(data: bytes, pos: int = 0, end: int | None = None) -> Tlv | Failure:
    """The element starting at `pos`; it must end by `end` (default: the end of `data`)."""
    limit = len(data) if end is None else end
    if pos + 2 > limit:
        return Failure("DER element is cut off")
    tag = data[pos]
    if tag & 0x1F == 0x1F:
        return Failure("DER high tag numbers are not used in signatures")
    first = data[pos + 1]
    header = pos + 2
    if first < 0x80:
        length = first
    elif first == 0x80:
        return Failure("DER indefinite lengths are not supported")
    else:
        count = first & 0x7F
        if count > _MAX_LENGTH_OCTETS or header + count > limit:
            return Failure("DER length field is too long or cut off")
        length = int.from_bytes(data[header : header + count], "big")
        header += count
    if header + length > limit:
        return Failure("DER element runs past its parent")
    return Tlv(data, tag, pos, header, header + length)


def read_all(data: bytes, pos: int, end: int) -> list[Tlv] | Failure:
    """Consecutive elements from `pos` to exactly `end`."""
    out: list[Tlv] = []
    while pos < end:
        element = read(data, pos, end)
        if isinstance(element, Failure):
            return element
        out.append(element)
        pos = element.end
    return out


def expect(element: Tlv | Failure, tag: int, what: str) -> Tlv | Failure:
    """`element` if it has `tag`, else a failure naming `what` was expected."""
    if isinstance(element, Failure):
        return element
    if element.tag != tag:
        return Failure(f"{what}: expected DER tag 0x{tag:02x}, found 0x{element.tag:02x}")
    return element


def oid(element: Tlv) -> str | Failure:
    """Dotted text of an OBJECT IDENTIFIER."""
    if element.tag != OID:
        return Failure("expected an OBJECT IDENTIFIER")
    raw = element.value
    if not raw or raw[-1] & 0x80:
        return Failure("malformed OBJECT IDENTIFIER")
    parts: list[int] = []
    value = 0
    for byte in raw:
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            parts.append(value)
            value = 0
    first = parts[0]
    head = [0, first] if first < 40 else [1, first - 40] if first < 80 else [2, first - 80]
    return ".".join(str(p) for p in head + parts[1:])


def algorithm(element: Tlv) -> str | Failure:
    """The OID of an AlgorithmIdentifier (parameters are ignored)."""
    if element.tag != SEQUENCE:
        return Failure("expected an AlgorithmIdentifier")
    parts = element.children()
    if isinstance(parts, Failure):
        return parts
    if not parts:
        return Failure("empty AlgorithmIdentifier")
    return oid(parts[0])


@dataclass(frozen=True)
class CertificateParts:
    """The raw pieces of a certificate that signature checks compare byte for byte."""

    serial: bytes
    issuer: bytes
    subject_public_key_info: bytes


def certificate_parts(der: bytes) -> CertificateParts | Failure:
    """Serial number, issuer name and SubjectPublicKeyInfo, as encoded in the certificate."""
    certificate = expect(read(der), SEQUENCE, "certificate")
    if isinstance(certificate, Failure):
        return certificate
    fields = certificate.children()
    if isinstance(fields, Failure):
        return fields
    if not fields or fields[0].tag != SEQUENCE:
        return Failure("certificate has no TBSCertificate")
    tbs = fields[0].children()
    if isinstance(tbs, Failure):
        return tbs
    if tbs and tbs[0].tag == CONTEXT_0:
        tbs = tbs[1:]  # explicit version
    # serialNumber, signature, issuer, validity, subject, subjectPublicKeyInfo
    if len(tbs) < 6 or tbs[0].tag != INTEGER or tbs[5].tag != SEQUENCE:
        return Failure("certificate's TBSCertificate is incomplete")
    return CertificateParts(tbs[0].value, tbs[2].encoded, tbs[5].encoded)
