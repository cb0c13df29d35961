"""The production server behind `python -m server`: Gunicorn, one gthread worker process.

Why gthread, not gevent: Flask-SocketIO runs in threading mode (server/sockets.py) and the run
manager (server/runs/) waits on its training processes in blocking calls. Under gevent its pipe
read (os.read, which gevent does not patch) stops the whole hub until the next epoch arrives, and so
do its SQLite commits and every CPU-bound request (predictions, the labs), so predictions waited
seconds under load; even with the pipe wait made cooperative, gevent would need the run manager's
waits, writes and emits reworked (bench/MEASUREMENTS.md has the figures).

What bounds what, in this worker:
- `threads` is the pool that serves requests. A websocket holds one pool thread for its whole
  life (and a long poll up to Socket.IO's ping interval), so at most `threads - reserved` of those
  are served at once (SocketSlots): past that a new one is refused with 503 at once, and the
  reserved threads keep answering pages, the API and predictions.
- A new connection that sends nothing waits 5 s in a thread, then in the worker's poller for up to
  `keepalive` seconds; an idle kept-alive connection waits in the poller for `keepalive` seconds.
  Neither holds a thread.
- Once a request has started, gthread reads its headers and body with a blocking socket and no
  timeout; ReadTimeout puts one back (READ_TIMEOUT_S per read), so a client that stalls loses its
  thread. One that trickles a byte at a time is bounded only by the pool (a reverse proxy that
  buffers requests, as in cluster mode, is the answer for that).
- Gunicorn's `timeout` is the worker's heartbeat (the master restarts a worker whose main loop
  has not checked in for that long), not a request timeout.

The Flask app is created in the worker process, after the fork (load()): the run manager's
threads, its forkserver and its SQLite connections belong to the process that serves. The master
only supervises: it restarts a worker that dies, and on SIGTERM or Ctrl-C asks it to stop, which
stops the runs first (stored as 'stopped'), then closes the sockets (PlaygroundWorker).
"""

import logging
import resource
import socket
import threading

from gunicorn.app.base import BaseApplication
from gunicorn.workers.gthread import TConn, ThreadWorker

from .settings import DEFAULT_THREADS, MAX_THREADS, MIN_THREADS

log = logging.getLogger(__name__)

# Threads kept for short requests (pages, static files, the API, predictions): predictions are
# capped at a few at once anyway (PREDICT_MAX_IN_FLIGHT), the rest take milliseconds.
MAX_RESERVED_THREADS = 32
# Per blocking read or write of a request (not of a websocket): long enough for a slow phone
# upload of the 2 MB a request may carry, short enough that a stalled client gives its thread back.
READ_TIMEOUT_S = 20.0
KEEPALIVE_S = 5
# One class reconnecting at once (a restart with every page open) fits; a flood past that is
# dropped by the kernel instead of being queued for minutes.
BACKLOG = 1024
# After SIGTERM, the worker's runs stop within a batch and its sockets close; then the master
# waits this long for the requests still in flight before it kills the worker.
GRACEFUL_TIMEOUT_S = 10
HEARTBEAT_TIMEOUT_S = 30
# The longest URL is a comparison of many stored runs (/?compare=ID,ID,...: 17 characters a run);
# 8190 is Gunicorn's maximum. Browsers send 10 to 20 headers; a proxy adds a few.
LIMIT_REQUEST_LINE = 8190
LIMIT_REQUEST_FIELDS = 64
LIMIT_REQUEST_FIELD_SIZE = 8190


def reserved_threads(threads):
    """Threads of `threads` that websockets and long polls may never take (at least one)."""
    return max(1, min(MAX_RESERVED_THREADS, threads // 4))


def listen(host, port, backlog=BACKLOG):
    """A listening TCP socket on host:port (port 0: any free port).

    Bound here rather than by Gunicorn, whose binding retries five times, a second apart, and
    logs each try: a port in use must be one clear line at once. Raises OSError.
    """
    infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(backlog)
    except OSError:
        sock.close()
        raise
    return sock


def raise_open_files_limit(wanted):
    """Raise this process's soft limit on open files towards `wanted` (each connection is one),
    up to the hard limit; returns the soft limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError) as exc:
            log.warning("could not raise the open-files limit to %d: %s", target, exc)
    return soft


class UncompressedWebsockets:
    """WSGI middleware: websockets without permessage-deflate.

    simple-websocket accepts the compression every browser offers. An epoch event is a few hundred
    bytes of JSON, so compressing it saves little on a LAN, while compressing it once per watcher
    costs a large share of what the server can relay, and zlib state per connection
    (bench/MEASUREMENTS.md).
    """

    def __init__(self, wsgi_app):
        self.wsgi_app = wsgi_app

    def __call__(self, environ, start_response):
        environ.pop("HTTP_SEC_WEBSOCKET_EXTENSIONS", None)
        return self.wsgi_app(environ, start_response)


class SocketSlots:
    """WSGI middleware: at most `slots` Socket.IO requests that hold a thread (websockets for
    their whole life, long polls for up to the ping interval) at once; past that, 503 at once.

    A websocket gets back a socket timeout that lets Socket.IO's pings through (the request's
    READ_TIMEOUT_S would close an idle websocket between two pings).
    """

    def __init__(self, wsgi_app, slots, websocket_timeout, socketio_path="socket.io"):
        self.wsgi_app = wsgi_app
        self.slots = slots
        self.websocket_timeout = websocket_timeout
        self.prefix = f"/{socketio_path.strip('/')}/"
        self._free = threading.BoundedSemaphore(slots)

    def __call__(self, environ, start_response):
        if environ.get("REQUEST_METHOD") != "GET" or not environ.get("PATH_INFO", "").startswith(self.prefix):
            return self.wsgi_app(environ, start_response)  # POSTs of the polling transport are short
        if not self._free.acquire(blocking=False):
            return self._refuse(start_response)
        try:
            if environ.get("HTTP_UPGRADE", "").lower() == "websocket":
                sock = environ.get("gunicorn.socket")
                if sock is not None:
                    sock.settimeout(self.websocket_timeout)
            # The websocket's whole life happens inside this call.
            return self.wsgi_app(environ, start_response)
        finally:
            self._free.release()

    def _refuse(self, start_response):
        body = (f'{{"error": "the server holds {self.slots} live connections, its limit;'
                f' try again in a moment"}}').encode()
        start_response("503 Service Unavailable", [
            ("Content-Type", "application/json"), ("Content-Length", str(len(body))),
            ("Retry-After", "5")])
        return [body]


class ReadTimeout(TConn):
    """A gthread connection whose blocking reads and writes time out after READ_TIMEOUT_S.

    gthread makes the socket blocking with no timeout before each request it reads, then calls
    init(); the timeout is set right after, on every request of the connection.
    """

    read_timeout = READ_TIMEOUT_S

    def init(self):
        super().init()
        self.sock.settimeout(self.read_timeout)


class _StalledClients(logging.Filter):
    """Drops gthread's traceback for a request whose read or write timed out (ReadTimeout): a
    client that stalled is not an error of the server's, and a slow-client flood would fill the log."""

    def filter(self, record):
        exc = record.exc_info[1] if record.exc_info else None
        return not (isinstance(exc, TimeoutError) and record.msg == "Socket error processing request.")


class PlaygroundWorker(ThreadWorker):
    """gthread, plus: request reads time out (ReadTimeout), and a stop (SIGTERM, SIGINT, SIGQUIT)
    first stops the runs and closes the Socket.IO connections, so that the worker does not wait
    its whole graceful timeout for websockets that would never end by themselves."""

    def init_process(self):
        self._stopping = threading.Event()
        self._quitting = False
        self.log.error_log.addFilter(_StalledClients())
        # Started before any signal can arrive: starting a thread inside a signal handler can
        # deadlock on the interpreter's thread-list lock if the main thread holds it.
        threading.Thread(target=self._close_app_when_stopping, name="stop-runs", daemon=True).start()
        super().init_process()

    def _close_app_when_stopping(self):
        self._stopping.wait()
        self.app.close_app()

    def enqueue_req(self, conn):
        if type(conn) is TConn:
            conn.__class__ = ReadTimeout
            conn.read_timeout = self.app.read_timeout
        super().enqueue_req(conn)

    def is_parent_alive(self):
        # The master is gone (killed): stop as on SIGTERM rather than serve unsupervised.
        alive = super().is_parent_alive()
        if not alive:
            self._stopping.set()
        return alive

    def handle_exit(self, sig, frame):  # SIGTERM: graceful
        super().handle_exit(sig, frame)
        self._stopping.set()

    def handle_quit(self, sig, frame):  # SIGINT, SIGQUIT: quick
        # Ctrl-C reaches the worker and the master, which then sends SIGQUIT too: the second
        # signal must not interrupt the first one's shutdown (worker_exit, below).
        if self._quitting:
            return
        self._quitting = True
        self._stopping.set()
        super().handle_quit(sig, frame)


def _worker_exit(arbiter, worker):
    """Gunicorn's worker_exit hook, in the worker: whatever way it ends, its runs end stored."""
    worker.app.close_app()


class PlaygroundServer(BaseApplication):
    """Gunicorn's application API: the settings below, and the app built by `build_app()` in the
    worker process (after the fork)."""

    def __init__(self, build_app, listener, threads=DEFAULT_THREADS, read_timeout=READ_TIMEOUT_S):
        if not MIN_THREADS <= threads <= MAX_THREADS:
            raise ValueError(f"threads must be from {MIN_THREADS} to {MAX_THREADS}, got {threads}")
        self.build_app = build_app
        self.threads = threads
        self.read_timeout = read_timeout
        # Gunicorn takes the socket over (and closes our descriptor); fd:// keeps its options.
        self.listener_fd = listener.detach()
        self.flask_app = None
        self._close_lock = threading.Lock()
        self._closed = False
        super().__init__()

    def load_config(self):
        settings = {
            "bind": [f"fd://{self.listener_fd}"],
            "workers": 1,
            "worker_class": PlaygroundWorker,
            "threads": self.threads,
            # Kept-alive and waiting connections beyond the threads: a page's static files
            # arrive over a browser's six connections, most of them idle in between.
            "worker_connections": self.threads + 1000,
            "keepalive": KEEPALIVE_S,
            "timeout": HEARTBEAT_TIMEOUT_S,
            "graceful_timeout": GRACEFUL_TIMEOUT_S,
            "backlog": BACKLOG,
            "limit_request_line": LIMIT_REQUEST_LINE,
            "limit_request_fields": LIMIT_REQUEST_FIELDS,
            "limit_request_field_size": LIMIT_REQUEST_FIELD_SIZE,
            "worker_exit": _worker_exit,
            # X-Forwarded-* is the app's business (TRUSTED_PROXIES, ProxyFix): believe none here.
            "forwarded_allow_ips": "",
            # No control socket (~/.gunicorn/gunicorn.ctl, shared by every server of the user).
            "control_socket_disable": True,
            # Warnings and errors only: the banner says where the server is; no access log.
            "loglevel": "warning",
            "accesslog": None,
            "proc_name": "playground",
        }
        for key, value in settings.items():
            self.cfg.set(key, value)

    def load(self):
        """Called once in the worker process, before it serves."""
        app = self.build_app()
        self.flask_app = app
        slots = self.threads - reserved_threads(self.threads)
        eio = app.extensions["socketio"].server.eio
        return UncompressedWebsockets(
            SocketSlots(app, slots, websocket_timeout=eio.ping_interval + eio.ping_timeout))

    def close_app(self):
        """Stop the runs (queued and running ones end as 'stopped'), then close every Socket.IO
        connection. Safe to call twice and from two threads: the second call waits for the first."""
        with self._close_lock:
            if self._closed or self.flask_app is None:
                return
            self._closed = True
            app = self.flask_app
            app.extensions["runs"].shutdown(wait=True)
            eio = app.extensions["socketio"].server.eio
            # Without waiting: engine.io's own disconnect() waits for each socket's queue to
            # drain, forever if that socket's writer has already stopped.
            for client in list(eio.sockets.values()):
                client.close(wait=False, reason=eio.reason.SERVER_DISCONNECT)


def serve(build_app, listener, threads=DEFAULT_THREADS, read_timeout=READ_TIMEOUT_S):
    """Serve until SIGTERM or Ctrl-C. Returns the exit status: 0 after a clean stop, 1 if the
    worker could not start (Gunicorn has logged why)."""
    raise_open_files_limit(threads + 1000 + 256)
    server = PlaygroundServer(build_app, listener, threads, read_timeout)
    try:
        server.run()
    except SystemExit as done:  # Gunicorn's master ends with sys.exit
        return 0 if done.code in (0, None) else 1
    return 0
