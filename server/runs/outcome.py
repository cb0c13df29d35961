"""What is stored and sent of a finished training: its status, summary and weights."""

import collections
import io
import logging

import numpy as np

from ..store import to_json_safe

log = logging.getLogger(__name__)

# Outcomes after which weights are worth keeping (a diverged net holds NaNs).
KEEP_WEIGHTS = ("done", "stopped")

Outcome = collections.namedtuple("Outcome", "status message summary weights")


def weights_npz(network):
    """The network's state_dict as the bytes of an .npz file."""
    buffer = io.BytesIO()
    np.savez(buffer, **network.state_dict())
    return buffer.getvalue()


def summary_of(result):
    """A TrainResult's summary as plain JSON, with its status (and message, if any)."""
    summary = dict(result.summary() or {})
    summary.setdefault("status", result.status)
    if result.message:
        summary.setdefault("message", result.message)
    return to_json_safe(summary)


def outcome_of(result, run_id):
    """The Outcome of a TrainResult (weights as .npz bytes where worth keeping)."""
    weights = None
    if result.status in KEEP_WEIGHTS:
        try:
            weights = weights_npz(result.network)
        except Exception:
            log.exception("could not serialise the weights of run %s", run_id)
    return Outcome(result.status, result.message, summary_of(result), weights)
