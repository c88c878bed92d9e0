"""Content digests of APK Signature Schemes v2/v3: 1 MB chunked SHA-256/SHA-512 and the
verity (4 KB Merkle tree) root, over the entries, the central directory and the end record.

Fed piece by piece, in file order, by the single read of the file, so no byte is read
twice. The end record is digested with its central-directory offset replaced by the
offset of the APK Signing Block, as the schemes define.
"""

from __future__ import annotations

import hashlib
import struct

CHUNKED_SHA256 = "chunked-sha256"
CHUNKED_SHA512 = "chunked-sha512"
VERITY_SHA256 = "verity-sha256"
KINDS = (CHUNKED_SHA256, CHUNKED_SHA512, VERITY_SHA256)

_CHUNK = 1 << 20
_PAGE = 4096
_SALT = bytes(8)
_CHUNK_HEADER = struct.Struct("<BI")


class _Chunked:
    """One 1 MB chunked digest; a chunk never spans two regions."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._digests: list[bytes] = []
        self._pending = bytearray()

    def update(self, piece: memoryview) -> None:
        pending = self._pending
        while piece:
            if not pending and len(piece) >= _CHUNK:
                self._chunk(piece[:_CHUNK])
                piece = piece[_CHUNK:]
                continue
            take = min(len(piece), _CHUNK - len(pending))
            pending += piece[:take]
            piece = piece[take:]
            if len(pending) == _CHUNK:
                self._chunk(memoryview(pending))
                pending.clear()

    def end_region(self) -> None:
        if self._pending:
            self._chunk(memoryview(self._pending))
            self._pending.clear()

    def _chunk(self, chunk: memoryview) -> None:
        h = hashlib.new(self._name)
        h.update(_CHUNK_HEADER.pack(0xA5, len(chunk)))
        h.update(chunk)
        self._digests.append(h.digest())

    def result(self) -> bytes:
        h = hashlib.new(self._name)
        h.update(_CHUNK_HEADER.pack(0x5A, len(self._digests)))
        h.update(b"".join(self._digests))
        return h.digest()


class _Verity:
    """The fs-verity style Merkle tree root (SHA-256, 8 zero bytes of salt) and data size."""

    def __init__(self) -> None:
        self._leaves = bytearray()
        self._pending = bytearray()
        self._size = 0

    def update(self, piece: memoryview) -> None:
        self._size += len(piece)
        pending = self._pending
        if pending:
            take = min(len(piece), _PAGE - len(pending))
            pending += piece[:take]
            piece = piece[take:]
            if len(pending) < _PAGE:
                return
            self._leaves += _salted(pending)
            pending.clear()
        whole = len(piece) - len(piece) % _PAGE
        leaves = self._leaves
        for start in range(0, whole, _PAGE):
            leaves += _salted(piece[start : start + _PAGE])
        pending += piece[whole:]

    def result(self) -> bytes:
        level: bytes | bytearray = self._leaves
        if self._pending:
            level = level + _salted(bytes(self._pending) + bytes(_PAGE - len(self._pending)))
        while len(level) > _PAGE:
            level = _pad(level)
            level = bytearray(
                b"".join(_salted(level[i : i + _PAGE]) for i in range(0, len(level), _PAGE))
            )
        root = _salted(bytes(_pad(level)))
        return root + struct.pack("<Q", self._size)


def _salted(page: bytes | bytearray | memoryview) -> bytes:
    h = hashlib.sha256(_SALT)
    h.update(page)
    return h.digest()


def _pad(level: bytes | bytearray) -> bytes | bytearray:
    rest = len(level) % _PAGE
    return level + bytes(_PAGE - rest) if rest or not level else level


class ContentDigests:
    """The digests a verifier asked for, over the three regions fed in order."""

    def __init__(self, kinds: set[str]) -> None:
        self._chunked: dict[str, _Chunked] = {}
        if CHUNKED_SHA256 in kinds:
            self._chunked[CHUNKED_SHA256] = _Chunked("sha256")
        if CHUNKED_SHA512 in kinds:
            self._chunked[CHUNKED_SHA512] = _Chunked("sha512")
        self._verity = _Verity() if VERITY_SHA256 in kinds else None

    def update(self, piece: memoryview) -> None:
        for digest in self._chunked.values():
            digest.update(piece)
        if self._verity is not None:
            self._verity.update(piece)

    def end_region(self) -> None:
        for digest in self._chunked.values():
            digest.end_region()

    def results(self) -> dict[str, bytes]:
        out = {kind: digest.result() for kind, digest in self._chunked.items()}
        if self._verity is not None:
            out[VERITY_SHA256] = self._verity.result()
        return out
