"""The book's overfitting experiment in PyTorch (CPU, float32), for comparison with the nnengine CLI.

    python bench/torch_overfit.py bench/overfit.json

Same job as ``python -m nnengine run bench/overfit.json``: the same data split (``nnengine.data`` with the
config's seed and sizes), 784-100x6-10 ReLU with He init and zero biases, plain SGD, shuffled mini-batches,
and after every epoch (and before the first) the loss and accuracy on all train and all test samples in
evaluation mode under ``torch.no_grad()``.  Prints one JSON record per epoch, like the CLI.
Default torch threads; written the way one would normally write it in PyTorch.
"""
import json
import sys
import time

import numpy as np
import torch
from torch import nn
import torch.nn.functional as F

sys.path.insert(0, __file__.rsplit("/bench/", 1)[0])  # the repository root, for nnengine.data
from nnengine.data import load_pool, split  # noqa: E402


def make_model(n_in, hidden, n_out):
    layers, fan_in = [], n_in
    for units in hidden:
        layers += [nn.Linear(fan_in, units), nn.ReLU()]
        fan_in = units
    layers.append(nn.Linear(fan_in, n_out))
    model = nn.Sequential(*layers)
    for m in model.modules():
        if isinstance(m, nn.Linear):
            nn.init.kaiming_normal_(m.weight, nonlinearity="relu")  # He: std sqrt(2 / fan_in)
            nn.init.zeros_(m.bias)
    return model


@torch.no_grad()
def evaluate(model, x, t):
    model.eval()
    scores = model(x)
    loss = F.cross_entropy(scores, t).item()
    acc = (scores.argmax(dim=1) == t).float().mean().item()
    return loss, acc


def main(path):
    cfg = json.load(open(path))
    seed, d, tr = cfg["seed"], cfg["data"], cfg["training"]
    lr = cfg["optimizer"]["lr"]
    torch.manual_seed(seed)
    x, t = load_pool()
    s = split(x, t, np.random.default_rng(seed), d["train_size"], d.get("validation_size", 0), d.get("test_size"))
    x_train, t_train = torch.from_numpy(s.x_train), torch.from_numpy(s.t_train)
    x_test, t_test = torch.from_numpy(s.x_test), torch.from_numpy(s.t_test)

    model = make_model(x_train.shape[1], [layer["units"] for layer in cfg["model"]["hidden_layers"]], 10)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    n, batch_size = len(x_train), tr["batch_size"]

    start = time.perf_counter()

    def report(epoch):
        train_loss, train_acc = evaluate(model, x_train, t_train)
        test_loss, test_acc = evaluate(model, x_test, t_test)
        print(json.dumps({"epoch": epoch, "train_loss": train_loss, "train_acc": train_acc,
                          "test_loss": test_loss, "test_acc": test_acc,
                          "elapsed_s": time.perf_counter() - start}), flush=True)

    report(0)
    for epoch in range(1, tr["epochs"] + 1):
        model.train()
        order = torch.randperm(n)
        for i in range(0, n, batch_size):
            idx = order[i:i + batch_size]
            loss = F.cross_entropy(model(x_train[idx]), t_train[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        report(epoch)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else __file__.rsplit("/", 1)[0] + "/overfit.json")
