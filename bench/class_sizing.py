"""Students per worker core: what a cluster started by scripts/cluster.sh trains, per core.

    PLAYGROUND_MAX_QUEUED_PER_ADDRESS=64 scripts/cluster.sh start
    python bench/class_sizing.py [--clients 4] [--runs 4] [--config bench/overfit.json]
    scripts/cluster.sh stop

Every client comes from 127.0.0.1, one address: its queue limit (4 runs by default) must be raised
for the web nodes, as above, or all but 4 starts are refused. Start on an idle cluster: the CPU of
runs already training when it starts would be counted wrongly.

`--clients` Socket.IO connections through nginx each start `--runs` runs of the config (the default:
the dashboard's default run, the book's overfitting experiment) and wait for them all. Printed:
runs a minute (wall clock), and the CPU seconds the worker processes (and their training children)
spent per run, which does not depend on what else the machine is doing: 60 / that = the runs one
worker core trains a minute. The ports and the pids come from the cluster's run folder
(CLUSTER_DIR, default /tmp/playground-cluster).
"""

import argparse
import json
import os
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def cluster_settings(run_dir):
    """ports.env of scripts/cluster.sh as a dict."""
    values = {}
    for line in (run_dir / "ports.env").read_text().splitlines():
        key, _, value = line.partition("=")
        values[key] = value.strip('"')
    return values


def children(pid):
    found = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as f:
                found += [int(child) for child in f.read().split()]
    except FileNotFoundError:
        pass
    return found


def cpu_seconds(pid):
    """User + system time of a process and of its children it has waited for."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return 0.0
    return sum(int(value) for value in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def tree_cpu_seconds(pids):
    total, todo = 0.0, list(pids)
    while todo:
        pid = todo.pop()
        total += cpu_seconds(pid)
        todo += children(pid)
    return total


def one_client(url, config, runs, finished, errors, lock):
    import socketio

    done = set()
    arrived = threading.Event()
    sio = socketio.Client()

    def on_end(data, failed=False):
        with lock:
            (errors.append(data) if failed else finished.append(time.monotonic()))
        done.add(data["run_id"])
        arrived.set()

    sio.on("run:done", on_end)
    sio.on("run:error", lambda data: on_end(data, failed=True))
    sio.connect(url, transports=["websocket"])
    started = []
    for _ in range(runs):
        ack = sio.call("run:start", {"config": config}, timeout=30)
        if "run_id" in ack:
            started.append(ack["run_id"])
        else:
            with lock:
                errors.append(ack)
    deadline = time.monotonic() + 1800
    while not done.issuperset(started) and time.monotonic() < deadline:
        arrived.wait(1)
        arrived.clear()
    sio.disconnect()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--runs", type=int, default=4, help="runs per client (at most its queue limit)")
    parser.add_argument("--config", default=str(ROOT / "bench" / "overfit.json"))
    args = parser.parse_args(argv)
    run_dir = Path(os.environ.get("CLUSTER_DIR", "/tmp/playground-cluster"))
    ports = cluster_settings(run_dir)
    url = f"http://127.0.0.1:{ports['NGINX_PORT']}"
    workers = [int((run_dir / f"{name}.pid").read_text()) for name in ("worker1", "worker2")]
    config = json.loads(Path(args.config).read_text())

    finished, errors, lock = [], [], threading.Lock()
    cpu_before = tree_cpu_seconds(workers)
    began = time.monotonic()
    clients = [threading.Thread(target=one_client, args=(url, config, args.runs, finished, errors, lock))
               for _ in range(args.clients)]
    for client in clients:
        client.start()
    for client in clients:
        client.join()
    wall = (max(finished) if finished else time.monotonic()) - began
    cpu = tree_cpu_seconds(workers) - cpu_before
    runs = len(finished)
    if not runs or cpu <= 0:
        print(f"no run finished (or the workers were busy before): errors {errors[:3]}")
        return 1
    print(f"{runs} runs of {Path(args.config).name} on {len(workers)} workers in {wall:.1f} s:"
          f" {runs / wall * 60:.1f} runs a minute")
    print(f"worker CPU {cpu / runs:.2f} s a run: one worker core trains {60 * runs / cpu:.1f} runs a minute"
          f" (load average now {os.getloadavg()[0]:.1f})")
    if errors:
        print(f"{len(errors)} errors, e.g. {errors[:3]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
