"""`python -m server [--host 127.0.0.1] [--port 5000] [--db PATH|URL] [--workers N] [--blas-threads 1]
[--threads 768] [--broker redis://HOST:PORT/N]`.

With `--broker` this is a web node of a cluster: runs and search trials go to Celery workers
through Redis (`python -m server.worker`), and Socket.IO uses Redis as its message queue, so that
a run's events reach its client whichever node it is on. `--workers N` is then the number of
worker processes this node starts beside itself (`python -m server.worker --concurrency 1` each;
default 0: the node trains nothing). Without `--broker`, `--workers` is the number of runs this
machine trains at once (default: the number of CPUs), and nothing of Celery is loaded.

`--db` is an SQLite file (the default: instance/playground.sqlite) or a PostgreSQL server's
``postgresql://USER@HOST:PORT/DB``; either way the schema is created or upgraded at start.

Served by Gunicorn (server/serving.py): this process binds the port, checks the settings and
prints the banner; the app runs in Gunicorn's one worker process.

Bad input (arguments or PLAYGROUND_* settings, both parsed in server/settings.py) exits with
status 2 and one line on stderr; a port that cannot be opened exits with status 1, also without a traceback.

Training runs in child processes at a lower priority (see server/runs/), each
with one BLAS thread; --blas-threads sets the same for the serving process, whose
predictions would otherwise spin up a multithreaded BLAS against the runs.
"""

import logging
import sys

from nnengine.blas import limit_blas_threads

from . import create_app
from .banner import banner
from .security import bracket
from .serving import listen, serve
from .settings import Settings, command_line_settings, parse_args

log = logging.getLogger("server")


def main(argv=None):
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    given = command_line_settings(args)
    try:
        listener = listen(args.host, args.port)
    except OSError as exc:  # port in use, address not on this machine, unknown host name, ...
        print(f"python -m server: cannot listen on {bracket(args.host)}:{args.port}: {exc.strerror or exc}",
              file=sys.stderr)
        return 1
    given["PORT"] = listener.getsockname()[1]  # the real one when --port 0
    try:
        # Checked here, in this process; the app itself is created in the serving process.
        settings = Settings.load(given)
    except ValueError as exc:  # a bad PLAYGROUND_* setting
        listener.close()
        print(f"python -m server: {exc}", file=sys.stderr)
        return 2
    print("\n".join(banner(settings.host, settings.port, settings.allowed_origins)), flush=True)

    def build_app():  # in the serving process, after Gunicorn's fork
        limit_blas(settings.blas_threads)
        return create_app(given)

    workers = start_workers(settings, args.workers or 0) if settings.broker_url else []
    try:
        # SIGTERM and Ctrl-C stop the runs first (stored as 'stopped'), then the server.
        return serve(build_app, listener, threads=settings.threads)
    finally:
        stop_workers(workers)


def start_workers(settings, count):
    """Start `count` training workers beside this web node, one run at a time each; they die with
    this process (SIGTERM first, which stops their runs as 'stopped')."""
    if not count:
        return []
    from .worker.spawn import default_database, spawn_worker

    database = settings.database or default_database()
    return [spawn_worker(settings.broker_url, database) for _ in range(count)]


def stop_workers(workers):
    if not workers:
        return
    from .worker.spawn import stop_worker

    for worker in workers:
        worker.terminate()  # all at once: each stops its runs within a batch
    for worker in workers:
        stop_worker(worker)


def limit_blas(threads):
    if not threads:
        return
    library = limit_blas_threads(threads)
    if library:
        log.info("BLAS limited to %d thread(s) per product: %s", threads, library)
    else:
        log.warning("could not find NumPy's BLAS library to limit its threads; set "
                    "OPENBLAS_NUM_THREADS=1 (or MKL_NUM_THREADS=1) before starting the server")


if __name__ == "__main__":
    sys.exit(main())
