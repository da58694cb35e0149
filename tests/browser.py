"""Headless Chromium for the report's browser tests and the README's screenshots: find it, dump a page's DOM, take a picture.

The browser tests (tests/test_report_browser.py) and `make screenshots` (tests/screenshots.py) open a report
the same way: Chromium with these flags, a fresh profile each time, the page's script given a virtual
time budget to run in.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-extensions", "--enable-logging=stderr", "--v=0",
         "--virtual-time-budget=5000"]


def find() -> str | None:
    return next((p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None)


def chromium(install_timeout: float = 300) -> str | None:
    """The Chromium binary; installed with apt-get when missing and we are root; None when there is none."""
    path = find()
    if path is None and hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("apt-get"):
        deadline = time.monotonic() + install_timeout
        for cmd in (["apt-get", "install", "-y", "chromium"], ["apt-get", "update"], ["apt-get", "install", "-y", "chromium"]):
            try:
                subprocess.run(cmd, capture_output=True, timeout=max(1.0, deadline - time.monotonic()),
                               env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
            except (OSError, subprocess.TimeoutExpired):
                break
            if (path := find()) is not None:
                break
    return path


def dump_dom(browser: str, url: str, timeout: float = 60) -> subprocess.CompletedProcess:
    """The DOM the page leaves once its script has run (stdout), and Chromium's console log (stderr)."""
    with tempfile.TemporaryDirectory() as profile:
        return subprocess.run([browser, *FLAGS, f"--user-data-dir={profile}", "--dump-dom", url],
                              capture_output=True, text=True, timeout=timeout)


def screenshot(browser: str, url: str, png: Path, width: int = 1400, height: int = 1000, timeout: float = 60) -> None:
    """A PNG of the page's first `height` pixels in a window `width` wide."""
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run([browser, *FLAGS, f"--user-data-dir={profile}", f"--screenshot={png}",
                        f"--window-size={width},{height}", url], capture_output=True, timeout=timeout, check=True)
