"""Downloads against a real HTTP server on 127.0.0.1: caps, timeouts, retries, redirects, cache,
deadlines, several at once, and partial files that never outlive their download."""

from __future__ import annotations

import contextlib
import hashlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from scanner.apk.download import (
    Downloaded,
    DownloadFailure,
    DownloadOptions,
    abandon_downloads,
    cache_paths,
    download,
    remove_stale_parts,
    run_downloads,
)
from scanner.leftovers import UNOWNED_SECONDS

REPO = Path(__file__).resolve().parents[3]

BODY = bytes(range(256)) * 64  # 16 KiB standing in for an APK
FAST = DownloadOptions(
    connect_timeout=2.0, read_timeout=0.5, retries=2, backoff=0.01, max_backoff=0.05
)


@dataclass
class Server:
    """The test server: its base URL, and how often each path was requested."""

    base: str
    hits: Counter[str] = field(default_factory=Counter)
    plan: dict[str, list[int]] = field(default_factory=dict)

    def url(self, path: str) -> str:
        return self.base + path


def _handler(server: Server) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            path = self.path
            server.hits[path] += 1
            route = ROUTES.get(path.split("?")[0])
            if route is None:
                self.send_error(404, "Not Found")
                return
            # OSError: the client went away (a deadline, an abandoned download).
            with contextlib.suppress(OSError):
                route(self, server)

    return Handler


def _send(handler: BaseHTTPRequestHandler, body: bytes, *, length: int | None = None) -> None:
    handler.send_response(200)
    handler.send_header("Content-Type", "application/vnd.android.package-archive")
    handler.send_header("Content-Length", str(len(body) if length is None else length))
    handler.send_header("ETag", '"v1"')
    handler.end_headers()
    handler.wfile.write(body)


def _app(handler: BaseHTTPRequestHandler, server: Server) -> None:
    _send(handler, BODY)


def _slow_body(handler: BaseHTTPRequestHandler, server: Server) -> None:
    handler.send_response(200)
    handler.send_header("Content-Length", str(len(BODY)))
    handler.end_headers()
    handler.wfile.write(BODY[:1000])
    handler.wfile.flush()
    time.sleep(1.5)


def _slow_headers(handler: BaseHTTPRequestHandler, server: Server) -> None:
    time.sleep(1.5)
    _send(handler, BODY)


def _truncated(handler: BaseHTTPRequestHandler, server: Server) -> None:
    _send(handler, BODY[:1000], length=len(BODY))


def _big_announced(handler: BaseHTTPRequestHandler, server: Server) -> None:
    _send(handler, BODY)


def _big_unannounced(handler: BaseHTTPRequestHandler, server: Server) -> None:
    handler.send_response(200)
    handler.end_headers()  # no Content-Length: the body ends when the connection closes
    for _ in range(8):
        handler.wfile.write(BODY)


def _flaky(handler: BaseHTTPRequestHandler, server: Server) -> None:
    if server.hits[handler.path] == 1:
        handler.send_error(503, "Service Unavailable")
    else:
        _send(handler, BODY)


def _busy(handler: BaseHTTPRequestHandler, server: Server) -> None:
    if server.hits[handler.path] == 1:
        handler.send_response(429, "Too Many Requests")
        handler.send_header("Retry-After", "0")
        handler.send_header("Content-Length", "0")
        handler.end_headers()
    else:
        _send(handler, BODY)


def _trickle(handler: BaseHTTPRequestHandler, server: Server) -> None:
    """One byte every 50 ms: never silent long enough for a read timeout (at most 60 s)."""
    handler.send_response(200)
    handler.send_header("Content-Length", str(len(BODY)))
    handler.end_headers()
    for byte in BODY[:1200]:
        handler.wfile.write(bytes([byte]))
        handler.wfile.flush()
        time.sleep(0.05)


def _always_502(handler: BaseHTTPRequestHandler, server: Server) -> None:
    handler.send_error(502, "Bad Gateway")


def _redirect(target: str) -> Callable[[BaseHTTPRequestHandler, Server], None]:
    def route(handler: BaseHTTPRequestHandler, server: Server) -> None:
        handler.send_response(302)
        handler.send_header("Location", target)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    return route


ROUTES: dict[str, Callable[[BaseHTTPRequestHandler, Server], None]] = {
    "/app.apk": _app,
    "/other.apk": _app,
    "/slow-body.apk": _slow_body,
    "/slow-headers.apk": _slow_headers,
    "/truncated.apk": _truncated,
    "/big.apk": _big_announced,
    "/big-unannounced.apk": _big_unannounced,
    "/flaky.apk": _flaky,
    "/busy.apk": _busy,
    "/broken.apk": _always_502,
    "/trickle.apk": _trickle,
    "/to-file": _redirect("file:///etc/passwd"),
    "/to-ftp": _redirect("ftp://127.0.0.1/app.apk"),
    "/to-app": _redirect("/app.apk"),
    "/loop": _redirect("/loop"),
}


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    state = Server(base="")
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    httpd.daemon_threads = True
    state.base = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()


def files_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_download_is_hashed_cached_and_reused(server: Server, tmp_path: Path) -> None:
    url = server.url("/app.apk")
    first = download(url, tmp_path, FAST)
    assert isinstance(first, Downloaded), first
    assert first.sha256 == hashlib.sha256(BODY).hexdigest()
    assert first.path.read_bytes() == BODY
    assert (first.size, first.etag, first.from_cache) == (len(BODY), '"v1"', False)
    assert first.path == cache_paths(url, tmp_path)[0]
    assert not [n for n in files_in(tmp_path) if n.startswith(".")]  # no temp files left

    again = download(url, tmp_path, FAST)
    assert isinstance(again, Downloaded)
    assert again.from_cache and again.sha256 == first.sha256 and again.path == first.path
    assert server.hits["/app.apk"] == 1  # the second call did not touch the network


def test_a_different_url_is_a_different_cache_entry(server: Server, tmp_path: Path) -> None:
    a = download(server.url("/app.apk"), tmp_path, FAST)
    b = download(server.url("/other.apk"), tmp_path, FAST)
    assert isinstance(a, Downloaded) and isinstance(b, Downloaded)
    assert a.path != b.path


def test_server_going_silent_mid_body_is_a_read_timeout(server: Server, tmp_path: Path) -> None:
    options = DownloadOptions(read_timeout=0.3, retries=0)
    started = time.monotonic()
    result = download(server.url("/slow-body.apk"), tmp_path, options)
    assert isinstance(result, DownloadFailure)
    assert "read timeout" in result.reason and "after 1000 bytes" in result.reason
    assert time.monotonic() - started < 1.4
    assert files_in(tmp_path) == []


def test_server_not_answering_is_a_read_timeout(server: Server, tmp_path: Path) -> None:
    result = download(
        server.url("/slow-headers.apk"), tmp_path, DownloadOptions(read_timeout=0.3, retries=0)
    )
    assert isinstance(result, DownloadFailure)
    assert "read timeout" in result.reason


def test_truncated_body_is_a_failure_and_retried(server: Server, tmp_path: Path) -> None:
    result = download(server.url("/truncated.apk"), tmp_path, FAST)
    assert isinstance(result, DownloadFailure)
    assert result.reason == f"download truncated: received 1000 of {len(BODY)} bytes"
    assert result.attempts == 3 and server.hits["/truncated.apk"] == 3
    assert files_in(tmp_path) == []


def test_announced_size_over_the_cap_is_refused_before_reading(
    server: Server, tmp_path: Path
) -> None:
    result = download(server.url("/big.apk"), tmp_path, DownloadOptions(max_bytes=4096))
    assert isinstance(result, DownloadFailure)
    assert result.reason == f"too large: the server announces {len(BODY)} bytes, the cap is 4096"
    assert result.attempts == 1
    assert files_in(tmp_path) == []


def test_unannounced_size_over_the_cap_stops_the_download(server: Server, tmp_path: Path) -> None:
    result = download(
        server.url("/big-unannounced.apk"), tmp_path, DownloadOptions(max_bytes=20_000)
    )
    assert isinstance(result, DownloadFailure)
    assert result.reason == "too large: more than 20000 bytes (download stopped)"
    assert files_in(tmp_path) == []  # the partial file is gone, nothing in the cache


def test_404_is_reported_and_not_retried(server: Server, tmp_path: Path) -> None:
    result = download(server.url("/gone.apk"), tmp_path, FAST)
    assert isinstance(result, DownloadFailure)
    assert result.reason == "HTTP 404 Not Found"
    assert result.status == 404 and result.attempts == 1
    assert server.hits["/gone.apk"] == 1


def test_503_then_success_is_retried(server: Server, tmp_path: Path) -> None:
    waits: list[float] = []
    result = download(server.url("/flaky.apk"), tmp_path, FAST, sleep=waits.append)
    assert isinstance(result, Downloaded), result
    assert server.hits["/flaky.apk"] == 2
    assert waits == [0.01]


def test_429_honours_retry_after(server: Server, tmp_path: Path) -> None:
    waits: list[float] = []
    result = download(server.url("/busy.apk"), tmp_path, FAST, sleep=waits.append)
    assert isinstance(result, Downloaded)
    assert waits == [0.0]


def test_persistent_5xx_gives_up_with_exponential_backoff(server: Server, tmp_path: Path) -> None:
    waits: list[float] = []
    options = DownloadOptions(retries=3, backoff=0.01, max_backoff=1.0)
    result = download(server.url("/broken.apk"), tmp_path, options, sleep=waits.append)
    assert isinstance(result, DownloadFailure)
    assert result.reason == "HTTP 502 Bad Gateway" and result.attempts == 4
    assert waits == [0.01, 0.02, 0.04]


@pytest.mark.parametrize(("path", "target"), [("/to-file", "file:"), ("/to-ftp", "ftp:")])
def test_redirect_to_another_scheme_is_refused(
    server: Server, tmp_path: Path, path: str, target: str
) -> None:
    result = download(server.url(path), tmp_path, FAST)
    assert isinstance(result, DownloadFailure)
    assert result.reason.startswith("refused:") and target in result.reason
    assert result.attempts == 1
    assert files_in(tmp_path) == []


def test_redirect_between_http_urls_is_followed(server: Server, tmp_path: Path) -> None:
    result = download(server.url("/to-app"), tmp_path, FAST)
    assert isinstance(result, Downloaded), result
    assert result.final_url == server.url("/app.apk")
    assert result.url == server.url("/to-app")
    assert result.path.read_bytes() == BODY


def test_redirect_loop_stops(server: Server, tmp_path: Path) -> None:
    result = download(server.url("/loop"), tmp_path, DownloadOptions(max_redirects=3))
    assert isinstance(result, DownloadFailure)
    assert result.reason == "more than 3 redirects"


@pytest.mark.parametrize("url", ["ftp://127.0.0.1/app.apk", "file:///etc/passwd"])
def test_non_http_urls_are_refused_without_network(tmp_path: Path, url: str) -> None:
    result = download(url, tmp_path, FAST)
    assert isinstance(result, DownloadFailure)
    assert result.reason.startswith("refused: only http and https")


def test_nothing_listening_is_a_connection_failure(tmp_path: Path) -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # The port is free again: connecting is refused at once.
    result = download(f"http://127.0.0.1:{port}/app.apk", tmp_path, FAST, sleep=lambda _: None)
    assert isinstance(result, DownloadFailure)
    assert result.reason.startswith("connection failed") and result.attempts == 3


def parts_in(folder: Path) -> list[str]:
    return [n for n in files_in(folder) if n.startswith(".part-")]


def test_a_trickling_server_is_stopped_at_the_deadline(server: Server, tmp_path: Path) -> None:
    options = DownloadOptions(read_timeout=5.0, retries=2, deadline=0.6)
    result = download(server.url("/trickle.apk"), tmp_path, options)
    assert isinstance(result, DownloadFailure)
    assert result.reason.startswith("took longer than the download deadline of 0.6 s")
    assert "(stopped after " in result.reason and result.attempts == 1
    assert files_in(tmp_path) == []


def test_retries_stop_when_the_deadline_leaves_no_time(server: Server, tmp_path: Path) -> None:
    options = DownloadOptions(retries=50, backoff=0.2, max_backoff=0.2, deadline=0.5)
    result = download(server.url("/broken.apk"), tmp_path, options)
    assert isinstance(result, DownloadFailure)
    assert result.reason.startswith("HTTP 502 Bad Gateway; no time for another attempt")
    assert 1 < result.attempts < 50


def test_several_downloads_at_once_one_slow_server_holds_only_its_own(
    server: Server, tmp_path: Path
) -> None:
    options = DownloadOptions(read_timeout=5.0, deadline=1.5)
    finished: list[str] = []

    def task(path: str) -> Callable[[], Downloaded | DownloadFailure]:
        def fetch() -> Downloaded | DownloadFailure:
            result = download(server.url(path), tmp_path, options)
            finished.append(path)
            return result

        return fetch

    paths = ["/trickle.apk?slow", "/app.apk?a", "/other.apk?b", "/to-app?c"]
    slow, *fast = run_downloads([task(p) for p in paths], jobs=4)
    assert isinstance(slow, DownloadFailure) and "download deadline" in slow.reason
    assert all(isinstance(r, Downloaded) and r.path.read_bytes() == BODY for r in fast)
    # The slow one was first in line, and still the last to finish: it held no other.
    assert finished[-1] == "/trickle.apk?slow" and sorted(finished) == sorted(paths)
    assert parts_in(tmp_path) == []


def test_run_downloads_keeps_the_order_of_its_tasks() -> None:
    assert run_downloads([lambda n=n: n * n for n in range(9)], jobs=3) == [  # type: ignore[misc]
        n * n for n in range(9)
    ]


def test_abandoning_removes_partial_files_at_once(server: Server, tmp_path: Path) -> None:
    options = DownloadOptions(read_timeout=5.0, deadline=30.0)
    results: list[Downloaded | DownloadFailure] = []
    worker = threading.Thread(
        target=lambda: results.append(download(server.url("/trickle.apk?x"), tmp_path, options))
    )
    worker.start()
    _wait_for(lambda: parts_in(tmp_path))
    abandon_downloads()
    assert parts_in(tmp_path) == []  # removed by the caller, not when the thread notices
    worker.join(timeout=10)
    assert not worker.is_alive()
    (result,) = results
    assert isinstance(result, DownloadFailure) and result.reason.startswith("abandoned")
    assert files_in(tmp_path) == []
    # Later downloads are not affected.
    assert isinstance(download(server.url("/app.apk?after"), tmp_path, FAST), Downloaded)


def _wait_for(condition: Callable[[], object], seconds: float = 20.0) -> None:
    give_up = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > give_up:
            pytest.fail("the condition was not reached in time")
        time.sleep(0.02)


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_stale_partial_files_are_removed_and_live_ones_kept(tmp_path: Path) -> None:
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        dead = _dead_pid()
        names = {
            "dead": f".part-{dead}-abc123.apk",
            "dead_meta": f".meta-{dead}-abc123",
            "other_scan": f".part-{sleeper.pid}-def456.apk",
            "this_process": f".part-{os.getpid()}-ghi789.apk",
            "old_unowned": ".part-k2j4h5g6.apk",
            "new_unowned": ".part-m1n2b3v4.apk",
            "apk": "0123abcd.apk",
        }
        for name in names.values():
            (tmp_path / name).write_bytes(b"partial")
        long_ago = time.time() - UNOWNED_SECONDS - 60
        os.utime(tmp_path / names["old_unowned"], (long_ago, long_ago))
        removed = remove_stale_parts(tmp_path)
        assert sorted(p.name for p in removed) == sorted(
            [names["dead"], names["dead_meta"], names["old_unowned"]]
        )
        assert files_in(tmp_path) == sorted(
            names[k] for k in ("other_scan", "this_process", "new_unowned", "apk")
        )
    finally:
        sleeper.kill()
        sleeper.wait()


KILLED_DOWNLOAD = """
import sys
from pathlib import Path
from scanner.apk.download import DownloadOptions, download
download(sys.argv[1], Path(sys.argv[2]), DownloadOptions(read_timeout=5.0, deadline=60.0))
"""


def test_a_download_killed_with_sigkill_leaves_a_part_the_next_start_removes(
    server: Server, tmp_path: Path
) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", KILLED_DOWNLOAD, server.url("/trickle.apk?k"), str(tmp_path)],
        cwd=REPO,
    )
    try:
        _wait_for(lambda: parts_in(tmp_path))
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    (left,) = parts_in(tmp_path)
    assert left.startswith(f".part-{child.pid}-")  # kill -9 leaves it behind …
    assert [p.name for p in remove_stale_parts(tmp_path)] == [left]  # … and it goes next time
    assert files_in(tmp_path) == []
