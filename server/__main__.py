"""`python -m server [--host 127.0.0.1] [--port 5000] [--db PATH] [--workers N]`."""

import argparse
import logging
import signal
import sys

from . import create_app, socketio


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog="python -m server",
                                     description="Serve the neural-network playground.")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to bind (default 127.0.0.1: this machine only)")
    parser.add_argument("--port", type=int, default=5000)
    parser.add_argument("--db", help="SQLite file for stored runs (default: instance/playground.sqlite)")
    parser.add_argument("--workers", type=int,
                        help="runs trained at the same time (default: number of CPUs)")
    args = parser.parse_args(argv)
    if args.workers is not None and args.workers < 1:
        parser.error("--workers must be at least 1")
    if not 0 <= args.port <= 65535:
        parser.error("--port must be from 0 to 65535")
    return args


def main(argv=None):
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = {"HOST": args.host, "PORT": args.port}
    if args.db:
        settings["DATABASE"] = args.db
    if args.workers:
        settings["MAX_CONCURRENT_RUNS"] = args.workers
    app = create_app(settings)
    shown = f"[{args.host}]" if ":" in args.host else args.host
    print(f"Serving on http://{shown}:{args.port}", flush=True)
    # `kill` (SIGTERM) should end runs as cleanly as Ctrl-C does: through the finally below.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
    try:
        socketio.run(app, host=args.host, port=args.port, allow_unsafe_werkzeug=True)
    finally:
        # Without this, Ctrl-C would wait for every running run to train to the end;
        # stopped runs are stored as 'stopped', queued ones too.
        app.extensions["runs"].shutdown(wait=True)


if __name__ == "__main__":
    main()
