"""Driving the dashboard in a browser test: a small run, the JSON API, the builder's fields, share links."""
import base64
import json
import urllib.error
import urllib.request


SMALL = {  # a run of a second or two
    "seed": 3,
    "data": {"train_size": 100, "validation_size": 0, "test_size": None},
    "model": {"hidden_layers": [{"units": 30, "activation": "relu", "batch_norm": False, "dropout": 0.0}],
              "weight_init": "he", "weight_init_std": 0.01, "loss": "cross_entropy"},
    "optimizer": {"name": "sgd", "lr": 0.1},
    "training": {"epochs": 4, "batch_size": 50, "weight_decay": 0.0},
}

GD = "document.getElementById('chart-{}')"


def api(server, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(server + path, data=data, method="POST" if data else "GET",
                                 headers={"Content-Type": "application/json", "Origin": server})
    try:
        with urllib.request.urlopen(req, timeout=10) as res:
            return json.load(res)
    except urllib.error.HTTPError as exc:
        return json.load(exc)


def open_dashboard(page, server, hash_=""):
    page.goto(server + "/" + hash_)
    page.wait_for_function("window.playground && window.playground.builder")


def field(page, path):
    return page.locator(f'[data-field="{path}"]')


def b64url(obj):
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")


def unb64url(text):
    return json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
