"""Fixtures for the browser tests: a real `python -m server` per module, one Chromium, watched pages.

Skipped, with the reason shown, only when Chromium or Playwright is missing and $CI is unset; on CI
a missing Chromium is a failure.

A module changes its server by overriding `server_options` (arguments of running_server) or
`seed_database` (writes the database before the server starts), and its `page` by overriding
`page_options` (arguments of `pages`), each a module-level fixture of the same name.
"""
from __future__ import annotations

import os

import pytest

from tests.support.browser import PageWatch, chromium_path, launch_chromium, running_server

try:
    from playwright.sync_api import sync_playwright
except ImportError:  # pragma: no cover - depends on the machine
    sync_playwright = None

MISSING = None
if chromium_path() is None:
    MISSING = "Chromium not found at /usr/bin/chromium (apt-get install -y chromium)"
elif sync_playwright is None:
    MISSING = "the playwright Python package is not installed (pip install playwright)"


@pytest.fixture(scope="package", autouse=True)
def chromium_is_there():
    if MISSING is not None:
        if os.environ.get("CI"):
            pytest.fail(f"CI is set but {MISSING}")
        pytest.skip(f"browser tests skipped: {MISSING}")


@pytest.fixture(scope="package")
def browser(chromium_is_there):
    """One headless Chromium for every browser test; each page gets a context of its own."""
    with sync_playwright() as p:
        b = launch_chromium(p)
        yield b
        b.close()


@pytest.fixture(scope="module")
def server_options():
    """Arguments of running_server for this module's server, besides the database and the log."""
    return {"workers": 2}


@pytest.fixture(scope="module")
def seed_database():
    """seed(db_path) writing this module's database before its server starts, or None for an empty one."""
    return None


@pytest.fixture(scope="module")
def server(request, tmp_path_factory, server_options, seed_database):
    """The base URL of `python -m server` on a fresh database of this module's own."""
    tmp = tmp_path_factory.mktemp(request.module.__name__.rsplit(".", 1)[-1])
    db = tmp / "runs.sqlite"
    if seed_database is not None:
        seed_database(db)
    with running_server(db, log_path=tmp / "server.log", **server_options) as base:
        yield base


@pytest.fixture
def pages(browser, server):
    """pages(width=1280, height=800, scale=1, phone=False, timeout=20000, watch=True, allow_console=())
    -> a fresh page in a context of its own (a phone: touch events, mobile viewport; scale: device pixels
    per CSS pixel). A watched page has page.watch (a PageWatch); after the test it must have had no page
    or console errors (but those matching allow_console or $BROWSER_TEST_ALLOW_CONSOLE) and no request
    to another host. Unwatched pages have page.watch = None."""
    # Escape hatch while other panels are under construction, e.g. BROWSER_TEST_ALLOW_CONSOLE=/api/predict
    allowed_here = tuple(p for p in os.environ.get("BROWSER_TEST_ALLOW_CONSOLE", "").split(",") if p)
    opened = []

    def new_page(width=1280, height=800, scale=1, phone=False, timeout=20000, watch=True, allow_console=()):
        context = browser.new_context(viewport={"width": width, "height": height}, device_scale_factor=scale,
                                      has_touch=phone, is_mobile=phone)
        page = context.new_page()
        page.set_default_timeout(timeout)
        page.watch = PageWatch(page, server, allow_console=tuple(allow_console) + allowed_here) if watch else None
        opened.append((context, page.watch))
        return page

    yield new_page
    for context, watch in opened:
        context.close()
        if watch:
            watch.assert_clean()


@pytest.fixture(scope="module")
def page_options():
    """Arguments of `pages` for this module's `page`."""
    return {}


@pytest.fixture
def page(pages, page_options):
    """A fresh page (1280x800 and watched unless the module's page_options say otherwise)."""
    return pages(**page_options)
