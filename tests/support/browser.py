"""Headless Chromium for the report tests: one way to start it, with its own profile."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

CHROMIUM = shutil.which("chromium")
A4_POINTS = (595, 842)


def chromium(tmp: Path, url: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run headless Chromium on `url` with `args`, its profile and caches under `tmp`."""
    assert CHROMIUM is not None
    home = tmp / "chromium-home"
    home.mkdir(exist_ok=True)
    env = {
        **os.environ,
        "XDG_CONFIG_HOME": str(home / "config"),
        "XDG_CACHE_HOME": str(home / "cache"),
    }
    command = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        f"--user-data-dir={home / 'profile'}",
        *args,
        url,
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    return done


def print_to_pdf(page: Path, out: Path) -> Path:
    """`page` printed as Chromium prints it, without its own header and footer lines."""
    chromium(out.parent, page.as_uri(), "--no-pdf-header-footer", f"--print-to-pdf={out}")
    assert out.is_file()
    return out


def pdf_pages(pdf: Path) -> list[tuple[float, float]]:
    """The size in points of each page of `pdf` (its /Page objects and their MediaBox)."""
    data = pdf.read_bytes()
    pages = re.findall(rb"/Type\s*/Page(?![s\w])", data)
    boxes = [
        (float(w), float(h))
        for w, h in re.findall(
            rb"/MediaBox\s*\[\s*[-\d.]+\s+[-\d.]+\s+([-\d.]+)\s+([-\d.]+)\s*\]", data
        )
    ]
    assert pages, f"no pages in {pdf.name}"
    return boxes[: len(pages)] if len(boxes) >= len(pages) else [A4_POINTS] * len(pages)
