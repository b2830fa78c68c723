"""Drive Debian's headless Chromium (/usr/bin/chromium) through the installed Playwright package.

Never downloads a browser (no ``playwright install``): it launches the system binary with a fresh
profile and records every request and console message so tests can assert "no network" and
"no console errors".
"""

from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("CHURNML_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).parent / "artifacts"
CHROMIUM_ARGS = [
    "--headless",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


@dataclass
class PageLog:
    """What the page did: request URLs, console errors, uncaught page errors, alert() dialogs."""

    requests: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)


def require_chromium() -> str:
    """The Chromium binary path, or a test failure that says how to install it."""
    if not (os.path.exists(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        pytest.fail(
            f"headless Chromium not found at {CHROMIUM}; install it with "
            "`sudo tests/services/install.sh` (Debian package 'chromium')"
        )
    return CHROMIUM


@contextmanager
def open_html(path: Path, *, javascript: bool = True, width: int = 1366, height: int = 900):
    """Open a local HTML file in headless Chromium; yields ``(page, log)``."""
    from playwright.sync_api import sync_playwright

    executable = require_chromium()
    args = list(CHROMIUM_ARGS)
    if os.geteuid() == 0:
        args.append("--no-sandbox")
    profile = tempfile.mkdtemp(prefix="churnml-chromium-")
    log = PageLog()
    try:
        with sync_playwright() as pw:
            context = pw.chromium.launch_persistent_context(
                profile,
                executable_path=executable,
                headless=True,
                args=args,
                java_script_enabled=javascript,
                viewport={"width": width, "height": height},
                offline=True,
            )
            try:
                page = context.pages[0] if context.pages else context.new_page()
                page.on("request", lambda req: log.requests.append(req.url))
                page.on(
                    "console",
                    lambda msg: (
                        log.console_errors.append(msg.text) if msg.type == "error" else None
                    ),
                )
                page.on("pageerror", lambda err: log.page_errors.append(str(err)))
                page.on("dialog", lambda d: (log.dialogs.append(d.message), d.dismiss()))
                page.goto(Path(path).resolve().as_uri(), wait_until="load")
                yield page, log
            finally:
                context.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def screenshot(page, name: str, *, full_page: bool = False) -> Path:
    """Save a PNG under tests/artifacts/ and return its path."""
    ARTIFACTS.mkdir(exist_ok=True)
    target = ARTIFACTS / name
    page.screenshot(path=str(target), full_page=full_page)
    return target
