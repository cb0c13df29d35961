"""Stored runs and share links made before ``model.dropout_style`` and ``model.batch_norm_eps`` existed
are read by /api/validate as they were meant (their numbers: tests/nnengine/test_config_stored.py)."""
from tests.support.stored_configs import STORED


def test_validate_fills_in_the_meaning_of_missing_keys(client):
    body = client.post("/api/validate", json=STORED["dropout"]).get_json()
    assert body["ok"] is True
    assert body["config"]["model"]["dropout_style"] == "inverted"
    assert body["config"]["model"]["batch_norm_eps"] == 1e-5
