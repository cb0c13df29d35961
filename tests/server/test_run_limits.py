"""What one run and the whole database may store: the weights a run would keep (checked at run:start,
before it trains), the database's default size cap, and deleting runs by age (RETENTION_DAYS) or by
id from a shell (python -m server.admin delete)."""

import subprocess
import sys
import time

import numpy as np
import pytest
from sqlalchemy import update

from nnengine.config import parse_config
from nnengine.models import build_network, weights_npz
from server.retention import DAY_S, Retention
from server.store import Store
from server.store.schema import metrics, runs, weights
from server.stored_weights import stored_weights_bytes
from tests.support.configs import tiny_config
from tests.support.paths import ROOT
from tests.support.store import CONFIG, record, stored_rows

BIG_AND_CHEAP = {"seed": 0, "data": {"train_size": 1, "validation_size": 0, "test_size": 1},
                 "model": {"hidden_layers": [{"units": 2048, "activation": "relu"}] * 10},
                 "training": {"epochs": 1, "batch_size": 1, "dtype": "float64"}}


# -- the weights one run may store ---------------------------------------------------------------

@pytest.mark.parametrize("config", [
    tiny_config(),
    {"model": {"hidden_layers": [{"units": 100}] * 6}, "training": {"dtype": "float64"}},
    {"model": {"hidden_layers": [{"type": "conv", "filters": 8, "kernel": 5, "pad": 2, "batch_norm": True},
                                 {"type": "pool", "size": 2}, {"units": 64, "batch_norm": True}]}},
    {"model": {"hidden_layers": [{"type": "maxout", "units": 30, "pieces": 3}, {"units": 10, "batch_norm": True}]},
     "training": {"dtype": "float64"}},
], ids=["tiny", "book-float64", "conv-batch-norm", "maxout-batch-norm"])
def test_the_stored_size_is_known_from_the_config(config):
    config = parse_config(config)
    network = build_network(config.model, config.training, np.random.default_rng(0),
                            dtype=np.dtype(config.training.dtype))
    stored = len(weights_npz(network))
    assert stored <= stored_weights_bytes(config) <= stored + 32 * len(network.state_dict())


def test_a_network_cheap_to_train_but_too_large_to_store_is_refused_before_it_trains(app, client, user):
    ack = user.emit("run:start", {"config": BIG_AND_CHEAP})
    message = ("the trained weights of this network would take 301 MB (float64), over the limit of 64 MB"
               " a run may store; use fewer or smaller layers or float32")
    assert ack == {"error": message, "errors": [{"field": "model.hidden_layers", "message": message}]}
    assert client.get("/api/runs").get_json()["total"] == 0  # nothing recorded
    validated = client.post("/api/validate", json=BIG_AND_CHEAP)
    assert validated.status_code == 400 and validated.get_json()["error"] == message
    # Half the layers, in float32: 57 MB, under the limit.
    fits = {**BIG_AND_CHEAP, "model": {"hidden_layers": [{"units": 2048}] * 4}, "training": {"epochs": 1}}
    assert client.post("/api/validate", json=fits).status_code == 200


def test_the_limit_is_a_setting(make_app, monkeypatch):
    monkeypatch.setenv("PLAYGROUND_RUN_WEIGHTS_MAX_MB", "1")
    app = make_app()
    client = app.test_client()
    wide = tiny_config()
    wide["model"]["hidden_layers"] = [{"units": 400}]  # 784 x 400 float32: 1.2 MB
    refused = client.post("/api/validate", json=wide)
    assert refused.status_code == 400
    assert refused.get_json()["error"].startswith("the trained weights of this network would take 1.2 MB (float32),"
                                                  " over the limit of 1 MB")
    wide["model"]["hidden_layers"] = [{"units": 300}]  # 0.9 MB
    assert client.post("/api/validate", json=wide).status_code == 200


# -- the database's size cap ----------------------------------------------------------------------

def test_an_sqlite_database_is_capped_at_2000_mb_unless_told_otherwise(make_app, monkeypatch):
    assert make_app().extensions["store"].max_bytes == 2000 * 2**20
    assert make_app(DATABASE_MAX_MB=5).extensions["store"].max_bytes == 5 * 2**20
    monkeypatch.setenv("PLAYGROUND_DATABASE_MAX_MB", "off")
    assert make_app().extensions["store"].max_bytes is None
    monkeypatch.setenv("PLAYGROUND_DATABASE_MAX_MB", "lots")
    with pytest.raises(ValueError, match=r"DATABASE_MAX_MB \(PLAYGROUND_DATABASE_MAX_MB\): must be a number of"
                                         r" megabytes >= 0.1, or off, got 'lots'"):
        make_app()


def test_a_postgresql_database_has_no_cap_unless_told(make_app, postgres_database):
    assert make_app(DATABASE=postgres_database).extensions["store"].max_bytes is None


# -- deleting runs by age -----------------------------------------------------------------------

def aged_store(database):
    """Runs that finished 10 and 2 days ago, one of 10 days left running, and one just finished."""
    store = Store(database)
    store.init_schema()
    now = time.time()
    for run_id, status, age_days in (("old", "done", 10), ("recent", "stopped", 2), ("stuck", "running", 10),
                                     ("new", "diverged", 0)):
        store.create_run(run_id, CONFIG)
        store.append_metrics(run_id, [record(0), record(1)])
        if status == "running":
            store.set_status(run_id, "running")
        else:
            store.finish_run(run_id, status, {"status": status}, b"PK-weights")
        with store.engine.begin() as conn:
            conn.execute(update(runs).where(runs.c.run_id == run_id).values(
                created_at=now - age_days * DAY_S, finished_at=None if status == "running" else now - age_days * DAY_S))
    return store


def test_retention_deletes_the_finished_runs_older_than_its_days(database):
    store = aged_store(database)
    retention = Retention(store, days=7)
    assert retention.purge() == 1
    assert sorted(run["run_id"] for run in store.list_runs()) == ["new", "recent", "stuck"]
    assert stored_rows(store, metrics, "old") == 0 and stored_rows(store, weights, "old") == 0
    assert retention.purge() == 0
    assert Retention(store, days=1).purge() == 1  # "recent"; the running one is never deleted
    assert sorted(run["run_id"] for run in store.list_runs()) == ["new", "stuck"]
    store.close()


def test_retention_runs_at_start_then_daily_and_stops_with_the_app(make_app, tmp_path, monkeypatch):
    aged_store(tmp_path / "runs.sqlite").close()
    monkeypatch.setenv("PLAYGROUND_RETENTION_DAYS", "7")
    app = make_app()
    retention = app.extensions["retention"]
    deadline = time.monotonic() + 10
    while retention.rounds < 1 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert retention.deleted == 1 and app.test_client().get("/api/runs/old").status_code == 404
    app.extensions["runs"].shutdown()
    assert retention._periodic.stopped


def test_without_retention_days_nothing_is_deleted_and_no_thread_runs(make_app, tmp_path):
    aged_store(tmp_path / "runs.sqlite").close()
    app = make_app()
    assert "retention" not in app.extensions
    assert app.test_client().get("/api/runs/old").status_code == 200


# -- python -m server.admin delete ----------------------------------------------------------------

def admin(*args):
    return subprocess.run([sys.executable, "-m", "server.admin", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)


def test_admin_deletes_runs_and_refuses_active_and_unknown_ones(database):
    store = aged_store(database)
    done = admin("delete", "old", "recent", "--db", database)
    assert (done.returncode, done.stdout, done.stderr) == (0, "deleted old\ndeleted recent\n", "")
    kept = admin("delete", "stuck", "nosuchrun", "new", "--db", database)
    assert kept.returncode == 1
    assert kept.stdout == ("kept stuck: it is queued or running; stop it first\n"
                           "kept nosuchrun: there is no such run\n"
                           "deleted new\n")
    assert [run["run_id"] for run in store.list_runs()] == ["stuck"]
    assert stored_rows(store, metrics, "old") == 0 and store.get_weights("new") is None
    store.close()


@pytest.mark.parametrize("args, says", [
    (("delete",), "the following arguments are required: RUN_ID"),
    (("delete", "../etc/passwd", "--db", "x.sqlite"), "'../etc/passwd' is not a run id"),
    (("delete", "abc", "--db", "redis://localhost/0"), "--db: redis:// databases are not supported"),
    (("delete", "abc", "--db", "/no/such/folder/runs.sqlite"), "--db: there is no database file"),
    (("purge", "abc"), "invalid choice: 'purge'"),
    ((), "the following arguments are required: COMMAND"),
])
def test_admin_refuses_bad_input_with_one_line_and_status_2(args, says):
    refused = admin(*args)
    assert refused.returncode == 2 and refused.stdout == ""
    assert refused.stderr.count("\n") == 1 and says in refused.stderr, refused.stderr
