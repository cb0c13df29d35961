"""How many runs one remote address may have queued or running at once, across its connections.

`QueueLimit.acquire(address, run_id)` takes one of the address's places for a run (or says why not);
`release(run_id)` gives it back (a start refused after its place was taken; a training worker
that has finished a run may too). The places are held in this process's memory on one machine,
or in Redis when several processes share them:

    playground:places:address:<address>  sorted set: run_id -> the time its place was taken
    playground:places:run:<run_id>       the address that holds the run's place

A run's place is taken back once the run has ended, when its address needs it: an address at its
limit has the places of its runs that `still_active(run_id)` says have ended released, then asks
again. So nothing has to watch each run's end, and a place whose release was lost (a node killed)
comes back too; at the latest, a place lapses after `max_age_s`. A place whose run is not known
(`still_active` says None) is taken back only once it is older than `take_back_after_s`: its run
may be still being submitted.
"""

from __future__ import annotations

import logging
import threading
import time

log = logging.getLogger(__name__)

# Longer than any run waits and trains: the place of a run whose release was lost is free after this.
DEFAULT_MAX_AGE_S = 6 * 3600
ADDRESS_KEY = "playground:places:address:"
RUN_KEY = "playground:places:run:"
REDIS_TIMEOUT_S = 2.0
# Between acquire() and the run's submission (milliseconds; a slow database, seconds), the run
# is not recorded yet.
TAKE_BACK_AFTER_S = 60.0


class QueueUnavailable(Exception):
    """The shared places cannot be read or written (Redis is down or unreachable)."""


class MemoryPlaces:
    """The places of one process: {address: {run_id: taken_at}}."""

    def __init__(self):
        self._lock = threading.Lock()
        self._by_address = {}
        self._address_of = {}

    def take(self, address, run_id, limit, now, max_age_s):
        """(True, held before) if the place was taken, else (False, held): one atomic step."""
        with self._lock:
            held = self._by_address.setdefault(address, {})
            for old in [r for r, at in held.items() if at < now - max_age_s]:
                self._drop_locked(old)
            if run_id in held:
                return True, len(held) - 1
            if len(held) >= limit:
                return False, len(held)
            held[run_id] = now
            self._address_of[run_id] = address
            return True, len(held) - 1

    def give_back(self, run_id):
        with self._lock:
            self._drop_locked(run_id)

    def runs_of(self, address):
        """{run_id: taken_at} of the address's places."""
        with self._lock:
            return dict(self._by_address.get(address, {}))

    def _drop_locked(self, run_id):
        address = self._address_of.pop(run_id, None)
        held = self._by_address.get(address)
        if held is not None:
            held.pop(run_id, None)
            if not held:
                del self._by_address[address]


# KEYS[1] the address's set, KEYS[2] the run's key; ARGV: now, limit, max_age_s, run_id, address.
_TAKE = """
redis.call('zremrangebyscore', KEYS[1], '-inf', tonumber(ARGV[1]) - tonumber(ARGV[3]))
local held = redis.call('zcard', KEYS[1])
if redis.call('zscore', KEYS[1], ARGV[4]) then return {1, held - 1} end
if held >= tonumber(ARGV[2]) then return {0, held} end
redis.call('zadd', KEYS[1], ARGV[1], ARGV[4])
redis.call('expire', KEYS[1], ARGV[3])
redis.call('set', KEYS[2], ARGV[5], 'EX', ARGV[3])
return {1, held}
"""


class RedisPlaces:
    """The places in Redis, shared by every web node and worker that uses the same server."""

    def __init__(self, client):
        self.client = client
        self._take = client.register_script(_TAKE)

    @classmethod
    def from_url(cls, url):
        import redis

        return cls(redis.Redis.from_url(url, socket_connect_timeout=REDIS_TIMEOUT_S,
                                        socket_timeout=REDIS_TIMEOUT_S))

    def take(self, address, run_id, limit, now, max_age_s):
        taken, held = self._call(self._take, keys=[ADDRESS_KEY + address, RUN_KEY + run_id],
                                 args=[repr(now), limit, int(max_age_s), run_id, address])
        return bool(taken), int(held)

    def give_back(self, run_id):
        address = self._call(self.client.get, RUN_KEY + run_id)
        if address is None:
            return
        pipe = self.client.pipeline(transaction=True)
        pipe.zrem(ADDRESS_KEY + address.decode(), run_id)
        pipe.delete(RUN_KEY + run_id)
        self._call(pipe.execute)

    def runs_of(self, address):
        """{run_id: taken_at} of the address's places."""
        held = self._call(self.client.zrange, ADDRESS_KEY + address, 0, -1, withscores=True)
        return {member.decode(): float(score) for member, score in held}

    def where(self):
        kwargs = self.client.connection_pool.connection_kwargs
        return f"Redis at {kwargs.get('host', '?')}:{kwargs.get('port', 6379)}"

    def _call(self, method, *args, **kwargs):
        import redis

        try:
            return method(*args, **kwargs)
        except redis.RedisError as exc:
            log.error("%s does not answer: %s", self.where(), exc)
            raise QueueUnavailable(f"the run queue ({self.where()}) is not reachable") from exc


class QueueLimit:
    """At most `limit` runs queued or running per address, counted over all its connections.

    `places` is a MemoryPlaces or RedisPlaces; `still_active(run_id)` (optional) says whether a
    run still waits or trains: True, False, or None when there is no such run (yet).
    """

    def __init__(self, limit, places=None, still_active=None, max_age_s=DEFAULT_MAX_AGE_S,
                 take_back_after_s=TAKE_BACK_AFTER_S, clock=time.time):
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise ValueError(f"a queue limit is a whole number >= 1, got {limit!r}")
        self.limit = limit
        self.places = places if places is not None else MemoryPlaces()
        self.still_active = still_active
        self.max_age_s = max_age_s
        self.take_back_after_s = take_back_after_s
        self.clock = clock

    @classmethod
    def from_url(cls, url, limit=4, **kwargs):
        """Places in memory ("memory://") or in the Redis server of a redis:// URL."""
        if url in (None, "", "memory://"):
            return cls(limit, MemoryPlaces(), **kwargs)
        if not url.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError(f"the queue limit is kept in memory:// or a redis:// server, got {url!r}")
        return cls(limit, RedisPlaces.from_url(url), **kwargs)

    def acquire(self, address, run_id):
        """None if `run_id` now holds one of the address's places; else the refusal message.

        Taking the same run's place twice holds one place.
        """
        try:
            taken, held = self._take(address, run_id)
            if not taken and self._take_back_ended(address):
                taken, held = self._take(address, run_id)
        except QueueUnavailable as exc:
            # Worded as the runs' own queue words it (server/runs/board.py).
            return f"{exc}: new runs cannot start now; stored runs can still be viewed"
        if taken:
            return None
        return (f"address {address} already has {held} runs queued or running (at most {self.limit},"
                " from all its connections together); stop one, or start again when one has finished")

    def release(self, run_id):
        """Give back the place of `run_id` (nothing if it holds none). Never raises: a place that
        cannot be given back now is taken back once its run has ended (see the module's docstring)."""
        try:
            self.places.give_back(run_id)
        except QueueUnavailable as exc:
            log.warning("could not release the queue place of run %s: %s", run_id, exc)

    def runs_of(self, address):
        """The run ids that hold the address's places, oldest first."""
        held = self.places.runs_of(address)
        return sorted(held, key=held.get)

    def _take(self, address, run_id):
        return self.places.take(address, run_id, self.limit, self.clock(), self.max_age_s)

    def _take_back_ended(self, address):
        """Release the places of the address's runs that have ended; True if any was."""
        if self.still_active is None:
            return False
        settled = self.clock() - self.take_back_after_s
        ended = [run_id for run_id, taken_at in self.places.runs_of(address).items()
                 if self._ended(run_id, taken_at < settled)]
        for run_id in ended:
            self.release(run_id)
        return bool(ended)

    def _ended(self, run_id, settled):
        """still_active says False; or None (no such run: not submitted yet, or deleted) for a
        place older than take_back_after_s. A failure to tell counts as active: a place is
        never taken from a live run."""
        try:
            active = self.still_active(run_id)
        except Exception:
            log.exception("could not tell whether run %s is still active", run_id)
            return False
        return active is False or (active is None and settled)
