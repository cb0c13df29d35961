"""Start rates and the queue limit per address, against memory and against a real Redis server.

Every test of the limits themselves runs twice (the `storage` fixture): with the in-memory storage
of one machine and with Redis, the storage the web nodes of a cluster share. The tests named
"..._nodes_..." build two independent sets of limits on one Redis, as two web nodes do.
"""

import time

import pytest

from server.fairness import storage_url
from server.settings import Settings
from server.queue_limit import MemoryPlaces, QueueLimit, RedisPlaces
from server.start_limits import StartRateLimiter, open_storage
from tests.support.configs import tiny_config
from tests.support.services import Unavailable, free_port, redis_server
from tests.support.sockets import SocketUser, socket_client


@pytest.fixture(scope="module")
def redis_url():
    try:
        with redis_server() as url:
            yield url
    except Unavailable as exc:
        pytest.skip(str(exc))


@pytest.fixture(params=["memory", "redis"])
def storage(request):
    """The URL the limits keep their counts at: memory:// or a Redis server emptied for this test."""
    if request.param == "memory":
        return "memory://"
    url = request.getfixturevalue("redis_url")
    import redis

    redis.Redis.from_url(url).flushdb()
    return url


def places_at(url):
    return MemoryPlaces() if url == "memory://" else RedisPlaces.from_url(url)


class Clock:
    def __init__(self):
        self.now = 1_000_000.0

    def __call__(self):
        return self.now


# -- start rates --------------------------------------------------------------------------------

def test_a_burst_then_refused_until_the_window_has_moved(storage):
    limiter = StartRateLimiter(per_client=(3, 1.0), per_address=None, storage=open_storage(storage))
    assert [limiter.acquire("sid", "10.0.0.1") for _ in range(3)] == [None] * 3
    refusal = limiter.acquire("sid", "10.0.0.1")
    assert refusal == "too many runs started: at most 3 every 1 s from this connection; try again in 1 s"
    assert limiter.acquire("other", "10.0.0.1") is None  # per connection
    time.sleep(1.05)
    assert [limiter.acquire("sid", "10.0.0.1") for _ in range(3)] == [None] * 3
    assert limiter.acquire("sid", "10.0.0.1") is not None


def test_the_address_limit_spans_connections_and_refusals_cost_nothing(storage):
    limiter = StartRateLimiter(per_client=(2, 60.0), per_address=(3, 30.0), storage=open_storage(storage))
    assert limiter.acquire("a", "10.0.0.1") is None
    assert limiter.acquire("a", "10.0.0.1") is None
    assert "this connection" in limiter.acquire("a", "10.0.0.1")  # refused: not charged to the address
    assert limiter.acquire("b", "10.0.0.1") is None
    refusal = limiter.acquire("c", "10.0.0.1")
    assert refusal == ("too many runs started: at most 3 every 30 s from address 10.0.0.1;"
                       " try again in 30 s")
    assert limiter.acquire("c", "10.0.0.2") is None  # another machine
    assert limiter.acquire("d", "2001:db8::1") is None  # IPv6 addresses are keys like any other


def test_a_connection_forgotten_keeps_its_address_window(storage):
    limiter = StartRateLimiter(per_client=(1, 60.0), per_address=(2, 60.0), storage=open_storage(storage))
    assert limiter.acquire("a", "10.0.0.1") is None
    assert "this connection" in limiter.acquire("a", "10.0.0.1")
    limiter.forget_client("a")
    assert limiter.acquire("a", "10.0.0.1") is None  # its own window is gone...
    limiter.forget_client("a")
    assert "address 10.0.0.1" in limiter.acquire("a", "10.0.0.1")  # ...the address's is not


def test_windows_are_whole_seconds_and_the_noun_is_named(storage):
    limiter = StartRateLimiter(per_client=None, per_address=(1, 0.5), storage=open_storage(storage),
                               noun="searches")
    assert limiter.acquire("a", "10.0.0.1") is None
    assert limiter.acquire("b", "10.0.0.1") == ("too many searches started: at most 1 every 1 s"
                                                " from address 10.0.0.1; try again in 1 s")


def test_memory_forgets_windows_that_have_passed():
    storage = open_storage("memory://")
    limiter = StartRateLimiter(per_client=(1, 1.0), per_address=(1, 1.0), storage=storage, max_keys=50)
    for i in range(1000):
        limiter.acquire(f"sid{i}", f"10.0.{i // 256}.{i % 256}")
    assert len(storage.events) == 2000  # all within their window: all kept
    time.sleep(1.1)  # the windows pass (the storage empties them within 0.01 s after a hit)
    limiter.acquire("next", "10.9.9.9")
    time.sleep(0.1)
    limiter.acquire("last", "10.9.9.8")
    assert len(storage.events) <= 4


def test_two_nodes_on_one_redis_share_an_address_budget(redis_url):
    first, second = (StartRateLimiter(per_client=(10, 60.0), per_address=(3, 60.0),
                                      storage=open_storage(redis_url)) for _ in range(2))
    assert first.acquire("a", "10.0.0.9") is None
    assert second.acquire("b", "10.0.0.9") is None
    assert first.acquire("c", "10.0.0.9") is None
    assert "address 10.0.0.9" in second.acquire("d", "10.0.0.9")


def test_redis_down_is_a_clear_refusal():
    port = free_port()  # nothing listens there
    limiter = StartRateLimiter(per_client=(1, 1.0), per_address=(1, 1.0),
                               storage=open_storage(f"redis://127.0.0.1:{port}/0"))
    began = time.monotonic()
    assert limiter.acquire("a", "10.0.0.1") == (f"the start limits (Redis at 127.0.0.1:{port}) are not"
                                                " reachable: new runs cannot start now; stored runs can"
                                                " still be viewed")
    limiter.forget_client("a")  # logged, not raised
    queue = QueueLimit(4, RedisPlaces.from_url(f"redis://127.0.0.1:{port}/0"))
    assert queue.acquire("10.0.0.1", "run1") == (f"the run queue (Redis at 127.0.0.1:{port}) is not reachable:"
                                                 " new runs cannot start now; stored runs can still be viewed")
    queue.release("run1")
    assert time.monotonic() - began < 10


# -- the queue limit ------------------------------------------------------------------------------

def test_an_address_holds_at_most_its_places(storage):
    queue = QueueLimit(2, places_at(storage))
    assert queue.acquire("10.0.0.1", "r1") is None
    assert queue.acquire("10.0.0.1", "r1") is None  # the same run holds one place
    assert queue.acquire("10.0.0.1", "r2") is None
    refusal = queue.acquire("10.0.0.1", "r3")
    assert refusal == ("address 10.0.0.1 already has 2 runs queued or running (at most 2, from all its"
                       " connections together); stop one, or start again when one has finished")
    assert queue.acquire("10.0.0.2", "r4") is None  # another machine
    assert queue.runs_of("10.0.0.1") == ["r1", "r2"]
    queue.release("r1")
    queue.release("r1")
    queue.release("never-held")
    assert queue.acquire("10.0.0.1", "r3") is None
    assert sorted(queue.runs_of("10.0.0.1")) == ["r2", "r3"]


def test_two_nodes_on_one_redis_share_the_places(redis_url):
    import redis

    redis.Redis.from_url(redis_url).flushdb()
    web, other_web = QueueLimit(2, RedisPlaces.from_url(redis_url)), QueueLimit(2, RedisPlaces.from_url(redis_url))
    worker = QueueLimit.from_url(redis_url)  # what a training worker releases through
    assert web.acquire("10.0.0.1", "r1") is None
    assert other_web.acquire("10.0.0.1", "r2") is None
    assert "already has 2 runs" in web.acquire("10.0.0.1", "r3")
    worker.release("r1")
    assert other_web.acquire("10.0.0.1", "r3") is None


def test_the_places_of_ended_runs_are_taken_back_when_the_address_needs_them(storage):
    clock = Clock()
    active = {"r1": True, "r2": True}

    def still_active(run_id):
        if run_id == "broken":
            raise RuntimeError("the store is down")
        return active.get(run_id)  # None: not recorded (yet)

    queue = QueueLimit(2, places_at(storage), still_active=still_active, take_back_after_s=60, clock=clock)
    assert queue.acquire("10.0.0.1", "r1") is None
    assert queue.acquire("10.0.0.1", "r2") is None
    assert "already has 2 runs" in queue.acquire("10.0.0.1", "r3")  # both live
    active["r1"] = False  # ended, and nobody gave its place back
    assert queue.acquire("10.0.0.1", "r3") is None  # at once
    assert sorted(queue.runs_of("10.0.0.1")) == ["r2", "r3"]
    active["r2"] = False
    # r3 is not recorded yet (being submitted): its place is kept until it is old.
    assert queue.acquire("10.0.0.1", "r4") is None
    active["r4"] = True  # submitted
    assert "already has 2 runs" in queue.acquire("10.0.0.1", "r5")
    clock.now += 61
    assert queue.acquire("10.0.0.1", "r5") is None  # r3 never came: lost, taken back
    assert sorted(queue.runs_of("10.0.0.1")) == ["r4", "r5"]
    # A place whose run cannot be looked up stays taken.
    other = QueueLimit(1, places_at(storage), still_active=still_active, take_back_after_s=0, clock=clock)
    assert other.acquire("10.0.0.2", "broken") is None
    assert "already has 1 runs" in other.acquire("10.0.0.2", "r6")


def test_a_place_expires_after_the_longest_a_run_can_last(storage):
    clock = Clock()
    queue = QueueLimit(1, places_at(storage), max_age_s=3600, clock=clock)
    assert queue.acquire("10.0.0.1", "r1") is None
    clock.now += 3599
    assert queue.acquire("10.0.0.1", "r2") is not None
    clock.now += 2
    assert queue.acquire("10.0.0.1", "r2") is None


def test_bad_limits_are_refused():
    for bad in (0, -1, 1.5, True, "4"):
        with pytest.raises(ValueError, match="whole number"):
            QueueLimit(bad)
    with pytest.raises(ValueError, match="memory:// or a redis://"):
        QueueLimit.from_url("postgresql://x@y/z")


# -- settings -----------------------------------------------------------------------------------------

def test_the_settings_of_the_limits():
    settings = Settings.load({"MAX_QUEUED_PER_CLIENT": 3}, environ={})
    assert settings.max_queued_per_address == 3  # no more through several connections than one
    assert (settings.start_rate, settings.start_rate_per_address, settings.search_rate_per_address) \
        == ((10, 10.0), (30, 10.0), (6, 60.0))
    assert "LIMITS_STORAGE" not in settings.to_config()  # then the broker's, or memory
    assert storage_url({}) == "memory://"
    assert storage_url({"BROKER_URL": "redis://b:1/0"}) == "redis://b:1/0"
    assert storage_url({"BROKER_URL": "redis://b:1/0", "LIMITS_STORAGE": "redis://l:2/3"}) == "redis://l:2/3"
    settings = Settings.load({"MAX_QUEUED_PER_CLIENT": 3}, environ={
        "PLAYGROUND_MAX_QUEUED_PER_ADDRESS": "12", "PLAYGROUND_LIMITS_STORAGE": "redis://h:1/0",
        "PLAYGROUND_SEARCH_RATE_PER_ADDRESS": "off"})
    assert (settings.max_queued_per_address, settings.limits_storage, settings.search_rate_per_address) \
        == (12, "redis://h:1/0", None)


@pytest.mark.parametrize("variable, value, key", [
    ("PLAYGROUND_MAX_QUEUED_PER_ADDRESS", "0", "MAX_QUEUED_PER_ADDRESS"),
    ("PLAYGROUND_MAX_QUEUED_PER_ADDRESS", "lots", "MAX_QUEUED_PER_ADDRESS"),
    ("PLAYGROUND_SEARCH_RATE_PER_ADDRESS", "1/0", "SEARCH_RATE_PER_ADDRESS"),
    ("PLAYGROUND_LIMITS_STORAGE", "memcached://x:1", "LIMITS_STORAGE"),
])
def test_bad_settings_name_the_setting_and_its_variable(variable, value, key):
    with pytest.raises(ValueError) as caught:
        Settings.load({}, environ={variable: value})
    assert key in str(caught.value) and variable in str(caught.value)


def test_two_web_nodes_on_one_redis_hold_one_budget(make_app, gated_train, redis_url, tmp_path):
    """Two apps (two web nodes) on one database and one Redis: one address, one budget. (Their runs
    train locally: with a broker, Flask-SocketIO's test client refuses the message queue.)"""
    import redis

    redis.Redis.from_url(redis_url).flushdb()
    settings = {"LIMITS_STORAGE": redis_url, "START_RATE_PER_ADDRESS": "3/60", "MAX_QUEUED_PER_CLIENT": 2,
                "MAX_CONCURRENT_RUNS": 1}
    first, second = make_app(**settings), make_app(**settings)
    assert first.extensions["queue_limit"].places.client is not second.extensions["queue_limit"].places.client
    on_first, on_second = SocketUser(socket_client(first)), SocketUser(socket_client(second))
    on_first.start(tiny_config())
    on_second.start(tiny_config())
    refusal = on_first.emit("run:start", {"config": tiny_config()})["error"]
    assert "address 127.0.0.1 already has 2 runs queued or running" in refusal
    assert sorted(first.extensions["queue_limit"].runs_of("127.0.0.1")) == \
        sorted(second.extensions["queue_limit"].runs_of("127.0.0.1"))
    # The start windows too: a third start (with room in the queue) is the address's last.
    first.extensions["queue_limit"].limit = second.extensions["queue_limit"].limit = 10
    on_second.start(tiny_config())
    assert "from address 127.0.0.1" in on_first.emit("run:start", {"config": tiny_config()})["error"]
    gated_train.release.set()
    on_first.sio.disconnect()
    on_second.sio.disconnect()


# -- over the socket ------------------------------------------------------------------------------------

def connect(app):
    return SocketUser(socket_client(app))


def test_one_address_cannot_queue_more_through_four_connections(make_app, gated_train, storage):
    app = make_app(LIMITS_STORAGE=storage, START_RATE="off", START_RATE_PER_ADDRESS="off",
                   MAX_CONCURRENT_RUNS=1, MAX_QUEUED_PER_CLIENT=4)
    users = [connect(app) for _ in range(4)]
    # Round after round, each connection asks for one more run: 16 asked, 4 granted in all.
    acks = [(user, user.emit("run:start", {"config": tiny_config()})) for _ in range(4) for user in users]
    started = {ack["run_id"]: user for user, ack in acks if "run_id" in ack}
    assert len(started) == 4 and set(started.values()) == set(users)  # one each, in the first round
    refusals = [ack["error"] for _, ack in acks if "error" in ack]
    assert len(refusals) == 12 and all(
        "address 127.0.0.1 already has 4 runs queued or running" in error
        and "from all its connections together" in error for error in refusals)
    # Reconnecting does not help either.
    gone = users[0]
    gone.sio.disconnect()
    users[0] = connect(app)
    assert "already has 4 runs" in users[0].emit("run:start", {"config": tiny_config()})["error"]
    # Stopping a queued run gives its place back.
    queued, holder = next((run_id, user) for run_id, user in started.items() if user is not users[0]
                          and app.extensions["runs"].position(run_id))
    assert holder.emit("run:stop", {"run_id": queued}) == {"ok": True}
    holder.wait_finished(queued)
    fresh = users[0].start(tiny_config())["run_id"]
    gated_train.release.set()
    users[0].wait_finished(fresh)
    for run_id, user in started.items():
        if user is not gone:
            user.wait_finished(run_id)
    # Once every run has ended (the gone connection's too), the address has all its places back.
    [gone_run] = [run_id for run_id, user in started.items() if user is gone]
    deadline = time.monotonic() + 10
    while app.extensions["runs"].position(gone_run) is not None and time.monotonic() < deadline:
        time.sleep(0.02)
    again = [users[1].emit("run:start", {"config": tiny_config()}) for _ in range(4)]
    assert all("run_id" in ack for ack in again)
    assert sorted(app.extensions["queue_limit"].runs_of("127.0.0.1")) == sorted(ack["run_id"] for ack in again)
    for user in users:
        user.sio.disconnect()


def test_the_start_rate_per_address_over_four_connections(make_app, gated_train, storage):
    app = make_app(LIMITS_STORAGE=storage, START_RATE="off", START_RATE_PER_ADDRESS="3/60",
                   MAX_CONCURRENT_RUNS=1, MAX_QUEUED_PER_CLIENT=8)
    users = [connect(app) for _ in range(4)]
    for user in users[:3]:
        user.start(tiny_config())
    ack = users[3].emit("run:start", {"config": tiny_config()})
    assert ack == {"error": "too many runs started: at most 3 every 60 s from address 127.0.0.1;"
                            " try again in 60 s"}
    # A refused start holds no place in the queue.
    assert len(app.extensions["queue_limit"].runs_of("127.0.0.1")) == 3
    gated_train.release.set()
    for user in users:
        user.sio.disconnect()


SEARCH_CONFIG = {
    "seed": 0,
    "data": {"train_size": 60, "validation_size": 30, "test_size": 0},
    "model": {"hidden_layers": [{"units": 10, "activation": "relu"}]},
    "optimizer": {"name": "sgd", "lr": 0.1},
    "training": {"epochs": 1, "batch_size": 20},
}


def test_search_start_is_rate_limited_per_address(make_app, storage):
    app = make_app(LIMITS_STORAGE=storage, SEARCH_RATE_PER_ADDRESS="1/60", LAB_SEARCH_WORKERS=1)
    first, second = connect(app), connect(app)
    ack = first.emit("search:start", {"config": SEARCH_CONFIG, "trials": 1})
    assert "search_id" in ack
    first.inbox.wait_until(lambda events: [e for e in events if e["name"] == "search:done"], timeout=30)
    # Bad input is still told what is wrong with it rather than to wait.
    assert "trials" in second.emit("search:start", {"config": SEARCH_CONFIG, "trials": 0})["error"]
    refusal = second.emit("search:start", {"config": SEARCH_CONFIG, "trials": 1})
    assert refusal == {"error": "too many searches started: at most 1 every 60 s from address 127.0.0.1;"
                                " try again in 60 s"}
    first.sio.disconnect()
    second.sio.disconnect()
