"""Getting and analysing the APKs that submissions name: sources, cache, process pool.

Each distinct file is analysed once: facts are cached in the registry database by SHA-256
and analyser version, so a repeat scan only hashes what it already knows. New files are
analysed in worker processes, one APK at a time per worker, each within the memory and
time budget of `[apk]` in appaudit.toml: an APK that crashes its worker or runs out of
budget is unreadable, and the scan goes on.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from platformdirs import user_cache_dir
from sqlalchemy.exc import SQLAlchemyError

from appaudit.settings import ApkBudget
from policies.apk_rules import ApkOutcome
from registry import apkcache
from registry.db import Database, first_line
from scanner.apk import ANALYSER_VERSION, ApkFacts, SdkCatalogue, hash_file
from scanner.apk.download import (
    DEFAULT_OPTIONS,
    DownloadOptions,
    run_downloads,
)
from scanner.apk.isolation import analyse_isolated
from scanner.apk.sdk import load_catalogue
from scanner.apk.sources import (
    CONFINED,
    ApkSource,
    FolderIndexCache,
    LocalApk,
    LocalFolders,
    SourceFailure,
    UrlSource,
    source_for,
)
from scanner.apk.ziparchive import Failure
from scanner.safetext import shown_path
from scanner.submission import RequiredItem


def default_download_dir() -> Path:
    return Path(user_cache_dir("appaudit", appauthor=False)) / "downloads"


DEFAULT_DOWNLOAD_JOBS = 4


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
    not_cached: str = ""
    """Why new facts could not be saved in the registry's cache (it refused the write)."""


@dataclass
class ApkAnalyser:
    """Resolves APK cells to files and files to facts, remembering facts in the database."""

    database: Database | None = None
    jobs: int = field(default_factory=default_jobs)
    download_dir: Path = field(default_factory=default_download_dir)
    sdk_prefixes: Path | None = None
    package_hint: Callable[[RequiredItem], str] | None = None
    """The package the registry knows for an item that names none (to search a folder)."""
    download_options: DownloadOptions = DEFAULT_OPTIONS
    download_jobs: int = DEFAULT_DOWNLOAD_JOBS
    """Downloads at once: a slow server holds one of them, not the scan."""
    folders: LocalFolders = CONFINED
    """Which local files APK cells may name besides those in the submission's folder."""
    submission_folders: Mapping[str, Path] = field(default_factory=dict)
    """Each submission's folder by its source text (the text shows undecodable bytes of a
    file name as U+FFFD, so it is not always the path)."""
    stats: ApkStats = field(default_factory=ApkStats)
    budget: ApkBudget = field(default_factory=ApkBudget)
    """What analysing one APK may cost (`[apk] memory_mb` and `seconds`)."""

    def __post_init__(self) -> None:
        self.catalogue: SdkCatalogue = load_catalogue(self.sdk_prefixes)
        self.version = f"{ANALYSER_VERSION}+sdk:{self.catalogue.fingerprint}"
        self._folders = FolderIndexCache()

    def outcomes(self, items: Sequence[RequiredItem]) -> dict[tuple[str, int], ApkOutcome]:
        """An outcome for every item, by (source, row)."""
        self.stats.named += len(items)
        source_of: dict[tuple[str, int], ApkSource] = {}
        by_cell: dict[tuple[str, str, str], ApkSource] = {}
        for item in items:
            base = self.submission_folders.get(item.source) or Path(item.source).parent
            expected = _package_of(item) or (self.package_hint(item) if self.package_hint else "")
            wanted = (str(base), item.apk, expected)
            if wanted not in by_cell:
                by_cell[wanted] = source_for(
                    item.apk,
                    base,
                    expected or None,
                    download_dir=self.download_dir,
                    download_options=self.download_options,
                    folder_indexes=self._folders,
                    folders=self.folders,
                )
            source_of[(item.source, item.row)] = by_cell[wanted]
        # Sources are values: one URL named by many rows (or files) is fetched once.
        resolved = self._resolve(list(dict.fromkeys(source_of.values())))
        located = {key: resolved[source] for key, source in source_of.items()}

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

    def _resolve(self, sources: list[ApkSource]) -> dict[ApkSource, LocalApk | SourceFailure]:
        """Each source's file; downloads run `download_jobs` at a time, local files inline."""
        remote = [s for s in sources if isinstance(s, UrlSource)]
        found: dict[ApkSource, LocalApk | SourceFailure] = {}
        if len(remote) > 1 and self.download_jobs > 1:
            results = run_downloads([s.resolve for s in remote], self.download_jobs)
            found.update(zip(remote, results, strict=True))
        for source in sources:
            if source not in found:
                found[source] = source.resolve()
        return found

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
        fresh: dict[str, ApkFacts] = {}
        lasting: dict[str, ApkFacts] = {}
        for (sha, path), outcome in zip(todo, self._analyse([p for _, p in todo]), strict=True):
            if isinstance(outcome, Failure):
                # A budget or a dead worker decided this, not the bytes: not cached.
                fresh[sha] = self._unanalysed(path, outcome, sha)
            else:
                fresh[sha] = lasting[sha] = outcome
        self.stats.analysed += len(fresh)
        if self.database is not None and lasting:
            try:
                apkcache.store_facts(
                    self.database,
                    self.version,
                    {
                        sha: json.dumps(f.to_dict(), ensure_ascii=False)
                        for sha, f in lasting.items()
                    },
                )
            except (SQLAlchemyError, OSError) as error:
                # A read-only or full registry: the facts stand, they are only not remembered.
                self.stats.not_cached = first_line(error)
        # The file may have changed between hashing and analysis; the facts say what was read.
        return known | fresh

    def _analyse(self, paths: Sequence[Path]) -> list[ApkFacts | Failure]:
        """Each file analysed in a worker process, within the budget; never in this one."""
        if not paths:
            return []
        return analyse_isolated(
            paths,
            sdk_prefixes=self.sdk_prefixes,
            workers=min(self.jobs, len(paths)),
            memory_mb=self.budget.memory_mb,
            seconds=self.budget.seconds,
        )

    def _unanalysed(self, path: Path, failure: Failure, sha256: str = "") -> ApkFacts:
        """Facts that say only why there are none (and which file it was)."""
        size = 0
        hashed = hash_file(path)  # read again only for the few files whose analysis failed
        if not isinstance(hashed, Failure):
            sha256, size = sha256 or hashed[0], hashed[1]
        return ApkFacts(
            sha256=sha256,
            size=size,
            problems=(failure.reason,),
            sdk_catalogue=self.catalogue.fingerprint,
        )

    def inspect(self, paths: Iterable[Path]) -> list[ApkFacts]:
        """Facts for files named directly (`appaudit apk inspect`), without the cache."""
        files = list(paths)
        return [
            self._unanalysed(path, outcome) if isinstance(outcome, Failure) else outcome
            for path, outcome in zip(files, self._analyse(files), strict=True)
        ]


def _package_of(item: RequiredItem) -> str:
    found = item.identified
    return found[1] if found is not None and found[0] == "package" else ""
