"""Where a submission's APK comes from: a file beside it, a folder matched by package, or a URL.

`source_for` reads the shape of the spreadsheet cell and picks one `ApkSource`;
`resolve()` then gives a local file (`LocalApk`) or a `SourceFailure` with the reason.
"""

from __future__ import annotations

import os
import re
import threading
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import requests

from scanner.apk.analyse import ApkIdentity, identify_apk
from scanner.apk.download import (
    ALLOWED_SCHEMES,
    DEFAULT_OPTIONS,
    DownloadFailure,
    DownloadOptions,
    download,
)
from scanner.apk.ziparchive import DEFAULT_LIMITS, Failure, Limits

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]+):")
# Schemes recognised even without "//"; a drive letter (C:) is one letter, so not a scheme.
_URL_ONLY_SCHEMES = ("file", "ftp", "data", "javascript", "content")
_QUOTES = "\"'“”‘’「」"


@dataclass(frozen=True)
class LocalApk:
    """An APK file on this machine, and how it was found."""

    path: Path
    origin: str
    note: str = ""
    sha256: str = ""
    """Known already when the file was downloaded (hashed on the way in)."""


@dataclass(frozen=True)
class SourceFailure:
    """No APK could be had from `origin`; `reason` says why, for the report."""

    origin: str
    reason: str


class ApkSource(ABC):
    """One place an APK may come from."""

    @property
    @abstractmethod
    def origin(self) -> str:
        """What the submission said (path, folder or URL), for reports."""

    @abstractmethod
    def resolve(self) -> LocalApk | SourceFailure:
        """A local file to analyse, or why there is none. Never raises for bad input."""


@dataclass(frozen=True)
class PathSource(ApkSource):
    """A file named by the submission, relative to the submission's folder."""

    path: Path
    cell: str

    @property
    def origin(self) -> str:
        return self.cell

    def resolve(self) -> LocalApk | SourceFailure:
        try:
            if self.path.is_file():
                return LocalApk(path=self.path, origin=self.cell)
            if self.path.exists():
                return SourceFailure(self.cell, f"{self.path} is not a file")
        except OSError as exc:
            return SourceFailure(self.cell, f"cannot read {self.path}: {exc.strerror or exc}")
        hint = ""
        if re.match(r"^(www\.|[\w-]+\.(com|cn|net|org)(/|$))", self.cell, re.IGNORECASE):
            hint = " (if this is a web address, write it with http:// or https://)"
        return SourceFailure(self.cell, f"file not found: {self.path}{hint}")


@dataclass(frozen=True)
class FolderIndex:
    """The APKs of one folder by package (包名), read once from their manifests."""

    folder: Path
    by_package: Mapping[str, tuple[ApkIdentity, ...]]
    unreadable: tuple[tuple[Path, str], ...] = ()

    @property
    def count(self) -> int:
        return sum(len(v) for v in self.by_package.values()) + len(self.unreadable)


class FolderIndexCache:
    """Indexes of APK folders; each file's manifest is read once per (size, mtime).

    Shared by every row that points at the same folder, so a folder of 200 APKs is
    read once per run, not once per row; safe to use from several threads.
    """

    def __init__(self, limits: Limits = DEFAULT_LIMITS) -> None:
        self._limits = limits
        self._identities: dict[tuple[str, int, int], ApkIdentity | Failure] = {}
        self._lock = threading.Lock()

    def index(self, folder: Path) -> FolderIndex | SourceFailure:
        try:
            entries = sorted(
                (e for e in os.scandir(folder) if e.name.lower().endswith(".apk")),
                key=lambda e: e.name,
            )
        except OSError as exc:
            return SourceFailure(str(folder), f"cannot list {folder}: {exc.strerror or exc}")
        by_package: dict[str, list[ApkIdentity]] = {}
        unreadable: list[tuple[Path, str]] = []
        for entry in entries:
            try:
                if not entry.is_file():
                    continue
                stat = entry.stat()
            except OSError as exc:
                unreadable.append((Path(entry.path), exc.strerror or str(exc)))
                continue
            key = (entry.path, stat.st_size, stat.st_mtime_ns)
            with self._lock:
                identity = self._identities.get(key)
            if identity is None:
                identity = identify_apk(Path(entry.path), self._limits)
                with self._lock:
                    self._identities[key] = identity
            if isinstance(identity, Failure):
                unreadable.append((Path(entry.path), identity.reason))
            else:
                by_package.setdefault(identity.package, []).append(identity)
        return FolderIndex(
            folder=folder,
            by_package={k: tuple(v) for k, v in by_package.items()},
            unreadable=tuple(unreadable),
        )


_DEFAULT_INDEXES = FolderIndexCache()


@dataclass(frozen=True)
class FolderSource(ApkSource):
    """A folder of APKs; the one whose manifest names the expected package is used."""

    folder: Path
    package: str
    cell: str
    indexes: FolderIndexCache = field(default=_DEFAULT_INDEXES, compare=False)

    @property
    def origin(self) -> str:
        return self.cell

    def resolve(self) -> LocalApk | SourceFailure:
        index = self.indexes.index(self.folder)
        if isinstance(index, SourceFailure):
            return SourceFailure(self.cell, index.reason)
        matches = index.by_package.get(self.package, ())
        if not matches:
            return SourceFailure(
                self.cell,
                f"no APK with package {self.package} in {self.folder} "
                f"({index.count} APK files looked at)",
            )
        # Several builds of one app: the highest versionCode is the one parents would get.
        best = max(matches, key=lambda m: (m.version_code or 0, m.path.name))
        note = ""
        if len(matches) > 1:
            note = (
                f"{len(matches)} APKs for {self.package}; chose {best.path.name} "
                f"(highest versionCode {best.version_code})"
            )
        return LocalApk(path=best.path, origin=self.cell, note=note)


@dataclass(frozen=True)
class UrlSource(ApkSource):
    """An http(s) URL, downloaded into the caller's download cache folder."""

    url: str
    cache_dir: Path | None
    options: DownloadOptions = DEFAULT_OPTIONS
    session: requests.Session | None = field(default=None, compare=False)

    @property
    def origin(self) -> str:
        return self.url

    def resolve(self) -> LocalApk | SourceFailure:
        if self.cache_dir is None:
            return SourceFailure(self.url, "URL given, but no download folder was configured")
        result = download(self.url, self.cache_dir, self.options, session=self.session)
        if isinstance(result, DownloadFailure):
            return SourceFailure(self.url, f"download failed: {result.reason}")
        note = "reused an earlier download" if result.from_cache else "downloaded"
        if result.final_url != self.url:
            note += f" (from {result.final_url})"
        return LocalApk(path=result.path, origin=self.url, note=note, sha256=result.sha256)


@dataclass(frozen=True)
class UnavailableSource(ApkSource):
    """A cell that cannot name an APK (empty, or a refused kind of address)."""

    cell: str
    reason: str

    @property
    def origin(self) -> str:
        return self.cell

    def resolve(self) -> LocalApk | SourceFailure:
        return SourceFailure(self.cell, self.reason)


def source_for(
    cell: str,
    base_dir: Path,
    expected_package: str | None,
    *,
    download_dir: Path | None = None,
    download_options: DownloadOptions = DEFAULT_OPTIONS,
    folder_indexes: FolderIndexCache | None = None,
    session: requests.Session | None = None,
) -> ApkSource:
    """The source a submission cell describes: URL, folder (matched by package) or file.

    Relative paths are taken from `base_dir`, the folder of the submission. URLs are
    downloaded into `download_dir`; without one, a URL resolves to a failure.
    """
    text = cell.strip().strip(_QUOTES + " \u3000").strip()
    if not text:
        return UnavailableSource(cell, "no APK given")
    match = _SCHEME.match(text)
    scheme = match.group(1).lower() if match else ""
    if scheme and ("://" in text or scheme in _URL_ONLY_SCHEMES):
        if scheme in ALLOWED_SCHEMES:
            return UrlSource(text, download_dir, download_options, session)
        return UnavailableSource(
            cell, f"refused: only http and https addresses are fetched, not {scheme}:"
        )
    path = _local_path(text, base_dir)
    if path.is_dir():
        if not expected_package:
            return UnavailableSource(
                cell, f"{path} is a folder, and the row names no package to look for in it"
            )
        return FolderSource(
            path, expected_package, cell, indexes=folder_indexes or _DEFAULT_INDEXES
        )
    return PathSource(path, cell)


def _local_path(text: str, base_dir: Path) -> Path:
    path = Path(text).expanduser()
    candidate = path if path.is_absolute() else base_dir / path
    if "\\" in text and not candidate.exists():
        # Paths typed on Windows (apks\学习.apk) still name the file on other systems.
        alternative = Path(text.replace("\\", "/"))
        alternative = alternative if alternative.is_absolute() else base_dir / alternative
        if alternative.exists():
            return alternative
    return candidate
