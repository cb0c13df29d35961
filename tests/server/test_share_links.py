"""Configs that arrive through tampered or truncated share links (#config=<base64url(JSON)>), and any
JSON value anywhere in a config: the server accepts them or names the fields it refuses."""

import base64
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.configs import tiny_config


def encode_link(config):
    return base64.urlsafe_b64encode(json.dumps(config).encode()).decode().rstrip("=")


def decode_link(text):
    """What static/js/hash.js does with a #config= part: the object, or None if it refuses."""
    if not text or any(c not in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
                       for c in text) or len(text) % 4 == 1:
        return None
    try:
        value = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        return None
    return value if isinstance(value, dict) else None


def assert_answered(client, user, config):
    """The server either accepts the config or names fields it refuses; never anything else."""
    response = client.post("/api/validate", json=config)
    body = response.get_json()
    if response.status_code == 200:
        assert body["ok"] is True
        # What it accepted is canonical: accepting it again gives the same document.
        assert client.post("/api/validate", json=body["config"]).get_json()["config"] == body["config"]
    else:
        assert response.status_code == 400
        assert body["errors"] and all(e["field"] and e["message"] for e in body["errors"])
        ack = user.emit("run:start", {"config": config})
        # The same fields (the test client sends JSON with sorted keys, so a message
        # quoting an object may list its keys in another order).
        assert "run_id" not in ack
        assert sorted(e["field"] for e in ack["errors"]) == sorted(e["field"] for e in body["errors"])


LINK = encode_link(tiny_config())


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cut=st.integers(min_value=0, max_value=len(LINK)),
       flips=st.lists(st.tuples(st.integers(0, len(LINK) - 1),
                                st.sampled_from("AZaz09-_Qw")), max_size=3))
def test_tampered_and_truncated_share_links(client, user, cut, flips):
    text = list(LINK[:cut])
    for index, char in flips:
        if index < len(text):
            text[index] = char
    config = decode_link("".join(text))
    if config is not None:  # what the page would send on
        assert_answered(client, user, config)


JSON_LEAVES = st.one_of(st.none(), st.booleans(), st.integers(-2**40, 2**40),
                        st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=20))
JSON = st.recursive(JSON_LEAVES, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)), max_leaves=12)
PATHS = [("seed",), ("data", "train_size"), ("data", "test_size"), ("model", "hidden_layers"),
         ("model", "hidden_layers", 0), ("model", "hidden_layers", 0, "units"),
         ("model", "hidden_layers", 0, "activation"), ("model", "loss"), ("optimizer",),
         ("optimizer", "lr"), ("optimizer", "name"), ("training", "epochs"),
         ("training", "batch_size"), ("model",), ("data",), ("extra",)]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=st.sampled_from(PATHS), value=JSON)
def test_a_link_with_any_value_anywhere_is_answered(client, user, path, value):
    config = tiny_config()
    target = config
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    assert_answered(client, user, config)
