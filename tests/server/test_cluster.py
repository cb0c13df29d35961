"""Cluster mode end to end: nginx (deploy/nginx.conf: ip_hash, the websocket upgrade) in front of two
web nodes (`python -m server --broker --db`), two training workers, real Redis and PostgreSQL. One
worker is started on its own (`python -m server.worker`), the other by the second web node
(`--workers 1`). Clients come from different networks (127.0.N.1) so that nginx puts them on
different nodes.

Order matters: from the kill on, one worker is left; the last tests stop PostgreSQL, then Redis.
"""

import contextlib
import os
import signal
import time

import pytest
import redis

from nnengine.config import parse_config
from nnengine.trainer import train
from tests.support.cluster import (ClusterClient, WebNode, Worker, client_addresses, cluster_nginx_config,
                                   temporary_folder)
from tests.support.configs import long_config, tiny_config
from tests.support.runs import without_elapsed
from tests.support.services import Unavailable, free_port, nginx_server, postgres_instance, redis_instance

# A killed worker's run is marked interrupted within this (the contract); the lease makes it ~17 s.
INTERRUPTED_WITHIN_S = 60


class Cluster:
    def __init__(self, redis_server, postgres, nodes, workers, nginx_port, access_log, folder):
        self.redis_server, self.postgres = redis_server, postgres
        self.nodes, self.workers = nodes, workers
        self.nginx_port, self.access_log, self.folder = nginx_port, access_log, folder
        self.sources = None
        self.clients = []

    def client(self, node):
        """A connected client that nginx puts on web node `node` (0 or 1)."""
        if self.sources is None:
            by_port = client_addresses(self.nginx_port, self.access_log, {n.port for n in self.nodes})
            self.sources = [by_port[n.port] for n in self.nodes]
        client = ClusterClient(self.nginx_port, self.sources[node]).connect()
        self.clients.append(client)
        return client

    def holder(self, run_id):
        return redis.Redis.from_url(self.redis_server.url, decode_responses=True).hget("playground:running", run_id)

    def logs(self):
        return "\n".join(f"--- {p.name}\n{p.log()}" for p in self.nodes + self.workers)


@pytest.fixture(scope="module")
def cluster():
    with contextlib.ExitStack() as stack:
        try:
            redis_server = stack.enter_context(redis_instance())
            postgres = stack.enter_context(postgres_instance())
        except Unavailable as exc:
            if os.environ.get("CI"):
                pytest.fail(f"CI is set but {exc}")
            pytest.skip(str(exc))
        folder = stack.enter_context(temporary_folder())
        nginx_port = free_port()
        origin = f"http://127.0.0.1:{nginx_port}"
        nodes = [WebNode(folder, "web1", redis_server.url, postgres.url, origin),
                 WebNode(folder, "web2", redis_server.url, postgres.url, origin, args=["--workers", "1"])]
        workers = [Worker(folder, "worker1", redis_server.url, postgres.url)]
        for process in nodes + workers:
            stack.callback(process.stop)
        for process in nodes + workers:
            process.wait_ready()
        wait_for_workers(redis_server.url, 2, cluster_logs=lambda: "\n".join(p.log() for p in nodes + workers))
        access_log = os.path.join(folder, "nginx-access.log")
        config = cluster_nginx_config([f"127.0.0.1:{node.port}" for node in nodes], nginx_port, access_log)
        stack.enter_context(nginx_server(config, nginx_port))
        built = Cluster(redis_server, postgres, nodes, workers, nginx_port, access_log, folder)
        stack.callback(lambda: [client.close() for client in built.clients])
        yield built


def wait_for_workers(url, count, cluster_logs, timeout=60):
    """Until `count` workers have announced themselves in Redis (server/runs/board.py)."""
    from server.runs.board import RunBoard

    board = RunBoard(url)
    deadline = time.monotonic() + timeout
    while board.worker_slots() < count:
        if time.monotonic() > deadline:
            raise AssertionError(f"{board.worker_slots()} of {count} workers are up:\n{cluster_logs()}")
        time.sleep(0.1)
    board.close()


def test_runs_started_on_two_nodes_stream_to_their_own_client_only_and_read_from_the_other(cluster):
    alice, bob = cluster.client(0), cluster.client(1)
    config = tiny_config(epochs=5)
    other = tiny_config(epochs=4)
    other["seed"] = 1
    alice_run = alice.start(config)["run_id"]
    bob_run = bob.start(other)["run_id"]

    name, done = alice.wait_finished(alice_run, timeout=30)
    assert name == "run:done", done
    name, done = bob.wait_finished(bob_run, timeout=30)
    assert name == "run:done", done
    assert {data["run_id"] for _, data in alice.events} == {alice_run}
    assert {data["run_id"] for _, data in bob.events} == {bob_run}
    assert [r["epoch"] for r in alice.of("run:epoch")] == list(range(6))

    # The same numbers as training here, bit for bit (one BLAS thread everywhere).
    expected = without_elapsed(train(parse_config(config)).records)
    assert without_elapsed(alice.of("run:epoch")) == expected

    # Alice's run, read through Bob's node (and straight from each node): stored in PostgreSQL.
    status, stored = bob.get(f"/api/runs/{alice_run}")
    assert status == 200 and stored["status"] == "done"
    assert without_elapsed(stored["metrics"]) == expected
    for node in cluster.nodes:
        assert node_get(node, f"/runs/{alice_run}")[0] == 200
    assert bob.get(f"/api/runs/{alice_run}/weights.npz")[0] == 200


def node_get(node, path):
    from tests.support.cluster import get

    return get("127.0.0.1", node.port, path)


def test_stop_from_another_node_reaches_the_worker_within_a_batch_and_the_line_moves(cluster):
    alice, bob = cluster.client(0), cluster.client(1)
    # Both workers busy, then a third run waits in line.
    first, second = (alice.start(long_config())["run_id"] for _ in range(2))
    alice.wait_epochs(first, 1, timeout=30)
    alice.wait_epochs(second, 1, timeout=30)
    waiting = alice.start(tiny_config(epochs=2))
    assert waiting["queue_position"] == 1
    alice.wait(lambda events: ("run:queued", {"run_id": waiting["run_id"], "position": 1}) in events, 10)
    behind = alice.start(tiny_config(epochs=2))
    assert behind["queue_position"] == 2
    # Stopped while in line (from the other node): it ends at once and never trains.
    assert bob.stop_run(behind["run_id"]) == {"ok": True}
    name, done = alice.wait_finished(behind["run_id"], timeout=10)
    assert name == "run:done" and done["summary"]["message"] == "stopped before it started"

    asked = time.monotonic()
    assert bob.stop_run(first) == {"ok": True}  # bob is on the other node
    name, done = alice.wait_finished(first, timeout=10)
    stopped_after = time.monotonic() - asked
    assert name == "run:done" and done["summary"]["status"] == "stopped"
    # A batch of long_config takes milliseconds; the rest is two relays through Redis and nginx.
    assert stopped_after < 5.0
    print(f"stop from the other node: run:done after {stopped_after * 1000:.0f} ms")
    name, done = alice.wait_finished(waiting["run_id"], timeout=30)  # the freed worker took it
    assert name == "run:done" and done["summary"]["status"] == "done"
    assert alice.of("run:started", waiting["run_id"])
    assert alice.of("run:started", behind["run_id"]) == alice.of("run:epoch", behind["run_id"]) == []
    assert bob.get(f"/api/runs/{behind['run_id']}")[1]["status"] == "stopped"

    assert alice.stop_run(second) == {"ok": True}
    assert alice.wait_finished(second, timeout=10)[1]["summary"]["status"] == "stopped"
    assert bob.get(f"/api/runs/{first}")[1]["status"] == "stopped"
    assert bob.stop_run(second) == {"error": f"run {second} is not queued or running"}
    assert bob.events == []  # stopping a run does not subscribe to it


SEARCH_CONFIG = {
    "seed": 0,
    "data": {"train_size": 60, "validation_size": 30, "test_size": 0},
    "model": {"hidden_layers": [{"units": 10, "activation": "relu"}]},
    "optimizer": {"name": "sgd", "lr": 0.1},
    "training": {"epochs": 2, "batch_size": 20},
}


def test_a_search_spreads_its_trials_over_the_workers(cluster):
    alice = cluster.client(0)
    ack = alice.call("search:start", {"config": SEARCH_CONFIG, "trials": 4, "lr": [1e-3, 1e-1],
                                      "weight_decay": [1e-8, 1e-4], "sampler_seed": 3})
    assert ack["workers"] == 2, ack  # as many trials at once as the live workers train
    alice.wait(lambda events: any(name == "search:done" for name, _ in events), timeout=60)
    [done] = alice.of("search:done")
    assert done["status"] == "done" and done["results"] == 4, done
    trials = alice.of("search:trial")
    assert sorted(t["trial"] for t in trials) == [0, 1, 2, 3]
    # The same numbers as a trial trained here.
    from nnengine.search import run_trial

    first = next(t for t in trials if t["trial"] == 0)
    here = run_trial(parse_config(SEARCH_CONFIG), ack["trials"][0])
    assert (first["val_acc"], first["train_acc"]) == (here["val_acc"], here["train_acc"])
    # Each worker takes a trial only when it is free: the standalone one trained some, not all.
    received = [line for line in cluster.workers[0].log().splitlines()
                if "playground.search_trial[" in line and line.endswith("received")]
    assert 1 <= len(received) <= 3, received


def test_a_killed_workers_run_is_marked_interrupted_and_its_client_told(cluster):
    alice = cluster.client(0)
    run_id = alice.start(long_config())["run_id"]
    alice.wait_epochs(run_id, 2, timeout=30)
    # The worker's name is playground-PID@HOST: its main process, whose training process dies with it.
    victim = int(cluster.holder(run_id).split("@")[0].removeprefix("playground-"))
    killed = time.monotonic()
    os.kill(victim, signal.SIGKILL)
    name, error = alice.wait_finished(run_id, timeout=INTERRUPTED_WITHIN_S)
    told_after = time.monotonic() - killed
    assert name == "run:error" and error["status"] == "interrupted", error
    assert "interrupted" in error["error"]
    assert told_after < INTERRUPTED_WITHIN_S
    print(f"killed worker's run told interrupted after {told_after:.1f} s")
    status, stored = cluster.client(1).get(f"/api/runs/{run_id}")
    assert status == 200 and stored["status"] == "interrupted"
    assert len(stored["metrics"]) >= 2  # what was trained before the kill stays

    # The other worker goes on training.
    after = alice.start(tiny_config(epochs=2))["run_id"]
    assert alice.wait_finished(after, timeout=30)[0] == "run:done"


def test_postgresql_down_refuses_runs_clearly_and_the_nodes_recover(cluster):
    alice = cluster.client(0)
    cluster.postgres.stop()
    try:
        refused = alice.start(tiny_config())
        assert "run_id" not in refused and "could not be recorded" in refused["error"], refused
        assert "not reachable" in refused["error"] or "unavailable" in refused["error"], refused
        status, body = alice.get("/api/runs/nosuchrun0")
        assert status == 503 and "error" in body
    finally:
        cluster.postgres.start()
    for node in cluster.nodes:
        assert node.proc.poll() is None, cluster.logs()
    run_id = alice.start(tiny_config())["run_id"]
    assert alice.wait_finished(run_id, timeout=30)[0] == "run:done"


def test_redis_down_keeps_stored_runs_readable_and_refuses_new_ones(cluster):
    alice = cluster.client(0)
    run_id = alice.start(tiny_config())["run_id"]
    assert alice.wait_finished(run_id, timeout=30)[0] == "run:done"
    cluster.redis_server.stop()
    refused = alice.start(tiny_config())
    assert "run_id" not in refused and "Redis" in refused["error"] and "stored runs" in refused["error"], refused
    assert "not reachable" in alice.stop_run(run_id)["error"]
    status, stored = alice.get(f"/api/runs/{run_id}")
    assert status == 200 and stored["status"] == "done" and stored["queue_position"] is None
    assert alice.get(f"/runs/{run_id}")[0] == 200
    assert alice.get("/")[0] == 200
    for node in cluster.nodes:
        assert node.proc.poll() is None, cluster.logs()
