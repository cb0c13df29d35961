"""Load bench: a real server, N real Socket.IO clients training, and prediction traffic.

    python bench/load.py [--runs 8] [--predict-rate 20] [--duration 60] [--workers N]
                         [--preset overfitting --epochs 40] [--json out.json]

What it does:
- starts `python -m server` as a subprocess on a free port with a fresh database in a
  temporary folder (the server's own defaults otherwise, unless --workers / --env are given);
- connects N python-socketio clients over the websocket transport; each starts a run
  (a preset, shortened with --epochs) and starts another whenever one finishes, until
  the duration is over, then waits for the runs in flight (stopping any still going
  after --drain seconds);
- meanwhile POSTs a real MNIST digit (a PNG of a pool image, dark ink on white, 112 px)
  to /api/predict at a fixed rate, open loop (a slow answer does not slow the sender);
- reports run completion, time to the first epoch (queueing included), prediction
  latency p50/p99/max, errors, and cross-talk: any run event a client receives whose
  run_id is not one of its own runs.

The prediction model is models/default-v1 if present, else --model PATH (base path of
a .npz/.json pair, passed as PLAYGROUND_DEFAULT_MODEL), else a finished run's weights
(a short run trained first): the answer is then from an MLP, which is cheaper.

Exit status 0 if there were no errors and no cross-talk, 1 otherwise (latency is reported,
not judged: compare it with the target in bench/LOAD.md).
"""

from __future__ import annotations

import argparse
import copy
import io
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def retry_after(ack):
    """Seconds the server's start rate limit asks to wait, or None if ``ack`` is another refusal."""
    message = ack.get("error", "") if isinstance(ack, dict) else ""
    found = re.search(r"too many runs started: .*try again in (\d+) s", message)
    return float(found.group(1)) if found else None


def percentile(values, q):
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def digit_png(index=0, scale=4):
    """A real MNIST digit from the bundled pool as a PNG: dark ink on white, 28*scale px."""
    import numpy as np
    from PIL import Image

    from nnengine.data import load_pool

    x, t = load_pool()
    image = Image.fromarray(255 - x[index].reshape(28, 28).astype(np.uint8), "L")
    image = image.resize((28 * scale, 28 * scale), Image.BILINEAR)
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue(), int(t[index])


def run_config(preset, epochs):
    from nnengine.presets import PRESETS

    entry = PRESETS[preset]
    config = copy.deepcopy(entry.get("config", entry))
    if epochs:
        config["training"]["epochs"] = epochs
    return config


def children(pid):
    """Process ids whose parent is `pid` (Linux /proc)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    if int(stat.read().rsplit(")", 1)[1].split()[1]) == pid:
                        found.append(int(entry))
            except (OSError, ValueError, IndexError):
                continue
    return found


class ServerProcess:
    """`python -m server` on a free port; stop() ends it with SIGTERM (SIGKILL if it hangs)."""

    def __init__(self, folder, workers=None, env=None, port=None, args=(), launcher=("-m", "server")):
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.db = os.path.join(folder, "runs.sqlite")
        command = [sys.executable, *launcher, "--port", str(self.port), "--db", self.db, *args]
        if workers:
            command += ["--workers", str(workers)]
        self.log_path = os.path.join(folder, "server.log")
        self._log = open(self.log_path, "wb")
        # A session of its own, so that interrupt() can press Ctrl-C on it alone.
        self.proc = subprocess.Popen(command, cwd=ROOT, env={**os.environ, **(env or {})},
                                     stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)

    def wait_ready(self, timeout=30.0):
        import requests

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited ({self.proc.returncode}):\n{self.log()}")
            try:
                if requests.get(self.url + "/api/schema", timeout=1).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"the server did not answer within {timeout} s:\n{self.log()}")

    def log(self):
        if not self._log.closed:
            self._log.flush()
        return Path(self.log_path).read_text(errors="replace")[-4000:]

    def interrupt(self, timeout=30):
        """Ctrl-C in the server's terminal: SIGINT to its whole process group; wait for the exit."""
        os.killpg(self.proc.pid, signal.SIGINT)
        self.proc.wait(timeout)
        self._log.close()

    def serving_pids(self):
        """The Gunicorn master (this process) and its worker, the process that serves."""
        return [self.proc.pid] + children(self.proc.pid)

    def kill(self):
        """SIGKILL the master and its worker at once, as a crash would: nothing runs after."""
        for pid in self.serving_pids():
            os.kill(pid, signal.SIGKILL)
        self.proc.wait(10)
        self._log.close()

    def kill_master(self):
        """SIGKILL the master alone (its worker notices and stops by itself)."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)
        self._log.close()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._log.close()


class TrainingClient:
    """One browser-like Socket.IO client that keeps one run of its own going.

    Every run event is logged with its run_id and judged at the end, once all of the
    client's run ids are known (an event may arrive before the ack that names its run).
    """

    def __init__(self, url, config, deadline):
        import socketio

        self.url = url
        self.config = config
        self.deadline = deadline  # no new run is started after this (monotonic)
        self.sio = socketio.Client(reconnection=False)
        self.lock = threading.Lock()
        self.my_runs = {}  # run_id -> monotonic time of its start request
        self.events = []  # (name, run_id, monotonic time, payload)
        self.ended = set()  # run ids with run:done or run:error
        self.errors = []
        self.rate_limited = 0  # starts refused by the rate limit (then retried), not errors
        self.in_flight = None
        self.finished = threading.Event()
        for name in ("run:queued", "run:started", "run:epoch", "run:done", "run:error"):
            self.sio.on(name, self._handler(name))

    def connect(self):
        self.sio.connect(self.url, transports=["websocket"], wait_timeout=10)

    def _handler(self, name):
        def handle(data):
            run_id = data.get("run_id") if isinstance(data, dict) else None
            with self.lock:
                self.events.append((name, run_id, time.monotonic(), data))
                if name not in ("run:done", "run:error"):
                    return
                self.ended.add(run_id)
                ours = run_id == self.in_flight
            if ours:
                self._next()
        return handle

    def _next(self):
        with self.lock:
            self.in_flight = None
        if time.monotonic() < self.deadline:
            threading.Thread(target=self.start, daemon=True).start()
        else:
            self.finished.set()

    def start(self):
        asked = time.monotonic()
        try:
            ack = self.sio.call("run:start", {"config": self.config}, timeout=30)
        except Exception as exc:  # noqa: BLE001 - a bench records, never dies
            with self.lock:
                self.errors.append(f"run:start failed: {type(exc).__name__}: {exc}")
            self.finished.set()
            return
        if not isinstance(ack, dict) or "run_id" not in ack:
            wait = retry_after(ack)
            if wait is not None and time.monotonic() + wait < self.deadline:
                # The server's start rate limit: a real client waits as told and tries again.
                with self.lock:
                    self.rate_limited += 1
                time.sleep(wait)
                self.start()
                return
            with self.lock:
                if wait is None:
                    self.errors.append(f"run:start refused: {ack}")
            self.finished.set()
            return
        with self.lock:
            self.my_runs[ack["run_id"]] = asked
            self.in_flight = ack["run_id"]
            already_over = ack["run_id"] in self.ended
        if already_over:
            self._next()

    def stop_in_flight(self):
        run_id = self.in_flight
        if run_id:
            try:
                self.sio.call("run:stop", {"run_id": run_id}, timeout=10)
            except Exception:  # noqa: BLE001
                pass

    def close(self):
        try:
            self.sio.disconnect()
        except Exception:  # noqa: BLE001
            pass

    def judge(self):
        """(cross-talk count, first-epoch delays, epochs, summaries, errors) from the log."""
        with self.lock:
            events, runs = list(self.events), dict(self.my_runs)
        errors = list(self.errors)
        cross_talk, first_epoch, summaries, epochs = 0, {}, [], 0
        for name, run_id, at, data in events:
            if run_id not in runs:
                cross_talk += 1
                errors.append(f"cross-talk: {name} of run {run_id}")
                continue
            if name == "run:epoch":
                epochs += 1
                first_epoch.setdefault(run_id, at - runs[run_id])
            elif name == "run:done":
                summary = data.get("summary") or {}
                summaries.append(summary)
                if summary.get("status") not in ("done", "stopped"):
                    errors.append(f"run {run_id} ended {summary.get('status')}: {summary.get('message')}")
            elif name == "run:error":
                errors.append(f"run:error of {run_id}: {data.get('error')}")
        return cross_talk, list(first_epoch.values()), epochs, summaries, errors


class Predictor:
    """POST /api/predict at a fixed rate (open loop) from a small pool of senders."""

    def __init__(self, url, png, rate, deadline, run_id=None, senders=16):
        self.url = url + "/api/predict"
        self.png = png
        self.rate = rate
        self.deadline = deadline
        self.run_id = run_id
        self.latencies = []
        self.timeline = []  # (monotonic send time, seconds)
        self.errors = []
        self.answers = {}
        self.lock = threading.Lock()
        self.pool = ThreadPoolExecutor(senders, thread_name_prefix="predict")
        self.local = threading.local()

    def _session(self):
        import requests

        if not hasattr(self.local, "session"):
            self.local.session = requests.Session()
        return self.local.session

    def _one(self):
        data = {"run_id": self.run_id} if self.run_id else {}
        sent_at = time.monotonic()
        began = time.perf_counter()
        try:
            response = self._session().post(
                self.url, files={"image": ("digit.png", self.png, "image/png")}, data=data, timeout=30)
            elapsed = time.perf_counter() - began
            body = response.json()
            ok = response.status_code == 200 and "prediction" in body
        except Exception as exc:  # noqa: BLE001
            with self.lock:
                self.errors.append(f"{type(exc).__name__}: {exc}")
            return
        with self.lock:
            if ok:
                self.latencies.append(elapsed)
                self.timeline.append((sent_at, elapsed))
                self.answers[body["prediction"]] = self.answers.get(body["prediction"], 0) + 1
            else:
                self.errors.append(f"{response.status_code}: {body}")

    def run(self):
        if self.rate <= 0:
            return
        began = time.monotonic()
        sent = 0
        while True:
            due = began + sent / self.rate
            if due >= self.deadline:
                break
            pause = due - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            self.pool.submit(self._one)
            sent += 1
        self.pool.shutdown(wait=True)


def train_fallback_model(url, config):
    """A short run whose weights serve predictions when there is no default model."""
    import socketio

    done = threading.Event()
    sio = socketio.Client(reconnection=False)
    sio.on("run:done", lambda data: done.set())
    sio.connect(url, transports=["websocket"], wait_timeout=10)
    quick = copy.deepcopy(config)
    quick["training"]["epochs"] = 2
    run_id = sio.call("run:start", {"config": quick}, timeout=30)["run_id"]
    done.wait(120)
    sio.disconnect()
    return run_id


def measure(args):
    png, label = digit_png(args.digit)
    config = run_config(args.preset, args.epochs)
    env = dict(kv.split("=", 1) for kv in args.env)
    model_base = ROOT / "models" / "default-v1"
    model = "default (models/default-v1)"
    if not model_base.with_suffix(".npz").exists():
        if args.model:
            env["PLAYGROUND_DEFAULT_MODEL"] = args.model
            model = f"default ({args.model})"
        else:
            model = None
    with tempfile.TemporaryDirectory(prefix="playground-load-") as folder:
        server = ServerProcess(folder, workers=args.workers, env=env).wait_ready()
        try:
            run_id = None
            if model is None:
                run_id = train_fallback_model(server.url, config)
                model = f"run {run_id} (MLP)"
            began = time.monotonic()
            deadline = began + args.duration
            clients = [TrainingClient(server.url, config, deadline) for _ in range(args.runs)]
            for client in clients:
                client.connect()
            predictor = Predictor(server.url, png, args.predict_rate, deadline, run_id=run_id)
            sender = threading.Thread(target=predictor.run, daemon=True)
            sender.start()
            for client in clients:
                threading.Thread(target=client.start, daemon=True).start()
            sender.join()
            # Let the runs in flight finish; stop what is still going after --drain s.
            drain_end = time.monotonic() + args.drain
            for client in clients:
                client.finished.wait(max(0.0, drain_end - time.monotonic()))
            for client in clients:
                if not client.finished.is_set():
                    client.stop_in_flight()
            for client in clients:
                client.finished.wait(10)
            wall = time.monotonic() - began
            closing = [threading.Thread(target=client.close) for client in clients]
            for thread in closing:  # in parallel: each close may wait 3 s for the close frame
                thread.start()
            for thread in closing:
                thread.join(10)
        finally:
            server.stop()
        server_log = server.log()

    judged = [client.judge() for client in clients]
    cross_talk = sum(j[0] for j in judged)
    first = [t for j in judged for t in j[1]]
    epochs_received = sum(j[2] for j in judged)
    summaries = [s for j in judged for s in j[3]]
    errors = [e for j in judged for e in j[4]] + predictor.errors
    statuses = {}
    for summary in summaries:
        statuses[summary.get("status")] = statuses.get(summary.get("status"), 0) + 1
    result = {
        "runs_clients": args.runs,
        "workers": args.workers or "server default",
        "preset": args.preset,
        "epochs": config["training"]["epochs"],
        "duration_s": args.duration,
        "wall_s": round(wall, 1),
        "runs_started": sum(len(c.my_runs) for c in clients),
        "starts_rate_limited": sum(c.rate_limited for c in clients),
        "runs_finished": statuses,
        "epochs_received": epochs_received,
        "first_epoch_p50_s": percentile(first, 50),
        "first_epoch_p99_s": percentile(first, 99),
        "predict_rate": args.predict_rate,
        "predictions_ok": len(predictor.latencies),
        "predict_p50_ms": 1000 * percentile(predictor.latencies, 50),
        "predict_p99_ms": 1000 * percentile(predictor.latencies, 99),
        "predict_max_ms": 1000 * max(predictor.latencies, default=float("nan")),
        "predict_mean_ms": 1000 * statistics.fmean(predictor.latencies) if predictor.latencies else None,
        "prediction_answers": predictor.answers,
        "digit_label": label,
        "model": model,
        "errors": len(errors),
        "error_samples": errors[:10],
        "cross_talk": cross_talk,
        "env": env,
        "load_average": os.getloadavg(),
    }
    if errors:
        result["server_log_tail"] = server_log[-2000:]
    return result


def table(result):
    rows = [
        ("concurrent clients (runs)", result["runs_clients"]),
        ("server workers", result["workers"]),
        ("run config", f"{result['preset']}, {result['epochs']} epochs"),
        ("duration / wall", f"{result['duration_s']} s / {result['wall_s']} s"),
        ("runs started", result["runs_started"]),
        ("runs finished", ", ".join(f"{k}: {v}" for k, v in result["runs_finished"].items()) or "0"),
        ("run:epoch events", result["epochs_received"]),
        ("time to first epoch p50 / p99", f"{result['first_epoch_p50_s']:.2f} s / {result['first_epoch_p99_s']:.2f} s"),
        ("predictions ok (target rate)", f"{result['predictions_ok']} ({result['predict_rate']}/s)"),
        ("prediction p50 / p99 / max", f"{result['predict_p50_ms']:.0f} / {result['predict_p99_ms']:.0f} / "
                                       f"{result['predict_max_ms']:.0f} ms"),
        ("prediction model", result["model"]),
        ("starts rate-limited, retried", result["starts_rate_limited"]),
        ("errors", result["errors"]),
        ("cross-talk events", result["cross_talk"]),
        ("load average (1/5/15 min)", " ".join(f"{x:.1f}" for x in result["load_average"])),
    ]
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name:<{width}}  {value}" for name, value in rows)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=8, help="Socket.IO clients, each keeping a run going")
    parser.add_argument("--predict-rate", type=float, default=20.0, help="predictions per second")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load")
    parser.add_argument("--drain", type=float, default=60.0,
                        help="seconds to let runs in flight finish before stopping them")
    parser.add_argument("--workers", type=int, help="the server's --workers (default: its own)")
    parser.add_argument("--preset", default="overfitting")
    parser.add_argument("--epochs", type=int, default=40, help="shorten the preset to this many epochs")
    parser.add_argument("--digit", type=int, default=0, help="index of the pool image to predict")
    parser.add_argument("--model", help="base path of a default model (.npz/.json) when models/ has none")
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                        help="environment for the server process (repeatable)")
    parser.add_argument("--json", help="also write the figures to this file")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    result = measure(args)
    print(table(result))
    if result["error_samples"]:
        print("\nfirst errors:\n  " + "\n  ".join(result["error_samples"]))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2, default=str))
    return 0 if result["errors"] == 0 and result["cross_talk"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
