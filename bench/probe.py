"""What probing a trained network costs: ten dreams, one adversarial digit, a surgery update, a ranking,
the robustness curves and a morph, on the book's 784-100x6-10 network (bench/overfit.json, trained here
for its 200 epochs on 300 images) and on the default model (the small CNN), engine alone and through
the server's endpoints (Flask test client, so JSON included, no network).

Prints a Markdown table of medians (and the slowest of the repeats) in milliseconds, each probe with
one BLAS thread as the server runs them.

    python bench/probe.py [--repeats 5] [--epochs 200] [--no-default-model]
"""
from __future__ import annotations

import argparse
import io
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from nnengine.blas import blas_threads  # noqa: E402
from nnengine.config import parse_config  # noqa: E402
from nnengine.images.network_input import png_bytes  # noqa: E402
from nnengine.models import weights_npz  # noqa: E402
from nnengine.probe.adversarial import smallest_flip  # noqa: E402
from nnengine.probe.dreams import DreamSettings, dream  # noqa: E402
from nnengine.probe.morph import morph  # noqa: E402
from nnengine.probe.robustness import robustness_curves  # noqa: E402
from nnengine.probe.subjects import model_subject, run_subject  # noqa: E402
from nnengine.probe.surgery import Surgery  # noqa: E402
from nnengine.trainer import train  # noqa: E402


def timed(fn, repeats: int) -> tuple[float, float]:
    """(median, slowest) wall time of fn() in ms over `repeats` calls, after one call to warm up."""
    fn()
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        fn()
        times.append((time.perf_counter() - began) * 1000)
    return statistics.median(times), max(times)


def engine_rows(name: str, subject, repeats: int) -> list[tuple[str, str, float, float]]:
    surgery = Surgery(subject)
    last = len(surgery.layers) - 1
    x = subject.x_test[0]
    one, seven = (subject.x_test[subject.examples(d, 1)[0]] for d in (1, 7))
    cut = {"i": 0}

    def click():
        # a different unit of the last hidden layer each time, as clicks are (never a kept result)
        cut["i"] = (cut["i"] + 1) % surgery.layers[last].units
        surgery.evaluate({last: [cut["i"]]})
        surgery.probabilities(x[None], {last: [cut["i"]]})

    def first_layer_click():
        cut["i"] = (cut["i"] + 1) % surgery.layers[0].units
        surgery.evaluate({0: [cut["i"]]})

    def rank():
        surgery._ranks.clear()                 # time the ranking itself, not its kept result
        surgery.rank(last)

    with blas_threads.limit(1):
        rows = [
            ("10 dreams, 200 steps", lambda: dream(subject, DreamSettings(steps=200, frames=12))),
            ("adversarial digit (smallest flip)", lambda: smallest_flip(subject, x)),
            (f"surgery update, last layer ({len(surgery.t)} test images + 1 digit)", click),
            ("surgery update, first layer", first_layer_click),
            (f"rank the {surgery.layers[last].units} units of the last layer", rank),
            ("robustness curves (7 + 7 strengths, 500 images)", lambda: robustness_curves(subject)),
            ("morph, 41 points", lambda: morph(subject, one, seven)),
        ]
        return [(name, what, *timed(fn, repeats)) for what, fn in rows]


def server_rows(name: str, run_id: str, weights: bytes | None, config: dict | None, subject,
                repeats: int) -> list[tuple[str, str, float, float]]:
    from server import create_app

    with tempfile.TemporaryDirectory() as tmp:
        app = create_app({"TESTING": True, "DATABASE": str(Path(tmp) / "runs.sqlite")})
        try:
            if weights is not None:
                store = app.extensions["store"]
                store.create_run(run_id, parse_config(config).to_dict())
                store.finish_run(run_id, "done", {}, weights_npz_bytes=weights)
            client = app.test_client()
            layers = client.get(f"/api/probe/{run_id}").get_json()["layers"]
            last, units = len(layers) - 1, layers[-1]["units"]
            picture = subject.x_test[0].reshape(28, 28)
            png = png_bytes(picture)
            seed = {"i": 0}

            def dreams():
                seed["i"] += 1             # a new seed each time: never a kept result
                assert client.get(f"/api/runs/{run_id}/dreams?start=noise&seed={seed['i']}").status_code == 200

            def attack():
                res = client.post("/api/adversarial", data={"image": (io.BytesIO(png), "d.png"), "preprocess": "none",
                                                            "run_id": run_id})
                assert res.status_code == 200

            def click():
                seed["i"] = (seed["i"] + 1) % units
                res = client.post(f"/api/probe/{run_id}/surgery", json={"off": {str(last): [seed["i"]]},
                                                                        "image": picture.tolist()})
                assert res.status_code == 200

            rows = [("GET /api/runs/<id>/dreams (10 dreams, 200 steps)", dreams),
                    ("POST /api/adversarial", attack),
                    ("POST /api/probe/<id>/surgery (a click)", click)]
            return [(name, what, *timed(fn, repeats)) for what, fn in rows]
        finally:
            app.extensions["runs"].shutdown(wait=True)
            app.extensions["store"].close()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=200, help="training epochs of the 6x100 network")
    parser.add_argument("--no-default-model", action="store_true", help="leave the default model (CNN) out")
    args = parser.parse_args(argv)

    config = json.loads((ROOT / "bench" / "overfit.json").read_text())
    config["training"]["epochs"] = args.epochs
    began = time.perf_counter()
    weights = weights_npz(train(parse_config(config)).network)
    trained_s = time.perf_counter() - began
    book = run_subject(config, weights, name="6x100")
    rows = engine_rows("784-100x6-10 (book)", book, args.repeats)
    rows += server_rows("784-100x6-10 (book)", "book6x100", weights, config, book, args.repeats)
    if not args.no_default_model:
        default = model_subject()
        rows += engine_rows("default model (CNN)", default, args.repeats)
        rows += server_rows("default model (CNN)", "default", None, None, default, args.repeats)

    print(f"The book's 6x100 network: trained {args.epochs} epochs in {trained_s:.1f} s, test accuracy "
          f"{book.accuracy():.3f} on {len(book.t_test)} images. Medians of {args.repeats} (and the slowest), "
          "one BLAS thread.\n")
    print("| network | probe | median ms | slowest ms |")
    print("|---|---|---:|---:|")
    for network, what, median, slowest in rows:
        print(f"| {network} | {what} | {median:.0f} | {slowest:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
