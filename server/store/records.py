"""A run as the store keeps it (JSON text columns) and as callers get it (dicts)."""

import json
import math

import numpy as np


def to_json_safe(value):
    """Return `value` with NumPy scalars made plain and NaN/inf made None.

    A diverged run reports inf or NaN losses; json.dumps would write the bare
    tokens NaN/Infinity, which browsers' JSON.parse rejects. Streamed and
    stored records go through this same function, so they stay equal.
    """
    if isinstance(value, dict):
        return {str(k): to_json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json_safe(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def dumps(value):
    return json.dumps(to_json_safe(value), allow_nan=False)


def loads(text):
    return None if text is None else json.loads(text)


def run_dict(columns):
    """A runs row, as (name, value) pairs of its columns, as the dict callers get: JSON decoded."""
    run = dict(columns)
    run["config"] = loads(run["config"])
    run["summary"] = loads(run["summary"])
    run["origin"] = loads(run["origin"])
    return run


def describe_source(origin, source_config):
    """A re-run's origin also says whether its source is still stored, and the source's name (as
    stored with the re-run, which outlives the source)."""
    origin["source_exists"] = source_config is not None
    try:
        name = json.loads(source_config).get("name") if source_config else None
    except (ValueError, AttributeError):
        name = None
    if isinstance(name, str) and name.strip():
        origin["source_name"] = name.strip()
    origin.setdefault("source_name", None)
