"""Cluster figures. For now one part: what one web node holds.

    python bench/cluster.py                                  # gthread, then gevent; N = 100 250 500 750 1000
    python bench/cluster.py --servers gthread --clients 100,500 --window 8
    python bench/cluster.py --relay-only                     # only the events-per-second row

One web node (`python -m server`, Gunicorn's gthread worker, --threads 1100 by default here so that
1,000 clients fit; or, for comparison, Gunicorn's gevent worker with Flask-SocketIO in
async_mode="gevent", started by this script: "gevent" with the run manager's pipe wait made
cooperative, "gevent-blocking" with the run manager as it is):
- N Socket.IO clients over the websocket transport (SocketIOClient: asyncio, in --processes client
  processes, so that the client side is not the bottleneck) connect; each joins the room of one of
  --runs streaming runs (run:watch), spread evenly;
- a driver starts the runs (STREAM_CONFIG, about 5 epochs a second each here), and the clients record
  every run:epoch with its arrival time for --window seconds;
- for each N: clients connected / refused, delivery latency p50/p99, the spread of one event's
  arrival over its watchers, events delivered per second (and the share of those sent that
  arrived), epochs trained per second, the serving process's RSS, threads and CPU, and errors
  (disconnects, failed joins, failed predictions);
- then the relay row: N = --relay-clients watching --relay-runs runs of a tiny config that streams as
  fast as it trains, which saturates the node: the epoch events per second it relays to clients.
- meanwhile, 5 predictions a second (POST /api/predict of a drawn digit): their latency p50/p99.

Latency: a record's `elapsed_s` is the training process's perf_counter (CLOCK_MONOTONIC, the
clock of every process on the machine) minus its start, unknown here. For each run, the start is
taken from the quickest delivery of any of its epochs to any client, so a latency is the time an
event took beyond the quickest delivery seen (which includes the pipe from the training process,
the SQLite commit and one socket hop, a few ms on a quiet machine).

Figures depend on the machine and on what else runs on it; nothing is asserted.
"""

import argparse
import asyncio
import json
import multiprocessing
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.load import Predictor, ServerProcess, children, digit_png, percentile  # noqa: E402

# About 5 epochs a second per run on this 2-core machine (80 batches of 50, then 500 samples
# evaluated): N watchers of 2 runs are then offered about 5 x N events a second (5,000 at N = 1,000).
STREAM_CONFIG = {
    "seed": 0,
    "data": {"train_size": 4000, "validation_size": 0, "test_size": 500},
    "model": {"hidden_layers": [{"units": 100, "activation": "relu"}]},
    "optimizer": {"name": "sgd", "lr": 0.01},
    "training": {"epochs": 1000, "batch_size": 50},
}
# As fast as it trains: one batch of 20 samples, 20 evaluated.
RELAY_CONFIG = {
    "seed": 0,
    "data": {"train_size": 20, "validation_size": 0, "test_size": 20},
    "model": {"hidden_layers": [{"units": 8, "activation": "relu"}]},
    "optimizer": {"name": "sgd", "lr": 0.01},
    "training": {"epochs": 1000, "batch_size": 20},
}


# -- the gevent node (for comparison only; `python -m server` is gthread) -----------------------

def serve_gevent(port, db, cooperative):
    """Gunicorn's gevent worker, Flask-SocketIO in async_mode="gevent", same app otherwise.

    `cooperative`: wait for the training process's pipe through gevent (the run manager reads it
    with a blocking os.read, which gevent does not patch, so that read would stop every other
    connection until the next epoch arrives). SQLite commits and NumPy still block the hub.
    """
    import server
    from server import serving, sockets

    class GeventSocketIO(sockets.SocketIO):
        def __init__(self, app=None, **options):
            super().__init__(app, **{**options, "async_mode": "gevent"})

    sockets.SocketIO = GeventSocketIO
    if cooperative:
        from server.runs import child

        receive_batch = child.receive_batch

        def receive_batch_cooperatively(receive):
            from gevent.socket import wait_read

            wait_read(receive.fileno())
            return receive_batch(receive)

        child.receive_batch = receive_batch_cooperatively

    class GeventNode(serving.PlaygroundServer):
        def load_config(self):
            super().load_config()
            self.cfg.set("worker_class", "gevent")
            self.cfg.set("worker_connections", 4000)

        def load(self):
            self.flask_app = self.build_app()  # greenlets: no pool of threads to bound
            return serving.UncompressedWebsockets(self.flask_app)  # as the gthread node

    listener = serving.listen("127.0.0.1", port)
    settings = {"DATABASE": db, "PORT": port}
    print(f"Serving on http://127.0.0.1:{port} (gevent)", flush=True)
    serving.raise_open_files_limit(8000)
    try:
        GeventNode(lambda: server.create_app(settings), listener, threads=serving.MAX_THREADS).run()
    except SystemExit as done:
        return 0 if done.code in (0, None) else 1
    return 0


def start_node(kind, folder, threads):
    if kind == "gthread":
        return ServerProcess(folder, args=["--threads", str(threads)])
    cooperative = kind == "gevent"
    return ServerProcess(folder, launcher=[str(ROOT / "bench" / "cluster.py"), "--serve-gevent",
                                           "cooperative" if cooperative else "blocking"])


def worker_pid(node):
    found = children(node.proc.pid)
    return found[0] if found else None


def proc_status(pid):
    fields = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            key, _, value = line.partition(":")
            fields[key] = value.strip()
    return int(fields["VmRSS"].split()[0]) // 1024, int(fields["Threads"])


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as stat:
        parts = stat.read().rsplit(")", 1)[1].split()
    return (int(parts[11]) + int(parts[12])) / os.sysconf("SC_CLK_TCK")


# -- client processes ------------------------------------------------------------------------------

class SocketIOClient:
    """A minimal Socket.IO client (Engine.IO 4 over a websocket, asyncio + wsproto): connect, answer
    pings, call run:watch, record run:epoch. A thread-per-connection client (python-socketio's)
    spent about 0.7 ms of CPU per event here, more than the server it measured; this one a tenth.

    It asks for permessage-deflate, as browsers do, so the server compresses what it sends.
    """

    def __init__(self, host, port, on_epoch, on_close):
        self.host, self.port = host, port
        self.on_epoch, self.on_close = on_epoch, on_close
        self.connected = False
        self.acks = {}
        self.next_ack = 0
        self.writer = None
        self.ws = None
        self.ready = None

    async def connect(self, timeout=30):
        from wsproto import ConnectionType, WSConnection
        from wsproto.events import Request
        from wsproto.extensions import PerMessageDeflate

        loop = asyncio.get_running_loop()
        self.ready = loop.create_future()
        reader, self.writer = await asyncio.wait_for(asyncio.open_connection(self.host, self.port), timeout)
        self.ws = WSConnection(ConnectionType.CLIENT)
        origin = f"http://{self.host}:{self.port}"
        self.writer.write(self.ws.send(Request(
            host=f"{self.host}:{self.port}", target="/socket.io/?EIO=4&transport=websocket",
            extra_headers=[(b"origin", origin.encode())],
            extensions=[PerMessageDeflate()])))
        self.task = asyncio.ensure_future(self._read(reader))
        await asyncio.wait_for(self.ready, timeout)

    def _send_text(self, text):
        from wsproto.events import TextMessage

        self.writer.write(self.ws.send(TextMessage(data=text)))

    async def call(self, event, data, timeout=30):
        self.next_ack += 1
        future = asyncio.get_running_loop().create_future()
        self.acks[self.next_ack] = future
        self._send_text(f"42{self.next_ack}" + json.dumps([event, data]))
        return await asyncio.wait_for(future, timeout)

    async def _read(self, reader):
        from wsproto.events import (AcceptConnection, CloseConnection, Ping, RejectConnection, RejectData,
                                    TextMessage)

        parts = []
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                self.ws.receive_data(data)
                for event in self.ws.events():
                    if isinstance(event, AcceptConnection):
                        pass
                    elif isinstance(event, (RejectConnection, RejectData)):
                        if not self.ready.done():
                            self.ready.set_exception(ConnectionError(f"refused: {getattr(event, 'status_code', '')}"))
                        return
                    elif isinstance(event, TextMessage):
                        parts.append(event.data)
                        if event.message_finished:
                            self._packet("".join(parts))
                            parts = []
                    elif isinstance(event, Ping):
                        self.writer.write(self.ws.send(event.response()))
                    elif isinstance(event, CloseConnection):
                        return
        except (OSError, Exception) as exc:  # noqa: BLE001 - a broken connection ends the client
            if not self.ready.done():
                self.ready.set_exception(ConnectionError(f"{type(exc).__name__}: {exc}"))
        finally:
            was = self.connected
            self.connected = False
            if not self.ready.done():
                self.ready.set_exception(ConnectionError("closed before connecting"))
            if was:
                self.on_close()
            self.writer.close()

    def _packet(self, text):
        kind = text[0]
        if kind == "0":  # Engine.IO open: join the default namespace
            self._send_text("40")
        elif kind == "2":  # ping
            self._send_text("3")
        elif kind == "4":
            body = text[1:]
            if body.startswith("0"):  # Socket.IO connected
                self.connected = True
                if not self.ready.done():
                    self.ready.set_result(True)
            elif body.startswith("2"):  # an event
                name, data = json.loads(body[1:])
                if name == "run:epoch":
                    self.on_epoch(data)
            elif body.startswith("3"):  # an ack: 3<id>[...]
                bracket = body.index("[")
                future = self.acks.pop(int(body[1:bracket]), None)
                if future is not None and not future.done():
                    future.set_result(json.loads(body[bracket:])[0])
            elif body.startswith("4"):  # connect error
                if not self.ready.done():
                    self.ready.set_exception(ConnectionError(body))
            elif body.startswith("1"):  # disconnected by the server
                self.writer.close()

    def close(self):
        if self.writer is not None:
            try:
                self._send_text("41")
            except Exception:  # noqa: BLE001
                pass
            self.writer.close()


def client_process(conn, url, index, stride):
    """Holds many Socket.IO clients in one asyncio loop; obeys (command, argument) messages."""
    asyncio.run(_client_loop(conn, url, index, stride))


async def _client_loop(conn, url, index, stride):
    host, port = url.split("//", 1)[1].split(":")
    port = int(port)
    loop = asyncio.get_running_loop()
    clients, records, state = [], [], {"recording": False, "disconnects": 0}

    def on_epoch(data):
        if state["recording"]:
            records.append((data["run_id"], data["epoch"], data["elapsed_s"], time.monotonic()))

    def on_close():
        state["disconnects"] += 1

    async def connect_one(gate):
        async with gate:
            client = SocketIOClient(host, port, on_epoch, on_close)
            try:
                await client.connect()
            except Exception as exc:  # noqa: BLE001 - refused (503) or timed out
                client.close()
                return None, f"{type(exc).__name__}: {exc}"[:200]
            return client, None

    while True:
        command, argument = await loop.run_in_executor(None, conn.recv)
        if command == "connect":
            gate = asyncio.Semaphore(16)
            results = await asyncio.gather(*(connect_one(gate) for _ in range(argument)))
            clients += [client for client, _ in results if client is not None]
            errors = [error for _, error in results if error]
            conn.send((argument - len(errors), errors[:3]))
        elif command == "watch":
            run_ids = argument

            async def watch(k, client):
                try:
                    ack = await client.call("run:watch", {"run_id": run_ids[(index + k * stride) % len(run_ids)]})
                    return "error" in ack
                except Exception:  # noqa: BLE001
                    return True
            failed = await asyncio.gather(*(watch(k, c) for k, c in enumerate(clients)))
            conn.send(sum(failed))
        elif command == "record":
            records.clear()
            state["disconnects"] = 0
            state["recording"] = True
            conn.send(True)
        elif command == "report":
            state["recording"] = False
            watching = {}
            for k, client in enumerate(clients):
                if client.connected:
                    run_id = argument[(index + k * stride) % len(argument)]
                    watching[run_id] = watching.get(run_id, 0) + 1
            conn.send((list(records), state["disconnects"], watching, sum(c.connected for c in clients)))
        elif command == "close":
            for client in clients:
                client.close()
            await asyncio.sleep(0.2)
            conn.send(True)
            return


class Clients:
    def __init__(self, url, processes):
        ctx = multiprocessing.get_context("spawn")
        self.pipes, self.procs = [], []
        for index in range(processes):
            mine, theirs = ctx.Pipe()
            proc = ctx.Process(target=client_process, args=(theirs, url, index, processes), daemon=True)
            proc.start()
            self.pipes.append(mine)
            self.procs.append(proc)
        self.count = 0

    def ask(self, command, arguments):
        for pipe, argument in zip(self.pipes, arguments):
            pipe.send((command, argument))
        return [pipe.recv() for pipe in self.pipes]

    def grow_to(self, total):
        """Connect clients until `total` were tried; returns (connected, refused, error samples)."""
        more = total - self.count
        shares = [more // len(self.pipes) + (i < more % len(self.pipes)) for i in range(len(self.pipes))]
        answers = self.ask("connect", shares)
        self.count = total
        return sum(ok for ok, _ in answers), sum(s - ok for s, (ok, _) in zip(shares, answers)), \
            [e for _, errors in answers for e in errors]

    def cpu(self):
        return sum(cpu_seconds(proc.pid) for proc in self.procs)

    def close(self):
        try:
            self.ask("close", [None] * len(self.pipes))
        except (EOFError, OSError):
            pass
        for proc in self.procs:
            proc.join(10)
            if proc.is_alive():
                proc.kill()


# -- runs ------------------------------------------------------------------------------------------

class Driver:
    """Clients that start and stop the streaming runs (a connection may have 4 runs queued or running)."""

    PER_CONNECTION = 4

    def __init__(self, url):
        self.url = url
        self.connections = []
        self.ended = set()

    def _connection(self, index):
        import socketio

        while len(self.connections) <= index:
            sio = socketio.Client(reconnection=False)
            sio.on("run:done", lambda data: self.ended.add(data["run_id"]))
            sio.on("run:error", lambda data: self.ended.add(data["run_id"]))
            sio.connect(self.url, transports=["websocket"], wait_timeout=20)
            self.connections.append(sio)
        return self.connections[index]

    def start(self, config, count):
        run_ids = []
        for k in range(count):
            ack = self._connection(k // self.PER_CONNECTION).call("run:start", {"config": config}, timeout=30)
            if "run_id" not in ack:
                raise RuntimeError(f"the run was refused: {ack}")
            run_ids.append(ack["run_id"])
        self.owner = {run_id: k // self.PER_CONNECTION for k, run_id in enumerate(run_ids)}
        return run_ids

    def stop(self, run_ids, timeout=30):
        """Stop the runs, through a new connection if the one that started them was dropped
        (an overloaded node misses Socket.IO's pings; that is counted as lost, not fatal here)."""
        self.lost = 0
        for run_id in run_ids:
            index = self.owner[run_id]
            if not self.connections[index].connected:
                self.lost += 1
                self.connections.pop(index)
                self._connection(len(self.connections))
                self.connections.insert(index, self.connections.pop())
            self.connections[index].call("run:stop", {"run_id": run_id}, timeout=30)
        deadline = time.monotonic() + timeout
        while not set(run_ids) <= self.ended and time.monotonic() < deadline:
            time.sleep(0.05)

    def close(self):
        for sio in self.connections:
            sio.disconnect()


def summarise(records, watching):
    """Latency beyond the quickest delivery, spread over watchers, delivered share (see the docstring)."""
    offsets, arrivals = {}, {}
    for run_id, epoch, elapsed, t in records:
        offsets[run_id] = min(offsets.get(run_id, float("inf")), t - elapsed)
        arrivals.setdefault((run_id, epoch), []).append(t)
    latency = [(t - elapsed - offsets[run_id]) * 1000 for run_id, _, elapsed, t in records]
    spread = [(max(ts) - min(ts)) * 1000 for ts in arrivals.values() if len(ts) > 1]
    epochs = {}
    for run_id, epoch in arrivals:
        epochs[run_id] = epochs.get(run_id, 0) + 1
    offered = sum(count * watching.get(run_id, 0) for run_id, count in epochs.items())
    times = [t for *_, t in records]
    span = (max(times) - min(times)) if len(times) > 1 else float("nan")
    return {
        "latency_p50_ms": percentile(latency, 50), "latency_p99_ms": percentile(latency, 99),
        "spread_p50_ms": percentile(spread, 50), "spread_p99_ms": percentile(spread, 99),
        "delivered": len(records), "offered": offered,
        "delivered_per_s": len(records) / span if span == span and span > 0 else float("nan"),
        "epochs_per_s": (sum(epochs.values()) / span) if span == span and span > 0 else float("nan"),
    }


PREDICT_RATE = 5  # predictions a second during each window (a digit drawn on the canvas)
PNG = digit_png() if __name__ == "__main__" else (None, None)


def trained_per_s(url, run_ids):
    """Epochs the runs trained per second (from the store), whether or not they reached a client."""
    import requests

    rate = 0.0
    for run_id in run_ids:
        metrics = requests.get(f"{url}/api/runs/{run_id}", timeout=30).json()["metrics"]
        if len(metrics) > 1 and metrics[-1]["elapsed_s"]:
            rate += (len(metrics) - 1) / metrics[-1]["elapsed_s"]
    return rate


def measure_level(node, clients, driver, total, config, runs, window):
    connected, refused, errors = clients.grow_to(total)
    run_ids = driver.start(config, runs)
    failed_joins = sum(clients.ask("watch", [run_ids] * len(clients.pipes)))
    pid = worker_pid(node)
    clients.ask("record", [None] * len(clients.pipes))
    cpu0, client_cpu0, began = cpu_seconds(pid), clients.cpu(), time.monotonic()
    predictor = Predictor(node.url, PNG[0], PREDICT_RATE, began + window, senders=4)
    sender = threading.Thread(target=predictor.run, daemon=True)
    sender.start()
    rss, threads = proc_status(pid)
    while time.monotonic() - began < window:
        time.sleep(0.5)
        r, t = proc_status(pid)
        rss, threads = max(rss, r), max(threads, t)
    took = time.monotonic() - began
    sender.join(30)
    server_cpu = (cpu_seconds(pid) - cpu0) / took
    client_cpu = (clients.cpu() - client_cpu0) / took
    reports = clients.ask("report", [run_ids] * len(clients.pipes))
    driver.stop(run_ids)
    records = [r for report in reports for r in report[0]]
    watching = {}
    for report in reports:
        for run_id, count in report[2].items():
            watching[run_id] = watching.get(run_id, 0) + count
    row = summarise(records, watching)
    row["trained_per_s"] = trained_per_s(node.url, run_ids)
    row["driver_lost"] = driver.lost
    row.update(clients=total, connected_total=sum(report[3] for report in reports), refused=refused,
               failed_joins=failed_joins, disconnects=sum(report[1] for report in reports),
               rss_mb=rss, threads=threads, server_cpu=server_cpu, client_cpu=client_cpu,
               errors=errors[:2] + predictor.errors[:2],
               predict_p50_ms=1000 * percentile(predictor.latencies, 50),
               predict_p99_ms=1000 * percentile(predictor.latencies, 99),
               predict_errors=len(predictor.errors))
    return row


def bench_node(kind, levels, args, relay=False):
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        node = start_node(kind, folder, args.threads).wait_ready(60)
        clients = Clients(node.url, args.processes)
        driver = Driver(node.url)
        try:
            for total in levels:
                config, runs = (RELAY_CONFIG, args.relay_runs) if relay else (STREAM_CONFIG, args.runs)
                row = measure_level(node, clients, driver, total, config, runs, args.window)
                row["server"], row["relay"] = kind, relay
                rows.append(row)
                print_row(row, flush=True)
                if row["connected_total"] < 0.9 * total:
                    print(f"  ({kind}: fewer than 90% of the clients are connected; stopping here)")
                    break
        finally:
            driver.close()
            clients.close()
            node.stop()
            if args.log:
                print(node.log())
    return rows


HEADER = (f"{'server':>10} {'N':>5} {'conn':>5} {'refused':>7} {'lat p50':>8} {'lat p99':>8} "
          f"{'spread p99':>10} {'events/s':>9} {'arrived':>8} {'epochs/s':>8} {'trained':>7} {'RSS MB':>6} "
          f"{'threads':>7} {'srv CPU':>7} {'cli CPU':>7} {'predict p50/p99':>15} {'errors':>6}")


def print_row(row, flush=False):
    share = row["delivered"] / row["offered"] if row["offered"] else float("nan")
    errors = row["failed_joins"] + row["disconnects"] + row["predict_errors"] + row["driver_lost"]
    predict = f"{row['predict_p50_ms']:.0f}/{row['predict_p99_ms']:.0f}ms"
    label = row["server"] + ("*" if row["relay"] else "")
    print(f"{label:>10} {row['clients']:>5} {row['connected_total']:>5} {row['refused']:>7} "
          f"{row['latency_p50_ms']:>6.0f}ms {row['latency_p99_ms']:>6.0f}ms {row['spread_p99_ms']:>8.0f}ms "
          f"{row['delivered_per_s']:>9.0f} {share:>7.1%} {row['epochs_per_s']:>8.1f} {row['trained_per_s']:>7.1f} {row['rss_mb']:>6} "
          f"{row['threads']:>7} {row['server_cpu']:>6.0%} {row['client_cpu']:>6.0%} {predict:>15} {errors:>6}",
          flush=flush)
    for error in row["errors"]:
        print(f"{'':>10} refused/failed: {error}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--servers", default="gthread,gevent",
                        help="comma-separated: gthread (python -m server), gevent, gevent-blocking")
    parser.add_argument("--clients", default="100,250,500,750,1000")
    parser.add_argument("--runs", type=int, default=2, help="streaming runs, watched by N/runs clients each")
    parser.add_argument("--window", type=float, default=10.0, help="seconds measured per level")
    parser.add_argument("--processes", type=int, default=2, help="client processes")
    parser.add_argument("--threads", type=int, default=1100, help="--threads of the gthread node")
    parser.add_argument("--relay-clients", type=int, default=500)
    parser.add_argument("--relay-runs", type=int, default=8,
                        help="runs of the relay row (2 train at once, the others wait their turn)")
    parser.add_argument("--relay-only", action="store_true")
    parser.add_argument("--no-relay", action="store_true")
    parser.add_argument("--json", help="write the rows to this file")
    parser.add_argument("--log", action="store_true", help="print each node's log at the end")
    parser.add_argument("--serve-gevent", choices=["cooperative", "blocking"], help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--db", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_gevent:
        return serve_gevent(args.port, args.db, args.serve_gevent == "cooperative")

    levels = [int(n) for n in args.clients.split(",")]
    kinds = args.servers.split(",")
    print(f"one web node: {args.runs} streaming runs, clients spread over them, {args.window:.0f} s per level, "
          f"{args.processes} client processes; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(HEADER)
    rows = []
    for kind in kinds:
        if not args.relay_only:
            rows += bench_node(kind, levels, args)
        if not args.no_relay:
            rows += bench_node(kind, [args.relay_clients], args, relay=True)
    print("""
lat: an epoch's arrival beyond the quickest delivery of its run; spread: from the first to the last watcher
of one epoch; events/s: run:epoch events received by all clients per second; arrived: of those sent to
the clients connected; epochs/s: distinct epochs that reached clients per second; trained: epochs the runs
trained per second (the store's records); *: the relay row (runs that stream as fast as they train);
CPU: of one core (the serving process; all client processes); predict: POST /api/predict of a drawn
digit, %d a second; errors: failed joins, disconnects (the driver's too) and failed predictions.""" % PREDICT_RATE)
    print(f"Load average at the end {os.getloadavg()[0]:.1f} (other work on the machine counts).")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
