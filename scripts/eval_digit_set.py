"""Measure a digit model on the non-MNIST set made by scripts/make_digit_set.py; print a per-style table.

Every picture goes through exactly what POST /api/predict does (nnengine.images.preprocess_bytes, then
the model). The preprocessed inputs are cached next to the set (inputs.npz) so that comparing models is
quick; --no-cache recomputes them.

    python scripts/make_digit_set.py --out build/digit_set
    python scripts/eval_digit_set.py build/digit_set [--model models/default-v1] [--errors 20] [--json]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nnengine.images import PreprocessError, preprocess_bytes  # noqa: E402
from nnengine.models import load_model_files  # noqa: E402


def load_inputs(set_dir: Path, use_cache: bool = True):
    """-> x (n, 28, 28) float32, t (n,), style (n,), files (n,), refused (list of (file, message))."""
    cache = set_dir / "inputs.npz"
    manifest = json.loads((set_dir / "manifest.json").read_text())["items"]
    # the cache is only good for the same set and the same preprocessing code
    version = hashlib.sha1((Path(__file__).resolve().parents[1] / "server" / "preprocess.py").read_bytes()
                           + (set_dir / "manifest.json").read_bytes()).hexdigest()
    if use_cache and cache.exists():
        z = np.load(cache, allow_pickle=False)
        if "version" in z.files and str(z["version"]) == version:
            refused = json.loads(str(z["refused"]))
            return z["x"], z["t"], z["style"], z["files"], refused
    xs, ts, styles, files, refused = [], [], [], [], []
    for item in manifest:
        try:
            xs.append(preprocess_bytes((set_dir / item["file"]).read_bytes()))
        except PreprocessError as e:
            refused.append((item["file"], item["style"], item["label"], e.message))
            continue
        ts.append(item["label"])
        styles.append(item["style"])
        files.append(item["file"])
    x = np.stack(xs).astype(np.float32)
    t, style, file = np.array(ts, np.int64), np.array(styles), np.array(files)
    np.savez_compressed(cache, x=x, t=t, style=style, files=file, refused=json.dumps(refused), version=version)
    return x, t, style, file, refused


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="per-style accuracy of a digit model on the non-MNIST set")
    ap.add_argument("set_dir", nargs="?", default="build/digit_set")
    ap.add_argument("--model", default="models/default-v1", help="path without extension (.npz + .json)")
    ap.add_argument("--errors", type=int, default=0, help="list this many misclassified files")
    ap.add_argument("--no-cache", action="store_true")
    ap.add_argument("--json", action="store_true", help="print the table as one JSON line too")
    ap.add_argument("--record", action="store_true",
                    help="store the table in the model's .json under 'quality_set'")
    args = ap.parse_args(argv)
    set_dir = Path(args.set_dir)
    t0 = time.time()
    x, t, style, files, refused = load_inputs(set_dir, not args.no_cache)
    t_pre = time.time() - t0
    net = load_model_files(Path(args.model).with_suffix(".npz"), Path(args.model).with_suffix(".json"))
    probs = np.concatenate([net.predict(x[s:s + 500].reshape(-1, 784)) for s in range(0, len(x), 500)])
    pred = probs.argmax(1)
    ok = pred == t
    # a refused picture (no digit found) counts as wrong
    n_ref = {}
    for _, st, _, _ in refused:
        n_ref[st] = n_ref.get(st, 0) + 1
    rows = {}
    for st in dict.fromkeys(list(style.tolist()) + list(n_ref)):
        m = style == st
        n = int(m.sum()) + n_ref.get(st, 0)
        rows[st] = {"n": n, "correct": int(ok[m].sum()), "refused": n_ref.get(st, 0),
                    "accuracy": float(ok[m].sum()) / max(1, n)}
    n_all = len(t) + len(refused)
    rows["overall"] = {"n": n_all, "correct": int(ok.sum()), "refused": len(refused),
                       "accuracy": float(ok.sum()) / max(1, n_all)}
    print(f"model {args.model}  set {set_dir}  ({n_all} pictures, preprocessing {t_pre:.1f}s)")
    print(f"{'style':<10} {'n':>6} {'correct':>8} {'refused':>8} {'accuracy':>9}")
    for st, r in rows.items():
        print(f"{st:<10} {r['n']:>6} {r['correct']:>8} {r['refused']:>8} {r['accuracy'] * 100:>8.1f}%")
    if args.errors:
        print("\nmisclassified (file: true -> predicted, confidence):")
        for i in np.flatnonzero(~ok)[:args.errors]:
            print(f"  {files[i]}: {t[i]} -> {pred[i]} ({probs[i, pred[i]]:.2f})")
        for f, st, lab, msg in refused[:args.errors]:
            print(f"  {f}: {lab} refused: {msg}")
    cm = np.zeros((10, 10), int)
    np.add.at(cm, (t, pred), 1)
    print("\nconfusion (rows true, cols predicted):")
    print("     " + " ".join(f"{d:>4}" for d in range(10)))
    for d in range(10):
        print(f"  {d}: " + " ".join(f"{v:>4}" for v in cm[d]))
    if args.json:
        print(json.dumps(rows))
    if args.record:
        meta_path = Path(args.model).with_suffix(".json")
        meta = json.loads(meta_path.read_text())
        try:
            seed = json.loads((set_dir / "manifest.json").read_text()).get("seed")
        except (OSError, ValueError):
            seed = None
        meta["quality_set"] = {
            "made_by": f"scripts/make_digit_set.py --seed {seed}", "evaluated_by": "scripts/eval_digit_set.py",
            "styles": {k: {"n": v["n"], "accuracy": round(v["accuracy"], 4)} for k, v in rows.items()},
        }
        meta_path.write_text(json.dumps(meta, indent=2) + "\n")
        print(f"recorded in {meta_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
