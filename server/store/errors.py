"""StoreError: the one error the store raises, whatever the database and its driver said.

Callers catch StoreError alone. Its `reason` says what kind of failure it is (one of REASONS), its
message names the cause in words ("the disk is full", "the database server at HOST:PORT is not
reachable"), and `public` is the same without where the database lives (file paths, host names),
for clients. The driver's own exception is the StoreError's __cause__, for the logs.
"""

import os
import shutil

UNAVAILABLE = "unavailable"  # cannot connect, or the connection was lost; the file cannot be opened
DISK_FULL = "disk_full"
READ_ONLY = "read_only"
BUSY = "busy"  # locked by another writer, or every pooled connection in use, past the timeouts
CAP = "cap"  # the database reached DATABASE_MAX_MB
FAILED = "failed"  # anything else (a refused statement, a broken file)
REASONS = (UNAVAILABLE, DISK_FULL, READ_ONLY, BUSY, CAP, FAILED)

# SQLite's primary result codes (an extended code's low byte); sqlite3 errors carry them (3.11+).
_SQLITE_BUSY, _SQLITE_LOCKED, _SQLITE_READONLY, _SQLITE_IOERR = 5, 6, 8, 10
_SQLITE_CORRUPT, _SQLITE_FULL, _SQLITE_CANTOPEN, _SQLITE_NOTADB = 11, 13, 14, 26


class StoreError(Exception):
    """A store operation that failed. `reason` is one of REASONS; str() names the cause."""

    def __init__(self, message, reason=FAILED, public=None):
        if reason not in REASONS:
            raise ValueError(f"reason must be one of {', '.join(REASONS)}, got {reason!r}")
        super().__init__(message)
        self.reason = reason
        self.public = public or message

    @property
    def message(self):
        return self.args[0]


def megabytes(size):
    """0.25 MB, 1 MB, 1.5 MB, 2048 MB: three significant digits, never an exponent."""
    value = size / 2**20
    return f"{value:.0f} MB" if value >= 100 else f"{value:.3g} MB"


def cap_error(max_bytes, used=None):
    """The database is at `max_bytes`, or the write would take it past them (it holds `used`)."""
    if used is None or used + 4096 >= max_bytes:
        return StoreError(f"the database is at its size cap of {megabytes(max_bytes)}", CAP)
    return StoreError(f"the database would grow past its size cap of {megabytes(max_bytes)}"
                      f" (it holds {megabytes(used)})", CAP)


def from_sqlite(exc, path, full_cause):
    """The StoreError of a sqlite3 error on the database file `path`.

    `full_cause()` tells a full disk from the size cap (SQLite reports both as SQLITE_FULL); it
    returns a StoreError.
    """
    code = getattr(exc, "sqlite_errorcode", None)
    primary = None if code is None else code & 0xFF
    text = str(exc)
    where = f"the database file {path}"
    if primary == _SQLITE_FULL or "database or disk is full" in text:
        return full_cause()
    if primary == _SQLITE_READONLY or "readonly database" in text:
        return StoreError("the database is read-only", READ_ONLY)
    if primary in (_SQLITE_BUSY, _SQLITE_LOCKED) or "database is locked" in text:
        return StoreError("the database is locked by another process (still busy after the wait)", BUSY)
    if primary == _SQLITE_IOERR or "disk I/O error" in text:
        # A write that failed for want of room, or on a read-only mount, says only "disk I/O error".
        cause = filesystem_cause(path)
        if cause is not None:
            return cause
        return StoreError(f"{where} could not be read or written (a disk I/O error)", FAILED,
                          "the database could not be read or written (a disk I/O error)")
    if primary == _SQLITE_CANTOPEN or "unable to open database" in text:
        cause = filesystem_cause(path)
        if cause is not None and cause.reason == READ_ONLY:
            return cause
        return StoreError(f"{where} cannot be opened", UNAVAILABLE, "the database file cannot be opened")
    if primary in (_SQLITE_NOTADB, _SQLITE_CORRUPT) or "not a database" in text or "malformed" in text:
        return StoreError(f"{where} is not a usable SQLite database ({text})", FAILED,
                          "the database file is damaged or not an SQLite database")
    return StoreError(f"the database refused the operation: {text}", FAILED)


def filesystem_cause(path):
    """A StoreError for a full disk or a read-only mount under `path`, or None if neither. The
    file's own mount first: a file bind-mounted read-only sits in a folder that is not."""
    folder = os.path.dirname(os.path.abspath(path)) or "."
    stats = None
    for place in (path, folder):
        try:
            stats = os.statvfs(place)
            break
        except OSError:
            continue
    if stats is None:
        return None
    if stats.f_flag & os.ST_RDONLY:
        return StoreError("the database is read-only (its filesystem is mounted read-only)", READ_ONLY,
                          "the database is read-only")
    if stats.f_bavail * stats.f_frsize < 1024 * 1024:
        return disk_full()
    return None


def disk_full():
    return StoreError("the disk is full", DISK_FULL)


def free_disk_bytes(path):
    try:
        return shutil.disk_usage(os.path.dirname(os.path.abspath(path)) or ".").free
    except OSError:
        return None


# What a server that refuses a connection says, and the SQLSTATE it means.
# The first that matches counts (a pg_hba.conf refusal names the database too).
_CONNECT_REFUSALS = (('role "', "28000"), ("password authentication failed", "28P01"),
                     ("no pg_hba.conf entry", "28000"), ('database "', "3D000"), ("too many clients", "53300"),
                     ("remaining connection slots", "53300"))


def from_postgresql(exc, address, database):
    """The StoreError of a psycopg error, from its SQLSTATE (or, for a connection never made, its text)."""
    state = getattr(exc, "sqlstate", None) or ""
    first = (str(exc).strip().splitlines() or [""])[0]
    if not state:
        # A connection that could not be made has no SQLSTATE; the server's refusal is in the text
        # ('connection to server at "h", port p failed: FATAL:  database "x" does not exist').
        first = first.rsplit(" failed: ", 1)[-1].replace("FATAL:  ", "").strip()
        state = next((code for words, code in _CONNECT_REFUSALS if words in first), "")
    server = f"the database server at {address}"
    if state == "3D000":
        return StoreError(f"the database {database!r} does not exist on {server}", UNAVAILABLE,
                          "the database does not exist on its server")
    if state.startswith("28"):
        return StoreError(f"{server} refused the login ({first})", UNAVAILABLE,
                          "the database server refused the login")
    if state == "53300":
        return StoreError(f"{server} has no free connection slots", BUSY,
                          "the database server has no free connection slots")
    if not state or state.startswith("08") or state in ("57P01", "57P02", "57P03"):
        # No state: the connection could not be made or broke (refused, timed out, closed).
        return StoreError(f"{server} is not reachable ({first})" if first else f"{server} is not reachable",
                          UNAVAILABLE, "the database server is not reachable")
    if state == "53100":
        return StoreError(f"the disk of {server} is full", DISK_FULL, "the disk is full")
    if state == "25006":
        return StoreError("the database is read-only (a read-only server or transaction)", READ_ONLY,
                          "the database is read-only")
    if state in ("55P03", "40P01", "40001", "57014"):
        return StoreError(f"the database is busy ({first})", BUSY, "the database is busy")
    return StoreError(f"the database refused the operation: {first}", FAILED)

