"""HTTP routes, JSON errors, startup recovery and the Host/Origin guard."""

import io

import numpy as np
import pytest

from server.__main__ import parse_args
from server.security import default_origins, host_name
from tests.support.configs import tiny_config
from tests.support.paths import ROOT

POLLING = "/socket.io/?EIO=4&transport=polling"


def finished_run(app, user, **training):
    run_id = user.start(tiny_config(**training))["run_id"]
    user.wait_finished(run_id)
    return run_id


# -- API ---------------------------------------------------------------------------

def test_schema(client):
    response = client.get("/api/schema")
    assert response.status_code == 200
    schema = response.get_json()
    assert {"activations", "optimizers", "weight_inits", "losses", "limits", "presets",
            "default_config"} <= set(schema)
    assert "relu" in schema["activations"] and "adam" in schema["optimizers"]


def test_validate_accepts_and_canonicalises(client):
    response = client.post("/api/validate", json=tiny_config())
    assert response.status_code == 200
    body = response.get_json()
    assert body["ok"] is True
    assert body["config"]["training"]["epochs"] == 3
    assert body["config"]["model"]["weight_init"] == "he"  # defaults filled in


def test_validate_names_the_bad_fields(client):
    config = tiny_config()
    config["training"]["batch_size"] = -1
    config["optimizer"]["lr"] = "fast"
    response = client.post("/api/validate", json=config)
    assert response.status_code == 400
    fields = [e["field"] for e in response.get_json()["errors"]]
    assert "training.batch_size" in fields and "optimizer.lr" in fields


@pytest.mark.parametrize("body, content_type", [
    (b"not json", "application/json"),
    (b"{}", "text/plain"),
    (b"", "application/json"),
])
def test_validate_refuses_what_is_not_json(client, body, content_type):
    response = client.post("/api/validate", data=body, content_type=content_type)
    assert response.status_code == 400
    assert "error" in response.get_json()


def test_validate_refuses_a_json_non_object(client):
    response = client.post("/api/validate", json=[1, 2])
    assert response.status_code == 400
    assert response.get_json()["errors"][0]["field"] == "config"


def test_runs_list_and_one_run(app, client, user):
    run_id = finished_run(app, user)
    runs = client.get("/api/runs").get_json()["runs"]
    assert [r["run_id"] for r in runs] == [run_id]
    assert runs[0]["status"] == "done" and runs[0]["summary"]["status"] == "done"
    assert "metrics" not in runs[0]  # the list stays light

    run = client.get(f"/api/runs/{run_id}").get_json()
    assert {"run_id", "config", "status", "metrics", "summary", "created_at", "started_at",
            "finished_at", "numpy_version", "message"} <= set(run)
    assert len(run["metrics"]) == 4
    refused = client.get("/api/runs?limit=0")  # out of range: said, not silently clamped
    assert refused.status_code == 400 and "limit" in refused.get_json()["error"]


def test_weights_download_loads_with_numpy(app, client, user):
    run_id = finished_run(app, user)
    response = client.get(f"/api/runs/{run_id}/weights.npz")
    assert response.status_code == 200
    assert f"{run_id}.npz" in response.headers["Content-Disposition"]
    weights = np.load(io.BytesIO(response.data))
    assert sorted(weights.files) == ["0.W", "0.b", "2.W", "2.b"]
    assert weights["0.W"].shape == (784, 10)
    assert weights["2.W"].shape == (10, 10)


@pytest.mark.parametrize("path", [
    "/api/runs/unknownrun123",
    "/api/runs/unknownrun123/weights.npz",
    "/api/runs/bad%20id!",
    "/api/no-such-route",
])
def test_unknown_things_are_json_404s(client, path):
    response = client.get(path)
    assert response.status_code == 404
    assert response.is_json and "error" in response.get_json()


def test_errors_under_api_are_json(client):
    response = client.delete("/api/runs")
    assert response.status_code == 405 and response.is_json
    response = client.post("/api/validate", data=b"x" * (3 * 1024 * 1024),
                           content_type="application/json")
    assert response.status_code == 413 and response.is_json


def test_an_internal_error_under_api_is_json(client, monkeypatch):
    def broken():
        raise KeyError("bug")

    monkeypatch.setattr("server.routes.schema", broken)
    response = client.get("/api/schema")
    assert response.status_code == 500
    assert response.get_json() == {"error": "internal server error"}


def test_an_unusable_database_gives_503_and_the_app_keeps_serving(make_app, tmp_path):
    broken = tmp_path / "broken.sqlite"
    broken.write_bytes(b"this is not an sqlite database" * 100)
    app = make_app(DATABASE=str(broken))
    client = app.test_client()
    for path in ("/api/runs", "/api/runs/somerun123", "/api/runs/somerun123/weights.npz"):
        response = client.get(path)
        assert response.status_code == 503, path
        assert "unavailable" in response.get_json()["error"]
    assert client.get("/api/schema").status_code == 200


# -- pages -------------------------------------------------------------------------

def test_the_page_of_an_unknown_run_is_404(client):
    response = client.get("/runs/unknownrun123")
    assert response.status_code == 404
    assert b"unknownrun123" in response.data  # the page says which run is unknown
    assert client.get("/no/such/page").status_code == 404


@pytest.mark.parametrize("path, template", [("/", "index.html"), ("/runs", "runs.html")])
def test_pages_render(client, path, template):
    response = client.get(path)
    assert response.status_code == 200 and b"<html" in response.data.lower()


def test_the_page_of_a_stored_run(app, client, user):
    run_id = finished_run(app, user)
    assert client.get(f"/runs/{run_id}").status_code == 200


# -- startup -----------------------------------------------------------------------

def test_runs_left_unfinished_are_marked_interrupted_at_startup(make_app):
    first = make_app()
    store = first.extensions["store"]
    store.create_run("queuedrun1", tiny_config())
    store.create_run("runningrun", tiny_config())
    store.set_status("runningrun", "running")
    store.create_run("finishedrun", tiny_config())
    store.finish_run("finishedrun", "done", {"status": "done"})

    second = make_app()  # a new process on the same database
    client = second.test_client()
    statuses = {r["run_id"]: r["status"] for r in client.get("/api/runs").get_json()["runs"]}
    assert statuses == {"queuedrun1": "interrupted", "runningrun": "interrupted",
                        "finishedrun": "done"}


def test_command_line_arguments():
    args = parse_args(["--host", "0.0.0.0", "--port", "8000", "--db", "x.sqlite", "--workers", "3"])
    assert (args.host, args.port, args.db, args.workers) == ("0.0.0.0", 8000, "x.sqlite", 3)
    defaults = parse_args([])
    assert (defaults.host, defaults.port, defaults.workers) == ("127.0.0.1", 5000, None)
    with pytest.raises(SystemExit):
        parse_args(["--workers", "0"])


@pytest.mark.parametrize("url", ["postgresql://playground@db.example:5432/runs",
                                 "postgresql://playground:secret@10.0.0.5/runs", "postgres://u@[::1]:6543/runs"])
def test_db_takes_a_postgresql_url(url):
    assert parse_args(["--db", url]).db == url  # nothing is opened while the arguments are read


@pytest.mark.parametrize("db, says", [
    ("mysql://u@h/runs", "--db: mysql:// databases are not supported; give a file path (SQLite) or a"
                         " postgresql://USER@HOST:PORT/DB URL, got 'mysql://u@h/runs'"),
    ("postgresql://u:secret@h:port/runs", "--db: the PostgreSQL URL 'postgresql://u:***@h:port/runs' cannot be"
                                          " read (is its port a number?); write it as postgresql://USER@HOST:PORT/DB"),
    ("postgresql://u@h:5432", "--db: the PostgreSQL URL 'postgresql://u@h:5432' names no database;"
                              " write it as postgresql://USER@HOST:PORT/DB"),
])
def test_a_bad_db_url_is_refused_with_one_line(db, says, capsys):
    with pytest.raises(SystemExit) as exited:
        parse_args(["--db", db])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err == f"python -m server: {says} (see python -m server --help)\n"
    assert "secret" not in err


def test_the_server_refuses_a_bad_db_url_before_it_starts():
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "server", "--port", "0", "--db", "sqlite:///runs.db"],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and "--db: sqlite:// databases are not supported" in done.stderr


# -- Host / Origin guard -------------------------------------------------------------

@pytest.mark.parametrize("host", ["evil.com", "evil.com:5000", "127.0.0.1.evil.com", "[::1"])
def test_a_foreign_host_is_refused(client, host):
    for path in ("/api/schema", POLLING):
        response = client.get(path, headers={"Host": host})
        assert response.status_code == 400, (host, path)
        assert "error" in response.get_json()


@pytest.mark.parametrize("host", ["localhost", "localhost:5000", "127.0.0.1:5000", "[::1]:5000",
                                  "LOCALHOST"])
def test_local_hosts_are_served(client, host):
    assert client.get("/api/schema", headers={"Host": host}).status_code == 200


def test_a_foreign_origin_cannot_open_a_socket(client):
    response = client.get(POLLING, headers={"Origin": "http://evil.com"})
    assert response.status_code == 403
    assert "origin" in response.get_json()["error"]
    response = client.get(POLLING, headers={"Origin": "http://localhost:5001"})
    assert response.status_code == 403


def test_an_allowed_origin_opens_a_socket(client):
    response = client.get(POLLING, headers={"Origin": "http://localhost:5000"})
    assert response.status_code == 200
    assert b"sid" in response.data  # the engine.io handshake
    assert client.get(POLLING).status_code == 200  # no Origin: not a browser


def test_a_cross_site_post_is_refused_but_reads_are_not(client):
    response = client.post("/api/validate", json=tiny_config(), headers={"Origin": "http://evil.com"})
    assert response.status_code == 403
    response = client.post("/api/validate", json=tiny_config(),
                           headers={"Origin": "http://127.0.0.1:5000"})
    assert response.status_code == 200
    assert client.get("/api/schema", headers={"Origin": "http://evil.com"}).status_code == 200


def test_origins_follow_the_port_and_the_environment(make_app, monkeypatch):
    app = make_app(PORT=8123)
    assert "http://127.0.0.1:8123" in app.config["ALLOWED_ORIGINS"]
    assert "http://localhost:8123" in app.config["ALLOWED_ORIGINS"]

    monkeypatch.setenv("PLAYGROUND_ALLOWED_ORIGINS", "http://lab.example:9000, http://10.0.0.5:5000/")
    app = make_app()
    assert app.config["ALLOWED_ORIGINS"] == ["http://lab.example:9000", "http://10.0.0.5:5000"]
    client = app.test_client()
    assert client.get("/api/schema", headers={"Host": "lab.example:9000"}).status_code == 200
    assert client.get("/api/schema", headers={"Host": "localhost"}).status_code == 200
    assert client.get(POLLING, headers={"Host": "lab.example:9000",
                                        "Origin": "http://lab.example:9000"}).status_code == 200
    assert client.get(POLLING, headers={"Origin": "http://localhost:5000"}).status_code == 403


def test_default_origins_and_host_names():
    assert default_origins("192.168.1.5", 80) == [
        "http://127.0.0.1:80", "http://localhost:80", "http://192.168.1.5:80", "http://[::1]:80"]
    assert "http://0.0.0.0:5000" not in default_origins("0.0.0.0", 5000)
    assert host_name("[::1]:5000") == "::1"
    assert host_name("Example.COM:1") == "example.com"


def test_the_predict_blueprint_is_registered_when_present(app):
    assert "/api/predict" in {rule.rule for rule in app.url_map.iter_rules()}
