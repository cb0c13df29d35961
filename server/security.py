"""Host and Origin checks for a server that only ever means to be reached locally.

DNS rebinding: a page on evil.com can re-point evil.com at 127.0.0.1 and then
talk to this server as same-origin. The browser still sends `Host: evil.com`,
so refusing unknown Host headers defeats it. WebSockets are not bound by the
same-origin policy at all, so Socket.IO requests must also carry an allowed
Origin, and so must any request that changes state (a cross-site form POST
sends its Origin).

This is WSGI middleware around the whole app rather than a before_request hook
because Flask-SocketIO answers /socket.io/ in its own middleware, before Flask
routing ever runs.

Also here: StartRateLimiter, the token buckets that bound how often run:start
may succeed per connection and per remote address. See docs/security.md.
"""

import json
import math
import threading
import time
from urllib.parse import urlsplit

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
_SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


def default_origins(host, port):
    """The origins a browser shows for a server bound to host:port."""
    hosts = ["127.0.0.1", "localhost"]
    # A specific non-loopback address (a LAN IP) is also how people reach it;
    # a wildcard bind is not an address a browser can show.
    if host and host not in LOOPBACK_HOSTS and host not in ("0.0.0.0", "::", ""):
        hosts.append(host)
    return [f"http://{bracket(h)}:{port}" for h in hosts] + [f"http://[::1]:{port}"]


def normalize_origin(origin):
    return origin.strip().rstrip("/").lower()


def allowed_hostnames(origins):
    """Host names (no port) that may appear in a Host header."""
    names = set(LOOPBACK_HOSTS)
    for origin in origins:
        hostname = urlsplit(origin).hostname
        if hostname:
            names.add(hostname.lower())
    return names


def host_name(host_header):
    """'localhost:5000' -> 'localhost'; '[::1]:5000' -> '::1'; None if malformed."""
    try:
        hostname = urlsplit("//" + host_header).hostname
    except ValueError:
        return None
    return hostname.lower() if hostname else None


def bracket(host):
    """A host as it goes into a URL: an IPv6 address in brackets."""
    return f"[{host}]" if ":" in host else host


class HostOriginGuard:
    """WSGI middleware: 400 for a foreign Host, 403 for a foreign Origin where it matters.

    The port of the Host header is not checked: rebinding needs a foreign host
    *name*, and tests (Flask's test client sends `Host: localhost`) or a proxy
    may present another port.
    """

    def __init__(self, wsgi_app, allowed_origins, socketio_path="socket.io"):
        self.wsgi_app = wsgi_app
        self.allowed_origins = {normalize_origin(o) for o in allowed_origins}
        self.allowed_hosts = allowed_hostnames(self.allowed_origins)
        self.socketio_prefix = "/" + socketio_path.strip("/")

    def __call__(self, environ, start_response):
        host = environ.get("HTTP_HOST") or environ.get("SERVER_NAME", "")
        if host_name(host) not in self.allowed_hosts:
            return self._refuse(start_response, "400 Bad Request",
                                f"host {host!r} is not served here")
        origin = environ.get("HTTP_ORIGIN")
        if origin is not None and self._origin_matters(environ):
            if normalize_origin(origin) not in self.allowed_origins:
                return self._refuse(
                    start_response, "403 Forbidden",
                    f"origin {origin!r} is not allowed; set PLAYGROUND_ALLOWED_ORIGINS to allow it",
                )
        return self.wsgi_app(environ, start_response)

    def _origin_matters(self, environ):
        path = environ.get("PATH_INFO", "")
        if path == self.socketio_prefix or path.startswith(self.socketio_prefix + "/"):
            return True
        return environ.get("REQUEST_METHOD", "GET").upper() not in _SAFE_METHODS

    @staticmethod
    def _refuse(start_response, status, message):
        body = json.dumps({"error": message}).encode()
        start_response(status, [("Content-Type", "application/json"),
                                ("Content-Length", str(len(body)))])
        return [body]


# -- rate of run:start ------------------------------------------------------------

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


class _Buckets:
    """Token buckets by key: `count` tokens, refilled at count/seconds per second."""

    def __init__(self, count, seconds, max_keys):
        self.count = count
        self.seconds = seconds
        self.refill = count / seconds
        self.max_keys = max_keys
        self._state = {}  # key -> (tokens, time of that count)

    def tokens(self, key, now):
        tokens, then = self._state.get(key, (self.count, now))
        return min(self.count, tokens + (now - then) * self.refill)

    def wait(self, key, now):
        """Seconds until one token is there (0 if it is there now)."""
        missing = 1.0 - self.tokens(key, now)
        return 0.0 if missing <= 0 else missing / self.refill

    def take(self, key, now):
        self._state[key] = (self.tokens(key, now) - 1.0, now)
        if len(self._state) > self.max_keys:
            self._prune(now)

    def forget(self, key):
        self._state.pop(key, None)

    def _prune(self, now):
        # A full bucket holds no memory worth keeping.
        for key in [k for k in self._state if self.tokens(k, now) >= self.count]:
            del self._state[key]
        while len(self._state) > self.max_keys:  # still too many: drop the oldest
            del self._state[min(self._state, key=lambda k: self._state[k][1])]


class StartRateLimiter:
    """How often run:start may succeed, per connection (sid) and per remote address.

    Both limits are token buckets: a burst of up to COUNT starts, then one more every
    SECONDS/COUNT. A start is charged to both buckets or to neither, so a refusal
    never costs the client anything. `clock` is injectable for tests.
    """

    def __init__(self, per_client=(10, 10.0), per_address=(30, 10.0), clock=time.monotonic,
                 max_keys=10_000):
        self.clock = clock
        self._lock = threading.Lock()
        self._client = _Buckets(*per_client, max_keys) if per_client else None
        self._address = _Buckets(*per_address, max_keys) if per_address else None

    def acquire(self, sid, address):
        """None if the start may go ahead (and it is charged); else the refusal message."""
        with self._lock:
            now = self.clock()
            for buckets, key, who in ((self._client, sid, "this connection"),
                                      (self._address, address, f"address {address}")):
                if buckets is None or key is None:
                    continue
                wait = buckets.wait(key, now)
                if wait > 0:
                    return (f"too many runs started: at most {buckets.count} every"
                            f" {buckets.seconds:g} s from {who}; try again in {math.ceil(wait)} s")
            for buckets, key in ((self._client, sid), (self._address, address)):
                if buckets is not None and key is not None:
                    buckets.take(key, now)
        return None

    def forget_client(self, sid):
        if self._client is not None:
            with self._lock:
                self._client.forget(sid)


# -- the app's wiring ---------------------------------------------------------------------------

def init_app(app):
    """The run:start limiter (app.extensions["start_limiter"]), and the guard around the whole app.

    Call last: the guard must wrap every other middleware, Flask-SocketIO's included, so that
    /socket.io/ is guarded as well.
    """
    app.extensions["start_limiter"] = StartRateLimiter(app.config["START_RATE"],
                                                       app.config["START_RATE_PER_ADDRESS"])
    app.wsgi_app = HostOriginGuard(app.wsgi_app, app.config["ALLOWED_ORIGINS"])
    proxies = app.config["TRUSTED_PROXIES"]
    if proxies > 0:
        # Outermost, so that the guard and the rate limits see the client's address, not the proxy's.
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)
