"""Take the README's screenshot: the dashboard mid-run, two runs overlaid.

    python scripts/readme_screenshot.py [--out docs/screenshot.png]

Starts `python -m server` on a free port with a temporary database, trains the book's overfitting
preset to the end, then the same with weight decay 0.1, and shoots the page while the second run is
past epoch 120 (the run takes seconds: the shot is taken as soon as the chart shows that epoch) (needs /usr/bin/chromium).
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.browser import launch_chromium, running_server  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "docs" / "screenshot.png"))
    parser.add_argument("--at-epoch", type=int, default=120)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder, running_server(Path(folder) / "runs.db") as base:
        from playwright.sync_api import sync_playwright

        with sync_playwright() as playwright:
            browser = launch_chromium(playwright)
            page = browser.new_page(viewport={"width": 1400, "height": 1000}, device_scale_factor=2)
            page.goto(base + "/")
            page.click('button[data-preset="overfitting"]')
            page.click("#train")
            page.wait_for_selector('.status[data-status="done"]', timeout=120_000)
            first = page.evaluate("window.playground.currentRunId()")
            page.click('button[data-preset="overfitting_weight_decay"]')
            page.click("#train")
            # points() counts the followed run, which is the first one until the second is acknowledged
            page.wait_for_function(f"window.playground.currentRunId() !== {first!r}"
                                   f" && window.playground.points() > {args.at_epoch}", timeout=120_000)
            page.screenshot(path=args.out)
            browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
