"""A cluster on loopback for the tests: web nodes (`python -m server --broker`) and training
workers (`python -m server.worker`) as real processes, nginx in front, clients that come from an
address of their choosing.

nginx's ip_hash keeps a client on one web node by its address, which for IPv4 is the first three
octets: every client from 127.0.0.1 lands on the same node. The whole of 127.0.0.0/8 is loopback on
Linux, so a client bound to 127.0.N.1 is, for nginx, one more network: `client_addresses` finds
addresses that land on each node (by the node nginx logged for them).
"""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time

from tests.support.nginx import nginx_config
from tests.support.paths import ROOT
from tests.support.server_process import Listener
from tests.support.services import free_port


def cluster_nginx_config(web_nodes, port, access_log):
    """deploy/nginx.conf for these nodes, logging to `access_log` which node served each request
    (for client_addresses)."""
    config = nginx_config(web_nodes, port)
    default_log = "access_log {prefix}/logs/access.log;"
    if default_log not in config:
        raise AssertionError("deploy/nginx.conf no longer logs to {prefix}/logs/access.log")
    return config.replace(default_log, "log_format upstreams '$remote_addr $upstream_addr $status \"$request\"';\n"
                                       f"    access_log {access_log} upstreams;")


class Process:
    """A child process of the tests, its output in a log file of its own."""

    def __init__(self, command, folder, name, env=None):
        self.name = name
        self.log_path = os.path.join(folder, f"{name}.log")
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(command, cwd=ROOT, env={**os.environ, **(env or {})},
                                     stdout=self._log, stderr=subprocess.STDOUT)

    @property
    def pid(self):
        return self.proc.pid

    def log(self):
        self._log.flush()
        with open(self.log_path, errors="replace") as log:
            return log.read()[-3000:]

    def kill(self):
        """SIGKILL, as the OOM killer or a pulled plug would."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self, timeout=20):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._log.close()


class WebNode(Process):
    """`public_origin`: the origin of the proxy in front (None: clients connect to the node itself)."""

    def __init__(self, folder, name, broker, database, public_origin, args=()):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        super().__init__([sys.executable, "-m", "server", "--port", str(self.port), "--broker", broker,
                          "--db", database, *args], folder, name,
                         env={"PLAYGROUND_ALLOWED_ORIGINS": public_origin or self.url,
                              "PLAYGROUND_TRUSTED_PROXIES": "1" if public_origin else "0"})

    def wait_ready(self, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"web node {self.name} exited ({self.proc.returncode}):\n{self.log()}")
            try:
                if get("127.0.0.1", self.port, "/api/schema", timeout=1)[0] == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"web node {self.name} did not answer within {timeout} s:\n{self.log()}")


class Worker(Process):
    def __init__(self, folder, name, broker, database):
        super().__init__([sys.executable, "-m", "server.worker", "--broker", broker, "--db", database,
                          "--loglevel", "info"], folder, name)

    def wait_ready(self, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker {self.name} exited ({self.proc.returncode}):\n{self.log()}")
            if " ready." in self.log():
                return self
            time.sleep(0.1)
        raise RuntimeError(f"worker {self.name} was not ready within {timeout} s:\n{self.log()}")


def get(host, port, path, source=None, timeout=10):
    """(status, parsed JSON or text) of GET path, from the address `source` if given."""
    conn = http.client.HTTPConnection(host, port, timeout=timeout,
                                      source_address=(source, 0) if source else None)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        body = response.read().decode(errors="replace")
    finally:
        conn.close()
    if response.getheader("Content-Type", "").startswith("application/json"):
        return response.status, json.loads(body)
    return response.status, body


def client_addresses(nginx_port, nginx_log, nodes, tries=64):
    """{node port: a client address nginx sends to that node}, one address for each node."""
    found = {}
    for n in range(1, tries + 1):
        source = f"127.0.{n}.1"
        get("127.0.0.1", nginx_port, "/api/schema", source=source)
        with open(nginx_log) as log:
            lines = [line.split() for line in log if line.startswith(source + " ")]
        upstream = lines[-1][1] if lines else ""
        port = int(upstream.rsplit(":", 1)[-1]) if re.search(r":\d+$", upstream) else None
        if port in nodes and port not in found:
            found[port] = source
        if len(found) == len(nodes):
            return found
    raise AssertionError(f"nginx sent {tries} client networks to {sorted(found)} only, of {sorted(nodes)}")


class ClusterClient(Listener):
    """A Socket.IO client of nginx, connecting from `source` (websocket only, as a browser ends up)."""

    def __init__(self, nginx_port, source):
        self.source = source
        self.nginx_port = nginx_port
        sock = socket.create_connection(("127.0.0.1", nginx_port), timeout=5, source_address=(source, 0))
        # websocket-client takes an open socket: ours, bound to the client's address.
        super().__init__(f"http://127.0.0.1:{nginx_port}", websocket_extra_options={"socket": sock})
        for name in ("run:queued", "search:trial", "search:done", "search:error"):
            self.sio.on(name, self._record(name))

    def start(self, config):
        return self.sio.call("run:start", {"config": config}, timeout=10)

    def stop_run(self, run_id):
        return self.sio.call("run:stop", {"run_id": run_id}, timeout=10)

    def of(self, name, run_id=None):
        with self.cond:
            return [data for event, data in self.events
                    if event == name and (run_id is None or data.get("run_id") == run_id)]

    def call(self, event, data):
        return self.sio.call(event, data, timeout=10)

    def wait_finished(self, run_id, timeout):
        self.wait(lambda events: any(name in ("run:done", "run:error") and data.get("run_id") == run_id
                                     for name, data in events), timeout)
        return next((name, data) for name, data in self.events
                    if name in ("run:done", "run:error") and data.get("run_id") == run_id)

    def wait_epochs(self, run_id, count, timeout):
        self.wait(lambda events: sum(1 for name, data in events
                                     if name == "run:epoch" and data.get("run_id") == run_id) >= count, timeout)

    def get(self, path):
        return get("127.0.0.1", self.nginx_port, path, source=self.source)


def temporary_folder():
    return tempfile.TemporaryDirectory(prefix="test-cluster-")
