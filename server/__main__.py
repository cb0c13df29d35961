"""`python -m server [--host 127.0.0.1] [--port 5000] [--db PATH] [--workers N] [--blas-threads 1]`.

Bad input (arguments or PLAYGROUND_* settings) exits with status 2 and one line on
stderr; a port that cannot be opened exits with status 1, also without a traceback.

Training runs in child processes at a lower priority (see server/jobs.py), each
with one BLAS thread; --blas-threads sets the same for this process, whose
predictions would otherwise spin up a multithreaded BLAS against the runs.
"""

import argparse
import logging
import os
import signal
import sys

from . import create_app, socketio
from .banner import banner
from .security import bracket
from .jobs import limit_blas_threads

log = logging.getLogger("server")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog="python -m server",
                                     description="Serve the neural-network playground.")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to bind (default 127.0.0.1: this machine only)")
    parser.add_argument("--port", type=int, default=5000)
    parser.add_argument("--db", help="SQLite file for stored runs (default: instance/playground.sqlite)")
    parser.add_argument("--workers", type=int,
                        help="runs trained at the same time (default: number of CPUs)")
    parser.add_argument("--blas-threads", type=int, default=1,
                        help="threads of each matrix product in this process (default 1: runs and"
                             " requests are the parallelism; 0 leaves the BLAS library's default)")
    args = parser.parse_args(argv)
    if not 0 <= args.blas_threads <= 256:
        parser.error("--blas-threads must be from 0 to 256")
    if args.workers is not None and not 1 <= args.workers <= 64:
        parser.error("--workers must be from 1 to 64")
    if not 0 <= args.port <= 65535:
        parser.error("--port must be from 0 to 65535")
    if args.db and not args.db.startswith("file:"):
        folder = os.path.dirname(os.path.abspath(args.db))
        if os.path.isdir(args.db):
            parser.error(f"--db {args.db} is a directory; give the path of a file")
        if not os.path.isdir(folder):
            parser.error(f"--db: the folder {folder} does not exist")
    return args


def main(argv=None):
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.blas_threads:
        library = limit_blas_threads(args.blas_threads)
        if library:
            log.info("BLAS limited to %d thread(s) per product: %s", args.blas_threads, library)
        else:
            log.warning("could not find NumPy's BLAS library to limit its threads; set "
                        "OPENBLAS_NUM_THREADS=1 (or MKL_NUM_THREADS=1) before starting the server")
    settings = {"HOST": args.host, "PORT": args.port}
    if args.db:
        settings["DATABASE"] = args.db
    if args.workers:
        settings["MAX_CONCURRENT_RUNS"] = args.workers
    try:
        app = create_app(settings)
    except ValueError as exc:  # a bad PLAYGROUND_* setting
        print(f"python -m server: {exc}", file=sys.stderr)
        return 2
    print("\n".join(banner(args.host, args.port, app.config["ALLOWED_ORIGINS"])), flush=True)
    shown = bracket(args.host)
    # `kill` (SIGTERM) should end runs as cleanly as Ctrl-C does: through the finally below.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
    try:
        socketio.run(app, host=args.host, port=args.port, allow_unsafe_werkzeug=True)
    except OSError as exc:  # port in use, address not on this machine, ...
        print(f"python -m server: cannot listen on {shown}:{args.port}: {exc.strerror or exc}",
              file=sys.stderr)
        return 1
    finally:
        # Without this, Ctrl-C would wait for every running run to train to the end;
        # stopped runs are stored as 'stopped', queued ones too.
        app.extensions["runs"].shutdown(wait=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
