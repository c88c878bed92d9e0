"""Getting and analysing the APKs that submissions name: sources, cache, process pool.

Each distinct file is analysed once: facts are cached in the registry database by SHA-256
and analyser version, so a repeat scan only hashes what it already knows. New files are
analysed in a pool of worker processes, one APK in memory per worker.
"""

from __future__ import annotations

import json
import multiprocessing
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from platformdirs import user_cache_dir

from policies.apk_rules import ApkOutcome
from registry import apkcache
from registry.db import Database
from registry.values import InvalidValue, classify_identifier
from scanner.apk import ANALYSER_VERSION, ApkFacts, SdkCatalogue, analyse_apk, hash_file
from scanner.apk.sdk import load_catalogue
from scanner.apk.sources import (
    CONFINED,
    FolderIndexCache,
    LocalApk,
    LocalFolders,
    SourceFailure,
    source_for,
)
from scanner.apk.ziparchive import Failure
from scanner.safetext import shown_path
from scanner.submission import RequiredItem


def default_download_dir() -> Path:
    return Path(user_cache_dir("appaudit", appauthor=False)) / "downloads"


def default_jobs() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


@dataclass
class ApkStats:
    """What the APK stage did, for the summary line and the benchmark."""

    named: int = 0
    files: int = 0
    analysed: int = 0
    cached: int = 0
    failed: int = 0


@dataclass
class ApkAnalyser:
    """Resolves APK cells to files and files to facts, remembering facts in the database."""

    database: Database | None = None
    jobs: int = field(default_factory=default_jobs)
    download_dir: Path = field(default_factory=default_download_dir)
    sdk_prefixes: Path | None = None
    package_hint: Callable[[RequiredItem], str] | None = None
    """The package the registry knows for an item that names none (to search a folder)."""
    folders: LocalFolders = CONFINED
    """Which local files APK cells may name besides those in the submission's folder."""
    submission_folders: Mapping[str, Path] = field(default_factory=dict)
    """Each submission's folder by its source text (the text shows undecodable bytes of a
    file name as U+FFFD, so it is not always the path)."""
    stats: ApkStats = field(default_factory=ApkStats)

    def __post_init__(self) -> None:
        self.catalogue: SdkCatalogue = load_catalogue(self.sdk_prefixes)
        self.version = f"{ANALYSER_VERSION}+sdk:{self.catalogue.fingerprint}"
        self._folders = FolderIndexCache()

    def outcomes(self, items: Sequence[RequiredItem]) -> dict[tuple[str, int], ApkOutcome]:
        """An outcome for every item, by (source, row)."""
        self.stats.named += len(items)
        located: dict[tuple[str, int], LocalApk | SourceFailure] = {}
        by_source: dict[tuple[str, str, str], LocalApk | SourceFailure] = {}
        for item in items:
            base = self.submission_folders.get(item.source) or Path(item.source).parent
            expected = _package_of(item) or (self.package_hint(item) if self.package_hint else "")
            wanted = (str(base), item.apk, expected)
            if wanted not in by_source:
                source = source_for(
                    item.apk,
                    base,
                    expected or None,
                    download_dir=self.download_dir,
                    folder_indexes=self._folders,
                    folders=self.folders,
                )
                by_source[wanted] = source.resolve()
            located[(item.source, item.row)] = by_source[wanted]

        digests: dict[Path, str] = {}
        failures: dict[Path, str] = {}
        local = {f.path: f for f in located.values() if isinstance(f, LocalApk)}
        for path, apk in local.items():
            if apk.sha256:
                digests[path] = apk.sha256
                continue
            hashed = hash_file(path)
            if isinstance(hashed, Failure):
                failures[path] = hashed.reason
            else:
                digests[path] = hashed[0]
        facts = self.facts_for(digests)

        out: dict[tuple[str, int], ApkOutcome] = {}
        for item in items:
            key = (item.source, item.row)
            found = located[key]
            if isinstance(found, SourceFailure):
                out[key] = ApkOutcome(item.apk, failure=found.reason, origin=found.origin)
                self.stats.failed += 1
            elif found.path in failures:
                out[key] = ApkOutcome(
                    item.apk, failure=failures[found.path], origin=shown_path(found.path)
                )
                self.stats.failed += 1
            else:
                known = facts[digests[found.path]]
                out[key] = ApkOutcome(item.apk, facts=known, origin=shown_path(found.path))
        return out

    def facts_for(self, digests: Mapping[Path, str]) -> dict[str, ApkFacts]:
        """Facts for each file (path -> SHA-256), from the cache or by analysing it."""
        unique = {sha: path for path, sha in digests.items()}
        self.stats.files += len(unique)
        known: dict[str, ApkFacts] = {}
        if self.database is not None and unique:
            for sha, text in apkcache.cached_facts(self.database, self.version, unique).items():
                try:
                    known[sha] = ApkFacts.from_dict(json.loads(text))
                except (ValueError, json.JSONDecodeError):
                    continue  # a damaged cache entry is analysed again, not trusted
        self.stats.cached += len(known)
        todo = [(sha, path) for sha, path in unique.items() if sha not in known]
        fresh = dict(
            zip([sha for sha, _ in todo], self._analyse([p for _, p in todo]), strict=True)
        )
        self.stats.analysed += len(fresh)
        if self.database is not None and fresh:
            apkcache.store_facts(
                self.database,
                self.version,
                {sha: json.dumps(f.to_dict(), ensure_ascii=False) for sha, f in fresh.items()},
            )
        # The file may have changed between hashing and analysis; the facts say what was read.
        return known | fresh

    def _analyse(self, paths: Sequence[Path]) -> list[ApkFacts]:
        if not paths:
            return []
        if self.jobs <= 1 or len(paths) == 1:
            return [analyse_apk(p, catalogue=self.catalogue) for p in paths]
        # spawn, not fork: a scan may hold a large district in memory that workers don't need.
        context = multiprocessing.get_context("spawn")
        workers = min(self.jobs, len(paths))
        with ProcessPoolExecutor(workers, mp_context=context, max_tasks_per_child=8) as pool:
            return list(pool.map(_analyse_one, paths, [self.sdk_prefixes] * len(paths)))

    def inspect(self, paths: Iterable[Path]) -> list[ApkFacts]:
        """Facts for files named directly (`appaudit apk inspect`), without the cache."""
        return self._analyse(list(paths))


def _analyse_one(path: Path, sdk_prefixes: Path | None) -> ApkFacts:
    return analyse_apk(path, catalogue=_worker_catalogue(sdk_prefixes))


_CATALOGUES: dict[Path | None, SdkCatalogue] = {}


def _worker_catalogue(sdk_prefixes: Path | None) -> SdkCatalogue:
    found = _CATALOGUES.get(sdk_prefixes)
    if found is None:
        found = _CATALOGUES[sdk_prefixes] = load_catalogue(sdk_prefixes)
    return found


def _package_of(item: RequiredItem) -> str:
    if not item.identifier:
        return ""
    try:
        which, value = classify_identifier(item.identifier, item.kind)
    except InvalidValue:
        return ""
    return value if which == "package" else ""
