"""Hostile socket clients: the run:start rate limit, and any payload at all to the events."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from server.start_limits import parse_rate
from tests.support.configs import tiny_config
from tests.support.sockets import SocketUser, socket_client


# -- the rates (the limits themselves: tests/server/test_fair_limits.py) -------------------------

@pytest.mark.parametrize("text, rate", [("10/10", (10, 10.0)), (" 3/0.5 ", (3, 0.5)), ("off", None),
                                        ("0", None), ("", None), ((5, 2), (5, 2.0)), (None, None)])
def test_rates_are_parsed(text, rate):
    assert parse_rate(text) == rate


@pytest.mark.parametrize("text", ["10", "a/b", "0/10", "10/0", "10/-1", "1/inf", (1, 2, 3), "1/nan"])
def test_bad_rates_are_refused(text):
    with pytest.raises(ValueError):
        parse_rate(text)


# -- over the socket --------------------------------------------------------------------------

def test_the_eleventh_start_in_ten_seconds_is_refused(make_app, gated_train):
    app = make_app(MAX_QUEUED_PER_CLIENT=50, MAX_CONCURRENT_RUNS=1)
    user = SocketUser(socket_client(app))
    for _ in range(10):
        user.start(tiny_config())
    ack = user.emit("run:start", {"config": tiny_config()})
    assert set(ack) == {"error"}
    assert ack["error"].startswith("too many runs started:") and "try again in" in ack["error"]
    # An invalid config is still told what is wrong with it rather than to wait.
    bad = tiny_config(epochs=0)
    assert "training.epochs" in user.emit("run:start", {"config": bad})["error"]
    # Another connection (same address, under its own limit of 30) may start.
    other = SocketUser(socket_client(app))
    other.start(tiny_config())
    gated_train.release.set()
    user.sio.disconnect()
    other.sio.disconnect()


def test_the_per_address_limit_over_several_connections(make_app, gated_train):
    app = make_app(START_RATE="off", START_RATE_PER_ADDRESS="3/60", MAX_CONCURRENT_RUNS=1)
    users = [SocketUser(socket_client(app)) for _ in range(4)]
    for user in users[:3]:
        user.start(tiny_config())
    ack = users[3].emit("run:start", {"config": tiny_config()})
    assert "from address 127.0.0.1" in ack["error"] and "try again in 60 s" in ack["error"]
    gated_train.release.set()
    for user in users:
        user.sio.disconnect()


def test_the_limits_can_be_set_from_the_environment(make_app, monkeypatch):
    monkeypatch.setenv("PLAYGROUND_START_RATE", "2/5")
    monkeypatch.setenv("PLAYGROUND_START_RATE_PER_ADDRESS", "off")
    app = make_app()
    limiter = app.extensions["start_limiter"]
    assert (limiter._client.count, limiter._client.seconds) == (2, 5.0)
    assert limiter._address is None
    assert make_app(START_RATE="7/7").extensions["start_limiter"]._client.count == 7  # config wins


# -- any payload ------------------------------------------------------------------------------

LEAVES = st.one_of(st.none(), st.booleans(), st.integers(-2**63, 2**63),
                   st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=30))
JSON = st.recursive(LEAVES, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4)), max_leaves=15)
RUN_IDS = st.one_of(JSON, st.text(alphabet="abcXYZ019_-", min_size=1, max_size=70),
                    st.sampled_from(["", "..", "../../etc/passwd", "x" * 65, "a b", "ok_run-1"]))
CONFIGS = st.one_of(
    JSON,
    st.dictionaries(st.sampled_from(["seed", "data", "model", "optimizer", "training", "name", "x"]),
                    JSON, max_size=6),
    st.builds(lambda epochs, lr, units: {**tiny_config(epochs=epochs), "optimizer": {"name": "sgd", "lr": lr},
                                         "model": {"hidden_layers": [{"units": units}]}},
              JSON, JSON, JSON),
)
PAYLOADS = st.one_of(
    st.lists(JSON, max_size=3),  # any arguments at all
    st.builds(lambda c: [{"config": c}], CONFIGS),
    st.builds(lambda r: [{"run_id": r}], RUN_IDS),
    st.builds(lambda c, r: [{"config": c, "run_id": r}], CONFIGS, RUN_IDS),
)


@pytest.fixture
def fuzz_user(make_app, gated_train):
    # Runs that do start are held by the gated trainer (no CPU), and stopped at teardown.
    app = make_app(MAX_CONCURRENT_RUNS=1, MAX_QUEUED_PER_CLIENT=3)
    user = SocketUser(socket_client(app))
    yield user
    gated_train.release.set()
    if user.sio.is_connected():
        user.sio.disconnect()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(event=st.sampled_from(["run:start", "run:stop", "run:watch"]), args=PAYLOADS)
def test_any_payload_gets_an_ack_with_a_run_id_or_an_error(fuzz_user, event, args):
    ack = fuzz_user.sio.emit(event, *args, callback=True)
    assert isinstance(ack, dict), ack
    if event == "run:stop":
        assert ack == {"ok": True} or isinstance(ack.get("error"), str)
    else:
        assert "run_id" in ack or isinstance(ack.get("error"), str)
    if "error" in ack:
        assert ack["error"] != "internal server error", (event, args)
    assert fuzz_user.sio.is_connected()
