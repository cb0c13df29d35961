"""How fast does the dashboard react, and what does the browser cost over the CLI?

    python bench/ui_latency.py                 # starts its own server on a free port
    python bench/ui_latency.py --url http://127.0.0.1:5000 --repeats 10
    python bench/ui_latency.py --quick         # skip the 200-epoch runs

Measures, in headless Chromium (the system /usr/bin/chromium):
  1. Train click -> first epoch plotted (epoch 0, the untrained network), median of --repeats runs;
     the time is taken inside the page (performance.now() at the click and at the animation frame
     after the redraw that put the epoch on the loss chart), plus the same seen from Python
     (Playwright's click and polling every 10 ms included). Each run is stopped after its first
     epoch and stays on the charts, so later runs redraw more traces.
  2. Permalink page: navigation -> stored metrics drawn.
  3. The book's overfitting experiment (784-100x6-10, 300 samples, 200 epochs) through the UI,
     click -> "done" (the page's run-finished event; no polling), against `python -m nnengine run CONFIG.json` (process start to exit),
     --full-repeats times each, alternating; medians.
Prints a table. Numbers depend on the machine and its load; nothing is asserted.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.browser import launch_chromium, running_server  # noqa: E402

GD = "document.getElementById('chart-loss')"


def first_epoch_latency(page, base, repeats):
    """Click Train on the book's overfitting config, wait for epoch 0 on the chart, stop the run."""
    page.goto(base + "/")
    page.wait_for_function("window.playground && window.playground.builder")
    page.click('button[data-preset="overfitting"]')
    in_page, wall, ack = [], [], []
    for _ in range(repeats):
        n = page.evaluate(f"{GD}.data.length")
        t0 = time.perf_counter()
        page.click("#train")
        page.wait_for_function(f"{GD}.data.length > {n} && {GD}.data[{n}].x.length >= 1", polling=10)
        wall.append((time.perf_counter() - t0) * 1000)
        timing = page.evaluate("window.playground.timing()")
        in_page.append(timing["firstPlotAt"] - timing["clickAt"])
        ack.append(timing["ackAt"] - timing["clickAt"])
        page.click("#stop")
        page.wait_for_function("document.getElementById('status').dataset.status === 'stopped'")
    return in_page, wall, ack


def permalink_latency(browser, base, run_id, repeats):
    times = []
    for _ in range(repeats):
        context = browser.new_context(viewport={"width": 1280, "height": 800})  # cold cache each time
        page = context.new_page()
        t0 = time.perf_counter()
        page.goto(f"{base}/runs/{run_id}")
        page.wait_for_function(f"{GD}.data && {GD}.data.length > 0 && {GD}.data[0].x.length > 0", polling="raf")
        times.append((time.perf_counter() - t0) * 1000)
        context.close()
    return times


def full_run_via_ui(page, base, preset):
    page.goto(base + "/")
    page.wait_for_function("window.playground && window.playground.builder")
    page.click(f'button[data-preset="{preset}"]')
    # Wait for the page's own "run finished" event rather than polling: Playwright's default polling
    # runs a check at every animation frame, which keeps a page that would sit idle between chart
    # redraws painting 60 frames a second (about 0.3 s of CPU per run here, on the cores the run needs).
    page.evaluate("""() => { window.__benchDone = new Promise((resolve) => document.addEventListener(
        "playground:run-finished", (e) => resolve(e.detail.status), { once: true })); }""")
    t0 = time.perf_counter()
    page.click("#train")
    status = page.evaluate("window.__benchDone")
    wall = time.perf_counter() - t0
    if status != "done":
        raise RuntimeError(f"the run ended {status!r}, not done")
    run_id = page.evaluate("window.playground.currentRunId()")
    points = page.evaluate(f"{GD}.data[0].x.length")
    return wall, run_id, points


ONE_BLAS_THREAD = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def full_run_via_cli(config, env_extra=None):
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(config, f)
        path = f.name
    t0 = time.perf_counter()
    env = dict(os.environ, **(env_extra or {}))
    out = subprocess.run([sys.executable, "-m", "nnengine", "run", path], cwd=ROOT, env=env,
                         capture_output=True, text=True, check=True).stdout
    wall = time.perf_counter() - t0
    Path(path).unlink()
    last = json.loads(out.strip().splitlines()[-1])
    return wall, last


def fmt_ms(values):
    if not values:
        return "-"
    return f"{statistics.median(values):.0f} ms (min {min(values):.0f}, max {max(values):.0f}, n={len(values)})"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", help="use a running server instead of starting one")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--preset", default="overfitting", help="preset for the full run (default: overfitting)")
    parser.add_argument("--quick", action="store_true", help="skip the full 200-epoch runs")
    parser.add_argument("--full-repeats", type=int, default=3,
                        help="full runs per side, UI and CLI alternating (medians; default 3)")
    args = parser.parse_args(argv)

    from playwright.sync_api import sync_playwright

    with contextlib.ExitStack() as stack:
        if args.url:
            base = args.url.rstrip("/")
        else:
            tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
            base = stack.enter_context(running_server(tmp / "bench.sqlite", log_path=tmp / "server.log"))
        p = stack.enter_context(sync_playwright())
        browser = launch_chromium(p)
        stack.callback(browser.close)
        page = browser.new_page(viewport={"width": 1280, "height": 800})

        rows = []
        in_page, wall, ack = first_epoch_latency(page, base, args.repeats)
        rows.append(("Train click -> run:start ack", fmt_ms(ack)))
        rows.append(("Train click -> first epoch plotted (in page)", fmt_ms(in_page)))
        rows.append(("Train click -> first epoch plotted (seen by Playwright)", fmt_ms(wall)))

        if not args.quick:
            with urllib.request.urlopen(f"{base}/api/schema") as res:
                config = json.load(res)["presets"][args.preset]["config"]
            # The server pins BLAS to one thread per run; the CLI does not unless told to.
            cli_sides = (("", None), (", 1 BLAS thread", ONE_BLAS_THREAD))
            ui_walls, engine_uis, cli = [], [], {label: ([], []) for label, _ in cli_sides}
            for _ in range(max(1, args.full_repeats)):  # alternate, so drifting load hits both sides
                ui_wall, run_id, points = full_run_via_ui(page, base, args.preset)
                with urllib.request.urlopen(f"{base}/api/runs/{run_id}") as res:
                    stored = json.load(res)
                ui_walls.append(ui_wall)
                engine_uis.append((stored.get("summary") or {}).get("elapsed_s") or float("nan"))
                for label, extra in cli_sides:
                    cli_wall, cli_last = full_run_via_cli(config, extra)
                    cli[label][0].append(cli_wall)
                    cli[label][1].append(cli_last.get("elapsed_s", float("nan")))
            med = statistics.median
            n = len(ui_walls)
            rows.append((f"'{args.preset}' via UI: click -> done ({points} points, median of {n})",
                         f"{med(ui_walls):.2f} s  (all: {', '.join(f'{w:.2f}' for w in ui_walls)})"))
            rows.append(("   of which training in the server (summary.elapsed_s)", f"{med(engine_uis):.2f} s"))
            for label, _ in cli_sides:
                walls, trains = cli[label]
                rows.append((f"'{args.preset}' via CLI{label}: python -m nnengine run (process)",
                             f"{med(walls):.2f} s  (all: {', '.join(f'{w:.2f}' for w in walls)})"))
                rows.append(("   of which training (final line elapsed_s)", f"{med(trains):.2f} s"))
                ratios = sorted(u / c for u, c in zip(ui_walls, walls))
                rows.append(("   UI click->done vs this CLI process (median of paired ratios)",
                             f"{100 * (med(ratios) - 1):+.0f} %  (range {100 * (ratios[0] - 1):+.0f} to "
                             f"{100 * (ratios[-1] - 1):+.0f} %)"))
            rows.append(("permalink of that run: navigation -> charts drawn (cold cache)",
                         fmt_ms(permalink_latency(browser, base, run_id, max(1, args.repeats // 2)))))

    width = max(len(name) for name, _ in rows)
    print(f"\nUI latency ({base})")
    print("-" * (width + 40))
    for name, value in rows:
        print(f"{name:<{width}}  {value}")


if __name__ == "__main__":
    main()
