"""How long does an epoch of the Small CNN preset take, next to the all-dense presets?

    python bench/conv_speed.py                  # Small CNN, Quick look and the book's overfitting network
    python bench/conv_speed.py --epochs 10

Two figures per preset:
- wall ms/epoch of the real trainer (``nnengine.trainer.train``: training, plus each epoch's evaluation on
  the 300 training and 4,700 test images, overlapped in background threads when there are two cores);
- CPU ms/epoch with one BLAS thread and no overlap, split into the training steps and the evaluation:
  what one epoch costs a core, much less sensitive to other processes on the machine than wall time.
The load average is printed because other processes change the wall figures.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from nnengine.blas import blas_threads  # noqa: E402
from nnengine.config import parse_config  # noqa: E402
from nnengine.cost import count_weights  # noqa: E402
from nnengine.evaluation import StackedEvaluation  # noqa: E402
from nnengine.models import build_network  # noqa: E402
from nnengine.presets import preset  # noqa: E402
from nnengine.trainer import load_splits, make_optimizer, train  # noqa: E402

PRESETS = ("small_cnn", "quick", "overfitting")


def cpu_epoch(config, epochs: int) -> tuple[float, float]:
    """(training, evaluation) CPU ms per epoch, one BLAS thread, the evaluation in this thread."""
    rng = np.random.default_rng(config.seed)
    splits = load_splits(config, rng)
    network = build_network(config.model, config.training, rng)
    optimizer = make_optimizer(config, rng)
    x, t = splits.x_train.astype(np.float32), splits.t_train
    size = config.training.batch_size
    train_s = eval_s = 0.0
    with blas_threads.limit(1), StackedEvaluation(network, [(splits.x_train, splits.t_train),
                                                            (splits.x_test, splits.t_test)],
                                                  dtype=np.float32, workers=1) as evaluate:
        for _ in range(epochs):
            start = time.process_time()
            order = rng.permutation(len(x))
            for step in range(0, len(x), size):
                batch = order[step:step + size]
                loss = network.loss(x[batch], t[batch])
                network.backward()
                optimizer.update(network.params, network.grads, loss=loss)
            middle = time.process_time()
            evaluate()
            train_s += middle - start
            eval_s += time.process_time() - middle
    return 1000 * train_s / epochs, 1000 * eval_s / epochs


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10, help="epochs per measurement (default 10)")
    args = parser.parse_args(argv)
    print(f"load average {os.getloadavg()[0]:.2f}, {os.cpu_count()} cores")
    print(f"{'preset':<12} {'MACs/image':>11} {'wall ms/epoch':>14} {'CPU train':>10} {'CPU eval':>9}  final test acc")
    for name in PRESETS:
        doc = preset(name)
        doc["training"]["epochs"] = args.epochs
        config = parse_config(doc)
        result = train(config)
        wall = 1000 * result.elapsed_s / args.epochs
        train_ms, eval_ms = cpu_epoch(config, args.epochs)
        print(f"{name:<12} {count_weights(config.model):>11,} {wall:>14.1f} {train_ms:>10.1f} {eval_ms:>9.1f}  "
              f"{result.records[-1]['test_acc']:.3f} after {args.epochs} epochs")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
