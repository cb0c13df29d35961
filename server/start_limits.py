"""How often starts may succeed, per connection and per remote address, through the `limits` library.

A limit "COUNT/SECONDS" is a moving window: at most COUNT starts in any SECONDS. The counts live in
a `limits` storage: in this process's memory on one machine, or in Redis (`redis://HOST:PORT/N`)
when the web nodes share a broker, so that an address is held to one budget whichever node its
connections reach. Reconnecting does not help either way: the address's window outlives its
connections.

Windows are whole seconds (Redis expires keys by the second): a fraction is rounded up.
"""

from __future__ import annotations

import logging
import math
import time

from limits import RateLimitItemPerSecond
from limits.errors import StorageError
from limits.storage import MemoryStorage, storage_from_string
from limits.strategies import MovingWindowRateLimiter

log = logging.getLogger(__name__)

MEMORY = "memory://"
# Redis keys of the start windows begin with this (the queue limit's with "playground:queue").
KEY_PREFIX = "playground:limits"
# A web node that cannot reach Redis must answer its client in about this long, not hang.
REDIS_TIMEOUT_S = 2.0


def parse_rate(value):
    """A start rate from config or the environment: (count, seconds), or None for no limit.

    Accepts a pair, or text "COUNT/SECONDS" ("10/10" = 10 starts per 10 s); "off", "0" or
    an empty value turn the limit off. Raises ValueError naming what is allowed.
    """
    if value is None:
        return None
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ValueError(f"a start rate is (count, seconds), got {value!r}")
        count, seconds = value
    else:
        text = str(value).strip().lower()
        if text in ("", "0", "off", "none"):
            return None
        count, sep, seconds = text.partition("/")
        if not sep:
            raise ValueError(f"a start rate is written COUNT/SECONDS (e.g. 10/10) or 'off', got {value!r}")
    try:
        count, seconds = int(count), float(seconds)
    except (TypeError, ValueError):
        raise ValueError(f"a start rate is written COUNT/SECONDS (e.g. 10/10) or 'off', got {value!r}") from None
    if count < 1 or not 0 < seconds < float("inf"):
        raise ValueError(f"a start rate needs a count >= 1 and seconds > 0, got {value!r}")
    return count, seconds


def open_storage(uri=MEMORY):
    """A `limits` storage: "memory://" or a Redis URL. Storage errors come out as StorageError."""
    options = {"wrap_exceptions": True}
    if uri.startswith(("redis://", "rediss://", "redis+unix://")):
        options.update(key_prefix=KEY_PREFIX, socket_connect_timeout=REDIS_TIMEOUT_S,
                       socket_timeout=REDIS_TIMEOUT_S)
    return storage_from_string(uri, **options)


def where(storage):
    """What a refusal names when the storage cannot be reached: "Redis at HOST:PORT"."""
    client = getattr(storage, "storage", None)
    kwargs = getattr(getattr(client, "connection_pool", None), "connection_kwargs", {})
    if "host" in kwargs:
        return f"Redis at {kwargs['host']}:{kwargs.get('port', 6379)}"
    return "the limits store"


class _Window:
    """One limit "COUNT/SECONDS" of `noun` (e.g. "runs"), keyed by `scope` plus the caller's key."""

    def __init__(self, rate, scope, noun):
        count, seconds = rate
        self.count = count
        self.seconds = max(1, math.ceil(seconds))
        self.item = RateLimitItemPerSecond(count, self.seconds, namespace=f"{noun}-{scope}")

    def wait(self, strategy, key):
        """Seconds until one more start fits in the window (0 if one fits now)."""
        if strategy.test(self.item, key):
            return 0.0
        reset_at, _remaining = strategy.get_window_stats(self.item, key)
        return max(0.0, reset_at - time.time())


class StartRateLimiter:
    """How often a start may succeed, per connection (sid) and per remote address.

    `per_client` and `per_address` are (count, seconds) or None (no limit of that kind); `noun`
    names what is started in the refusal ("runs", "searches"). A start that either limit refuses
    is charged to neither, so a refusal costs the client nothing (two clients of one address
    racing for its last start may both be charged on their own connection: never more than one
    start each).
    """

    def __init__(self, per_client=(10, 10.0), per_address=(30, 10.0), storage=None, noun="runs",
                 max_keys=10_000):
        self.storage = storage if storage is not None else open_storage()
        self.max_keys = max_keys
        self.strategy = MovingWindowRateLimiter(self.storage)
        self.noun = noun
        self._client = _Window(per_client, "connection", noun) if per_client else None
        self._address = _Window(per_address, "address", noun) if per_address else None

    def acquire(self, sid, address):
        """None if the start may go ahead (and it is charged); else the refusal message."""
        limits = [(window, key, who) for window, key, who in (
            (self._client, sid, "this connection"), (self._address, address, f"address {address}"))
            if window is not None and key is not None]
        try:
            for window, key, who in limits:
                wait = window.wait(self.strategy, key)
                if wait > 0:
                    return self._too_many(window, who, wait)
            for window, key, who in limits:
                if not self.strategy.hit(window.item, key):  # taken meanwhile, by another node
                    return self._too_many(window, who, window.wait(self.strategy, key))
            self._forget_passed_windows()
        except StorageError as exc:
            log.error("the start limits cannot be checked: %s", exc.storage_error)
            return (f"the start limits ({where(self.storage)}) are not reachable: new {self.noun} cannot"
                    " start now; stored runs can still be viewed")
        return None

    def _too_many(self, window, who, wait):
        return (f"too many {self.noun} started: at most {window.count} every {window.seconds} s"
                f" from {who}; try again in {max(1, math.ceil(wait))} s")

    def _forget_passed_windows(self):
        """Memory only (Redis expires its keys): limits' MemoryStorage empties a window whose
        starts have all passed but keeps its key, one per address ever seen; drop those."""
        events = getattr(self.storage, "events", None)
        if not isinstance(self.storage, MemoryStorage) or events is None or len(events) <= self.max_keys:
            return
        for key in [key for key, entries in list(events.items()) if not entries]:
            self.storage.clear(key)

    def forget_client(self, sid):
        """The connection is gone: its window goes (the address's stays)."""
        if self._client is None or sid is None:
            return
        try:
            self.strategy.clear(self._client.item, sid)
        except StorageError as exc:  # the keys expire by themselves
            log.warning("could not clear the start window of %s: %s", sid, exc.storage_error)
