"""Leases: how a process that trains runs tells the others that its runs are alive.

Every queued or running run carries a lease: its owner (the process that will finish it) and the
time it expires. The owner renews the leases of its runs every LEASE_RENEW_S seconds; a run whose
lease has lapsed lost its process (killed, crashed, its machine gone), and any process marks it
`interrupted` (Store.expire_leases). A second server on the same database so leaves the first one's
live runs alone; a killed process's runs are marked within LEASE_TTL_S + LEASE_RENEW_S seconds by
whichever process still runs, or at once by a new one on the same machine (its owner's process is
gone: `owner_is_dead`).

An owner is "HOST/PID/START/TOKEN": START (the process's start time in clock ticks since boot,
Linux) tells a PID reused by another process from the owner itself.
"""

import os
import secrets
import socket

LEASE_TTL_S = 30.0  # a lease not renewed for this long has lapsed
LEASE_RENEW_S = 5.0  # how often an owner renews (several renewals fit in a lease: one missed is no harm)


def _stat(pid):
    """(state, start time in clock ticks since boot) of process `pid`, or None where /proc cannot tell."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            # The command may hold spaces and parentheses: the fields after it follow the last ")".
            fields = stat.read().rsplit(")", 1)[1].split()
        return fields[0], fields[19]
    except (OSError, IndexError):
        return None


def _start_ticks(pid):
    stat = _stat(pid)
    return None if stat is None else stat[1]


def new_owner():
    """An owner name for this process (unique: a random token ends it)."""
    return f"{socket.gethostname()}/{os.getpid()}/{_start_ticks(os.getpid()) or '-'}/{secrets.token_hex(4)}"


def owner_is_dead(owner):
    """True if `owner` names a process of this machine that no longer runs; False if it runs, or
    cannot be known from here (another machine, a name of another form): its lease decides then."""
    parts = str(owner or "").split("/")
    if len(parts) != 4 or parts[0] != socket.gethostname() or not parts[1].isdigit():
        return False
    pid, started = int(parts[1]), parts[2]
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # it exists (another user's): alive as far as we can tell
        pass
    stat = _stat(pid)
    if stat is None:
        return False
    state, now = stat
    return state in ("Z", "X") or (started != "-" and now != started)  # a zombie, or the PID reused
