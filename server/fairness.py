"""The limits that keep one address from taking the server: `init_app(app)` puts into app.extensions

- "start_limiter": run:start per connection (START_RATE) and per address (START_RATE_PER_ADDRESS);
- "search_limiter": search:start per address (SEARCH_RATE_PER_ADDRESS);
- "queue_limit": runs queued or running per address over all its connections (MAX_QUEUED_PER_ADDRESS).

All three keep their counts in one place: LIMITS_STORAGE, "memory://" (this process: one machine) or
a redis:// URL; by default the broker's (BROKER_URL) when the server has one, so that the limits hold
across every web node.
"""

from __future__ import annotations

from .queue_limit import MemoryPlaces, QueueLimit, RedisPlaces
from .start_limits import MEMORY, StartRateLimiter, open_storage
from .store import ACTIVE_STATUSES

REDIS_SCHEMES = ("redis://", "rediss://", "redis+unix://")


def limits_storage(value):
    """LIMITS_STORAGE: memory:// or a redis://HOST:PORT/N URL (ValueError otherwise)."""
    if not isinstance(value, str) or not (value.strip() == MEMORY or value.strip().startswith(REDIS_SCHEMES)):
        raise ValueError(f"must be memory:// or a redis://HOST:PORT/N URL, got {value!r}")
    return value.strip()


def storage_url(config):
    """Where the limits are kept: LIMITS_STORAGE, else the broker, else this process's memory."""
    return config.get("LIMITS_STORAGE") or config.get("BROKER_URL") or MEMORY


def run_is_active(runs, store, run_id):
    """True while a run waits or trains, False once it has ended, None if it is not recorded
    (being submitted, or deleted). Asks the run manager first (in memory), then the store, which
    every node shares (a run of another node, or of a node that is gone)."""
    if runs.position(run_id) is not None:
        return True
    run = store.get_run(run_id)
    return None if run is None else run["status"] in ACTIVE_STATUSES


def init_app(app):
    """The start limiters and the queue limit of `app`, on one storage. Call after the store and
    the runs exist: the queue limit asks them whether the runs that hold places have ended."""
    config = app.config
    url = storage_url(config)
    storage = open_storage(url)
    app.extensions["start_limiter"] = StartRateLimiter(
        config["START_RATE"], config["START_RATE_PER_ADDRESS"], storage, noun="runs")
    app.extensions["search_limiter"] = StartRateLimiter(
        None, config["SEARCH_RATE_PER_ADDRESS"], storage, noun="searches")
    # The places share the rate windows' Redis connections.
    places = MemoryPlaces() if url == MEMORY else RedisPlaces(storage.storage)
    runs, store = app.extensions["runs"], app.extensions["store"]
    app.extensions["queue_limit"] = QueueLimit(
        config["MAX_QUEUED_PER_ADDRESS"], places, still_active=lambda run_id: run_is_active(runs, store, run_id))
