"""Where a submission's APK comes from: a file beside it, a folder matched by package, or a URL.

`source_for` reads the shape of the spreadsheet cell and picks one `ApkSource`;
`resolve()` then gives a local file (`LocalApk`) or a `SourceFailure` with the reason.
Neither raises for anything a cell can hold: a cell is a cell, and its problems belong to
its own row.

A cell can name only files inside the submission's own folder and the folders the user
named (`LocalFolders`); anything else — an absolute path elsewhere, `../..`, a symbolic
link leading out — is refused without looking at it, so the report says nothing about a
file it was not allowed to read (not even whether it exists).
"""

from __future__ import annotations

import errno
import os
import re
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

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
from scanner.safetext import shown_path

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]+):")
# Schemes recognised even without "//"; a drive letter (C:) is one letter, so not a scheme.
_URL_ONLY_SCHEMES = ("file", "ftp", "data", "javascript", "content")
_QUOTES = "\"'“”‘’「」"

CELL_ERRORS = (OSError, ValueError, RuntimeError, UnicodeError)
"""What the file system and URL parsing raise for text no file or URL can have (a NUL,
a name too long, `~nosuchuser`, a bracket in a host …): a failure of that cell's row."""


def _real(path: Path) -> Path:
    return Path(os.path.realpath(path))


@dataclass(frozen=True)
class LocalFolders:
    """Which local files APK cells may name: those inside the submission's own folder and
    inside `folders` (`--apk-dir`), after following every symbolic link; any file at all
    with `any_path` (`--allow-any-path`)."""

    folders: tuple[Path, ...] = ()
    any_path: bool = False

    def allows(self, path: Path, base_dir: Path) -> bool:
        """Whether `path` lies inside `base_dir` or one of `folders` (raises CELL_ERRORS)."""
        if self.any_path:
            return True
        real = _real(path)
        return any(real.is_relative_to(_real(root)) for root in (base_dir, *self.folders))

    def refusal(self, cell: str) -> SourceFailure:
        """The same words for every refused cell, whatever is or is not at that path."""
        where = "the submission's folder"
        if self.folders:
            where += " and the folders given with --apk-dir"
        return SourceFailure(
            cell,
            f"refused: the path leads outside {where} (name its folder with --apk-dir, "
            "or allow every path with --allow-any-path)",
        )


CONFINED = LocalFolders()
"""Only the submission's own folder: the default."""


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
                return SourceFailure(self.cell, f"{shown_path(self.path)} is not a file")
        except CELL_ERRORS as exc:
            return _cell_failure(self.cell, self.path, exc)
        hint = ""
        if re.match(r"^(www\.|[\w-]+\.(com|cn|net|org)(/|$))", self.cell, re.IGNORECASE):
            hint = " (if this is a web address, write it with http:// or https://)"
        return SourceFailure(self.cell, f"file not found: {shown_path(self.path)}{hint}")


def _cell_failure(cell: str, path: Path | None, error: BaseException) -> SourceFailure:
    """A cell the file system or the URL parser cannot take, in plain words."""
    if isinstance(error, OSError):
        if error.errno == errno.ENAMETOOLONG:
            return SourceFailure(
                cell, f"the path is too long for a file name ({len(cell):,} characters)"
            )
        what = error.strerror or str(error)
        return SourceFailure(cell, f"cannot read {shown_path(path) if path else cell}: {what}")
    if isinstance(error, RuntimeError):  # Path.expanduser: ~name of a user that does not exist
        return SourceFailure(cell, "cannot use this path: it starts with ~ but names no user here")
    if "null" in str(error):
        return SourceFailure(cell, "the path contains a NUL character, which no file name can")
    return SourceFailure(cell, f"cannot use this path: {error}")


@dataclass(frozen=True)
class FolderIndex:
    """The APKs of one folder by package (包名), read once from their manifests."""

    folder: Path
    by_package: Mapping[str, tuple[ApkIdentity, ...]]
    unreadable: tuple[tuple[Path, str], ...] = ()
    refused: int = 0
    """APK files left unread: links leading outside the folders a cell may name."""

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

    def index(
        self, folder: Path, admit: Callable[[Path], bool] | None = None
    ) -> FolderIndex | SourceFailure:
        """The APKs in `folder`; with `admit`, only the files it admits are read."""
        try:
            entries = sorted(
                (e for e in os.scandir(folder) if e.name.lower().endswith(".apk")),
                key=lambda e: e.name,
            )
        except OSError as exc:
            reason = f"cannot list {shown_path(folder)}: {exc.strerror or exc}"
            return SourceFailure(shown_path(folder), reason)
        by_package: dict[str, list[ApkIdentity]] = {}
        unreadable: list[tuple[Path, str]] = []
        refused = 0
        for entry in entries:
            try:
                if not entry.is_file():
                    continue
                if admit is not None and not admit(Path(entry.path)):
                    refused += 1
                    continue
                stat = entry.stat()
            except CELL_ERRORS as exc:
                unreadable.append((Path(entry.path), getattr(exc, "strerror", None) or str(exc)))
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
            refused=refused,
        )


_DEFAULT_INDEXES = FolderIndexCache()


@dataclass(frozen=True)
class FolderSource(ApkSource):
    """A folder of APKs; the one whose manifest names the expected package is used."""

    folder: Path
    package: str
    cell: str
    indexes: FolderIndexCache = field(default=_DEFAULT_INDEXES, compare=False)
    base_dir: Path | None = None
    """The submission's folder; with it, only files inside the allowed folders are read."""
    folders: LocalFolders = CONFINED

    @property
    def origin(self) -> str:
        return self.cell

    def _admits(self, path: Path) -> bool:
        assert self.base_dir is not None
        return self.folders.allows(path, self.base_dir)

    def resolve(self) -> LocalApk | SourceFailure:
        confined = self.base_dir is not None and not self.folders.any_path
        index = self.indexes.index(self.folder, self._admits if confined else None)
        if isinstance(index, SourceFailure):
            return SourceFailure(self.cell, index.reason)
        matches = index.by_package.get(self.package, ())
        if not matches:
            refused = ""
            if index.refused:
                refused = (
                    f"; {index.refused} link(s) leading outside the allowed folders not followed"
                )
            return SourceFailure(
                self.cell,
                f"no APK with package {self.package} in {shown_path(self.folder)} "
                f"({index.count} APK files looked at{refused})",
            )
        # Several builds of one app: the highest versionCode is the one parents would get.
        best = max(matches, key=lambda m: (m.version_code or 0, m.path.name))
        note = ""
        if len(matches) > 1:
            note = (
                f"{len(matches)} APKs for {self.package}; chose {shown_path(best.path.name)} "
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
        try:
            result = download(self.url, self.cache_dir, self.options, session=self.session)
        except (ValueError, UnicodeError) as exc:  # what URL parsing raises for a bad address
            return SourceFailure(self.url, f"not a usable web address: {exc}")
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
    folders: LocalFolders = CONFINED,
) -> ApkSource:
    """The source a submission cell describes: URL, folder (matched by package) or file.

    Relative paths are taken from `base_dir`, the folder of the submission; a local path
    outside it and outside `folders` is refused. URLs are downloaded into `download_dir`;
    without one, a URL resolves to a failure. Never raises: a cell that names nothing
    usable gives a source that resolves to a failure saying why.
    """
    text = cell.strip().strip(_QUOTES + " \u3000").strip()
    if not text:
        return UnavailableSource(cell, "no APK given")
    match = _SCHEME.match(text)
    scheme = match.group(1).lower() if match else ""
    if scheme and ("://" in text or scheme in _URL_ONLY_SCHEMES):
        if scheme not in ALLOWED_SCHEMES:
            return UnavailableSource(
                cell, f"refused: only http and https addresses are fetched, not {scheme}:"
            )
        try:
            parts = urlsplit(text)
            parts.port  # noqa: B018 - parsing the port is what rejects a bad one
        except ValueError as exc:
            return UnavailableSource(cell, f"not a usable web address: {exc}")
        if not parts.hostname:
            return UnavailableSource(cell, "not a usable web address: it names no host")
        return UrlSource(text, download_dir, download_options, session)
    try:
        path = _local_path(text, base_dir)
        if not folders.allows(path, base_dir):
            return UnavailableSource(cell, folders.refusal(cell).reason)
        if path.is_dir():
            if not expected_package:
                return UnavailableSource(
                    cell,
                    f"{shown_path(path)} is a folder, and the row names no package to look for in it",
                )
            return FolderSource(
                path,
                expected_package,
                cell,
                indexes=folder_indexes or _DEFAULT_INDEXES,
                base_dir=base_dir,
                folders=folders,
            )
    except CELL_ERRORS as exc:
        return UnavailableSource(cell, _cell_failure(cell, None, exc).reason)
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
