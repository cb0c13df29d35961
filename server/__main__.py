"""`python -m server [--host 127.0.0.1] [--port 5000] [--db PATH|URL] [--workers N] [--blas-threads 1]
[--threads 768]`.

`--db` is an SQLite file (the default: instance/playground.sqlite) or a PostgreSQL server's
``postgresql://USER@HOST:PORT/DB``; either way the schema is created or upgraded at start.

Served by Gunicorn (server/serving.py): this process binds the port, checks the settings and
prints the banner; the app runs in Gunicorn's one worker process.

Bad input (arguments or PLAYGROUND_* settings) exits with status 2 and one line on
stderr; a port that cannot be opened exits with status 1, also without a traceback.

Training runs in child processes at a lower priority (see server/jobs.py), each
with one BLAS thread; --blas-threads sets the same for the serving process, whose
predictions would otherwise spin up a multithreaded BLAS against the runs.
"""

import argparse
import logging
import os
import sys

from nnengine.blas import limit_blas_threads

from . import configure, create_app
from .banner import banner
from .security import bracket
from .serving import DEFAULT_THREADS, MAX_THREADS, MIN_THREADS, listen, serve
from .store import check_database

log = logging.getLogger("server")


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # argparse would print the usage block too
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


def parse_args(argv=None):
    parser = _Parser(prog="python -m server", description="Serve the neural-network playground.")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to bind (default 127.0.0.1: this machine only)")
    parser.add_argument("--port", type=int, default=5000)
    parser.add_argument("--db", metavar="PATH|URL",
                        help="where runs are stored: an SQLite file (default: instance/playground.sqlite)"
                             " or a PostgreSQL server, postgresql://USER@HOST:PORT/DB")
    parser.add_argument("--workers", type=int,
                        help="runs trained at the same time (default: number of CPUs)")
    parser.add_argument("--blas-threads", type=int, default=1,
                        help="threads of each matrix product in this process (default 1: runs and"
                             " requests are the parallelism; 0 leaves the BLAS library's default)")
    parser.add_argument("--threads", type=int, default=DEFAULT_THREADS,
                        help="threads that serve requests (default %(default)s); each open page's"
                             " live connection holds one, and a few are kept for pages and the API")
    args = parser.parse_args(argv)
    if not MIN_THREADS <= args.threads <= MAX_THREADS:
        parser.error(f"--threads must be from {MIN_THREADS} to {MAX_THREADS}")
    if not 0 <= args.blas_threads <= 256:
        parser.error("--blas-threads must be from 0 to 256")
    if args.workers is not None and not 1 <= args.workers <= 64:
        parser.error("--workers must be from 1 to 64")
    if not 0 <= args.port <= 65535:
        parser.error("--port must be from 0 to 65535")
    if args.db is not None:
        try:
            args.db = check_database(args.db)
        except ValueError as exc:
            parser.error(f"--db: {exc}")
    if args.db and "://" not in args.db and not args.db.startswith("file:"):
        folder = os.path.dirname(os.path.abspath(args.db))
        if os.path.isdir(args.db):
            parser.error(f"--db {args.db} is a directory; give the path of a file")
        if not os.path.isdir(folder):
            parser.error(f"--db: the folder {folder} does not exist")
    return args


def main(argv=None):
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = {"HOST": args.host, "PORT": args.port}
    if args.db:
        settings["DATABASE"] = args.db
    if args.workers:
        settings["MAX_CONCURRENT_RUNS"] = args.workers
    shown = bracket(args.host)
    try:
        listener = listen(args.host, args.port)
    except OSError as exc:  # port in use, address not on this machine, unknown host name, ...
        print(f"python -m server: cannot listen on {shown}:{args.port}: {exc.strerror or exc}",
              file=sys.stderr)
        return 1
    settings["PORT"] = listener.getsockname()[1]  # the real one when --port 0
    try:
        # Checked here, in this process; the app itself is created in the serving process.
        config = configure(settings).config
    except ValueError as exc:  # a bad PLAYGROUND_* setting
        listener.close()
        print(f"python -m server: {exc}", file=sys.stderr)
        return 2
    print("\n".join(banner(args.host, settings["PORT"], config["ALLOWED_ORIGINS"])), flush=True)

    def build_app():  # in the serving process, after Gunicorn's fork
        limit_blas(args.blas_threads)
        return create_app(settings)

    # SIGTERM and Ctrl-C stop the runs first (stored as 'stopped'), then the server.
    return serve(build_app, listener, threads=args.threads)


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
