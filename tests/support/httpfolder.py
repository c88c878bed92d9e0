"""A real HTTP server on 127.0.0.1 that serves one folder, for download tests."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

TRICKLE = "/trickle"
"""Paths starting with this send a promised 100,000 bytes one byte every 50 ms."""


@contextlib.contextmanager
def serve_folder(root: Path) -> Iterator[str]:
    """Serve the files of `root` (anything else is 404) and `TRICKLE…`; yields the base URL."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            with contextlib.suppress(OSError):  # a client that gave up
                if self.path.startswith(TRICKLE):
                    self.send_response(200)
                    self.send_header("Content-Length", "100000")
                    self.end_headers()
                    for _ in range(1200):
                        self.wfile.write(b"P")
                        self.wfile.flush()
                        time.sleep(0.05)
                    return
                target = root / self.path.lstrip("/")
                if not target.is_file():
                    self.send_error(404, "Not Found")
                    return
                body = target.read_bytes()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
