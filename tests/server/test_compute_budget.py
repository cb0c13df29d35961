"""The compute budget at the server's edges: run:start, POST /api/validate, and a stored config
replayed (the engine's own checks: tests/nnengine/test_compute_budget.py)."""

from tests.support.configs import over_budget_config


def test_the_budget_is_enforced_on_the_socket(user):
    ack = user.emit("run:start", {"config": over_budget_config()})
    assert "run_id" not in ack
    assert [e["field"] for e in ack["errors"]] == ["training.epochs"]
    assert "budget" in ack["error"] and "multiply-adds" in ack["error"]
    assert user.events() == []


def test_the_budget_is_enforced_over_http(client):
    response = client.post("/api/validate", json=over_budget_config())
    assert response.status_code == 400
    body = response.get_json()
    assert body["errors"][0]["field"] == "training.epochs" and "budget" in body["error"]


def test_the_budget_is_enforced_for_a_stored_config_replayed(app, user):
    """A run's stored config comes back through run:start: it meets the same checks."""
    store = app.extensions["store"]
    store.create_run("tamperedrun1", over_budget_config())  # as if the database were edited
    replay = store.get_run("tamperedrun1")["config"]
    assert "budget" in user.emit("run:start", {"config": replay})["error"]
