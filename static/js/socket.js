// Socket.IO connection and the run events of docs/internals.md ("server"):
//   client -> server: run:start {config, origin?} (ack {run_id, queue_position} | {error, errors}),
//                     run:stop {run_id}, run:watch {run_id} (ack {run_id, status, config, metrics})
//   server -> room:   run:queued, run:started, run:epoch, run:done, run:error (all carry run_id)
//
// Events can reach us before the ack of run:start (the worker may start at once), so events of a
// run nobody subscribed to yet are kept and replayed on subscribe().

const EVENTS = ["run:queued", "run:started", "run:epoch", "run:done", "run:error"];
const ACK_TIMEOUT_MS = 15000;

export class RunSocket {
  constructor() {
    this.handlers = new Map();   // run_id -> {event: fn}
    this.orphans = new Map();    // run_id -> [[event, payload], ...]
    this.watched = new Set();    // runs to re-join after a reconnect
    this.connectionListeners = [];
    this.connected = false;
    // websocket first (lowest latency), falling back to long-polling if it cannot open.
    this.io = window.io({ transports: ["websocket", "polling"], tryAllTransports: true });
    this.io.on("connect", () => {
      const reconnect = this.everConnected;
      this.connected = this.everConnected = true;
      this._notify("connected");
      if (reconnect) for (const runId of this.watched) this._rewatch(runId);
    });
    this.io.on("disconnect", () => { this.connected = false; this._notify("disconnected"); });
    this.io.on("connect_error", () => { this.connected = false; this._notify("error"); });
    for (const event of EVENTS) this.io.on(event, (payload) => this._dispatch(event, payload));
  }

  onConnection(fn) { this.connectionListeners.push(fn); }
  _notify(state) { for (const fn of this.connectionListeners) fn(state); }

  _dispatch(event, payload) {
    if (!payload || payload.run_id === undefined) return;
    const handlers = this.handlers.get(payload.run_id);
    if (handlers) {
      const fn = handlers[event];
      if (fn) fn(payload);
      if (event === "run:done" || event === "run:error") this.watched.delete(payload.run_id);
    } else {
      if (!this.orphans.has(payload.run_id)) this.orphans.set(payload.run_id, []);
      const list = this.orphans.get(payload.run_id);
      if (list.length < 5000) list.push([event, payload]);
    }
  }

  /** Route the events of `runId` to handlers {"run:epoch": fn, ...}; replays early events. */
  subscribe(runId, handlers) {
    this.handlers.set(runId, handlers);
    this.watched.add(runId);
    const early = this.orphans.get(runId);
    this.orphans.delete(runId);
    if (early) for (const [event, payload] of early) this._dispatch(event, payload);
  }

  unsubscribe(runId) {
    this.handlers.delete(runId);
    this.watched.delete(runId);
  }

  _emit(event, payload) {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the server did not answer ${event} (is it running?)`)), ACK_TIMEOUT_MS);
      this.io.emit(event, payload, (ack) => { clearTimeout(timer); resolve(ack || {}); });
    });
  }

  /** -> {run_id, queue_position} or {error, errors}. origin: where the run comes from (server/origin.py). */
  start(config, origin = null) { return this._emit("run:start", origin ? { config, origin } : { config }); }
  stop(runId) { return this._emit("run:stop", { run_id: runId }); }
  /** Join a run's room (a permalink of a running run) -> {run_id, status, config, metrics} or {error}. */
  watch(runId) { return this._emit("run:watch", { run_id: runId }); }

  async _rewatch(runId) {
    try {
      const ack = await this.watch(runId);
      const handlers = this.handlers.get(runId);
      if (handlers && handlers.resync && !ack.error) handlers.resync(ack);
    } catch (err) { /* the next reconnect tries again */ }
  }
}

/**
 * The page's one connection, opened on first use (a run's page of a finished run never connects):
 * a function that returns it. onConnection(state) hears "connected", "disconnected" and "error".
 */
export function lazySocket({ onConnection = null } = {}) {
  let socket = null;
  return () => {
    if (!socket) {
      socket = new RunSocket();
      if (onConnection) socket.onConnection(onConnection);
    }
    return socket;
  };
}
