// Many runs through the socket API (run:start per config), each a normal stored run with its own room,
// tagged with the lab and one batch id per start() so that /runs can show, filter and delete the batch.

const RETRYABLE = /queued or running|too many runs started|try again/i;
const FINAL = new Set(["done", "stopped", "diverged", "error", "interrupted"]);
export const isFinal = (status) => FINAL.has(status);

/** A new batch id: 12 random URL-safe characters (crypto.getRandomValues works on plain http too). */
function newBatchId() {
  const bytes = crypto.getRandomValues(new Uint8Array(9));
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_");
}

/** The origin a lab run is stored with (server/origin.py): the lab, the batch, the run's key and label. */
function labOrigin(lab, batch, item) {
  const origin = { kind: "lab", lab, batch };
  const text = (value, longest) => (typeof value === "string" && value.trim() ? value.trim().slice(0, longest) : null);
  const key = text(item.key, 64);
  const label = text(item.label, 120);
  if (key) origin.key = key;
  if (label) origin.label = label;
  return origin;
}

/**
 * Train a list of configs through the socket API, each a normal stored run with its own room, tagged
 * with this lab and one batch id per start() (so that /runs can show, filter and delete the batch).
 * The server allows a few active runs per connection (maxActive: the lab's data-max-per-client) and a
 * start rate: RunBatch keeps at most that many submitted at once and retries refused starts after a pause.
 * lab: the lab's slug; socket(): the page's RunSocket (lazySocket).
 * hooks: {onEpoch(item, record), onState(item, counts), onAllDone(items)} with item = {key, config, status,
 * runId, epoch, error, summary, ...}. status: waiting -> submitting -> queued -> running -> done|stopped|diverged|error.
 */
export class RunBatch {
  constructor({ lab, socket, maxActive }, hooks = {}) {
    this.lab = lab;
    this.socketOf = socket;
    this.maxActive = maxActive;
    this.hooks = hooks;
    this.items = [];
    this.stopped = false;
    this.socket = null;
  }

  get counts() {
    const c = { total: this.items.length, waiting: 0, queued: 0, running: 0, finished: 0, failed: 0 };
    for (const item of this.items) {
      if (item.status === "waiting" || item.status === "submitting") c.waiting += 1;
      else if (item.status === "queued") c.queued += 1;
      else if (item.status === "running") c.running += 1;
      else c.finished += 1;
      if (item.status === "error" || item.status === "diverged") c.failed += 1;
    }
    return c;
  }

  get active() { return this.items.some((i) => !FINAL.has(i.status)); }

  start(entries) {
    this.socket = this.socketOf();
    this.stopped = false;
    this.batchId = newBatchId();
    this.items = entries.map((e) => ({ ...e, status: "waiting", runId: null, epoch: -1, error: null }));
    for (const item of this.items) this._state(item);
    this._pump();
    return this.items;
  }

  _inFlight() { return this.items.filter((i) => i.status === "submitting" || i.status === "queued" || i.status === "running").length; }

  _pump() {
    if (this.stopped) return;
    while (this._inFlight() < this.maxActive) {
      const next = this.items.find((i) => i.status === "waiting" && !i.retryAt);
      if (!next) break;
      this._submit(next);
    }
    if (!this.active && this.hooks.onAllDone) { const fn = this.hooks.onAllDone; fn(this.items); }
  }

  async _submit(item) {
    item.status = "submitting";
    this._state(item);
    let ack;
    try { ack = await this.socket.start(item.config, labOrigin(this.lab, this.batchId, item)); } catch (err) { ack = { error: err.message }; }
    if (this.stopped) {
      if (ack && ack.run_id) this.socket.stop(ack.run_id).catch(() => {});
      item.status = "stopped";
      this._state(item);
      return this._pump();
    }
    if (!ack || ack.error || !ack.run_id) {
      const message = (ack && ack.error) || "no answer from the server";
      if (RETRYABLE.test(message)) {
        const seconds = Number((message.match(/try again in (\d+)/) || [])[1] || 1.5);
        item.status = "waiting";
        item.retryAt = Date.now() + seconds * 1000;
        this._state(item);
        setTimeout(() => { item.retryAt = null; this._pump(); }, seconds * 1000);
        return;
      }
      item.status = "error";
      item.error = message;
      this._state(item);
      return this._pump();
    }
    item.runId = ack.run_id;
    item.status = ack.queue_position > 0 ? "queued" : "running";
    item.position = ack.queue_position;
    this._state(item);
    this.socket.subscribe(item.runId, {
      "run:queued": (p) => { item.status = "queued"; item.position = p.position; this._state(item); },
      "run:started": () => { item.status = "running"; this._state(item); },
      "run:epoch": (p) => {
        if (p.epoch <= item.epoch) return;   // a record seen twice after a reconnect
        item.epoch = p.epoch;
        if (item.status !== "running") { item.status = "running"; this._state(item); }
        if (this.hooks.onEpoch) this.hooks.onEpoch(item, p);
        this._state(item);
      },
      "run:done": (p) => { item.summary = p.summary || {}; item.status = item.summary.status || "done"; item.error = item.summary.message || null; this._state(item); this._pump(); },
      "run:error": (p) => { item.status = "error"; item.error = p.error; this._state(item); this._pump(); },
    });
  }

  _state(item) { if (this.hooks.onState) this.hooks.onState(item, this.counts); }

  /** Stop everything: waiting runs are dropped, running ones told to stop. */
  stop() {
    this.stopped = true;
    for (const item of this.items) {
      if (item.status === "waiting" || item.status === "submitting") { item.status = "stopped"; this._state(item); }
      else if ((item.status === "queued" || item.status === "running") && item.runId) this.socket.stop(item.runId).catch(() => {});
    }
    if (!this.active && this.hooks.onAllDone) this.hooks.onAllDone(this.items);
  }
}


/** "12 of 32 finished · 2 training · 4 queued · 14 waiting" */
export function describeCounts(c) {
  const parts = [`${c.finished} of ${c.total} finished`];
  if (c.running) parts.push(`${c.running} training`);
  if (c.queued) parts.push(`${c.queued} queued on the server`);
  if (c.waiting) parts.push(`${c.waiting} waiting`);
  if (c.failed) parts.push(`${c.failed} diverged or failed`);
  return parts.join(" · ");
}
