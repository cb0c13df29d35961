// Shared pieces of the lab pages: settings in the address (#s=<base64url JSON>), a tiny form
// builder, JSON calls to /api/labs/..., and RunBatch, which trains many runs through the socket
// API (run:start per config) while staying within the server's per-connection limits.

import { encodeConfig, decodeConfig } from "../hash.js";
import { lazySocket } from "../socket.js";
import { h, fmtNum } from "../format.js";
import { PALETTE } from "../plot_style.js";
import { connectionBadge } from "../components/connection_badge.js";

export { h, fmtNum, PALETTE };

/** PALETTE and seven more, all distinct: a lab can show all 17 optimizers at once (paths, MNIST optimizers). */
export const WIDE_PALETTE = [...PALETTE, "#111111", "#e3c500", "#17296e", "#9b1236", "#6fcf3f", "#b88aea", "#f28e6b"];
/** The colour of the i-th line of a lab. */
export const colourOf = (i) => WIDE_PALETTE[i % WIDE_PALETTE.length];
export const $ = (id) => document.getElementById(id);
export const LAB = document.getElementById("lab");

export const PLOTLY_CONFIG = { responsive: true, displaylogo: false, modeBarButtonsToRemove: ["select2d", "lasso2d", "autoScale2d", "toggleSpikelines"] };
export const FONT = { family: "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif", size: 12, color: "#2b3440" };
export const GRID = "#e6e9ef";

export function baseLayout(extra = {}) {
  return {
    font: FONT, paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "#fff",
    margin: { l: 52, r: 12, t: 10, b: 40 }, hovermode: "closest",
    legend: { orientation: "h", y: -0.22, x: 0 },
    ...extra,
  };
}

export function axis(title, extra = {}) {
  return { title: { text: title, standoff: 6 }, gridcolor: GRID, zerolinecolor: "#c9d1dc", automargin: true, ...extra };
}

// ------------------------------------------------------------------ settings in the address

const PART = "s=";

/** The settings object of the address (#s=...), merged over `defaults`; {settings, error}.
 * `absent`: what a key missing from a link means (a setting added later: the link keeps its numbers). */
export function readSettings(defaults, hash = location.hash, { absent = {} } = {}) {
  const text = (hash.startsWith("#") ? hash.slice(1) : hash).split("&").find((p) => p.startsWith(PART));
  const base = structuredClone(defaults);
  if (!text) return { settings: base };
  try {
    const value = decodeConfig(decodeURIComponent(text.slice(PART.length)));
    const settings = { ...base, ...absent };
    for (const key of Object.keys(base)) if (key in value) settings[key] = value[key];
    return { settings };
  } catch (err) {
    return { settings: base, error: err.message };
  }
}

/** Put the settings into the address (keeping other hash parts such as #config=). */
export function writeSettings(settings) {
  const parts = location.hash.replace(/^#/, "").split("&").filter((p) => p && !p.startsWith(PART));
  parts.unshift(PART + encodeConfig(settings));
  const hash = "#" + parts.join("&");
  if (location.hash !== hash) history.replaceState(history.state, "", location.pathname + location.search + hash);
}

/** Wire "Copy link" and "Book settings". */
export function linkTools({ onReset }) {
  const copy = $("copy-link");
  if (copy) copy.addEventListener("click", async () => {
    const url = location.href;
    let ok = false;
    try { await navigator.clipboard.writeText(url); ok = true; } catch (err) { ok = false; }
    if (!ok) { window.prompt("Copy this link:", url); return; }
    const old = copy.textContent;
    copy.textContent = "✓ Link copied";
    setTimeout(() => { copy.textContent = old; }, 1500);
  });
  const reset = $("reset");
  if (reset && onReset) reset.addEventListener("click", onReset);
}

export function showNotice(text, kind = "error") {
  const el = $("page-notice");
  if (!el) return;
  if (!text) { el.hidden = true; return; }
  el.className = `notice notice-${kind}`;
  el.textContent = text;
  el.hidden = false;
}

// ------------------------------------------------------------------ JSON calls

export async function api(url, body) {
  const init = body === undefined
    ? { headers: { Accept: "application/json" } }
    : { method: "POST", headers: { "Content-Type": "application/json", Accept: "application/json" }, body: JSON.stringify(body) };
  let res;
  try { res = await fetch(url, init); } catch (err) { throw new Error(`cannot reach the server (${err.message})`); }
  let data = null;
  try { data = await res.json(); } catch (err) { /* not JSON */ }
  if (!res.ok) {
    const error = new Error((data && data.error) || `${url} answered ${res.status}`);
    error.errors = data && data.errors;
    error.status = res.status;
    throw error;
  }
  return data;
}

// ------------------------------------------------------------------ a small form builder

/** What a number field accepts, for its message: "must be a whole number from 1 to 2,000". */
export function fieldRule(f) {
  const n = (v) => (Number.isInteger(v) ? v.toLocaleString("en") : String(v));
  const kind = f.integer ? "a whole number" : "a number";
  if (f.min !== undefined && f.max !== undefined) return `must be ${kind} from ${n(f.min)} to ${n(f.max)}`;
  if (f.min !== undefined) return `must be ${kind} of at least ${n(f.min)}`;
  if (f.max !== undefined) return `must be ${kind} of at most ${n(f.max)}`;
  return `must be ${kind}`;
}

/**
 * Build fields into `container`. spec: [{key, label, type: number|select|checkbox|text, min, max, step,
 * options: [[value, label]], help, unit}]. Values live in `settings`; onChange(key) after each edit.
 * A number outside its range is marked at its field with a message saying what it accepts, and
 * onInvalid(key, message) is called (the settings keep their last valid value). setError(key, message)
 * marks a field with a message from the server; the next valid edit, or sync(), clears it.
 */
export function buildFields(container, spec, settings, onChange, { onInvalid } = {}) {
  const inputs = {};
  const errors = {};
  const rejected = new Set();   // keys whose input the checks below refused
  function setError(key, message) {
    const input = inputs[key];
    const el = errors[key];
    if (!input || !el) return;
    input.classList.toggle("invalid", Boolean(message));
    input.setAttribute("aria-invalid", message ? "true" : "false");
    el.textContent = message || "";
    el.hidden = !message;
  }
  for (const f of spec) {
    const id = `f-${f.key}`;
    let input;
    if (f.type === "select") {
      input = h("select", { id, name: f.key },
        f.options.map(([value, label]) => h("option", { value: String(value) }, label)));
      input.value = String(settings[f.key]);
    } else if (f.type === "checkbox") {
      input = h("input", { id, name: f.key, type: "checkbox" });
      input.checked = Boolean(settings[f.key]);
    } else {
      input = h("input", { id, name: f.key, type: f.type || "number", step: f.step ?? "any", min: f.min, max: f.max, inputmode: "decimal",
        "aria-describedby": `${id}-error` });
      input.value = settings[f.key];
    }
    const handler = () => {
      let value;
      if (f.type === "checkbox") value = input.checked;
      else if (f.type === "select") value = f.numeric ? Number(input.value) : input.value;
      else if (f.type === "text") value = input.value;
      else {
        value = Number(input.value);
        const empty = input.value.trim() === "";
        const bad = empty || !isFinite(value) || (f.min !== undefined && value < f.min) || (f.max !== undefined && value > f.max)
          || (f.integer && !Number.isInteger(value));
        if (bad) {
          rejected.add(f.key);
          const message = `${f.label} ${empty ? "needs a value" : fieldRule(f)}${empty ? "" : ` (got ${input.value.trim()})`}.`;
          setError(f.key, message);
          if (onInvalid) onInvalid(f.key, message);
          return;
        }
        rejected.delete(f.key);
        setError(f.key, null);
      }
      settings[f.key] = value;
      onChange(f.key);
    };
    input.addEventListener(f.type === "select" || f.type === "checkbox" ? "change" : "input", handler);
    const label = f.type === "checkbox"
      ? h("label", { class: "check-line", for: id }, input, h("span", {}, f.label))
      : h("label", { class: "field-label", for: id }, f.label, f.unit ? h("span", { class: "unit" }, f.unit) : null);
    const error = h("p", { class: "field-error", id: `${id}-error`, role: "alert", hidden: true });
    const field = h("div", { class: "field" + (f.wide ? " wide" : "") }, f.type === "checkbox" ? label : [label, input],
      error, f.help ? h("p", { class: "field-help" }, f.help) : null);
    container.append(field);
    inputs[f.key] = input;
    errors[f.key] = error;
  }
  return {
    inputs,
    setError,
    /** Keys whose input holds a value the checks refused (the settings keep the last valid one). */
    rejected: () => [...rejected],
    /** Clear the messages of the fields the checks did not refuse (after the server accepted the settings). */
    clearServerErrors() { for (const key of Object.keys(inputs)) if (!rejected.has(key)) setError(key, null); },
    /** Refresh the inputs from `settings` (after a reset or a narrowing). */
    sync() {
      for (const f of spec) {
        const input = inputs[f.key];
        if (f.type === "checkbox") input.checked = Boolean(settings[f.key]);
        else input.value = String(settings[f.key]);
        rejected.delete(f.key);
        setError(f.key, null);
      }
    },
    disable(flag) { for (const input of Object.values(inputs)) input.disabled = flag; },
  };
}

export function debounce(fn, ms) {
  let timer = null;
  const call = (...args) => { clearTimeout(timer); timer = setTimeout(() => fn(...args), ms); };
  call.cancel = () => { clearTimeout(timer); timer = null; };
  return call;
}

export function sup(exponent) { return `10<sup>${exponent}</sup>`; }

// ------------------------------------------------------------------ many runs through run:start

/** The page's one Socket.IO connection; its state shows in the header badge. */
export const labSocket = lazySocket({ onConnection: connectionBadge(document.getElementById("conn")).show });
export function watchConnection() {}

const RETRYABLE = /queued or running|too many runs started|try again/i;

/** A new batch id: 12 random URL-safe characters (crypto.getRandomValues works on plain http too). */
export function newBatchId() {
  const bytes = crypto.getRandomValues(new Uint8Array(9));
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_");
}

/** The origin a lab run is stored with (server/origin.py): this lab, the batch, the run's key and label. */
export function labOrigin(batch, item) {
  const origin = { kind: "lab", lab: (LAB && LAB.dataset.slug) || "", batch };
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
 * The server allows a few active runs per connection (data-max-per-client) and a start rate:
 * RunBatch keeps at most that many submitted at once and retries refused starts after a pause.
 * hooks: {onEpoch(item, record), onState(item), onAllDone()} with item = {key, config, status, runId,
 * epoch, error, summary, ...}. status: waiting -> submitting -> queued -> running -> done|stopped|diverged|error.
 */
export class RunBatch {
  constructor(hooks = {}) {
    this.hooks = hooks;
    this.maxActive = Math.max(1, Number((LAB && LAB.dataset.maxPerClient) || 4));
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
    this.socket = labSocket();
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
    try { ack = await this.socket.start(item.config, labOrigin(this.batchId, item)); } catch (err) { ack = { error: err.message }; }
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

const FINAL = new Set(["done", "stopped", "diverged", "error", "interrupted"]);
export const isFinal = (status) => FINAL.has(status);

/** "12 of 32 finished · 2 training · 4 queued · 14 waiting" */
export function describeCounts(c) {
  const parts = [`${c.finished} of ${c.total} finished`];
  if (c.running) parts.push(`${c.running} training`);
  if (c.queued) parts.push(`${c.queued} queued on the server`);
  if (c.waiting) parts.push(`${c.waiting} waiting`);
  if (c.failed) parts.push(`${c.failed} diverged or failed`);
  return parts.join(" · ");
}

/** Progress element: a bar + a line of text; set(fraction, text, state). */
export function progress(el) {
  const fill = el.querySelector(".progress-fill");
  const text = el.querySelector(".lab-progress-text");
  const bar = el.querySelector(".progress");
  return {
    set(fraction, line, state = "running") {
      fill.style.width = `${Math.max(0, Math.min(1, fraction)) * 100}%`;
      bar.dataset.state = state;
      bar.setAttribute("aria-valuenow", String(Math.round(fraction * 100)));
      text.textContent = line;
    },
  };
}

/** Status badge text for a run item. */
export function badge(item) {
  const label = item.status === "running" && item.epoch >= 0 ? `epoch ${item.epoch}` : item.status === "queued" && item.position ? `queued #${item.position}` : item.status;
  return h("span", { class: `badge badge-${item.status}`, title: item.error || "" }, label);
}

/** Links of a finished run: its permalink and the look-inside page. */
export function runLinks(item) {
  if (!item.runId) return null;
  return h("span", { class: "run-links" },
    h("a", { href: `/runs/${encodeURIComponent(item.runId)}`, title: "The stored run (permalink)" }, "run"),
    isFinal(item.status) && item.status !== "error" && item.status !== "diverged"
      ? [" · ", h("a", { href: `/labs/inside/${encodeURIComponent(item.runId)}`, title: "Histograms of its weights and activations, first layer as images" }, "look inside")]
      : null);
}

// ------------------------------------------------------------------ live line charts

/**
 * A Plotly chart whose lines grow as records arrive: newPlot once, then extendTraces per animation
 * frame with everything buffered since the last one. Traces are addressed by key.
 */
export class LiveLines {
  constructor(div, layout, config = PLOTLY_CONFIG) {
    this.div = div;
    this.layout = layout;
    this.config = config;
    this.keys = [];
    this.buffer = new Map();
    this.frame = null;
  }

  /** traces: [{key, name, color, dash, width, legendgroup, showlegend}] -> a fresh chart. */
  reset(traces) {
    this.keys = traces.map((t) => t.key);
    this.buffer.clear();
    const data = traces.map((t) => ({
      type: "scatter", mode: "lines", x: [], y: [], name: t.name, legendgroup: t.legendgroup, showlegend: t.showlegend !== false,
      line: { color: t.color, dash: t.dash || "solid", width: t.width || 2 }, xaxis: t.xaxis, yaxis: t.yaxis,
      hovertemplate: t.hovertemplate || `%{y:.4g}<extra>${t.name}</extra>`,
    }));
    Plotly.react(this.div, data, this.layout, this.config);
  }

  push(key, x, y) {
    if (y === null || y === undefined || !isFinite(y)) return;
    const index = this.keys.indexOf(key);
    if (index < 0) return;
    if (!this.buffer.has(index)) this.buffer.set(index, { x: [], y: [] });
    const b = this.buffer.get(index);
    b.x.push(x);
    b.y.push(y);
    if (!this.frame) this.frame = requestAnimationFrame(() => this.flush());
  }

  flush() {
    this.frame = null;
    if (!this.buffer.size) return;
    const indices = [...this.buffer.keys()];
    const update = { x: indices.map((i) => this.buffer.get(i).x), y: indices.map((i) => this.buffer.get(i).y) };
    this.buffer.clear();
    Plotly.extendTraces(this.div, update, indices);
  }

  relayout(update) { Plotly.relayout(this.div, update); }
}
