"""Every setting of the server, parsed once into a frozen `Settings`.

A setting comes from, first to last: what the caller gives (`create_app(test_config)`, or the
command line of `python -m server`, which becomes the same mapping), a PLAYGROUND_* environment
variable where the setting has one, then its default. A bad value is a ValueError naming the
setting and its variable (or the command-line flag it came from), in one line.

    Settings.load(given, environ)  -> Settings      settings.to_config() -> app.config entries
    parse_args(argv)               -> argparse.Namespace (exits 2 on a bad flag)
    command_line_settings(args)    -> the mapping the command line gives Settings.load

A flag is one `add_argument` in `parse_args` plus one entry of FLAG_SETTINGS naming the setting it
sets; the setting's own parser checks the value, so a flag and the setting it feeds accept the same.
"""

from __future__ import annotations

import argparse
import math
import os
import secrets
from dataclasses import dataclass, field, fields
from types import MappingProxyType
from typing import Any, Mapping
from urllib.parse import urlsplit

from .fairness import limits_storage
from .security import default_origins, normalize_origin
from .start_limits import parse_rate
from .store import check_database

# Threads that serve requests (server/serving.py); bench/MEASUREMENTS.md has why 768.
DEFAULT_THREADS = 768
MIN_THREADS, MAX_THREADS = 2, 4096
MAX_WORKERS = 64
ON = ("1", "true", "on", "yes")
OFF = ("0", "false", "off", "no")


# -- one parser per kind of value: the value (typed, or text from the environment) -> the setting,
# -- or ValueError saying what is allowed (the caller adds the setting's name)

def _whole_number(value):
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            return None
    return None


def whole(low, high=None):
    def parse(value):
        count = _whole_number(value)
        if count is None or count < low or (high is not None and count > high):
            allowed = f"from {low} to {high}" if high is not None else f">= {low}"
            raise ValueError(f"must be a whole number {allowed}, got {value!r}")
        return count
    return parse


def number(low, unit=""):
    def parse(value):
        try:
            result = float(value) if not isinstance(value, bool) else None
        except (TypeError, ValueError):
            result = None
        if result is None or not low <= result < math.inf:
            raise ValueError(f"must be a number{unit} >= {low:g}, got {value!r}")
        return result
    return parse


def megabytes_or_off(value):
    """A number of megabytes >= 0.1, or "off" (0.0: no cap)."""
    if isinstance(value, str) and value.strip().lower() == "off":
        return 0.0
    try:
        return number(0.1, " of megabytes")(value)
    except ValueError:
        raise ValueError(f"must be a number of megabytes >= 0.1, or off, got {value!r}") from None


def switch(value):
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ON or text in OFF:
        return text in ON
    raise ValueError(f"must be on or off, got {value!r}")


def nonempty(value):
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"must be a non-empty string, got {value!r}")
    return value.strip()


def bind_address(value):
    if not isinstance(value, str):
        raise ValueError(f"must be a host name or address, got {value!r}")
    return value.strip()  # "" is a wildcard bind, like 0.0.0.0


def file_path(value):
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    return nonempty(value)


def database_address(value):
    """An SQLite path or file: URI, or a postgresql:// URL (server/store/backends.py)."""
    return check_database(os.fspath(value) if isinstance(value, os.PathLike) else value)


def broker_address(value):
    """A redis:// URL (server/runs/broker_url.py: checked without loading Redis or Celery)."""
    from .runs.broker_url import check_broker

    return check_broker(value)


def one_of(*choices):
    def parse(value):
        if value not in choices:
            raise ValueError(f"must be {' or '.join(choices)}, got {value!r}")
        return value
    return parse


def origin_list(value):
    """Origins as a browser sends them: comma-separated text, or a list; scheme://host[:port]."""
    parts = value.split(",") if isinstance(value, str) else value
    if not isinstance(parts, (list, tuple)):
        raise ValueError(f"must be origins like http://10.0.0.5:5000 (comma-separated), got {value!r}")
    result = []
    for part in parts:
        if not isinstance(part, str):
            raise ValueError(f"{part!r} is not an origin; write scheme://host:port, e.g. http://10.0.0.5:5000")
        if not part.strip():
            continue
        origin = normalize_origin(part)
        try:
            split = urlsplit(origin)
            split.port  # noqa: B018 - raises on a port that is not a number
        except ValueError:
            split = None
        if split is None or split.scheme not in ("http", "https") or not split.hostname or split.path \
                or split.query or split.fragment:
            raise ValueError(f"{part.strip()!r} is not an origin; write scheme://host:port,"
                             f" e.g. http://10.0.0.5:5000")
        result.append(origin)
    return tuple(result)


def url_paths(value):
    parts = [value] if isinstance(value, str) else value
    if not isinstance(parts, (list, tuple)) or not all(isinstance(p, str) and p.startswith("/") for p in parts):
        raise ValueError(f"must be a list of paths starting with /, got {value!r}")
    return tuple(parts)


def _setting(parse, default=None, *, factory=None, env=None, omit_none=False):
    """A field of Settings. `env`: its PLAYGROUND_* variable. `omit_none`: left out of app.config
    while None, so that the feature that reads it applies its own default."""
    metadata = {"parse": parse, "env": env, "omit_none": omit_none}
    if factory is not None:
        return field(default_factory=factory, metadata=metadata)
    return field(default=default, metadata=metadata)


def _cpus():
    return os.cpu_count() or 1


@dataclass(frozen=True)
class Settings:
    """The server's settings; each field is the app.config entry of its name in capitals."""

    # Flask's own; runs train in threads then (RUN_ISOLATION).
    testing: bool = _setting(switch, False)
    # Random per start: there are no logins, so nothing must survive a restart.
    secret_key: str = _setting(nonempty, factory=lambda: secrets.token_hex(32))

    # -- where it serves, and how (the command line)
    host: str = _setting(bind_address, "127.0.0.1")
    port: int = _setting(whole(0, 65535), 5000)
    # None: playground.sqlite in the app's instance folder.
    database: str | None = _setting(database_address, omit_none=True)
    # Runs trained at once (on this machine; in a cluster the workers decide).
    max_concurrent_runs: int = _setting(whole(1, MAX_WORKERS), factory=_cpus)
    # Cluster mode: Redis, redis://HOST:PORT/N. Runs and search trials go to Celery workers
    # (python -m server.worker) through it, and Socket.IO uses it as its message queue.
    broker_url: str | None = _setting(broker_address, env="PLAYGROUND_BROKER_URL")
    # Threads that serve requests (server/serving.py).
    threads: int = _setting(whole(MIN_THREADS, MAX_THREADS), DEFAULT_THREADS)
    # BLAS threads per matrix product in the serving process; 0 leaves the library's default.
    blas_threads: int = _setting(whole(0, 256), 1)

    # -- a deployment's environment
    # None: the server's own host and port (security.default_origins).
    allowed_origins: tuple[str, ...] | None = _setting(origin_list, env="PLAYGROUND_ALLOWED_ORIGINS")
    # run:start per connection: at most 10 starts in any 10 s (a moving window, server/start_limits.py),
    # so that one tab cannot take its address's whole budget.
    start_rate: tuple[int, float] | None = _setting(parse_rate, (10, 10.0), env="PLAYGROUND_START_RATE")
    # Per remote address: a classroom behind one NAT still starts together.
    start_rate_per_address: tuple[int, float] | None = _setting(parse_rate, (30, 10.0),
                                                                env="PLAYGROUND_START_RATE_PER_ADDRESS")
    # search:start per remote address: a search trains many networks on every core.
    search_rate_per_address: tuple[int, float] | None = _setting(parse_rate, (6, 60.0),
                                                                 env="PLAYGROUND_SEARCH_RATE_PER_ADDRESS")
    # Where the start rates and the queue places are kept: memory:// or redis://HOST:PORT/N
    # (None: the broker's Redis when there is one, else memory; server/fairness.py).
    limits_storage: str | None = _setting(limits_storage, env="PLAYGROUND_LIMITS_STORAGE", omit_none=True)
    # Reverse proxies in front of the app whose X-Forwarded-For is believed.
    trusted_proxies: int = _setting(whole(0), 0, env="PLAYGROUND_TRUSTED_PROXIES")
    # Cap on the run database's size; None: the store's default (2000 MB for an SQLite file, none
    # on PostgreSQL); "off": no cap but the disk's.
    database_max_mb: float | None = _setting(megabytes_or_off, env="PLAYGROUND_DATABASE_MAX_MB")
    # Finished runs older than this many days are deleted, at start and daily (None: kept).
    retention_days: float | None = _setting(number(0.001, " of days"), env="PLAYGROUND_RETENTION_DAYS")
    # The weights one run may store (server/stored_weights.py), checked at run:start.
    run_weights_max_mb: float = _setting(number(0.1, " of megabytes"), 64.0, env="PLAYGROUND_RUN_WEIGHTS_MAX_MB")
    # Off: GET /api/runs refuses to list runs, so that run ids stay secret.
    list_runs: bool = _setting(switch, True, env="PLAYGROUND_LIST_RUNS")
    # Base path (no extension) of the digit model POST /api/predict uses by default.
    default_model: str | None = _setting(file_path, env="PLAYGROUND_DEFAULT_MODEL", omit_none=True)
    # "process": each run trains in a child process (no GIL shared with the requests, a crash
    # ends one run); "thread": in the worker thread, so that tests can patch the trainer.
    # None: thread when testing, else process.
    run_isolation: str | None = _setting(one_of("process", "thread"), env="PLAYGROUND_RUN_ISOLATION")

    # -- limits and priorities
    max_queued_per_client: int = _setting(whole(1, 10_000), 4)
    # The same per remote address, over all its connections (None: as many as one connection may
    # have, so that reconnecting gains nothing; a class behind one NAT address needs more).
    max_queued_per_address: int | None = _setting(whole(1, 10_000), env="PLAYGROUND_MAX_QUEUED_PER_ADDRESS")
    # Largest request body, in bytes.
    max_content_length: int = _setting(whole(1), 2 * 1024 * 1024)
    # Requests served before training: runs pause between batches, at most this long at a
    # time, while one is in flight; 0 turns the priority off.
    priority_paths: tuple[str, ...] = _setting(url_paths, ("/api/predict",))
    priority_max_pause_s: float = _setting(number(0, " of seconds"), 0.25)
    # Of those, at most this many at once; the others wait up to PREDICT_WAIT_S, then 503.
    predict_max_in_flight: int = _setting(whole(1), factory=lambda: max(2, 2 * _cpus()))
    predict_wait_s: float = _setting(number(0, " of seconds"), 5.0)
    # How much lower training's CPU priority is than the requests' (nice; 0 = same).
    training_nice: int = _setting(whole(0, 19), 10)
    # Trials of a lab search at once (None: the labs' default, the CPU count).
    lab_search_workers: int | None = _setting(whole(1, MAX_WORKERS), omit_none=True)
    # Trained networks kept loaded for predictions (None: the predict module's default).
    predict_cache_size: int | None = _setting(whole(1, 1000), omit_none=True)

    # Entries of test_config that are not settings (Flask's own, a test's): passed to app.config as given.
    extra: Mapping[str, Any] = field(default_factory=dict, metadata={"parse": None})

    def __post_init__(self):
        # Settings that follow from others (frozen: set once, here).
        if self.allowed_origins is None:
            object.__setattr__(self, "allowed_origins", tuple(default_origins(self.host, self.port)))
        if self.max_queued_per_address is None:
            object.__setattr__(self, "max_queued_per_address", self.max_queued_per_client)
        if self.run_isolation is None:
            object.__setattr__(self, "run_isolation", "thread" if self.testing else "process")
        object.__setattr__(self, "extra", MappingProxyType(dict(self.extra)))

    @classmethod
    def load(cls, given=None, environ=None):
        """Settings from `given` (a mapping of SETTING: value; None means not given), then the
        environment, then the defaults. Raises ValueError naming the setting that is wrong."""
        given = dict(given or {})
        environ = os.environ if environ is None else environ
        values = {}
        for setting in settings_fields():
            key, env = setting.name.upper(), setting.metadata["env"]
            value = given.pop(key, None)
            if value is None and env and environ.get(env, "").strip():
                value = environ[env].strip()
            if value is not None:
                values[setting.name] = _parsed(setting, value, label(setting))
        return cls(**values, extra=given)

    def to_config(self):
        """The app.config entries: SETTING_NAME -> value, then the extra entries."""
        config = {}
        for setting in settings_fields():
            value = getattr(self, setting.name)
            if value is None and setting.metadata["omit_none"]:
                continue
            config[setting.name.upper()] = list(value) if setting.name == "allowed_origins" else value
        config.update(self.extra)
        return config


def settings_fields():
    return [f for f in fields(Settings) if f.metadata.get("parse") is not None]


def label(setting):
    """How an error names a setting: its config key, and its environment variable if it has one."""
    env = setting.metadata["env"]
    return f"{setting.name.upper()} ({env})" if env else setting.name.upper()


def _parsed(setting, value, name):
    try:
        return setting.metadata["parse"](value)
    except ValueError as exc:
        raise ValueError(f"{name}: {exc}") from None


# -- the command line ----------------------------------------------------------------------------

# argparse dest -> the setting it gives (a flag left out is not given: the setting's default holds).
FLAG_SETTINGS = {
    "host": "host",
    "port": "port",
    "db": "database",
    "workers": "max_concurrent_runs",  # with --broker: worker processes to start (main)
    "broker": "broker_url",
    "threads": "threads",
    "blas_threads": "blas_threads",
}


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # argparse would print the usage block too
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


def parse_args(argv=None):
    """`python -m server`'s arguments; a bad one exits with status 2 and one line naming the flag."""
    parser = _Parser(prog="python -m server", description="Serve the neural-network playground.")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to bind (default 127.0.0.1: this machine only)")
    parser.add_argument("--port", type=int, default=5000)
    parser.add_argument("--db", metavar="PATH|URL",
                        help="where runs are stored: an SQLite file (default: instance/playground.sqlite)"
                             " or a PostgreSQL server, postgresql://USER@HOST:PORT/DB")
    parser.add_argument("--workers", type=int,
                        help="runs trained at the same time (default: number of CPUs); with --broker,"
                             " training workers started beside this web node (default 0)")
    parser.add_argument("--broker", metavar="URL",
                        help="cluster mode: Redis, redis://HOST:PORT/N, which feeds the training workers"
                             " (python -m server.worker) and carries Socket.IO between web nodes")
    parser.add_argument("--blas-threads", type=int, default=1,
                        help="threads of each matrix product in this process (default 1: runs and"
                             " requests are the parallelism; 0 leaves the BLAS library's default)")
    parser.add_argument("--threads", type=int, default=DEFAULT_THREADS,
                        help="threads that serve requests (default %(default)s); each open page's"
                             " live connection holds one, and a few are kept for pages and the API")
    args = parser.parse_args(argv)
    by_name = {f.name: f for f in settings_fields()}
    for dest, name in _flag_settings(args).items():
        value = getattr(args, dest)
        if value is not None:
            flag = "--" + dest.replace("_", "-")
            try:
                setattr(args, dest, _parsed(by_name[name], value, flag))
            except ValueError as exc:
                parser.error(str(exc))
    if args.broker is not None and args.workers is not None:
        try:
            args.workers = whole(0, MAX_WORKERS)(args.workers)
        except ValueError as exc:
            parser.error(f"--workers: {exc}")
    if args.db and "://" not in args.db and not args.db.startswith("file:"):
        # Only on the command line: an app given a missing folder creates it (tests, scripts).
        folder = os.path.dirname(os.path.abspath(args.db))
        if os.path.isdir(args.db):
            parser.error(f"--db {args.db} is a directory; give the path of a file")
        if not os.path.isdir(folder):
            parser.error(f"--db: the folder {folder} does not exist")
    return args


def _flag_settings(args):
    """FLAG_SETTINGS for these arguments: with --broker, --workers counts the worker processes to
    start (0 to 64, checked here) and sets no setting of the web node."""
    if args.broker is None:
        return FLAG_SETTINGS
    return {dest: name for dest, name in FLAG_SETTINGS.items() if dest != "workers"}


def command_line_settings(args):
    """The settings the parsed command line gives, as a mapping for Settings.load / create_app."""
    given = {}
    for dest, name in _flag_settings(args).items():
        value = getattr(args, dest)
        if value is not None:
            given[name.upper()] = value
    return given
