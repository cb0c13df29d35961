"""A hyperparameter search spread over the cluster's workers: one Celery task per trial.

At most as many trials are in flight as the live workers can train at once, so that a search
of a hundred trials never fills the line in front of the runs students start meanwhile; the
next trial is sent when one ends. Results come back through a Redis list (board.py). A trial
whose worker died (its lease ran out with no result) comes back with status "interrupted" and
no accuracy, and the search goes on.
"""

import collections
import logging

from ..store import to_json_safe
from .celery_app import SEARCH_TRIAL

log = logging.getLogger(__name__)

POLL_S = 1.0


class WorkerSearch:
    """search(config, trials, workers, should_stop, search_id) -> results as they end, like
    nnengine.search.search on this machine's processes."""

    def __init__(self, board, celery):
        self.board = board
        self.celery = celery

    def slots(self):
        """How many trials the cluster trains at once now (at least one)."""
        try:
            return max(1, self.board.worker_slots())
        except RuntimeError as exc:  # QueueUnavailable
            log.warning("%s", exc)
            return 1

    def __call__(self, config, trials, workers, should_stop, search_id):
        board = self.board
        window = max(1, int(workers))
        waiting = collections.deque(trials)
        in_flight = {}  # trial number -> {"trial": trial, "lease": key once started}
        config_dict = config.to_dict()
        try:
            while waiting or in_flight:
                if should_stop():
                    board.stop_search(search_id)  # trials still in line start nothing
                    return
                while waiting and len(in_flight) < window:
                    trial = waiting.popleft()
                    in_flight[trial["trial"]] = {"trial": trial, "lease": None}
                    self.celery.send_task(SEARCH_TRIAL, args=[search_id, config_dict, trial])
                message = board.next_trial_message(search_id, timeout=POLL_S)
                messages = [message] if message else []
                if not messages:
                    # Nothing for a while: a started trial whose lease is gone will never report.
                    # Its result may have been posted just before: read what is there first.
                    lost = [n for n, flight in in_flight.items()
                            if flight["lease"] and not board.trial_lease_alive(flight["lease"])]
                    messages = board.take_trial_messages(search_id) if lost else []
                    reported = {m["trial"] for m in messages if m["kind"] in ("result", "error")}
                    messages += [{"kind": "lost", "trial": n} for n in lost if n not in reported]
                for message in messages:
                    result = self._handle(message, in_flight)
                    if result is not None:
                        yield result
        finally:
            board.forget_search(search_id)

    @staticmethod
    def _handle(message, in_flight):
        """A result to yield, or None; raises RuntimeError for a trial the engine failed."""
        flight = in_flight.get(message["trial"])
        if flight is None:
            return None  # already accounted for
        kind = message["kind"]
        if kind == "started":
            flight["lease"] = message["lease"]
            return None
        del in_flight[message["trial"]]
        if kind == "result":
            return message["result"]
        if kind == "error":
            raise RuntimeError(f"trial {message['trial']} failed: {message['error']}")
        if kind == "lost":
            return to_json_safe({**flight["trial"], "val_acc": None, "train_acc": None, "status": "interrupted",
                                 "message": "the worker training this trial stopped before it finished",
                                 "curve": []})
        return None  # "skipped": the search was stopped before it started
