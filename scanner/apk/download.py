"""Downloading an APK over http(s) into a cache folder, with caps, retries and plain reasons.

Only http and https are fetched, redirects included (each hop is checked, so a server
cannot bounce the request to `file:` or `ftp:`). The body streams to a temporary file in
the cache folder while it is hashed, and is renamed into place only when complete, so
the cache never holds a partial APK.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
from urllib3.exceptions import HTTPError, ProtocolError, ReadTimeoutError

ALLOWED_SCHEMES = ("http", "https")
_REDIRECTS = (301, 302, 303, 307, 308)
_CHUNK = 1 << 16
_USER_AGENT = "appaudit/0.1 (audit of apps required by schools)"


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
    attempts = 0
    wait = options.backoff
    try:
        while True:
            attempts += 1
            try:
                result = _attempt(http, url, target, cache_dir, options)
            except _Final as final:
                return DownloadFailure(url, final.reason, final.status, attempts)
            except _Retryable as failed:
                if attempts > options.retries:
                    return DownloadFailure(url, failed.reason, failed.status, attempts)
                sleep(min(failed.wait if failed.wait is not None else wait, options.max_backoff))
                wait *= 2
                continue
            _write_meta(meta_path, result)
            return result
    finally:
        if own_session:
            http.close()


def _attempt(
    http: requests.Session, url: str, target: Path, cache_dir: Path, options: DownloadOptions
) -> Downloaded:
    timeout = (options.connect_timeout, options.read_timeout)
    headers = {"User-Agent": options.user_agent}
    current = url
    for _ in range(options.max_redirects + 1):
        try:
            response = http.get(
                current, stream=True, allow_redirects=False, timeout=timeout, headers=headers
            )
        except requests.exceptions.ConnectTimeout:
            raise _Retryable(f"connection timed out after {options.connect_timeout:g} s") from None
        except requests.exceptions.ReadTimeout:
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
            return _receive(response, url, current, target, cache_dir, options)
    raise _Final(f"more than {options.max_redirects} redirects")


def _receive(
    response: requests.Response,
    url: str,
    final_url: str,
    target: Path,
    cache_dir: Path,
    options: DownloadOptions,
) -> Downloaded:
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
    fd, temp_name = tempfile.mkstemp(prefix=".part-", suffix=".apk", dir=cache_dir)
    temp = Path(temp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            try:
                for chunk in _body(response):
                    size += len(chunk)
                    if size > options.max_bytes:
                        raise _Final(
                            f"too large: more than {options.max_bytes} bytes (download stopped)",
                            status,
                        )
                    digest.update(chunk)
                    out.write(chunk)
            except (requests.exceptions.RequestException, HTTPError) as exc:
                raise _Retryable(_body_failure(exc, size, declared, options), status) from None
        if declared is not None and size != declared:
            raise _Retryable(f"download truncated: received {size} of {declared} bytes", status)
        os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise
    return Downloaded(
        path=target,
        url=url,
        final_url=final_url,
        sha256=digest.hexdigest(),
        size=size,
        etag=response.headers.get("ETag", ""),
    )


def _body(response: requests.Response) -> Iterator[bytes]:
    """The body in pieces as they arrive, so a failure knows how much came before it."""
    read1 = getattr(response.raw, "read1", None)
    if read1 is None:  # urllib3 1.x
        yield from response.iter_content(_CHUNK)
        return
    while chunk := read1(_CHUNK, decode_content=True):
        yield chunk


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
    fd, temp_name = tempfile.mkstemp(prefix=".meta-", dir=meta_path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump(meta, out, ensure_ascii=False)
    os.replace(temp_name, meta_path)


def _short(exc: BaseException) -> str:
    text = str(exc)
    return text if len(text) <= 200 else text[:197] + "…"
