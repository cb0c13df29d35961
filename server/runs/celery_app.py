"""The Celery application of cluster mode: its settings, and the names of its tasks.

The web node sends tasks by name (send_task) and never imports the worker's code; the worker
(server/worker/) registers the same names.

Delivery, chosen for runs that take seconds to minutes and must never train twice:
- task_acks_late: a message is acknowledged when its task has ended, so a worker killed after
  receiving a run but before taking it from the line (board.claim) does not lose it: Redis hands
  it out again after the visibility timeout. Every delivery first claims its run (or trial)
  atomically, so a message delivered twice (that case, or a run longer than the timeout) trains
  once; the second copy finds nothing to claim and ends at once.
- task_reject_on_worker_lost off: a training process that dies (the OOM killer, a crash) gets
  its message acknowledged, not redelivered, so a run that kills its worker cannot kill them all
  in turn. Its lease runs out and it is marked interrupted (reaper.py).
- worker_disable_prefetch and a prefetch multiplier of 1: a worker takes a message only when it
  has a free process, so a run never waits behind another on a busy worker while one is idle.
- visibility_timeout VISIBILITY_S: how long a message taken by a worker that vanished waits
  before it is handed out again. Five minutes: short enough that such a (rare) run still
  starts, long enough that long runs' messages are not redelivered every minute for nothing.
- No result backend: runs report through the store and the Socket.IO message queue, search
  trials through a Redis list (board.py).
"""

from celery import Celery

from .board import REDIS_OPTIONS

TRAIN_RUN = "playground.train_run"
SEARCH_TRIAL = "playground.search_trial"
QUEUE = "playground"
VISIBILITY_S = 300


def make_celery(broker_url, name="playground"):
    celery = Celery(name, broker=broker_url, set_as_current=False)
    celery.conf.update(
        task_serializer="json",
        accept_content=["json"],
        task_ignore_result=True,
        result_backend=None,
        task_default_queue=QUEUE,
        task_acks_late=True,
        task_reject_on_worker_lost=False,
        worker_prefetch_multiplier=1,
        worker_disable_prefetch=True,
        worker_cancel_long_running_tasks_on_connection_loss=False,
        worker_hijack_root_logger=False,
        worker_send_task_events=False,
        broker_connection_retry_on_startup=True,
        broker_transport_options={
            "visibility_timeout": VISIBILITY_S,
            "socket_connect_timeout": REDIS_OPTIONS["socket_connect_timeout"],
            "socket_timeout": REDIS_OPTIONS["socket_timeout"],
        },
        # A web node refuses a run in seconds when Redis is gone, rather than retrying for long.
        task_publish_retry_policy={"max_retries": 1, "interval_start": 0, "interval_step": 0.5,
                                   "interval_max": 0.5},
    )
    return celery


def celery_init_app(app):
    """Flask's pattern: the app's Celery, from BROKER_URL, kept in app.extensions["celery"]."""
    celery = make_celery(app.config["BROKER_URL"], name=app.import_name)
    app.extensions["celery"] = celery
    return celery
