"""Real Redis, PostgreSQL and nginx servers for the tests, each on a free loopback port.

Debian's `redis-server`, `postgresql` and `nginx` (installed by `.ci/run`) are started as child
processes in a temporary folder and stopped at the end; nothing is faked. PostgreSQL refuses to
run as root, so as root it runs as the `postgres` user.

Each starter is a context manager that yields the server's address and raises `Unavailable`
(the tests skip with its reason, or fail under CI) when the program is not installed.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

POSTGRES_BIN = "/usr/lib/postgresql/15/bin"


class Unavailable(RuntimeError):
    """A server program is not installed on this machine."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, timeout: float = 20.0, process: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the server exited with code {process.returncode} before listening on {port}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


def _program(path: str) -> str:
    found = shutil.which(path) or (path if os.access(path, os.X_OK) else None)
    if found is None:
        raise Unavailable(f"{os.path.basename(path)} is not installed (apt-get install it; .ci/run does)")
    return found


def _stop(process: subprocess.Popen, sig=signal.SIGTERM, timeout: float = 10.0) -> None:
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


class RedisServer:
    """A Redis server on a loopback port that tests can stop and start again (the same port, and
    empty again: nothing is persisted): `url`, `stop()`, `start()`."""

    def __init__(self, folder: str):
        self.folder = folder
        self.port = free_port()
        self.program = _program("redis-server")
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [self.program, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", self.folder, "--daemonize", "no", "--loglevel", "warning"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_port(self.port, process=self.process)

    def stop(self) -> None:
        if self.process is not None:
            _stop(self.process)
            self.process = None


@contextlib.contextmanager
def redis_instance():
    """Yields a started RedisServer; stops it at the end."""
    with tempfile.TemporaryDirectory(prefix="test-redis-") as folder:
        server = RedisServer(folder)
        server.start()
        try:
            yield server
        finally:
            server.stop()


@contextlib.contextmanager
def redis_server():
    """Yields ``redis://127.0.0.1:PORT/0``; no persistence, so nothing is written to disk."""
    with redis_instance() as server:
        yield server.url


def _as_postgres() -> dict:
    """PostgreSQL refuses to run as root: as root, its programs run as the `postgres` user.

    Through Popen's user/group (not a `runuser` wrapper), so that the process we signal is the
    server itself: SIGINT reaches it, and nothing is left running when the test ends.
    """
    if os.geteuid() == 0:
        return {"user": "postgres", "group": "postgres", "extra_groups": []}
    return {}


class PostgresServer:
    """A PostgreSQL server of its own data folder on a loopback port, which tests can stop and start
    again (the same port and data): `url`, `admin_url(database)`, `stop()`, `start()`."""

    def __init__(self, folder: str, database: str):
        self.folder = folder
        self.data = os.path.join(folder, "data")
        self.database = database
        self.port = free_port()
        self.process: subprocess.Popen | None = None
        self.postgres = _program(os.path.join(POSTGRES_BIN, "postgres"))

    @property
    def url(self) -> str:
        return self.admin_url(self.database)

    def admin_url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def init(self) -> None:
        initdb = _program(os.path.join(POSTGRES_BIN, "initdb"))
        subprocess.run([initdb, "-D", self.data, "-U", "postgres", "--auth=trust", "-E", "UTF8",
                        "--no-sync", "--no-instructions"],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=self.folder,
                       **_as_postgres())

    def start(self) -> None:
        # fsync off: the tests' data need not survive a power cut, and commits are then fast.
        self.process = subprocess.Popen(
            [self.postgres, "-D", self.data, "-p", str(self.port), "-h", "127.0.0.1", "-k", self.folder,
             "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
             "-c", "max_connections=200"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=self.folder, **_as_postgres())
        wait_for_port(self.port, process=self.process)
        _wait_accepting(self.port, self.folder)

    def stop(self) -> None:
        """SIGINT is PostgreSQL's "fast shutdown": clients are disconnected, nothing waits."""
        if self.process is not None:
            _stop(self.process, signal.SIGINT)
            self.process = None

    def createdb(self, database: str) -> None:
        subprocess.run([os.path.join(POSTGRES_BIN, "createdb"), "-h", "127.0.0.1", "-p", str(self.port),
                        "-U", "postgres", database],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=self.folder)


@contextlib.contextmanager
def postgres_instance(database: str = "playground"):
    """Yields a started PostgresServer with an empty `database`; stops it and removes its data after."""
    folder = tempfile.mkdtemp(prefix="test-postgres-")
    try:
        if os.geteuid() == 0:
            shutil.chown(folder, "postgres", "postgres")
        server = PostgresServer(folder, database)
        server.init()
        server.start()
        try:
            server.createdb(database)
            yield server
        finally:
            server.stop()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@contextlib.contextmanager
def postgres_server(database: str = "playground"):
    """Yields ``postgresql://postgres@127.0.0.1:PORT/DATABASE`` (trust authentication on loopback)."""
    with postgres_instance(database) as server:
        yield server.url


def _wait_accepting(port: int, folder: str, timeout: float = 20.0) -> None:
    """The port opens before recovery ends; pg_isready says when connections are accepted."""
    ready = os.path.join(POSTGRES_BIN, "pg_isready")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if subprocess.run([ready, "-h", "127.0.0.1", "-p", str(port), "-q"], cwd=folder).returncode == 0:
            return
        time.sleep(0.1)
    raise TimeoutError(f"PostgreSQL on port {port} does not accept connections after {timeout} s")


@contextlib.contextmanager
def nginx_server(config_text: str, port: int):
    """Run nginx in the foreground with ``config_text`` (a whole nginx.conf) that listens on ``port``.

    The config may use ``{prefix}`` for the temporary folder nginx runs in (logs, pid, temp files).
    """
    program = _program("nginx")
    with tempfile.TemporaryDirectory(prefix="test-nginx-") as prefix:
        for sub in ("logs", "temp"):
            os.makedirs(os.path.join(prefix, sub))
        if os.geteuid() == 0:
            # worker processes run as nobody and must write their temp files (request buffering)
            shutil.chown(os.path.join(prefix, "temp"), "nobody")
        path = os.path.join(prefix, "nginx.conf")
        with open(path, "w") as conf:
            conf.write(config_text.replace("{prefix}", prefix))
        process = subprocess.Popen([program, "-p", prefix, "-c", path, "-g", "daemon off;"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            wait_for_port(port, process=process)
            yield f"http://127.0.0.1:{port}"
        finally:
            _stop(process, signal.SIGQUIT)
