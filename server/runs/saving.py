"""RunRecord: what one run stores as it trains, and what its client is told was stored (for the
RunRecorder, recording.py).

A write that fails does not end the run (the charts still stream), and is not forgotten either:
epoch records that could not be stored are kept and stored with the next ones, and the end of the
run stores the last of them together with its outcome, in one transaction, trying again for up to
FINISH_RETRY_S while the database is busy (locked by another process). So a run stored as finished
holds every epoch it streamed, unless its message says which are missing; and the client hears
`run:done` only if everything was stored, else the same account of what is missing.
"""

import functools
import logging
import time

from ..store import StoreError
from ..store.errors import BUSY

log = logging.getLogger(__name__)

FINISH_RETRY_S = 30.0  # how long the end of a run is tried again while the database is busy
RETRY_PAUSE_S = 0.5


def epoch_ranges(epochs):
    """[3, 4, 5, 9] -> "epochs 3-5 and 9"; [2] -> "epoch 2"."""
    epochs = sorted(set(epochs))
    spans, start = [], None
    for i, epoch in enumerate(epochs):
        if start is None:
            start = epoch
        if i + 1 == len(epochs) or epochs[i + 1] != epoch + 1:
            spans.append(str(start) if start == epoch else f"{start}-{epoch}")
            start = None
    noun = "epoch" if len(epochs) == 1 else "epochs"
    return f"{noun} {spans[0]}" if len(spans) == 1 else f"{noun} {', '.join(spans[:-1])} and {spans[-1]}"


def _listed(parts):
    return parts[0] if len(parts) == 1 else f"{', '.join(parts[:-1])} and {parts[-1]}"


class RunRecord:
    """The store's record of run `run_id`, written through `store` (a session of the run's worker).
    Once `abandoned()` (someone else has ended the run: cluster.py), nothing more is written."""

    def __init__(self, store, run_id, abandoned=lambda: False):
        self.store = store
        self.run_id = run_id
        self.abandoned = abandoned
        self.unsaved = []  # epoch records streamed but not stored yet, oldest first
        self.cause = None  # the StoreError that left them unsaved

    def started(self):
        """The run is training. Not fatal if it cannot be stored: its end sets the status anyway."""
        self._try(self.store.set_status, self.run_id, "running")

    def epochs(self, records):
        """Store `records` (JSON-safe dicts), with any left unsaved before them."""
        pending = self.unsaved + list(records)
        if self._try(self.store.append_metrics, self.run_id, pending):
            self.unsaved = []
        else:
            self.unsaved = pending

    def finish(self, status, summary, weights=None, message=None):
        """Store how the run ended. Returns None if the whole run is stored; else what is missing
        and why, as the client's error ("the run finished (done) but could not be saved: CAUSE
        (missing: epochs 3-5 and its weights)").

        The whole record (outcome, unsaved epochs, weights) is tried again while the database is
        busy, for up to FINISH_RETRY_S; then, for what does not fit (a full disk, the size cap), the
        outcome without the weights, or without the unsaved epochs, or without both, then the
        status alone; the message stored says what is missing, as the client's error does.
        """
        try:
            self._with_retries(self.store.finish_run, self.run_id, status, summary, weights, message,
                               records=self.unsaved)
            self.unsaved = []
            return None
        except StoreError as exc:
            cause, busy = exc.public, exc.reason == BUSY
            log.error("run %s: could not store how it ended: %s", self.run_id, exc)
        epochs = [epoch_ranges(int(record["epoch"]) for record in self.unsaved)] if self.unsaved else []
        weighed = ["its weights"] if weights is not None else []
        attempts = []  # (what is missing, the write that stores the rest)
        for keep_weights, keep_epochs in ((False, True), (True, False), (False, False)):
            missing = ([] if keep_epochs else epochs) + ([] if keep_weights else weighed)
            if missing and missing not in [m for m, _ in attempts]:
                attempts.append((missing, functools.partial(
                    self._finish_with, status, summary, weights if keep_weights else None,
                    self.unsaved if keep_epochs else [])))
        attempts.append((epochs + weighed + ["its summary"],
                         lambda note: self.store.set_status(self.run_id, status, note)))
        for missing, write in [] if busy else attempts:  # less to write is no help against a lock
            note = f"not fully saved: {cause} (missing: {_listed(missing)})"
            try:
                write(f"{message}; {note}" if message else note)
            except StoreError:
                continue
            return f"the run finished ({status}) but could not be saved: {cause} (missing: {_listed(missing)})"
        missing = epochs + weighed + ["how it ended"]
        return f"the run finished ({status}) but could not be saved: {cause} (missing: {_listed(missing)})"

    def _finish_with(self, status, summary, weights, records, message):
        self.store.finish_run(self.run_id, status, summary, weights, message=message, records=records)

    def _with_retries(self, method, *args, **kwargs):
        """`method(...)`, again while the database is busy, for up to FINISH_RETRY_S."""
        deadline = time.monotonic() + FINISH_RETRY_S
        while True:
            try:
                return method(*args, **kwargs)
            except StoreError as exc:
                if exc.reason != BUSY or time.monotonic() + RETRY_PAUSE_S > deadline:
                    raise
                log.warning("run %s: the database is busy; trying again: %s", self.run_id, exc)
                time.sleep(RETRY_PAUSE_S)

    def _try(self, method, *args):
        if self.abandoned():
            return False
        try:
            method(*args)
            return True
        except StoreError as exc:
            if self.cause is None:
                log.error("run %s: could not write to the database: %s", self.run_id, exc)
            self.cause = exc
            return False
