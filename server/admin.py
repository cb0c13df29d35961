"""python -m server.admin: looking after the run database from a shell.

    python -m server.admin delete RUN_ID... [--db PATH|URL]

deletes each run with its epochs and weights, as DELETE /api/runs/<run_id> does: a queued or
running run is refused (stop it first), an unknown id is said to be unknown. One line per run on
stdout. Exit status: 0 if every run was deleted, 1 if some were not (unknown, active, or the
database refused: the line says why), 2 on bad input (one line on stderr, nothing deleted).
--db is what `python -m server --db` takes: an SQLite file (default: the server's own,
instance/playground.sqlite) or a postgresql://USER@HOST:PORT/DB URL.
"""

import argparse
import os
import sys

from .runs.ids import is_run_id
from .store import Store, StoreError, check_database


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, not the usage block
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


def default_database():
    """The server's database when it is given no --db (the app's instance folder)."""
    from flask import Flask

    return os.path.join(Flask("server", instance_relative_config=True).instance_path, "playground.sqlite")


def parse_args(argv):
    parser = _Parser(prog="python -m server.admin", description="Look after the playground's run database.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True, parser_class=_Parser)
    remove = commands.add_parser("delete", help="delete runs with their epochs and weights")
    remove.add_argument("run_ids", nargs="+", metavar="RUN_ID")
    remove.add_argument("--db", metavar="PATH|URL", help="an SQLite file (default: the server's own)"
                                                        " or a postgresql://USER@HOST:PORT/DB URL")
    args = parser.parse_args(argv)
    bad = [run_id for run_id in args.run_ids if not is_run_id(run_id)]
    if bad:
        parser.exit(2, f"{parser.prog}: {bad[0]!r} is not a run id (letters, digits, - and _, at most 64)\n")
    try:
        args.db = check_database(args.db) if args.db is not None else default_database()
    except ValueError as exc:
        parser.exit(2, f"{parser.prog}: --db: {exc}\n")
    if not (args.db.startswith("file:") or "://" in args.db or os.path.isfile(args.db)):
        parser.exit(2, f"{parser.prog}: --db: there is no database file {args.db}\n")
    return args


def delete(store, run_ids, out):
    """Delete each run; returns how many were not deleted."""
    kept = 0
    for run_id in dict.fromkeys(run_ids):  # each once, in the order given
        try:
            outcome = store.delete_run(run_id)
        except StoreError as exc:
            outcome, why = "failed", exc.message
        if outcome == "deleted":
            print(f"deleted {run_id}", file=out)
            continue
        kept += 1
        reason = {"unknown": "there is no such run",
                  "active": "it is queued or running; stop it first"}.get(outcome) or f"the database refused: {why}"
        print(f"kept {run_id}: {reason}", file=out)
    return kept


def main(argv=None, out=sys.stdout):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    store = Store(args.db)
    try:
        store.init_schema()  # an older database is upgraded first, as the server would
    except StoreError as exc:
        print(f"python -m server.admin: the database cannot be changed: {exc.message}", file=sys.stderr)
        return 1
    try:
        return 1 if delete(store, args.run_ids, out) else 0
    finally:
        store.close()


if __name__ == "__main__":
    sys.exit(main())
