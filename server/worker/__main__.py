"""`python -m server.worker --broker redis://HOST:PORT/N --db URL|PATH [--concurrency N] [--nice 10]`.

Bad input exits with status 2 and one line on stderr, without a traceback.
"""

import argparse
import logging
import os
import sys

from ..runs.broker_url import check_broker, redis_address
from ..store import check_database
from .spawn import default_database


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


def parse_args(argv=None):
    parser = _Parser(prog="python -m server.worker",
                     description="Train the playground's runs and search trials sent through Redis.")
    parser.add_argument("--broker", required=True, metavar="URL", help="Redis: redis://HOST:PORT/N")
    parser.add_argument("--db", metavar="PATH|URL",
                        help="the web nodes' store: postgresql://USER@HOST:PORT/DB, or an SQLite file"
                             " on this machine (default: instance/playground.sqlite)")
    parser.add_argument("--concurrency", type=int, default=1,
                        help="runs trained at once, one process each (default 1; one per core)")
    parser.add_argument("--nice", type=int, default=10,
                        help="how much lower the training processes' CPU priority is (default 10)")
    parser.add_argument("--loglevel", default="warning", choices=("debug", "info", "warning", "error"))
    args = parser.parse_args(argv)
    try:
        args.broker = check_broker(args.broker)
    except ValueError as exc:
        parser.error(f"--broker: {exc}")
    if not 1 <= args.concurrency <= 64:
        parser.error("--concurrency must be from 1 to 64")
    if not 0 <= args.nice <= 19:
        parser.error("--nice must be from 0 to 19")
    try:
        args.db = check_database(args.db) if args.db else default_database()
    except ValueError as exc:
        parser.error(f"--db: {exc}")
    return args


def main(argv=None):
    args = parse_args(argv)
    level = getattr(logging, args.loglevel.upper())
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from . import make_worker

    celery, context = make_worker(args.broker, args.db, concurrency=args.concurrency, nice=args.nice)
    print(f"worker {context.name}: training up to {args.concurrency} run(s) at once, from Redis at"
          f" {redis_address(args.broker)} (pid {os.getpid()})", flush=True)
    celery.worker_main([
        "worker", "--pool", "prefork", "--concurrency", str(args.concurrency),
        "--hostname", context.name, "--loglevel", args.loglevel.upper(),
        # No broadcast chatter between workers: nothing here uses Celery's remote control.
        "--without-gossip", "--without-mingle", "--without-heartbeat",
    ])
    return 0


if __name__ == "__main__":
    sys.exit(main())
