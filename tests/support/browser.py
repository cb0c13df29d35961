"""Helpers for the browser tests, bench/ui_latency.py and scripts/readme_screenshot.py: start the real
server, launch Chromium, watch a page.

No network: Playwright cannot download its own browser here, so we launch the system Chromium
(Debian's /usr/bin/chromium) and tell it not to phone home.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tests.support.paths import ROOT

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-default-apps",
    "--disable-extensions",
    "--metrics-recording-only",
    "--no-default-browser-check",
    "--disable-features=Translate,OptimizationHints,MediaRouter,DialMediaRouteProvider,AutofillServerCommunication",
]


def chromium_path() -> str | None:
    """The system Chromium, or None. $CHROMIUM overrides the search."""
    for candidate in (os.environ.get("CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser",
                      shutil.which("chromium"), shutil.which("chromium-browser")):
        if candidate and os.path.exists(candidate):
            return candidate
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_http(url: str, timeout: float = 30.0, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"the server exited with status {proc.returncode} before answering {url}")
        try:
            with urllib.request.urlopen(url, timeout=2) as res:
                if res.status == 200:
                    return
        except Exception as exc:  # not up yet
            last = exc
        time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer within {timeout} s (last error: {last})")


@contextlib.contextmanager
def running_server(db_path: str | os.PathLike, port: int | None = None, workers: int | None = None,
                   log_path: str | os.PathLike | None = None):
    """`python -m server --port N --db PATH` in a subprocess; yields the base URL."""
    port = port or free_port()
    cmd = [sys.executable, "-m", "server", "--port", str(port), "--db", str(db_path)]
    if workers:
        cmd += ["--workers", str(workers)]
    log = open(log_path, "w") if log_path else subprocess.DEVNULL
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        try:
            wait_for_http(base + "/api/schema", proc=proc)
        except (RuntimeError, TimeoutError) as exc:
            tail = ""
            if log_path:
                log.flush()
                tail = "\n".join(Path(log_path).read_text(errors="replace").splitlines()[-15:])
            raise RuntimeError(f"{exc}\n--- server log (last lines) ---\n{tail}") from None
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if log_path:
            log.close()


def launch_chromium(playwright, headless: bool = True):
    path = chromium_path()
    if path is None:
        raise RuntimeError("no Chromium found (install it: apt-get install -y chromium)")
    return playwright.chromium.launch(executable_path=path, headless=headless, args=CHROMIUM_ARGS)


class PageWatch:
    """Collects page errors, console errors and every request URL of a page."""

    def __init__(self, page, base_url: str, allow_console: tuple[str, ...] = ()):
        self.base = base_url.rstrip("/")
        self.errors: list[str] = []
        self.console_errors: list[str] = []
        self.requests: list[str] = []
        self.allow_console = allow_console
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        page.on("console", self._console)
        page.on("request", lambda req: self.requests.append(req.url))
        page.on("websocket", lambda ws: self.requests.append(ws.url))

    def _console(self, msg):
        if msg.type == "error":
            text = msg.text
            location = (msg.location or {}).get("url", "")
            if any(pattern in text or pattern in location for pattern in self.allow_console):
                return
            self.console_errors.append(f"{text} ({location})")

    def foreign_requests(self) -> list[str]:
        """Requests that left the test server (data:/blob: URLs never leave the page)."""
        return [u for u in self.requests
                if not (u.startswith(self.base + "/") or u == self.base
                        or u.startswith("data:") or u.startswith("blob:")
                        or u.startswith(self.base.replace("http", "ws", 1) + "/"))]

    def assert_clean(self):
        assert not self.errors, f"page errors: {self.errors}"
        assert not self.console_errors, f"console errors: {self.console_errors}"
        foreign = self.foreign_requests()
        assert not foreign, f"requests to other hosts: {foreign}"
