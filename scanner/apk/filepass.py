"""The single read of an APK: one sequential pass over the file, in chunks, that feeds its
SHA-256, the v2/v3 content digests, and the entries inflated as the read passes them.

Each entry the analysis asks for is inflated once, while its compressed bytes go by: its
v1 digests are taken from that output, and entries to keep (a DEX to parse) are handed to
a callback as soon as they are complete, then dropped, so memory stays at about one entry
plus a few chunks. Hashing runs in a second thread while the main one inflates (hashlib
and zlib release the GIL), so on two cores the SHA-256 costs no extra wall time.
"""

from __future__ import annotations

import hashlib
import os
import queue
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from scanner.apk.contentdigest import ContentDigests
from scanner.apk.sigcrypto import HASHLIB_NAMES
from scanner.apk.ziparchive import (
    INFLATE_ERRORS,
    Directory,
    Failure,
    Member,
    inflater,
    locate_data,
)

READ_CHUNK = 1 << 20
INLINE_BELOW = 16 << 10
"""Entries compressed smaller than this are inflated by the reading thread itself."""
THREADS_FROM = 2 << 20
"""Files smaller than this are read, hashed and inflated in the calling thread."""
LANES = 2
"""Threads that inflate entries; with the hashing thread they keep two cores busy."""
_INFLATE_STEP = 8 << 20


@dataclass(frozen=True)
class PassPlan:
    """What the pass must produce besides the file's SHA-256."""

    digests: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Entry name → digest names (SHA-256 …) of its uncompressed bytes (v1)."""
    keep: frozenset[str] = frozenset()
    """Entries whose uncompressed bytes go to `on_entry` when complete."""
    content_kinds: frozenset[str] = frozenset()
    """v2/v3 content digests to compute."""
    block_offset: int = 0
    """Where the APK Signing Block starts (the end of the entries' region)."""


@dataclass
class PassResult:
    sha256: str
    size: int
    entry_digests: dict[str, dict[str, bytes] | Failure]
    content: dict[str, bytes]


class _Entry:
    """One entry being inflated as its compressed bytes go by.

    The hashers and the inflater are made when the first bytes arrive, in the thread that
    inflates the entry, so the reading thread only dispatches."""

    __slots__ = ("end", "failure", "hashers", "hashes", "inflater", "kept", "member",
                 "method", "produced", "start")  # fmt: skip

    def __init__(
        self, member: Member, start: int, method: int, hashes: tuple[str, ...], keep: bool
    ):
        self.member = member
        self.start = start
        self.end = start + member.compressed_size
        self.method = method
        self.hashes = hashes
        self.hashers: list[Any] | None = None
        self.kept: bytearray | None = bytearray() if keep else None
        self.inflater: Any = None
        self.produced = 0
        self.failure: Failure | None = None

    def feed(self, piece: memoryview, last: bool) -> None:
        if self.failure is not None:
            return
        if self.hashers is None:
            if last and self.kept is None:
                self._whole(piece)
                return
            self.hashers = [hashlib.new(HASHLIB_NAMES[name]) for name in self.hashes]
            if self.method == 8:
                self.inflater = inflater(self.member.size)
        if self.inflater is None:
            self._output(piece)
            return
        data: bytes | memoryview = piece
        while data:
            room = self.member.size - self.produced + 1
            try:
                out = self.inflater.decompress(data, min(room, _INFLATE_STEP))
            except INFLATE_ERRORS as exc:
                self.failure = Failure(f"{self.member.name}: corrupt compressed data ({exc})")
                return
            if out:
                self._output(out)
            if self.failure is not None:
                return
            data = self.inflater.unconsumed_tail
            if self.inflater.eof:
                return

    def _whole(self, piece: memoryview) -> None:
        """The common case: a small entry whose compressed bytes all arrived at once."""
        self.hashers = []
        if self.method == 8:
            self.inflater = inflater(self.member.size)
            try:
                out: bytes | memoryview = self.inflater.decompress(piece, self.member.size + 1)
            except INFLATE_ERRORS as exc:
                self.failure = Failure(f"{self.member.name}: corrupt compressed data ({exc})")
                return
            if len(out) <= self.member.size and not self.inflater.eof and out:
                # More output than one call gives (a lying header, or a huge entry).
                self.hashers = [hashlib.new(HASHLIB_NAMES[name]) for name in self.hashes]
                self._output(out)
                self.feed(memoryview(self.inflater.unconsumed_tail), True)
                return
        else:
            out = piece
        self.hashers = [hashlib.new(HASHLIB_NAMES[name], out) for name in self.hashes]
        self.produced = len(out)
        if self.produced > self.member.size:
            self.failure = Failure(
                f"{self.member.name} inflates to more than the {self.member.size} bytes its "
                "header declares"
            )

    def _output(self, out: bytes | memoryview) -> None:
        self.produced += len(out)
        if self.produced > self.member.size:
            self.failure = Failure(
                f"{self.member.name} inflates to more than the {self.member.size} bytes its "
                "header declares"
            )
            return
        assert self.hashers is not None
        for hasher in self.hashers:
            hasher.update(out)
        if self.kept is not None:
            self.kept += out

    def finish(self) -> dict[str, bytes] | Failure:
        if self.failure is not None:
            return self.failure
        if self.inflater is not None and not self.inflater.eof:
            return Failure(f"{self.member.name}: compressed data ends early (corrupt entry)")
        if self.produced != self.member.size:
            return Failure(
                f"{self.member.name}: {self.produced} bytes inflated, {self.member.size} declared"
            )
        hashers = self.hashers or [hashlib.new(HASHLIB_NAMES[n]) for n in self.hashes]
        return {name: h.digest() for name, h in zip(self.hashes, hashers, strict=True)}


class _Hasher(threading.Thread):
    """SHA-256 of the whole file and the content digests, fed chunk by chunk."""

    def __init__(self, plan: PassPlan, directory: Directory) -> None:
        super().__init__(name="apk-hash", daemon=True)
        self.sha256 = hashlib.sha256()
        self.content = ContentDigests(set(plan.content_kinds)) if plan.content_kinds else None
        self.queue: queue.Queue[tuple[int, bytes] | None] = queue.Queue(maxsize=4)
        self._regions = (
            (0, plan.block_offset),
            (directory.cd_offset, directory.eocd_offset),
            (directory.eocd_offset, directory.file_size),
        )
        self._block_offset = plan.block_offset
        self._eocd = directory.eocd_offset
        self._region = 0

    def run(self) -> None:
        while (item := self.queue.get()) is not None:
            self.consume(*item)

    def consume(self, offset: int, chunk: bytes) -> None:
        self.sha256.update(chunk)
        if self.content is not None:
            self._content(offset, chunk)

    def _content(self, offset: int, chunk: bytes) -> None:
        assert self.content is not None
        view = memoryview(chunk)
        end = offset + len(chunk)
        while self._region < 3:
            low, high = self._regions[self._region]
            piece_low, piece_high = max(low, offset), min(high, end)
            if piece_low < piece_high:
                piece = view[piece_low - offset : piece_high - offset]
                if self._region == 2:
                    piece = self._patched_eocd(piece_low, piece)
                self.content.update(piece)
            if high > end:
                return
            self.content.end_region()
            self._region += 1

    def _patched_eocd(self, start: int, piece: memoryview) -> memoryview:
        # The end record is digested as if its central directory began at the signing block.
        field_at = self._eocd + 16 - start
        if not 0 <= field_at <= len(piece) - 4:
            return piece  # a record cut short: digest what is there
        patched = bytearray(piece)
        patched[field_at : field_at + 4] = self._block_offset.to_bytes(4, "little")
        return memoryview(patched)


class _Lane(threading.Thread):
    """Inflates the entries given to it, in file order; two lanes use both cores."""

    def __init__(
        self,
        number: int,
        results: dict[str, dict[str, bytes] | Failure],
        on_entry: Callable[[str, bytearray | Failure], None] | None,
    ) -> None:
        super().__init__(name=f"apk-inflate-{number}", daemon=True)
        self.queue: queue.Queue[list[tuple[_Entry, memoryview, bool]] | None] = queue.Queue(
            maxsize=8
        )
        self.assigned = 0
        self._results = results
        self._on_entry = on_entry
        self.error: BaseException | None = None

    def run(self) -> None:
        while (batch := self.queue.get()) is not None:
            if self.error is not None:
                continue  # drain, so the reader never blocks on a dead lane
            try:
                self.process(batch)
            except BaseException as exc:  # re-raised in the reading thread
                self.error = exc

    def process(self, batch: list[tuple[_Entry, memoryview, bool]]) -> None:
        for entry, piece, last in batch:
            entry.feed(piece, last)
            if last:
                self._complete(entry)

    def _complete(self, entry: _Entry) -> None:
        outcome = entry.finish()
        self._results[entry.member.name] = outcome
        kept, entry.kept = entry.kept, None
        if kept is not None and self._on_entry is not None:
            self._on_entry(entry.member.name, outcome if isinstance(outcome, Failure) else kept)


def read_once(
    fh: BinaryIO,
    directory: Directory,
    plan: PassPlan,
    on_entry: Callable[[str, bytearray | Failure], None] | None = None,
) -> PassResult | Failure:
    """Read the file from start to end once. Entries that cannot be streamed (their data
    overlaps another's, a hostile layout) are reported as failures of their own;
    `on_entry` may be called from another thread."""
    wanted = set(plan.digests) | set(plan.keep)
    pending: list[_Entry] = []
    digests: dict[str, dict[str, bytes] | Failure] = {}
    seen: set[str] = set()
    for member in sorted(directory.entries, key=lambda m: m.header_offset):
        if member.name not in wanted or member.name in seen:
            continue
        seen.add(member.name)
        located = locate_data(fh, member, directory, strict=member.name in plan.digests)
        if isinstance(located, Failure):
            digests[member.name] = located
            continue
        start, method = located
        if pending and start < pending[-1].end:
            digests[member.name] = Failure(f"{member.name}: its data overlaps another entry's")
            continue
        entry = _Entry(member, start, method, plan.digests.get(member.name, ()),
                       member.name in plan.keep)  # fmt: skip
        pending.append(entry)

    hasher = _Hasher(plan, directory)
    # Small files are done in this thread: starting threads would cost more than it saves.
    threaded = directory.file_size >= THREADS_FROM
    lanes = [
        _Lane(n, digests, on_entry) for n in range((LANES if threaded else 1) if pending else 0)
    ]
    # Small entries are done by this thread between reads: their work holds the GIL (the
    # C code releases it only for larger buffers), so handing them to a lane gains nothing
    # and costs a queue; the lanes inflate the large ones meanwhile.
    inline = _Lane(LANES, digests, on_entry) if threaded else None
    lane_of: dict[int, _Lane] = {}
    for entry in pending:
        if inline is not None and entry.member.compressed_size < INLINE_BELOW:
            lane_of[id(entry)] = inline
            continue
        # Largest share first to the least loaded lane keeps the two busy alike.
        lane = min(lanes, key=lambda candidate: candidate.assigned)
        lane.assigned += entry.member.compressed_size + 4096
        lane_of[id(entry)] = lane
    if threaded:
        for thread in (hasher, *lanes):
            thread.start()
    size = 0
    index = 0
    fd = fh.fileno()
    failure: Failure | None = None
    try:
        offset = 0
        while True:
            chunk = os.pread(fd, READ_CHUNK, offset)
            if not chunk:
                break
            if threaded:
                hasher.queue.put((offset, chunk))
            else:
                hasher.consume(offset, chunk)
            end = offset + len(chunk)
            view = memoryview(chunk)
            batches: dict[int, list[tuple[_Entry, memoryview, bool]]] = {}
            while index < len(pending) and pending[index].start < end:
                entry = pending[index]
                low, high = max(entry.start, offset), min(entry.end, end)
                last = entry.end <= end
                piece = view[low - offset : max(low, high) - offset]
                batches.setdefault(id(lane_of[id(entry)]), []).append((entry, piece, last))
                if not last:
                    break
                index += 1
            for lane in lanes:
                batch = batches.get(id(lane))
                if batch and threaded:
                    lane.queue.put(batch)
                elif batch:
                    lane.process(batch)
            if inline is not None and id(inline) in batches:
                inline.process(batches[id(inline)])
            size = end
            offset = end
    except OSError as exc:
        failure = Failure(f"cannot read the file: {exc.strerror or exc}")
    finally:
        if threaded:
            hasher.queue.put(None)
            for lane in lanes:
                lane.queue.put(None)
            hasher.join()
            for lane in lanes:
                lane.join()
    for lane in lanes:
        if lane.error is not None:
            raise lane.error
    if failure is not None:
        return failure
    for entry in pending[index:]:
        digests[entry.member.name] = Failure(f"{entry.member.name}: file ends inside the entry")
    content = hasher.content.results() if hasher.content is not None else {}
    return PassResult(hasher.sha256.hexdigest(), size, digests, content)
