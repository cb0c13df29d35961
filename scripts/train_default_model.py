"""Train the playground's default digit model (models/default-v1.npz + .json), reproducibly (seeded).

Data: the bundled MNIST pool only (nnengine/data: 5,000 real MNIST digits). 1,000 of them (100 per
digit, drawn with the seed) are held out and never trained on; their accuracy is reported. No font or
synthetic digits are used for training.

Augmentation, drawn afresh every epoch (vectorised NumPy):
- affine: rotation, shear, anisotropic scaling;
- elastic distortion (Simard et al. 2003: a Gaussian-smoothed random displacement field);
- stroke thickness: a blend towards a grey dilation or erosion (3x3 cross);
- then the same size/centre normalisation the server applies to uploads (nnengine.images.normalize_ink:
  bounding box to 20 px, centre of mass to the middle), with a little jitter of box size and centre.

Model: a small convolutional network built with nnengine.layer_kinds.build_layers (see ARCH below),
trained with Adam and a cosine learning-rate schedule.

    python scripts/train_default_model.py [--epochs 40] [--seed 0] [--out models/default-v1]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nnengine.layer_kinds import build_layers  # noqa: E402
from nnengine.data import load_pool  # noqa: E402
from nnengine.losses import get_loss  # noqa: E402
from nnengine.models import save_model  # noqa: E402
from nnengine.network import Network  # noqa: E402
from nnengine.optimizers import get_optimizer  # noqa: E402
from nnengine.images import normalize_ink  # noqa: E402

ARCH = [
    {"type": "reshape", "shape": [1, 28, 28]},
    {"type": "conv", "filters": 32, "kernel": 5, "stride": 1, "pad": 2, "activation": "relu"},
    {"type": "pool", "size": 2, "stride": 2},
    {"type": "conv", "filters": 64, "kernel": 3, "stride": 1, "pad": 1, "activation": "relu"},
    {"type": "pool", "size": 2, "stride": 2},
    {"type": "flatten"},
    {"type": "dense", "units": 128, "activation": "relu", "dropout": 0.3},
]
HOLDOUT_PER_DIGIT = 100


def gaussian_matrix(n: int, sigma: float) -> np.ndarray:
    i = np.arange(n)
    g = np.exp(-0.5 * ((i[:, None] - i[None, :]) / sigma) ** 2)
    return (g / g.sum(axis=1, keepdims=True)).astype(np.float32)


G4 = gaussian_matrix(28, 4.0)


def bilinear_sample(img: np.ndarray, sy: np.ndarray, sx: np.ndarray) -> np.ndarray:
    """img (n, h, w); sy, sx (n, h, w) source coordinates -> sampled (n, h, w), zero outside."""
    n, h, w = img.shape
    p = np.pad(img, ((0, 0), (1, 2), (1, 2)))
    y0 = np.floor(sy)
    x0 = np.floor(sx)
    fy, fx = (sy - y0).astype(np.float32), (sx - x0).astype(np.float32)
    y0 = np.clip(y0.astype(np.int64) + 1, 0, h + 1)
    x0 = np.clip(x0.astype(np.int64) + 1, 0, w + 1)
    nn = np.arange(n)[:, None, None]
    a, b = p[nn, y0, x0], p[nn, y0, x0 + 1]
    c, d = p[nn, y0 + 1, x0], p[nn, y0 + 1, x0 + 1]
    return (a * (1 - fx) + b * fx) * (1 - fy) + (c * (1 - fx) + d * fx) * fy


def morph(x: np.ndarray, op) -> np.ndarray:
    p = np.pad(x, ((0, 0), (1, 1), (1, 1)))
    return op.reduce([p[:, 1:-1, 1:-1], p[:, :-2, 1:-1], p[:, 2:, 1:-1], p[:, 1:-1, :-2], p[:, 1:-1, 2:]])


def augment(x: np.ndarray, rng: np.random.Generator, clutter: float = 0.2, bars: float = 0.3) -> np.ndarray:
    """x (n, 28, 28) float32 in [0, 1] -> augmented and re-normalised (n, 28, 28)."""
    n = len(x)
    ang = np.radians(rng.uniform(-15, 15, n))
    shear = rng.uniform(-0.3, 0.3, n)
    scale = rng.uniform(0.85, 1.1, n)
    aspect = np.exp(rng.uniform(-0.2, 0.2, n))
    sx_, sy_ = scale * aspect, scale / aspect
    # forward map A = R @ Shear @ S on centred (y, x) coordinates; sampling needs its inverse
    cos, sin = np.cos(ang), np.sin(ang)
    R = np.stack([np.stack([cos, -sin], -1), np.stack([sin, cos], -1)], -2)
    Sh = np.zeros((n, 2, 2))
    Sh[:, 0, 0] = Sh[:, 1, 1] = 1.0
    Sh[:, 1, 0] = shear                       # x' = x + shear * y (slant)
    S = np.zeros((n, 2, 2))
    S[:, 0, 0], S[:, 1, 1] = sy_, sx_
    Ainv = np.linalg.inv(R @ Sh @ S)
    yy, xx = np.mgrid[0:28, 0:28].astype(np.float64) - 13.5
    sy = Ainv[:, 0, 0, None, None] * yy + Ainv[:, 0, 1, None, None] * xx + 13.5
    sx = Ainv[:, 1, 0, None, None] * yy + Ainv[:, 1, 1, None, None] * xx + 13.5
    # elastic distortion
    alpha = rng.uniform(0.0, 2.0, n)[:, None, None]
    for s in (sy, sx):
        f = rng.uniform(-1, 1, (n, 28, 28)).astype(np.float32)
        f = G4 @ f @ G4.T
        f /= f.std(axis=(1, 2), keepdims=True) + 1e-8
        s += alpha * f
    out = bilinear_sample(x, sy, sx)
    # stroke thickness
    t = rng.uniform(-0.5, 1.0, n)
    t[rng.random(n) < 0.35] = 0.0
    dil, ero = morph(out, np.maximum), morph(out, np.minimum)
    tt = t[:, None, None].astype(np.float32)
    out = np.where(tt > 0, out + tt * (dil - out), out + (-tt) * (ero - out))
    out = np.clip(out, 0, 1)
    out /= np.maximum(out.max(axis=(1, 2), keepdims=True), 0.5)     # stroke cores back to about 1
    out = add_strokes(out, rng, clutter)
    out = add_bars(out, rng, bars, bars / 2)
    # the server's size/centre normalisation, with a little jitter
    res = np.empty_like(out)
    box = rng.uniform(18.5, 20.5, n)
    cy, cx = 14 + rng.uniform(-0.8, 0.8, n), 14 + rng.uniform(-0.8, 0.8, n)
    for i in range(n):
        src = out[i] if out[i].max() > 0.1 else x[i]
        res[i] = normalize_ink(src, box=box[i], center=(cy[i], cx[i]))
    return res


def add_strokes(x: np.ndarray, rng: np.random.Generator, p: float) -> np.ndarray:
    """Label-preserving clutter: with probability ``p`` an image gets one or two short straight strokes
    that start on its ink and point anywhere (stray marks, serifs, flags, underlines, crossbars), so the
    network does not hang a class on one small extra stroke. Anti-aliased, 1.5-2.8 px wide."""
    n = len(x)
    out = x.copy()
    for k in range(2):
        chosen = np.flatnonzero(rng.random(n) < (p if k == 0 else p * 0.3))
        for i in chosen:
            ys, xs = np.nonzero(x[i] > 0.5)
            if len(ys) == 0:
                continue
            j = int(rng.integers(len(ys)))
            y0, x0 = float(ys[j]), float(xs[j])
            ang = rng.uniform(0, 2 * np.pi)
            length = rng.uniform(3.0, 8.0)
            y1, x1 = y0 + length * np.sin(ang), x0 + length * np.cos(ang)
            _segment(out[i], y0, x0, y1, x1, rng.uniform(0.75, 1.4))
    return out


_YY, _XX = np.mgrid[0:28, 0:28].astype(np.float32)


def _segment(img: np.ndarray, y0, x0, y1, x1, half: float) -> None:
    """Draw an anti-aliased straight stroke of half-width ``half`` into ``img`` (28x28) in place."""
    dy, dx = y1 - y0, x1 - x0
    u = np.clip(((_YY - y0) * dy + (_XX - x0) * dx) / max(dy * dy + dx * dx, 1e-6), 0, 1)
    dist = np.hypot(_YY - (y0 + u * dy), _XX - (x0 + u * dx))
    np.maximum(img, np.clip(half + 0.5 - dist, 0, 1), out=img)


def add_bars(x: np.ndarray, rng: np.random.Generator, p_bottom: float, p_top: float) -> np.ndarray:
    """Label-preserving horizontal bars where a digit ends at the bottom (probability ``p_bottom``) or
    the top (``p_top``): serifs of printed digits, the foot of a hand-written European 1, an underline
    touching the digit. Every class gets them alike, so a bar alone cannot decide a class (MNIST's own
    digits almost never have one, which otherwise teaches "flat foot => 2")."""
    out = x.copy()
    for i in range(len(x)):
        for where, p in (("bottom", p_bottom), ("top", p_top)):
            if rng.random() >= p:
                continue
            ys, xs = np.nonzero(out[i] > 0.5)
            if len(ys) == 0:
                continue
            y = ys.max() if where == "bottom" else ys.min()
            row = xs[ys == y]
            xc = float(row.mean()) + rng.uniform(-1.0, 1.0)
            length = rng.uniform(4.0, 9.0)
            yb = float(y) + rng.uniform(-0.5, 0.5)
            _segment(out[i], yb, xc - length / 2, yb + rng.uniform(-0.4, 0.4), xc + length / 2,
                     rng.uniform(0.7, 1.3))
    return out


def split_holdout(t: np.ndarray, rng: np.random.Generator):
    test = np.concatenate([rng.permutation(np.flatnonzero(t == d))[:HOLDOUT_PER_DIGIT] for d in range(10)])
    mask = np.zeros(len(t), bool)
    mask[test] = True
    return np.flatnonzero(~mask), np.flatnonzero(mask)


def accuracy(net: Network, x: np.ndarray, t: np.ndarray) -> float:
    correct = 0
    for s in range(0, len(x), 500):
        correct += int((net.forward(x[s:s + 500], train=False).argmax(1) == t[s:s + 500]).sum())
    return correct / len(x)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="train the default digit model on the MNIST pool")
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--weight-decay", type=float, default=1e-4)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--ema", type=float, default=0.995, help="decay of the weight average")
    ap.add_argument("--out", default="models/default-v1")
    ap.add_argument("--clutter", type=float, default=0.2, help="share of images given stray strokes")
    ap.add_argument("--bars", type=float, default=0.3, help="share given a bar at the bottom (half that at the top)")
    ap.add_argument("--checkpoint", action="store_true", help="save the averaged weights after every epoch")
    ap.add_argument("--monitor", default="", help="optional preprocessed eval set .npz (x, t, style) to print")
    args = ap.parse_args(argv)

    rng = np.random.default_rng(args.seed)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    x, t = load_pool()
    x = x.reshape(-1, 28, 28).astype(np.float32) / 255
    t = t.astype(np.int64)
    tr, te = split_holdout(t, rng)
    x_tr, t_tr, x_te, t_te = x[tr], t[tr], x[te], t[te]
    x_te_norm = np.stack([normalize_ink(im) for im in x_te])

    layers = build_layers(ARCH, rng, n_in=784, n_out=10, weight_init="he")
    net = Network(layers, get_loss("cross_entropy"), weight_decay=args.weight_decay)
    opt = get_optimizer("adam", lr=args.lr)
    mon = np.load(args.monitor) if args.monitor else None

    # exponential moving average of the weights (Polyak averaging): evaluated and saved instead of the
    # last step's weights, it smooths out the epoch-to-epoch wobble on unfamiliar (non-MNIST) digits
    ema = {k: v.copy() for k, v in net.params.items()}

    def swap_ema():
        for k, v in net.params.items():
            tmp = v.copy()
            v[...] = ema[k]
            ema[k][...] = tmp

    steps_per_epoch = math.ceil(len(x_tr) / args.batch_size)
    total = steps_per_epoch * args.epochs
    step = 0
    t0 = time.time()
    for epoch in range(1, args.epochs + 1):
        xa = augment(x_tr, rng, args.clutter, args.bars).reshape(len(x_tr), 784)
        order = rng.permutation(len(x_tr))
        loss_sum = 0.0
        for s in range(0, len(order), args.batch_size):
            idx = order[s:s + args.batch_size]
            opt.lr = args.lr * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * step / total)))
            loss_sum += net.loss(xa[idx], t_tr[idx], train=True) * len(idx)
            net.backward()
            opt.update(net.params, net.grads)
            step += 1
            d = min(args.ema, (1 + step) / (10 + step))
            for k, v in net.params.items():
                ema[k] *= d
                ema[k] += (1 - d) * v
        swap_ema()                                   # evaluate with the averaged weights
        msg = (f"epoch {epoch:3d} loss {loss_sum / len(order):.4f} lr {opt.lr:.2e} "
               f"heldout {accuracy(net, x_te.reshape(-1, 784), t_te):.4f} "
               f"heldout(norm) {accuracy(net, x_te_norm.reshape(-1, 784), t_te):.4f} "
               f"{time.time() - t0:.0f}s")
        if mon is not None:
            pred = np.concatenate([net.forward(mon["x"][s:s + 500].reshape(-1, 784), False).argmax(1)
                                   for s in range(0, len(mon["x"]), 500)])
            ok = pred == mon["t"]
            msg += " | set " + " ".join(f"{st}:{ok[mon['style'] == st].mean():.3f}"
                                        for st in dict.fromkeys(mon["style"].tolist())) + f" all:{ok.mean():.3f}"
        print(msg, flush=True)
        if args.checkpoint:
            np.savez_compressed(Path(args.out).with_suffix(".epoch.npz"),
                                **{k: v.astype(np.float32) for k, v in net.state_dict().items()})
        if epoch < args.epochs:
            swap_ema()                               # back to the raw weights to keep training

    held = accuracy(net, x_te.reshape(-1, 784), t_te)
    held_norm = accuracy(net, x_te_norm.reshape(-1, 784), t_te)
    train_acc = accuracy(net, x_tr.reshape(-1, 784), t_tr)
    out = Path(args.out)
    meta = {
        "name": out.name,
        "format": 1,
        "description": "Default digit model: a small CNN trained on the bundled MNIST pool with augmentation",
        "n_in": 784, "n_out": 10, "loss": "cross_entropy", "weight_init": "he",
        "layers": ARCH,
        "training": {
            "data": f"nnengine/data/mnist_5k.npz, {len(tr)} images (100 per digit held out)",
            "seed": args.seed, "epochs": args.epochs, "batch_size": args.batch_size,
            "optimizer": {"name": "adam", "lr": args.lr, "schedule": "cosine to 2% of lr"},
            "weight_decay": args.weight_decay,
            "weight_average": f"exponential moving average, decay {args.ema}",
            "augmentation": "rotation +-15 deg, shear +-0.3, scale 0.85-1.1, aspect +-20%, elastic "
                            "(sigma 4, up to 2 px), stroke thickness (grey dilation/erosion blend), "
                            f"stray strokes on {args.clutter:.0%} of images (add_strokes), horizontal bars where the "
                            f"digit ends at the bottom/top on {args.bars:.0%}/{args.bars / 2:.0%} (add_bars), "
                            "bbox/centre-of-mass renormalisation with jitter",
            "script": "scripts/train_default_model.py",
            "seconds": round(time.time() - t0, 1),
        },
        "accuracy": {"heldout_mnist": held, "heldout_mnist_normalized": held_norm, "train_mnist": train_acc,
                     "heldout_size": int(len(te))},
    }
    save_model(out, net, meta)
    print(json.dumps(meta["accuracy"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
