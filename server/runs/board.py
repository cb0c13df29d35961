"""The cluster's shared picture of its runs, in Redis: who is in line, who trains what, what
must stop, and which workers are alive.

Keys (all under `playground:`; the Redis database given with --broker is the cluster's own):

    queue                ZSET  run_id -> order of submission (the line; a rank is a position)
    running              HASH  run_id -> holder (the worker process training it)
    lease:<run_id>       STR   holder, expiring LEASE_S after the holder's last heartbeat
    owners               HASH  run_id -> the connection (sid) that started it
    client:<sid>         SET   that connection's queued and running runs (its limit)
    stop:<run_id>        STR   set by run:stop; also published on the channel of the same name
    workers, worker:<n>  SET of worker names, and one key per worker expiring WORKER_TTL_S after
                         its last heartbeat (its value: how many runs it trains at once)
    search:<id>          LIST  a search's trial messages, as JSON (started, result, skipped)
    search-stop:<id>     STR   no new trial of that search starts
    lease:trial:<id>:<n> STR   a trial's lease, as a run's

Taking a run from the line is one atomic step (claim): whoever removes it from `queue` trains
it, so a Celery message delivered twice, or one for a run stopped while it waited, trains
nothing. A run's end is claimed the same way by whoever writes it (the store's status update is
conditional: see Store.mark_interrupted).

Every method raises QueueUnavailable (a RuntimeError whose message says so in words) when
Redis cannot be reached.
"""

import contextlib
import json

import redis

from .broker_url import redis_address

PREFIX = "playground:"
# A worker renews its runs' leases every HEARTBEAT_S; a lease not renewed for LEASE_S is lost.
# LEASE_S is five missed heartbeats: a training process at nice 10 on a busy machine still gets
# the GIL for its heartbeat thread far more often than that, and a killed worker's run is
# marked interrupted LEASE_S + REAP_EVERY_S after the kill at the latest (well inside 60 s).
HEARTBEAT_S = 3.0
LEASE_S = 15
REAP_EVERY_S = 2.0
WORKER_TTL_S = 15
# Flags and per-connection sets outlive anything they describe, then go by themselves.
FLAG_TTL_S = 24 * 3600
SEARCH_TTL_S = 3600
# Connect and read timeouts: an unreachable Redis is a clear refusal in seconds, never a hang.
REDIS_OPTIONS = {"socket_connect_timeout": 2.0, "socket_timeout": 10.0, "health_check_interval": 30}

_CLAIM = """
if redis.call('ZREM', KEYS[1], ARGV[1]) == 1 then
  redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
  redis.call('SET', KEYS[3], ARGV[2], 'EX', ARGV[3])
  return 1
end
return 0
"""
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('EXPIRE', KEYS[1], ARGV[2])
end
return 0
"""
_RELEASE = """
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then
  redis.call('HDEL', KEYS[1], ARGV[1])
  redis.call('DEL', KEYS[2])
  return 1
end
return 0
"""


class QueueUnavailable(RuntimeError):
    """Redis (the run queue and message queue) cannot be reached."""


class RunBoard:
    def __init__(self, url):
        self.url = url
        self.address = redis_address(url)
        self.redis = redis.Redis.from_url(url, decode_responses=True, **REDIS_OPTIONS)
        self._claim = self.redis.register_script(_CLAIM)
        self._renew = self.redis.register_script(_RENEW)
        self._release = self.redis.register_script(_RELEASE)

    def close(self):
        self.redis.close()

    @contextlib.contextmanager
    def _reachable(self):
        try:
            yield
        except redis.RedisError as exc:
            raise QueueUnavailable(
                f"the run queue (Redis at {self.address}) is not reachable: new runs cannot start now;"
                " stored runs can still be viewed") from exc

    def ping(self):
        with self._reachable():
            self.redis.ping()

    # -- the line ----------------------------------------------------------------

    def enqueue(self, run_id, client_sid):
        """Put a run at the end of the line; returns its position (1 = next)."""
        with self._reachable():
            order = self.redis.incr(PREFIX + "seq")
            with self.redis.pipeline() as pipe:
                pipe.zadd(PREFIX + "queue", {run_id: order})
                if client_sid is not None:
                    pipe.hset(PREFIX + "owners", run_id, client_sid)
                    pipe.sadd(_client(client_sid), run_id)
                    pipe.expire(_client(client_sid), FLAG_TTL_S)
                pipe.zrank(PREFIX + "queue", run_id)
                rank = pipe.execute()[-1]
        return rank + 1

    def unqueue(self, run_id):
        """Take a queued run out of the line (it will never train); False if it was not in it."""
        with self._reachable():
            removed = self.redis.zrem(PREFIX + "queue", run_id) == 1
        if removed:
            self.forget_owner(run_id)
        return removed

    def queued(self):
        """Run ids in line, first first."""
        with self._reachable():
            return self.redis.zrange(PREFIX + "queue", 0, -1)

    def position(self, run_id):
        """0 running, n >= 1 n-th in line, None neither."""
        with self._reachable():
            with self.redis.pipeline() as pipe:
                pipe.hexists(PREFIX + "running", run_id)
                pipe.zrank(PREFIX + "queue", run_id)
                running, rank = pipe.execute()
        if running:
            return 0
        return None if rank is None else rank + 1

    def active_count(self, client_sid):
        with self._reachable():
            return self.redis.scard(_client(client_sid))

    def forget_owner(self, run_id):
        """The run is no longer active: it no longer counts against its connection."""
        with self._reachable():
            sid = self.redis.hget(PREFIX + "owners", run_id)
            with self.redis.pipeline() as pipe:
                pipe.hdel(PREFIX + "owners", run_id)
                if sid is not None:
                    pipe.srem(_client(sid), run_id)
                pipe.execute()

    # -- training ----------------------------------------------------------------

    def claim(self, run_id, holder):
        """Take the run from the line to train it; False if it is not in line (stopped, reaped,
        already taken: a message delivered twice)."""
        with self._reachable():
            return self._claim(keys=[PREFIX + "queue", PREFIX + "running", _lease(run_id)],
                               args=[run_id, holder, LEASE_S]) == 1

    def renew(self, run_id, holder):
        """Extend a run's lease; False if it was lost (it ran out, or Redis lost it)."""
        return self.renew_key(_lease(run_id), holder)

    def renew_key(self, key, holder):
        with self._reachable():
            return self._renew(keys=[key], args=[holder, LEASE_S]) == 1

    def release(self, run_id, holder):
        """The run has ended on its holder; False if the holder no longer held it."""
        with self._reachable():
            held = self._release(keys=[PREFIX + "running", _lease(run_id)], args=[run_id, holder]) == 1
        self.forget_owner(run_id)
        return held

    def running(self):
        """{run_id: holder} of the runs being trained."""
        with self._reachable():
            return self.redis.hgetall(PREFIX + "running")

    def lapsed(self):
        """Runs in `running` whose lease is gone: their holder died or lost Redis."""
        held = self.running()
        if not held:
            return []
        with self._reachable():
            with self.redis.pipeline() as pipe:
                for run_id in held:
                    pipe.exists(_lease(run_id))
                alive = pipe.execute()
        return [run_id for run_id, exists in zip(held, alive) if not exists]

    def drop(self, run_id):
        """Forget a run that has been marked as ended (interrupted) elsewhere."""
        with self._reachable():
            with self.redis.pipeline() as pipe:
                pipe.hdel(PREFIX + "running", run_id)
                pipe.delete(_lease(run_id))
                pipe.execute()
        self.forget_owner(run_id)

    # -- stopping ----------------------------------------------------------------

    def request_stop(self, run_id):
        with self._reachable():
            with self.redis.pipeline() as pipe:
                pipe.set(_stop(run_id), "1", ex=FLAG_TTL_S)
                pipe.publish(_stop(run_id), "1")
                pipe.execute()

    def stop_requested(self, run_id):
        with self._reachable():
            return self.redis.exists(_stop(run_id)) == 1

    def stop_listener(self, run_id):
        """A pubsub subscribed to the run's stop channel (check stop_requested() after this)."""
        pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
        with self._reachable():
            pubsub.subscribe(_stop(run_id))
        return pubsub

    # -- workers -----------------------------------------------------------------

    def worker_alive(self, name, concurrency):
        with self._reachable():
            with self.redis.pipeline() as pipe:
                pipe.sadd(PREFIX + "workers", name)
                pipe.set(PREFIX + "worker:" + name, int(concurrency), ex=WORKER_TTL_S)
                pipe.execute()

    def worker_gone(self, name):
        with self._reachable():
            with self.redis.pipeline() as pipe:
                pipe.srem(PREFIX + "workers", name)
                pipe.delete(PREFIX + "worker:" + name)
                pipe.execute()

    def worker_slots(self):
        """Runs the live workers can train at once (the sum of their concurrency)."""
        with self._reachable():
            names = sorted(self.redis.smembers(PREFIX + "workers"))
            if not names:
                return 0
            values = self.redis.mget([PREFIX + "worker:" + name for name in names])
            dead = [name for name, value in zip(names, values) if value is None]
            if dead:
                self.redis.srem(PREFIX + "workers", *dead)
        return sum(int(value) for value in values if value is not None)

    # -- searches ----------------------------------------------------------------

    def post_trial(self, search_id, message):
        with self._reachable():
            with self.redis.pipeline() as pipe:
                pipe.rpush(_search(search_id), json.dumps(message))
                pipe.expire(_search(search_id), SEARCH_TTL_S)
                pipe.execute()

    def next_trial_message(self, search_id, timeout):
        """The search's next trial message, or None after `timeout` seconds."""
        with self._reachable():
            found = self.redis.blpop([_search(search_id)], timeout=max(1, int(timeout)))
        return None if found is None else json.loads(found[1])

    def take_trial_messages(self, search_id):
        """Every trial message waiting now, without waiting."""
        with self._reachable():
            found = self.redis.lpop(_search(search_id), 1000)
        return [json.loads(text) for text in found or ()]

    def claim_trial(self, search_id, trial):
        """True once per trial: a Celery message delivered twice trains it once."""
        with self._reachable():
            return bool(self.redis.set(f"{PREFIX}trial-claim:{search_id}:{int(trial)}", "1",
                                       nx=True, ex=SEARCH_TTL_S))

    def stop_search(self, search_id):
        with self._reachable():
            self.redis.set(PREFIX + "search-stop:" + search_id, "1", ex=SEARCH_TTL_S)

    def search_stopped(self, search_id):
        with self._reachable():
            return self.redis.exists(PREFIX + "search-stop:" + search_id) == 1

    def forget_search(self, search_id):
        with self._reachable():
            self.redis.delete(_search(search_id))

    def trial_lease(self, search_id, trial):
        return f"{PREFIX}lease:trial:{search_id}:{int(trial)}"

    def take_trial_lease(self, key, holder):
        with self._reachable():
            self.redis.set(key, holder, ex=LEASE_S)

    def trial_lease_alive(self, key):
        with self._reachable():
            return self.redis.exists(key) == 1

    def end_trial_lease(self, key):
        with self._reachable():
            self.redis.delete(key)


def _client(sid):
    return f"{PREFIX}client:{sid}"


def _lease(run_id):
    return f"{PREFIX}lease:{run_id}"


def _stop(run_id):
    return f"{PREFIX}stop:{run_id}"


def _search(search_id):
    return f"{PREFIX}search:{search_id}"
