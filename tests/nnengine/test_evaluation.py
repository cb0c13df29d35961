"""The fast evaluation path (nnengine/evaluation.py).

``Network.infer`` / ``evaluate_rows`` / ``StackedEvaluation`` must give the numbers of the plain
``forward(x, train=False)`` + ``loss.forward`` path, keep no layer state, and be the same on every call
and for any number of worker threads.
"""
import copy

import numpy as np
import pytest

from nnengine.config import parse_config
from nnengine.evaluation import StackedEvaluation
from nnengine.losses import LOSSES
from nnengine.models import build_network
from nnengine.presets import PRESETS


def make(activation="relu", batch_norm=False, dropout=0.0, loss="cross_entropy", dtype=np.float32, seed=0,
         dropout_style="inverted"):
    cfg = copy.deepcopy(PRESETS["overfitting"]["config"])
    cfg["model"].update(loss=loss, dropout_style=dropout_style)
    for layer in cfg["model"]["hidden_layers"][:3]:
        layer.update(activation=activation, batch_norm=batch_norm, dropout=dropout)
    cfg["model"]["hidden_layers"] = cfg["model"]["hidden_layers"][:3]
    config = parse_config(cfg)
    rng = np.random.default_rng(seed)
    net = build_network(config.model, config.training, rng, n_in=50, dtype=dtype)
    x = rng.random((700, 50)).astype(dtype)
    x[:, :7] = 0                     # features that are zero in every row
    x[x < 0.3] = 0
    t = rng.integers(0, 10, 700)
    if batch_norm:                   # give the running statistics some non-trivial values
        for _ in range(3):
            net.forward(x[:100], train=True)
    return net, x, t


def reference(net, x, t):
    scores = net.forward(x, train=False)
    return net.loss_fn.forward(scores, t), float(np.mean(scores.argmax(axis=1) == t))


CASES = [dict(), dict(batch_norm=True), dict(dropout=0.3), dict(dropout=0.3, dropout_style="book"),
         dict(activation="tanh"), dict(activation="elu", batch_norm=True, dropout=0.2),
         dict(activation="elu", batch_norm=True, dropout=0.2, dropout_style="book"), dict(loss="mean_squared_error"),
         dict(loss="binary_cross_entropy", activation="sigmoid"), dict(dtype=np.float64)]


@pytest.mark.parametrize("case", CASES, ids=[str(c) for c in CASES])
def test_infer_matches_forward(case):
    net, x, t = make(**case)
    expected = net.forward(x, train=False)
    got = net.infer(x)
    assert got.dtype == expected.dtype
    np.testing.assert_array_equal(got, expected)
    active = np.flatnonzero(np.any(x != 0, axis=0))
    pruned = net.infer(np.ascontiguousarray(x[:, active]), columns=active)
    rtol = 1e-5 if x.dtype == np.float32 else 1e-12
    np.testing.assert_allclose(pruned, expected, rtol=rtol, atol=rtol)


@pytest.mark.parametrize("case", CASES, ids=[str(c) for c in CASES])
def test_stacked_evaluation_matches_per_set_reference(case, monkeypatch):
    monkeypatch.setattr(StackedEvaluation, "min_rows_per_worker", 100)
    net, x, t = make(**case)
    sets = [(x[:100], t[:100]), (x[100:650], t[100:650]), (x[:0], t[:0]), (x[650:], t[650:])]
    tol = 1e-5 if x.dtype == np.float32 else 1e-12
    for workers in (1, 2, 3):
        with StackedEvaluation(net, sets, dtype=x.dtype, workers=workers) as evaluate:
            assert len(evaluate.parts) == workers
            first = evaluate()
            np.testing.assert_equal(evaluate(), first)   # the same numbers on every call
        for (loss, acc), (xs, ts) in zip(first, sets):
            if len(xs) == 0:
                assert np.isnan(loss) and np.isnan(acc)
                continue
            ref_loss, ref_acc = reference(net, xs, ts)
            assert loss == pytest.approx(ref_loss, rel=tol, abs=tol)
            assert acc == ref_acc
        assert net.evaluate(sets[1][0], sets[1][1]) == pytest.approx(reference(net, *sets[1]), rel=tol)


def test_workers_give_identical_numbers():
    net, x, t = make()
    x = np.repeat(x, 4, axis=0)
    t = np.repeat(t, 4)
    sets = [(x[:300], t[:300]), (x[300:], t[300:])]
    results = []
    for workers in (1, 2):
        with StackedEvaluation(net, sets, workers=workers) as evaluate:
            results.append(evaluate())
    assert results[0] == results[1]


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_per_sample_mean_is_forward(name):
    rng = np.random.default_rng(1)
    scores = (rng.standard_normal((64, 10)) * 5).astype(np.float32)
    t = rng.integers(0, 10, 64)
    loss = LOSSES[name]()
    per = loss.per_sample(scores, t)
    assert per.shape == (64,) and per.dtype == np.float32
    assert float(per.mean()) == pytest.approx(loss.forward(scores, t), rel=1e-5)


def test_evaluation_does_not_disturb_a_pending_backward():
    net, x, t = make(batch_norm=True, dropout=0.2)
    rng_state = [copy.deepcopy(l.rng.bit_generator.state) for l in net.layers if hasattr(l, "rng")]
    net.loss(x[:100], t[:100], train=True)
    net.backward()
    expected = {k: v.copy() for k, v in net.grads.items()}
    for layer, s in zip([l for l in net.layers if hasattr(l, "rng")], rng_state):
        layer.rng.bit_generator.state = s
    net.loss(x[:100], t[:100], train=True)
    with StackedEvaluation(net, [(x, t)], workers=2) as evaluate:
        evaluate()
    net.evaluate(x, t)
    net.backward()
    for key, value in net.grads.items():
        np.testing.assert_array_equal(value, expected[key])


def _overfit(**training):
    cfg = copy.deepcopy(PRESETS["overfitting"]["config"])
    cfg["training"].update(training)
    return cfg


PIPELINE_CASES = {
    "plain": _overfit(epochs=6),
    "dropout+bn": {**_overfit(epochs=4), "model": {**_overfit()["model"], "dropout_style": "inverted",
                                                   "hidden_layers": [{"units": 50, "activation": "tanh",
                                                                      "batch_norm": True, "dropout": 0.2}] * 3}},
    "book dropout+bn": {**_overfit(epochs=4), "model": {**_overfit()["model"], "hidden_layers": [
        {"units": 50, "activation": "tanh", "batch_norm": True, "dropout": 0.2}] * 3}},
    "diverges": {**_overfit(epochs=30), "optimizer": {"name": "sgd", "lr": 3.0},
                 "model": {**_overfit()["model"], "weight_init": "std", "weight_init_std": 1.0}},
}


@pytest.mark.parametrize("name", sorted(PIPELINE_CASES))
def test_background_evaluation_gives_the_sequential_run(name, monkeypatch):
    """Evaluating in background threads while the next epoch trains changes nothing: same records,
    bit for bit, same stop point, same final network as one worker evaluating in between epochs."""
    from nnengine.trainer import train

    config = parse_config(PIPELINE_CASES[name])
    runs = []
    for rows in (10**9, 100):          # one worker (in between epochs), then background workers
        monkeypatch.setattr(StackedEvaluation, "min_rows_per_worker", rows)
        runs.append(train(config))
    (a, b) = runs
    assert a.status == b.status and a.message == b.message
    strip = lambda records: [{k: v for k, v in r.items() if k != "elapsed_s"} for r in records]  # noqa: E731
    assert strip(a.records) == strip(b.records)
    for key, value in a.network.params.items():
        np.testing.assert_array_equal(value, b.network.params[key])


def test_stop_reports_every_finished_epoch(monkeypatch):
    from nnengine.trainer import train

    monkeypatch.setattr(StackedEvaluation, "min_rows_per_worker", 100)
    seen = []
    result = train(parse_config(_overfit(epochs=50)), on_epoch=seen.append,
                   should_stop=lambda: len(seen) >= 3)
    assert result.status == "stopped"
    assert [r["epoch"] for r in result.records] == list(range(len(result.records)))
    assert len(result.records) >= 3
