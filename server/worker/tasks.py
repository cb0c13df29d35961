"""The worker's tasks: a run (dashboard and lab runs alike) and one search trial.

A run is taken from the line first (board.claim): a message for a run that was stopped while it
waited, reaped, or already taken (delivered twice) trains nothing. Then it trains here, in this
pool process, with the same code as on one machine (recording.py: stored, then emitted to its
room), while its lease thread renews the lease and listens for run:stop.
"""

import logging
import threading

from nnengine import trainer
from nnengine.config import parse_config
from nnengine.search import run_trial

from ..runs.backend import Run
from ..runs.board import HEARTBEAT_S, QueueUnavailable
from ..runs.celery_app import SEARCH_TRIAL, TRAIN_RUN
from ..runs.cluster import report_positions
from ..runs.outcome import outcome_of
from ..store import to_json_safe
from .lease import Heartbeat, RunLease

log = logging.getLogger(__name__)


def register_tasks(celery, context):
    @celery.task(name=TRAIN_RUN)
    def train_run_task(run_id, config_dict):
        train_run(context.here(), run_id, config_dict)

    @celery.task(name=SEARCH_TRIAL)
    def search_trial_task(search_id, config_dict, trial):
        train_trial(context.here(), search_id, config_dict, trial)

    return train_run_task, search_trial_task


def train_run(here, run_id, config_dict):
    board = here.board
    if not board.claim(run_id, here.holder):
        log.info("run %s is no longer in line (stopped, or taken already): nothing to train", run_id)
        return
    try:
        report_positions(board, here.recorder.emit)
    except QueueUnavailable as exc:
        log.warning("could not report the line's positions: %s", exc)
    run = Run(run_id, None, None, threading.Event(), threading.Event())

    def train(run, on_started, on_epochs):
        run.config = parse_config(config_dict)
        on_started()
        result = trainer.train(run.config, on_epoch=lambda record: on_epochs([record]),
                               should_stop=run.stop_event.is_set)
        return outcome_of(result, run_id)

    with RunLease(board, run, here.holder, on_lost=here.reaper.reap):
        event = here.recorder.record(run, train)
    try:
        board.release(run_id, here.holder)
    except QueueUnavailable as exc:
        # Its lease will run out; the reaper then finds it finished in the store and changes nothing.
        log.warning("run %s ended but Redis could not be told: %s", run_id, exc)
    # Sent once the run is no longer active: a client told "done" can no longer stop it.
    if event is not None:
        here.recorder.emit(*event, run_id)


def train_trial(here, search_id, config_dict, trial):
    board = here.board
    number = trial["trial"]
    if board.search_stopped(search_id):
        board.post_trial(search_id, {"kind": "skipped", "trial": number})
        return
    if not board.claim_trial(search_id, number):
        return
    lease = board.trial_lease(search_id, number)
    board.take_trial_lease(lease, here.holder)
    board.post_trial(search_id, {"kind": "started", "trial": number, "lease": lease})

    def beat():
        try:
            board.renew_key(lease, here.holder)
        except QueueUnavailable as exc:
            log.warning("trial %s of search %s: %s", number, search_id, exc)

    try:
        with Heartbeat(beat, HEARTBEAT_S, name=f"lease-{search_id}-{number}"):
            result = run_trial(parse_config(config_dict), trial)
    except Exception as exc:  # the engine failed this trial: the search reports it
        log.exception("trial %s of search %s failed", number, search_id)
        board.post_trial(search_id, {"kind": "error", "trial": number, "error": f"{type(exc).__name__}: {exc}"})
    else:
        board.post_trial(search_id, {"kind": "result", "trial": number, "result": to_json_safe(result)})
    finally:
        board.end_trial_lease(lease)
