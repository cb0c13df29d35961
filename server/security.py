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

The start rates and the queue limit per address are in server/fairness.py (see
docs/security.md).
"""

import json
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


# -- the app's wiring ---------------------------------------------------------------------------

def init_app(app):
    """The guard around the whole app.

    Call last: the guard must wrap every other middleware, Flask-SocketIO's included, so that
    /socket.io/ is guarded as well.
    """
    app.wsgi_app = HostOriginGuard(app.wsgi_app, app.config["ALLOWED_ORIGINS"])
    proxies = app.config["TRUSTED_PROXIES"]
    if proxies > 0:
        # Outermost, so that the guard and the rate limits see the client's address, not the proxy's.
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)
