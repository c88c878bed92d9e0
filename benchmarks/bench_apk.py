"""Benchmark of APK analysis against hashing (the floor) and androguard's full analysis.

Usage: python benchmarks/bench_apk.py [APK_DIR] [--repeats N] [--skip-naive]

APK_DIR defaults to $APPAUDIT_SHARED/fixtures/apks, else the shared fixtures folder beside
the checkout. Everything runs in this one process; each figure is the median of the
repeats. Targets: ours/floor <= 10, naive/ours >= 20, warm/floor <= 2. `ours` verifies
every signature as Android does (v1 entry digests, v2/v3 content digests) in one read of
each file; `ours_zlib` is the same with zlib inflating instead of ISA-L, to show what the
`isal` dependency buys. `warm` is the APK stage of a repeat scan: every file resolved from a submission
row, hashed, and found in the facts cache of a SQLite registry (nothing analysed).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import hashlib
import os
import statistics
import sys
import tempfile
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from scanner.apk import analyse_apk, ziparchive
from scanner.apk.androguard_quiet import quiet_androguard


@dataclass
class Timings:
    """Seconds per repeat for each way of reading the same files."""

    files: int
    total_bytes: int
    runs: dict[str, list[float]] = field(default_factory=dict)

    def median(self, name: str) -> float:
        return statistics.median(self.runs[name])


def default_apk_dir() -> Path:
    env = os.environ.get("APPAUDIT_SHARED")
    shared = Path(env) if env else Path(__file__).resolve().parents[1].parent / "shared"
    return shared / "fixtures" / "apks"


def floor(paths: Sequence[Path]) -> None:
    """SHA-256 of every file, read in 1 MiB chunks: the least any analysis must do."""
    for path in paths:
        digest = hashlib.sha256()
        with path.open("rb") as fh:
            while chunk := fh.read(1 << 20):
                digest.update(chunk)


def ours(paths: Sequence[Path]) -> None:
    for path in paths:
        analyse_apk(path)


def ours_zlib(paths: Sequence[Path]) -> None:
    """`ours` with zlib inflating the entries instead of ISA-L."""
    saved = ziparchive._fast_inflate
    ziparchive._fast_inflate = zlib
    try:
        ours(paths)
    finally:
        ziparchive._fast_inflate = saved


class Warm:
    """The APK stage of a repeat scan, against a registry whose cache already has the facts."""

    def __init__(self, paths: Sequence[Path], folder: Path) -> None:
        from appaudit.apks import ApkAnalyser
        from registry.db import open_database
        from scanner.apk.sources import LocalFolders
        from scanner.submission import RequiredItem

        self.database = open_database(f"sqlite:///{folder / 'registry.db'}")
        self.items = [
            RequiredItem(str(folder / "submission.csv"), n + 2, "一中", "app", p.stem, apk=str(p))
            for n, p in enumerate(paths)
        ]
        # The APKs lie outside the submission's folder, as if named with --apk-dir.
        folders = LocalFolders(tuple(sorted({p.resolve().parent for p in paths})), False)
        self.analyser = lambda: ApkAnalyser(database=self.database, jobs=1, folders=folders)
        first = self.analyser()
        first.outcomes(self.items)  # fills the cache; not timed
        assert first.stats.analysed == len({p.resolve() for p in paths})

    def __call__(self, paths: Sequence[Path]) -> None:
        analyser = self.analyser()
        analyser.outcomes(self.items)
        if analyser.stats.analysed:
            raise RuntimeError("the warm run analysed files: the cache did not serve them")


def naive(paths: Sequence[Path]) -> None:
    """androguard's AnalyzeAPK: APK, every DEX and the cross-reference analysis."""
    quiet_androguard()
    from androguard.misc import AnalyzeAPK

    for path in paths:
        # Broken fixtures make androguard raise; the time spent until then still counts.
        with contextlib.suppress(Exception):
            AnalyzeAPK(str(path))


def measure(
    paths: Sequence[Path], *, repeats: int = 5, include_naive: bool = True, naive_repeats: int = 1
) -> Timings:
    """Time each approach over `paths`: a dict of seconds per repeat, by approach name.

    floor and ours are interleaved within each repeat, so machine noise hits them alike;
    the naive androguard runs come last, as their memory churn slows whatever follows.
    """
    timings = Timings(files=len(paths), total_bytes=sum(p.stat().st_size for p in paths))
    floor(paths)  # warm the page cache and the imports before any timing
    ours(paths)
    with tempfile.TemporaryDirectory() as folder:
        warm = Warm(paths, Path(folder))
        fast: list[tuple[str, Callable[[Sequence[Path]], None]]] = [
            ("floor", floor),
            ("ours", ours),
            ("ours_zlib", ours_zlib),
            ("warm", warm),
        ]
        for _ in range(repeats):
            for name, run in fast:
                timings.runs.setdefault(name, []).append(_timed(run, paths))
        warm.database.close()
    if include_naive:
        for _ in range(naive_repeats):
            timings.runs.setdefault("naive", []).append(_timed(naive, paths))
    return timings


def _timed(run: Callable[[Sequence[Path]], None], paths: Sequence[Path]) -> float:
    gc.collect()
    start = time.perf_counter()
    run(paths)
    return time.perf_counter() - start


def report(timings: Timings) -> str:
    lines = [
        f"{timings.files} APKs, {timings.total_bytes / 1e6:.1f} MB",
    ]
    for name in timings.runs:
        runs = ", ".join(f"{t * 1000:.0f}" for t in timings.runs[name])
        lines.append(f"  {name:15s} median {timings.median(name) * 1000:8.1f} ms  (runs: {runs})")
    ratio = timings.median("ours") / timings.median("floor")
    lines.append(
        f"  ours/floor  = {ratio:6.1f}x  (target <= 10x; signatures verified, inflater "
        f"{ziparchive.INFLATER})"
    )
    if "ours_zlib" in timings.runs:
        with_zlib = timings.median("ours_zlib") / timings.median("floor")
        lines.append(f"  ours_zlib/floor = {with_zlib:6.1f}x  (zlib inflating instead of ISA-L)")
    if "warm" in timings.runs:
        cached = timings.median("warm") / timings.median("floor")
        lines.append(f"  warm/floor  = {cached:6.1f}x  (target <= 2x: a repeat scan, all cached)")
    if "naive" in timings.runs:
        speedup = timings.median("naive") / timings.median("ours")
        lines.append(f"  naive/ours  = {speedup:6.1f}x  (target >= 20x)")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("apk_dir", nargs="?", type=Path, default=None)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--naive-repeats", type=int, default=1, help="AnalyzeAPK takes minutes per run"
    )
    parser.add_argument("--skip-naive", action="store_true")
    args = parser.parse_args(argv)
    folder: Path = args.apk_dir or default_apk_dir()
    paths = sorted(p for p in folder.glob("*.apk") if p.is_file())
    if not paths:
        print(f"no APK files in {folder}", file=sys.stderr)
        return 2
    timings = measure(
        paths,
        repeats=args.repeats,
        include_naive=not args.skip_naive,
        naive_repeats=args.naive_repeats,
    )
    print(report(timings))
    return 0


if __name__ == "__main__":
    sys.exit(main())
