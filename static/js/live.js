// Ties a run's socket events to the charts, the compare list and the status panel.
// Used by the dashboard (Train) and the permalink page (watch a running run, Re-run).
// It tells its page when a run ends through onFinished(runId, status, summary).

import { getRun } from "./api.js";
import { pct } from "./format.js";

const ACTIVE = new Set(["starting", "queued", "running"]);
// The epoch text (status line, the run's line in the list) changes when the charts are redrawn, in the
// same frame (charts.js throttles redraws): rewritten at every epoch it cost the browser 0.7 s of a
// 4 s overfitting run (bench/ui_latency.py), and each frame of its own is laid out, painted and
// composited on the CPU the training needs. A run that is not on the charts has its text shown at
// most every TEXT_EVERY_MS. The first epoch after a pause is shown at once, the last one by done.
const TEXT_EVERY_MS = 200;

export class Live {
  /** parts: {charts, list, status}; socket: a function returning the page's RunSocket (lazySocket),
   * called on first use; onFinished(runId, status, summary) when a followed run ends. */
  constructor({ charts, list, status, socket, onFinished = () => {} }) {
    this.charts = charts;
    this.list = list;
    this.status = status;
    this.socketOf = socket;
    this.onFinished = onFinished;
    this.timing = {};
    this.focusId = null;
    this.received = new Map(); // run id -> epoch records received over the socket
    this.latest = new Map();   // run id -> its newest epoch record whose text is not shown yet
    this.textTimer = null;
    this.textAt = -Infinity;
    charts.onFlush(() => {
      if (this.latest.size) this._showEpochs();
      // The followed run's first epoch is on the charts now; the frame that shows it comes next.
      if (this.timing.firstEpochAt !== undefined && this.timing.drawnAt === undefined
          && this.charts.points(this.focusId) > 0) {
        this.timing.drawnAt = performance.now();
        requestAnimationFrame(() => { this.timing.firstPlotAt = performance.now(); });
      }
    });
  }

  get socket() { return this.socketOf(); }

  /**
   * Ask the server to train `config`. Resolves to the ack: {run_id, queue_position} or {error, errors}.
   * On success the run is on the charts and followed by the status panel. origin: see socket.js.
   */
  async start(config, { short, name, origin = null } = {}) {
    this.timing = { clickAt: performance.now() };
    const ack = await this.socket.start(config, origin);
    this.timing.ackAt = performance.now();
    if (!ack || ack.error || !ack.run_id) return ack || { error: "no answer" };
    const runId = ack.run_id;
    this.add(runId, { config, status: ack.queue_position > 0 ? "queued" : "starting", short, name, focus: true });
    if (ack.queue_position > 0) this._queued(runId, ack.queue_position);
    this.subscribe(runId); // replays events that arrived before the ack (they are newer than it)
    return ack;
  }

  /** Put a run on the charts and the list (no socket). */
  add(runId, { config, status = "done", metrics = [], short, name, focus = false, color, summary } = {}) {
    const epochs = ((config || {}).training || {}).epochs || 0;
    const entry = this.list.add({ id: runId, config, status, short, name: name || (config && config.name), color });
    this.charts.addRun({ id: runId, color: entry.color, short: entry.short, label: entry.description, loss: ((config || {}).model || {}).loss, epochs,
      finished: !ACTIVE.has(status) });
    if (metrics && metrics.length) this.charts.setRecords(runId, metrics);
    if (summary || (!ACTIVE.has(status) && metrics.length)) this.list.update(runId, { meta: this._meta(summary, metrics) });
    if (focus) {
      this.focusId = runId;
      this.status.follow({ id: runId, short: entry.short, epochs });
    }
    return entry;
  }

  /** Put a stored run on the charts and the list, following it if it still trains; throws as getRun does. */
  async addStored(runId) {
    if (this.list.get(runId)) return;
    const run = await getRun(runId);
    this.add(runId, { config: run.config, status: run.status, metrics: run.metrics || [], summary: run.summary });
    if (run.status === "running" || run.status === "queued") this.watch(runId);
  }

  /** Follow a run that is already on the server (permalink of a running run). */
  async watch(runId) {
    this.subscribe(runId);
    const ack = await this.socket.watch(runId);
    if (ack.error) return ack;
    this._resync(runId, ack);
    return ack;
  }

  subscribe(runId) {
    this.socket.subscribe(runId, {
      "run:queued": (p) => this._queued(runId, p.position),
      "run:started": () => { this.list.update(runId, { status: "running", meta: "" }); this.status.started(runId); },
      "run:epoch": (p) => this._epoch(runId, p),
      "run:done": (p) => this._done(runId, p.summary || {}),
      "run:error": (p) => this._error(runId, p.error || "unknown error"),
      resync: (ack) => this._resync(runId, ack),
    });
  }

  stop(runId) {
    if (!runId) return Promise.resolve({});
    return this.socket.stop(runId);
  }

  _queued(runId, position) {
    this.list.update(runId, { status: "queued", meta: `position ${position}` });
    this.status.queued(runId, position);
  }

  _epoch(runId, record) {
    if (!this.received.has(runId)) this.received.set(runId, []);
    this.received.get(runId).push(record);
    if (this.timing.firstEpochAt === undefined && runId === this.focusId) this.timing.firstEpochAt = performance.now();
    this.latest.set(runId, record);
    if (this.charts.has(runId)) {
      this.charts.push(runId, record); // its text follows the next redraw
      return;
    }
    if (this.textTimer !== null) return;
    const wait = this.textAt + Math.max(TEXT_EVERY_MS, this.charts.interval()) - performance.now();
    if (wait <= 0) this._showEpochs();
    else this.textTimer = setTimeout(() => this._showEpochs(), wait);
  }

  _showEpochs() {
    if (this.textTimer !== null) { clearTimeout(this.textTimer); this.textTimer = null; }
    this.textAt = performance.now();
    for (const [runId, record] of this.latest) {
      const e = this.list.get(runId);
      if (e && e.status !== "running") this.list.update(runId, { status: "running" });
      const epochs = this._epochs(runId);
      this._setMeta(runId, `epoch ${record.epoch}/${epochs}` + (record.test_acc != null ? ` · test ${pct(record.test_acc)}` : ""));
      this.status.epoch(runId, record);
    }
    this.latest.clear();
  }

  _done(runId, summary) {
    this.latest.delete(runId);      // its final text comes from the summary
    this.charts.update(runId, { finished: true }); // one redraw at the end (a lone point gets a marker)
    this.charts.flush();            // now, so every epoch is on the charts when the status says "done"
    const status = summary.status || summary.event || "done";
    this.list.update(runId, { status, meta: this._meta(summary) });
    this.status.finished(runId, summary);
    this.socket.unsubscribe(runId);
    this.received.delete(runId);
    this.onFinished(runId, status, summary);
  }

  _error(runId, message) {
    this.latest.delete(runId);
    this.list.update(runId, { status: "error", meta: message });
    this.status.failed(runId, message);
    this.socket.unsubscribe(runId);
    this.received.delete(runId);
  }

  _resync(runId, ack) {
    // Events that arrived between joining the room and this answer may be newer than the stored
    // metrics it carries: keep them (dedupe by epoch) so no epoch goes missing.
    const stored = ack.metrics || [];
    const lastStored = stored.length ? stored[stored.length - 1].epoch : -1;
    const newer = (this.received.get(runId) || []).filter((r) => r.epoch > lastStored);
    const records = [...stored, ...newer];
    this.charts.setRecords(runId, records);
    const last = records[records.length - 1];
    if (last) this.status.epoch(runId, last);
    if (ack.status && !ACTIVE.has(ack.status)) this._done(runId, ack.summary || { status: ack.status, final: last });
    else if (ack.status === "queued" && ack.queue_position) this._queued(runId, ack.queue_position);
    else if (ack.status) {
      this.list.update(runId, { status: ack.status });
      if (ack.status === "running" && !last) this.status.started(runId);
    }
  }

  _epochs(runId) {
    const e = this.list.get(runId);
    return (((e && e.config) || {}).training || {}).epochs || "?";
  }

  _setMeta(runId, meta) {
    const e = this.list.get(runId);
    if (!e) return;
    e.meta = meta;
    const el = this.list.root.querySelector(`[data-run-id="${CSS.escape(runId)}"] .run-meta`);
    if (el && el.lastChild && el.lastChild.nodeType === Node.TEXT_NODE) el.lastChild.textContent = meta;
    else this.list.update(runId, {});
  }

  _meta(summary, metrics) {
    const final = (summary && summary.final) || (metrics && metrics[metrics.length - 1]) || {};
    if (final.train_acc == null && final.test_acc == null) return (summary && summary.message) || "";
    return `train ${pct(final.train_acc)} · test ${pct(final.test_acc)}`;
  }
}
