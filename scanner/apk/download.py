"""Downloading an APK over http(s) into a cache folder, with caps, retries and plain reasons.

Only http and https are fetched, redirects included (each hop is checked, so a server
cannot bounce the request to `file:` or `ftp:`). The body streams to a temporary file in
the cache folder while it is hashed, and is renamed into place only when complete, so
the cache never holds a partial APK.

Each download has a total deadline, retries and waits included, so a server that
trickles one byte at a time cannot hold a scan. Partial files are named after the
process that writes them (`.part-PID-….apk`): they are removed when the download ends in
any way, by `abandon_downloads` when the scan is interrupted, and by
`remove_stale_parts` at the next start if their process died without it (kill -9).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import queue
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urljoin, urlsplit

import requests
from urllib3.exceptions import HTTPError, ProtocolError, ReadTimeoutError

from scanner.leftovers import is_stale

ALLOWED_SCHEMES = ("http", "https")
_REDIRECTS = (301, 302, 303, 307, 308)
_CHUNK = 1 << 16
_USER_AGENT = "appaudit/0.1 (audit of apps required by schools)"
PART_PREFIX = ".part-"
"""Partial downloads: `.part-PID-RANDOM.apk` (older versions wrote `.part-RANDOM.apk`)."""
_META_PREFIX = ".meta-"


@dataclass(frozen=True)
class DownloadOptions:
    """Limits and patience for one download."""

    max_bytes: int = 500_000_000
    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    """Longest silence between two pieces of the body, not the whole transfer."""
    retries: int = 3
    """Further attempts after a connection error, a timeout, a 5xx or a 429."""
    backoff: float = 1.0
    """First wait between attempts, doubled each time."""
    max_backoff: float = 30.0
    max_redirects: int = 5
    user_agent: str = _USER_AGENT
    deadline: float = 300.0
    """Longest time for the whole download, retries and waits included."""


DEFAULT_OPTIONS = DownloadOptions()


@dataclass(frozen=True)
class Downloaded:
    """A complete download (or an earlier one reused from the cache)."""

    path: Path
    url: str
    final_url: str
    sha256: str
    size: int
    etag: str = ""
    from_cache: bool = False


@dataclass(frozen=True)
class DownloadFailure:
    """Why a URL gave no APK; `status` is the last HTTP status seen, if any."""

    url: str
    reason: str
    status: int | None = None
    attempts: int = 1


class _Retryable(Exception):
    """An attempt failed in a way that another attempt might not."""

    def __init__(self, reason: str, status: int | None = None, wait: float | None = None):
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.wait = wait


class _Final(Exception):
    """An attempt failed in a way that retrying cannot change."""

    def __init__(self, reason: str, status: int | None = None):
        super().__init__(reason)
        self.reason = reason
        self.status = status


@dataclass(frozen=True)
class _Clock:
    """The one download's deadline, and whether the scan abandoned its downloads."""

    options: DownloadOptions
    ends_at: float
    generation: int

    @classmethod
    def start(cls, options: DownloadOptions) -> _Clock:
        return cls(options, time.monotonic() + options.deadline, _live.generation)

    def remaining(self) -> float:
        return self.ends_at - time.monotonic()

    def check(self, size: int = 0, status: int | None = None) -> None:
        if _live.generation != self.generation:
            raise _Final("abandoned: the scan was interrupted", status)
        if self.remaining() <= 0:
            raise _Final(self.overrun(size), status)

    def overrun(self, size: int) -> str:
        received = f" (stopped after {size} bytes)" if size else ""
        return f"took longer than the download deadline of {self.options.deadline:g} s{received}"


class _LiveParts:
    """The partial files this process is writing, so an interrupted scan can remove them."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.paths: set[Path] = set()
        self.generation = 0

    def create(self, cache_dir: Path, generation: int) -> tuple[int, Path] | None:
        """A new partial file, registered in the same step, unless the downloads were
        abandoned since `generation` (then None): an interruption either comes first and
        no file is made, or after, and removes it."""
        with self.lock:
            if self.generation != generation:
                return None
            fd, name = tempfile.mkstemp(
                prefix=f"{PART_PREFIX}{os.getpid()}-", suffix=".apk", dir=cache_dir
            )
            path = Path(name)
            self.paths.add(path)
            return fd, path

    def discard(self, path: Path) -> None:
        with self.lock:
            self.paths.discard(path)

    def abandon(self) -> None:
        with self.lock:
            self.generation += 1
            paths, self.paths = self.paths, set()
        for path in paths:
            with contextlib.suppress(OSError):
                path.unlink()


_live = _LiveParts()


def abandon_downloads() -> None:
    """Stop every download of this process and remove their partial files now.

    For an interrupted scan (Ctrl-C, SIGTERM): the threads still downloading are not
    waited for; they notice at their next piece of the body and give up.
    """
    _live.abandon()


T = TypeVar("T")


def run_downloads(tasks: Sequence[Callable[[], T]], jobs: int) -> list[T]:
    """The results of `tasks` (downloads that return a value, never raise), `jobs` at a time.

    The threads are daemons: when the caller is interrupted while it waits, the downloads
    are abandoned (`abandon_downloads`) and the interruption goes on at once, without
    waiting for a slow server to answer.
    """
    results: list[T | None] = [None] * len(tasks)
    pending: queue.SimpleQueue[int] = queue.SimpleQueue()
    for index in range(len(tasks)):
        pending.put(index)
    done: queue.SimpleQueue[tuple[int, T | None, BaseException | None]] = queue.SimpleQueue()

    def work() -> None:
        while True:
            try:
                index = pending.get_nowait()
            except queue.Empty:
                return
            try:
                done.put((index, tasks[index](), None))
            except BaseException as error:  # handed to the caller, who decides
                done.put((index, None, error))

    for number in range(max(1, min(jobs, len(tasks)))):
        threading.Thread(target=work, name=f"appaudit-download-{number}", daemon=True).start()
    try:
        for _ in range(len(tasks)):
            index, value, error = done.get()
            if error is not None:
                raise error
            results[index] = value
    except BaseException:
        abandon_downloads()
        raise
    return results  # type: ignore[return-value]  # every slot was filled above


def remove_stale_parts(cache_dir: Path, *, now: float | None = None) -> list[Path]:
    """Remove partial downloads left by processes that died without cleaning up.

    A file whose writer (the PID in its name) is no longer running is removed; so is one
    untouched for a day whatever its PID says, and one of an older naming (no PID) after
    an hour. Files of a scan running now, in this process or another, are kept.
    Returns what was removed.
    """
    try:
        entries = list(os.scandir(cache_dir))
    except OSError:
        return []
    moment = time.time() if now is None else now
    removed: list[Path] = []
    for entry in entries:
        if not entry.name.startswith((PART_PREFIX, _META_PREFIX)):
            continue
        try:
            age = moment - entry.stat(follow_symlinks=False).st_mtime
        except OSError:
            continue
        if is_stale(_owner(entry.name), age):
            with contextlib.suppress(OSError):
                os.unlink(entry.path)
                removed.append(Path(entry.path))
    return removed


def _owner(name: str) -> int | None:
    """The PID in `.part-PID-RANDOM.apk`; None for names without one."""
    parts = name.split("-")
    if len(parts) == 3 and parts[1].isdigit():
        return int(parts[1])
    return None


def cache_paths(url: str, cache_dir: Path) -> tuple[Path, Path]:
    """Where the APK for `url` and its metadata live in the cache."""
    key = hashlib.sha256(url.encode("utf-8")).hexdigest()[:40]
    return cache_dir / f"{key}.apk", cache_dir / f"{key}.meta.json"


def download(
    url: str,
    cache_dir: Path,
    options: DownloadOptions = DEFAULT_OPTIONS,
    *,
    session: requests.Session | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> Downloaded | DownloadFailure:
    """Fetch `url` into `cache_dir`, or reuse an earlier complete download of it."""
    if urlsplit(url).scheme.lower() not in ALLOWED_SCHEMES:
        return DownloadFailure(url, f"refused: only http and https URLs are fetched ({url})")
    target, meta_path = cache_paths(url, cache_dir)
    cached = _from_cache(url, target, meta_path)
    if cached is not None:
        return cached
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return DownloadFailure(url, f"cannot create the download folder: {exc.strerror or exc}")
    own_session = session is None
    http = session or requests.Session()
    clock = _Clock.start(options)
    attempts = 0
    wait = options.backoff
    try:
        while True:
            attempts += 1
            try:
                result = _attempt(http, url, target, cache_dir, clock)
            except _Final as final:
                return DownloadFailure(url, final.reason, final.status, attempts)
            except _Retryable as failed:
                if attempts > options.retries:
                    return DownloadFailure(url, failed.reason, failed.status, attempts)
                pause = min(failed.wait if failed.wait is not None else wait, options.max_backoff)
                if pause >= clock.remaining():
                    return DownloadFailure(
                        url,
                        f"{failed.reason}; no time for another attempt within the download "
                        f"deadline of {options.deadline:g} s",
                        failed.status,
                        attempts,
                    )
                sleep(pause)
                wait *= 2
                continue
            # The APK is in place; without its note it is only downloaded again next time.
            with contextlib.suppress(OSError):
                _write_meta(meta_path, result)
            return result
    finally:
        if own_session:
            http.close()


def _attempt(
    http: requests.Session, url: str, target: Path, cache_dir: Path, clock: _Clock
) -> Downloaded:
    options = clock.options
    headers = {"User-Agent": options.user_agent}
    current = url
    for _ in range(options.max_redirects + 1):
        clock.check()
        # No wait may outlast the deadline: each is cut to the time that is left.
        left = max(clock.remaining(), 0.001)
        timeout = (min(options.connect_timeout, left), min(options.read_timeout, left))
        try:
            response = http.get(
                current, stream=True, allow_redirects=False, timeout=timeout, headers=headers
            )
        except requests.exceptions.ConnectTimeout:
            clock.check()
            raise _Retryable(f"connection timed out after {options.connect_timeout:g} s") from None
        except requests.exceptions.ReadTimeout:
            clock.check()
            raise _Retryable(
                f"the server sent no response within {options.read_timeout:g} s (read timeout)"
            ) from None
        except requests.exceptions.InvalidSchema:
            raise _Final(f"refused: only http and https URLs are fetched ({current})") from None
        except requests.exceptions.RequestException as exc:
            raise _Retryable(f"connection failed: {_short(exc)}") from None
        with response:
            if response.status_code in _REDIRECTS:
                location = response.headers.get("Location", "")
                if not location:
                    raise _Final(f"HTTP {response.status_code} redirect without a Location")
                following = urljoin(current, location)
                if urlsplit(following).scheme.lower() not in ALLOWED_SCHEMES:
                    raise _Final(
                        f"refused: {current} redirects to a non-HTTP(S) URL ({following})",
                        response.status_code,
                    )
                current = following
                continue
            return _receive(response, url, current, target, cache_dir, clock)
    raise _Final(f"more than {options.max_redirects} redirects")


def _receive(
    response: requests.Response,
    url: str,
    final_url: str,
    target: Path,
    cache_dir: Path,
    clock: _Clock,
) -> Downloaded:
    options = clock.options
    status = response.status_code
    if status == 429 or status >= 500:
        raise _Retryable(
            f"HTTP {status} {response.reason or ''}".strip(), status, _retry_after(response)
        )
    if status != 200:
        raise _Final(f"HTTP {status} {response.reason or ''}".strip(), status)
    declared = _content_length(response)
    if declared is not None and declared > options.max_bytes:
        raise _Final(
            f"too large: the server announces {declared} bytes, the cap is {options.max_bytes}",
            status,
        )
    digest = hashlib.sha256()
    size = 0
    try:
        created = _live.create(cache_dir, clock.generation)
    except OSError as exc:
        raise _Final(f"cannot save the download: {exc.strerror or exc}", status) from None
    if created is None:
        raise _Final("abandoned: the scan was interrupted", status)
    fd, temp = created
    try:
        with os.fdopen(fd, "wb") as out:
            try:
                for chunk in _body(response, clock):
                    size += len(chunk)
                    if size > options.max_bytes:
                        raise _Final(
                            f"too large: more than {options.max_bytes} bytes (download stopped)",
                            status,
                        )
                    digest.update(chunk)
                    out.write(chunk)
                    clock.check(size, status)
            except (requests.exceptions.RequestException, HTTPError) as exc:
                if clock.remaining() <= 0:
                    raise _Final(clock.overrun(size), status) from None
                raise _Retryable(_body_failure(exc, size, declared, options), status) from None
        if declared is not None and size != declared:
            raise _Retryable(f"download truncated: received {size} of {declared} bytes", status)
        os.replace(temp, target)
    except OSError as exc:  # disk full, folder gone, or the part removed by an interruption
        with contextlib.suppress(OSError):
            temp.unlink()
        raise _Final(f"cannot save the download: {exc.strerror or exc}", status) from None
    except BaseException:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise
    finally:
        _live.discard(temp)
    return Downloaded(
        path=target,
        url=url,
        final_url=final_url,
        sha256=digest.hexdigest(),
        size=size,
        etag=response.headers.get("ETag", ""),
    )


def _body(response: requests.Response, clock: _Clock) -> Iterator[bytes]:
    """The body in pieces as they arrive, so a failure knows how much came before it.

    Each read waits at most the read timeout or the time left before the deadline,
    whichever is shorter, where the connection's socket can be reached.
    """
    sock = _socket_of(response)
    read1 = getattr(response.raw, "read1", None)
    if read1 is None:  # urllib3 1.x
        yield from response.iter_content(_CHUNK)
        return
    while True:
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.settimeout(max(min(clock.options.read_timeout, clock.remaining()), 0.001))
        chunk = read1(_CHUNK, decode_content=True)
        if not chunk:
            return
        yield chunk


def _socket_of(response: requests.Response) -> socket.socket | None:
    """The socket under a streamed response (http.client's buffered reader), if reachable."""
    buffered = getattr(getattr(response.raw, "_fp", None), "fp", None)
    sock = getattr(getattr(buffered, "raw", None), "_sock", None)
    return sock if isinstance(sock, socket.socket) else None


def _body_failure(
    exc: Exception,
    size: int,
    declared: int | None,
    options: DownloadOptions,
) -> str:
    cause: Any = exc.args[0] if exc.args else None
    timeouts = (requests.exceptions.Timeout, ReadTimeoutError)
    if isinstance(exc, timeouts) or isinstance(cause, ReadTimeoutError):
        return (
            f"the server stopped sending after {size} bytes "
            f"(read timeout of {options.read_timeout:g} s)"
        )
    if declared is not None and size < declared:
        return f"download truncated: received {size} of {declared} bytes"
    if isinstance(exc, ProtocolError) or isinstance(cause, ProtocolError):
        return f"connection broken after {size} bytes"
    return f"download failed after {size} bytes: {_short(exc)}"


def _content_length(response: requests.Response) -> int | None:
    raw = response.headers.get("Content-Length")
    if raw is None or "gzip" in response.headers.get("Content-Encoding", ""):
        return None
    try:
        value = int(raw)
    except ValueError:
        return None
    return value if value >= 0 else None


def _retry_after(response: requests.Response) -> float | None:
    raw = response.headers.get("Retry-After", "")
    try:
        return max(float(raw), 0.0)
    except ValueError:
        return None


def _from_cache(url: str, target: Path, meta_path: Path) -> Downloaded | None:
    try:
        meta = json.loads(meta_path.read_text("utf-8"))
        size = target.stat().st_size
    except (OSError, ValueError):
        return None
    if not isinstance(meta, dict) or meta.get("url") != url or meta.get("size") != size:
        return None
    sha256 = meta.get("sha256")
    if not isinstance(sha256, str) or len(sha256) != 64:
        return None
    return Downloaded(
        path=target,
        url=url,
        final_url=str(meta.get("final_url") or url),
        sha256=sha256,
        size=size,
        etag=str(meta.get("etag") or ""),
        from_cache=True,
    )


def _write_meta(meta_path: Path, result: Downloaded) -> None:
    meta = {
        "url": result.url,
        "final_url": result.final_url,
        "sha256": result.sha256,
        "size": result.size,
        "etag": result.etag,
    }
    fd, temp_name = tempfile.mkstemp(prefix=f"{_META_PREFIX}{os.getpid()}-", dir=meta_path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(meta, out, ensure_ascii=False)
        os.replace(temp_name, meta_path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp_name)
        raise


def _short(exc: BaseException) -> str:
    text = str(exc)
    return text if len(text) <= 200 else text[:197] + "…"
