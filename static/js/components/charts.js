// Plotly charts: loss, accuracy and train-test gap per epoch, one colour per run
// (train solid, test dashed). Plotly.newPlot once per chart; structural changes (a run added,
// hidden, removed) go through Plotly.react with a fixed `uirevision`, so the user's zoom survives;
// streamed epochs are buffered and flushed with Plotly.extendTraces on an animation frame, at most
// every MIN_FLUSH_MS, and no more often than FLUSH_COST_FACTOR times what a flush costs here (each
// redraws the three charts: 40-60 ms in headless Chromium without a GPU, a few ms with one), up to
// MAX_FLUSH_MS. Flushing at every frame made the browser use more CPU than the training it shows
// (7 s against 5 s for the 200-epoch overfitting run, bench/ui_latency.py) on the same 2 cores;
// every 200 ms, still 2.3 s; every second, 0.8 s. The first epoch after a pause is drawn at once.

import { lossLabel } from "../format.js";
import { FONT, GRID, PLOTLY_CONFIG } from "../plot_style.js";

const MIN_FLUSH_MS = 200;
const MAX_FLUSH_MS = 1000;
const FLUSH_COST_FACTOR = 10;  // redraws take at most about a tenth of the page's time


// What each chart shows: per run, which traces and how a record maps to a y value.
const CHARTS = {
  loss: {
    yTitle: "cross-entropy loss",
    emptyRange: [0, 2.5],
    traces: [
      { key: "train", dash: "solid", y: (r) => r.train_loss, fmt: ".4f" },
      { key: "test", dash: "dash", y: (r) => r.test_loss, fmt: ".4f" },
    ],
  },
  acc: {
    yTitle: "accuracy (%)",
    yRange: [0, 101],
    traces: [
      { key: "train", dash: "solid", y: (r) => pctOrNull(r.train_acc), fmt: ".1f", suffix: " %" },
      { key: "test", dash: "dash", y: (r) => pctOrNull(r.test_acc), fmt: ".1f", suffix: " %" },
    ],
  },
  gap: {
    yTitle: "gap (% points)",
    emptyRange: [0, 20],
    zeroline: true,
    traces: [
      { key: "gap", dash: "solid", y: (r) => (isNum(r.train_acc) && isNum(r.test_acc) ? 100 * (r.train_acc - r.test_acc) : null), fmt: ".1f", suffix: " pts" },
    ],
  },
};

function isNum(v) { return typeof v === "number" && isFinite(v); }
function pctOrNull(v) { return isNum(v) ? 100 * v : null; }

export class Charts {
  /** elements: {loss: HTMLElement, acc: HTMLElement, gap: HTMLElement} */
  constructor(elements) {
    this.el = elements;
    this.runs = [];            // [{id, color, label, short, visible, loss, epochs, x, series: {chart: [[...]]}, lastEpoch}]
    this.pending = new Map();  // run id -> [records not yet drawn]
    this.dirty = false;        // true: next frame redraws everything with Plotly.react
    this.frame = null;
    this.timer = null;         // a flush waiting for MIN_FLUSH_MS to pass
    this.flushedAt = -Infinity;
    this.flushCost = 0;        // ms, moving average of a flush's drawing
    this.logLoss = false;
    this.pointsDrawn = 0;
    this.drawn = false;
    this.flushListeners = [];
    // The first drawing waits for the next frame, so runs added right away (stored metrics on a
    // permalink) are drawn by one Plotly.newPlot per chart instead of newPlot + react.
    this._structural();
  }

  /** fn() runs after every flush, in the same frame: text that follows the charts costs no frame of its own. */
  onFlush(fn) { this.flushListeners.push(fn); }

  _run(id) { return this.runs.find((r) => r.id === id); }
  has(id) { return Boolean(this._run(id)); }

  /** run: {id, color, label, short, loss, epochs, visible} */
  addRun(run) {
    if (this._run(run.id)) return this._run(run.id);
    const entry = {
      id: run.id, color: run.color, label: run.label || String(run.id), short: run.short || run.label || String(run.id),
      visible: run.visible !== false, loss: run.loss || "cross_entropy", epochs: run.epochs || 0,
      finished: Boolean(run.finished), x: [], series: {}, lastEpoch: -1,
    };
    for (const [name, spec] of Object.entries(CHARTS)) entry.series[name] = spec.traces.map(() => []);
    this.runs.push(entry);
    this._structural();
    return entry;
  }

  removeRun(id) {
    this.runs = this.runs.filter((r) => r.id !== id);
    this.pending.delete(id);
    this._structural();
  }

  setVisible(id, visible) {
    const run = this._run(id);
    if (!run || run.visible === visible) return;
    run.visible = visible;
    this._structural();
  }

  update(id, fields) {
    const run = this._run(id);
    if (!run) return;
    Object.assign(run, fields);
    this._structural();
  }

  setLogLoss(on) {
    this.logLoss = Boolean(on);
    if (!this.drawn) return;
    const log = logTicks(this.logLoss);
    Plotly.relayout(this.el.loss, { "yaxis.type": this.logLoss ? "log" : "linear", "yaxis.autorange": true,
      "yaxis.tickformat": log.tickformat, "yaxis.nticks": log.nticks });
  }

  /** Replace a run's points (stored metrics, or a resync after reconnect). */
  setRecords(id, records) {
    const run = this._run(id);
    if (!run) return;
    run.x = [];
    for (const name of Object.keys(CHARTS)) run.series[name] = CHARTS[name].traces.map(() => []);
    run.lastEpoch = -1;
    this.pending.delete(id);
    for (const record of records || []) this._append(run, record);
    this._structural();
  }

  /** Queue one epoch record for the next animation frame. Records at or before the last epoch are ignored. */
  push(id, record) {
    const run = this._run(id);
    if (!run || typeof record.epoch !== "number" || record.epoch <= run.lastEpoch) return;
    const first = run.x.length === 0;
    this._append(run, record);
    if (!this.dirty) {
      if (!this.pending.has(id)) this.pending.set(id, []);
      this.pending.get(id).push(record);
    }
    // A run's first epoch is drawn at once, even right after the redraw that put the run on the charts.
    this._schedule(first);
  }

  _append(run, record) {
    if (typeof record.epoch !== "number" || record.epoch <= run.lastEpoch) return;
    run.lastEpoch = record.epoch;
    run.x.push(record.epoch);
    for (const [name, spec] of Object.entries(CHARTS)) {
      spec.traces.forEach((t, i) => run.series[name][i].push(t.y(record)));
    }
  }

  /** Number of epochs drawn for a run (test hook). */
  points(id) {
    const run = this._run(id);
    if (!run) return 0;
    const idx = this.runs.indexOf(run) * CHARTS.loss.traces.length;
    const trace = this.el.loss.data && this.el.loss.data[idx];
    return trace && trace.x ? trace.x.length : 0;
  }

  _structural() {
    this.dirty = true;
    this.pending.clear();
    this._schedule();
  }

  _schedule(now = false) {
    if (this.frame !== null) return;
    if (this.timer !== null) {
      if (!now) return;
      clearTimeout(this.timer);
      this.timer = null;
    }
    const wait = this.flushedAt + this.interval() - performance.now();
    if (this.dirty || now || wait <= 0) {
      this.frame = requestAnimationFrame(() => this.flush());
    } else {
      this.timer = setTimeout(() => { this.timer = null; this._schedule(); }, wait);
    }
  }

  /** Draw what is waiting. Called once per animation frame; safe to call directly. */
  flush() {
    this._draw();
    for (const fn of this.flushListeners) fn();
  }

  _draw() {
    if (this.frame !== null) { cancelAnimationFrame(this.frame); this.frame = null; }
    if (this.timer !== null) { clearTimeout(this.timer); this.timer = null; }
    this.flushedAt = performance.now();
    if (this.dirty) {
      this.dirty = false;
      this.pending.clear();
      const draw = this.drawn ? Plotly.react : Plotly.newPlot;
      for (const name of Object.keys(CHARTS)) {
        draw(this.el[name], this._data(name), this._layout(name), PLOTLY_CONFIG);
      }
      this.drawn = true;
      this.pointsDrawn = this.runs.reduce((n, r) => n + r.x.length, 0);
      return;
    }
    if (!this.pending.size) return;
    for (const [name, spec] of Object.entries(CHARTS)) {
      const xs = [], ys = [], indices = [];
      for (const [id, records] of this.pending) {
        const k = this.runs.findIndex((r) => r.id === id);
        if (k < 0) continue;
        spec.traces.forEach((t, i) => {
          indices.push(k * spec.traces.length + i);
          xs.push(records.map((r) => r.epoch));
          ys.push(records.map(t.y));
        });
      }
      if (indices.length) Plotly.extendTraces(this.el[name], { x: xs, y: ys }, indices);
    }
    for (const records of this.pending.values()) this.pointsDrawn += records.length;
    this.pending.clear();
    const cost = performance.now() - this.flushedAt;
    this.flushCost = this.flushCost ? 0.7 * this.flushCost + 0.3 * cost : cost;
  }

  /** Milliseconds between two flushes of streamed epochs, as the cost of a flush here allows. */
  interval() {
    return Math.min(MAX_FLUSH_MS, Math.max(MIN_FLUSH_MS, FLUSH_COST_FACTOR * this.flushCost));
  }

  _data(name) {
    const spec = CHARTS[name];
    const data = [];
    for (const run of this.runs) {
      spec.traces.forEach((t, i) => {
        data.push({
          type: "scatter",
          // markers for short runs and for a run that ended after a few epochs (one that diverged
          // at once has a lone finite point, which a line alone does not show)
          mode: (run.finished && run.x.length <= 5) || Math.max(run.epochs || 0, run.x.length) <= 40 ? "lines+markers" : "lines",
          // Plotly puts the uid in a CSS selector when a trace goes: letters first, no colons
          // (run ids may start with a digit or a hyphen).
          uid: `run-${run.id}-${name}-${t.key}`,
          name: `${run.short} ${t.key}`,
          x: run.x.slice(),
          y: run.series[name][i].slice(),
          visible: run.visible,
          line: { color: run.color, dash: t.dash, width: t.dash === "solid" ? 2.2 : 2 },
          marker: { size: run.finished && run.x.length <= 5 ? 7 : 4, color: run.color },
          hovertemplate: `%{y:${t.fmt}}${t.suffix || ""}<extra>${escapeHtml(run.short)} ${t.key}</extra>`,
          connectgaps: false,
        });
      });
    }
    return data;
  }

  _layout(name) {
    const spec = CHARTS[name];
    const visible = this.runs.filter((r) => r.visible);
    const maxEpochs = Math.max(1, ...visible.map((r) => Math.max(r.epochs || 0, r.lastEpoch)));
    // Before any point, Plotly's autorange spans -1..4: a loss or a gap below zero reads as a bug.
    const empty = !visible.some((r) => r.x.length);
    let yTitle = spec.yTitle;
    if (name === "loss") {
      const losses = new Set(visible.map((r) => r.loss));
      yTitle = losses.size === 1 ? lossLabel([...losses][0]) : losses.size > 1 ? "loss (different losses)" : lossLabel("cross_entropy");
    }
    return {
      annotations: this.runs.length ? [] : [{
        text: "No runs yet — press ▶ Train", showarrow: false, xref: "paper", yref: "paper", x: 0.5, y: 0.5,
        font: { size: 13, color: "#8a94a3" },
      }],
      uirevision: "keep",
      autosize: true,
      margin: { l: 58, r: 14, t: 10, b: 46 },
      font: FONT,
      paper_bgcolor: "rgba(0,0,0,0)",
      plot_bgcolor: "#ffffff",
      showlegend: false,
      hovermode: "x",
      xaxis: {
        title: { text: "epoch", standoff: 6 },
        range: [0, maxEpochs],
        gridcolor: GRID, zeroline: false, linecolor: "#9aa4b2", ticks: "outside", tickcolor: "#9aa4b2",
      },
      yaxis: {
        title: { text: yTitle, standoff: 6 },
        type: name === "loss" && this.logLoss ? "log" : "linear",
        ...(name === "loss" ? logTicks(this.logLoss) : {}),
        ...(spec.yRange ? { range: spec.yRange } : empty && spec.emptyRange ? { range: spec.emptyRange, autorange: false } : { autorange: true }),
        gridcolor: GRID, linecolor: "#9aa4b2", ticks: "outside", tickcolor: "#9aa4b2",
        zeroline: Boolean(spec.zeroline), zerolinecolor: "#9aa4b2", zerolinewidth: 1.5,
        ...(name === "acc" ? { ticksuffix: "" } : {}),
      },
    };
  }
}

/** A log loss axis writes each tick as the number it is (0.2, not the bare "2" Plotly puts between
 * powers of ten), and fewer of them so they do not overlap; a linear one keeps Plotly's own ticks. */
function logTicks(on) {
  return on ? { tickformat: "~g", nticks: 6 } : { tickformat: "", nticks: 0 };
}

function escapeHtml(text) {
  return String(text).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c]));
}
