"""The limits that keep one address from taking the server, built from the app's settings.

`init_limits(app)` puts into `app.extensions`:
- "start_limiter": run:start per connection (START_RATE) and per address (START_RATE_PER_ADDRESS);
- "search_limiter": search:start per address (SEARCH_RATE_PER_ADDRESS);
- "queue_limit": runs queued or running per address (MAX_QUEUED_PER_ADDRESS; by default as many
  as one connection may have, MAX_QUEUED_PER_CLIENT, so that reconnecting gains nothing).

All three keep their counts in LIMITS_STORAGE: "memory://" (this process: one machine), or a
redis:// URL, by default the broker's (BROKER_URL) when the server has one, so that the limits
hold across every web node.
"""

from __future__ import annotations

from .queue_limit import MemoryPlaces, QueueLimit, RedisPlaces
from .start_limits import MEMORY, StartRateLimiter, open_storage, parse_rate

# Settings a deployment may give through the environment (see server/__init__.py ENV_SETTINGS).
ENV_SETTINGS = {
    "START_RATE": "PLAYGROUND_START_RATE",
    "START_RATE_PER_ADDRESS": "PLAYGROUND_START_RATE_PER_ADDRESS",
    "SEARCH_RATE_PER_ADDRESS": "PLAYGROUND_SEARCH_RATE_PER_ADDRESS",
    "MAX_QUEUED_PER_ADDRESS": "PLAYGROUND_MAX_QUEUED_PER_ADDRESS",
    "LIMITS_STORAGE": "PLAYGROUND_LIMITS_STORAGE",
}
DEFAULTS = {
    "START_RATE": "10/10",  # per connection: one tab cannot take its whole address's budget
    "START_RATE_PER_ADDRESS": "30/10",  # a classroom behind one NAT still starts together
    # A search trains many networks on every core; restarting it in a loop is what this stops.
    "SEARCH_RATE_PER_ADDRESS": "6/60",
}
_REDIS_SCHEMES = ("redis://", "rediss://", "redis+unix://")


def check_limit_settings(config):
    """Fill in the limits' defaults in `config` (a dict) and check them.

    Raises ValueError naming the setting and its PLAYGROUND_* variable.
    """
    for key, default in DEFAULTS.items():
        if config.get(key) is None:
            config[key] = default
        try:
            parse_rate(config[key])
        except ValueError as exc:
            raise ValueError(f"{key} ({ENV_SETTINGS[key]}): {exc}") from None

    per_address = config.get("MAX_QUEUED_PER_ADDRESS")
    if per_address is None:
        per_address = config.get("MAX_QUEUED_PER_CLIENT", 4)
    try:
        number = int(str(per_address).strip())
    except ValueError:
        number = 0
    if isinstance(per_address, bool) or number < 1:
        raise ValueError(f"MAX_QUEUED_PER_ADDRESS ({ENV_SETTINGS['MAX_QUEUED_PER_ADDRESS']}) must be a"
                         f" whole number >= 1, got {per_address!r}")
    config["MAX_QUEUED_PER_ADDRESS"] = number

    storage = config.get("LIMITS_STORAGE") or config.get("BROKER_URL") or MEMORY
    if not isinstance(storage, str) or not (storage == MEMORY or storage.startswith(_REDIS_SCHEMES)):
        raise ValueError(f"LIMITS_STORAGE ({ENV_SETTINGS['LIMITS_STORAGE']}) must be memory:// or a"
                         f" redis://HOST:PORT/N URL, got {storage!r}")
    config["LIMITS_STORAGE"] = storage


def init_limits(app):
    """The start limiters and the queue limit of `app`, on one storage (see the module docstring).

    The queue limit asks app.extensions["runs"].is_active(run_id) before it takes back a place
    whose release was lost; in cluster mode that must answer for the runs of every node.
    """
    config = app.config
    storage = open_storage(config["LIMITS_STORAGE"])
    app.extensions["start_limiter"] = StartRateLimiter(
        parse_rate(config["START_RATE"]), parse_rate(config["START_RATE_PER_ADDRESS"]), storage, noun="runs")
    app.extensions["search_limiter"] = StartRateLimiter(
        None, parse_rate(config["SEARCH_RATE_PER_ADDRESS"]), storage, noun="searches")
    # The queue's places share the rate windows' Redis connections.
    places = RedisPlaces(storage.storage) if config["LIMITS_STORAGE"] != MEMORY else MemoryPlaces()
    app.extensions["queue_limit"] = QueueLimit(
        config["MAX_QUEUED_PER_ADDRESS"], places,
        still_active=lambda run_id: app.extensions["runs"].is_active(run_id))
