// The run bar: status line, progress bar (epoch i/N, elapsed, ETA), queue position, Stop button(s).

import { duration, pct } from "../format.js";

export class StatusPanel {
  /** el: {line, bar, fill, epoch, time, stop}; stop: a button, or several that act as one. hideStop: Stop
   * shows only while the followed run is starting, queued or running (a run's page: a finished run has
   * nothing to stop). */
  constructor(el, { onStop = () => {}, hideStop = false } = {}) {
    this.el = el;
    this.stops = [].concat(el.stop);
    this.hideStop = hideStop;
    this.run = null;
    this.timer = null;
    for (const stop of this.stops) stop.addEventListener("click", () => { if (this.run) onStop(this.run.id); });
    const shown = this.stops.map((stop) => !stop.hidden);  // as the page was rendered, until a run is followed
    this.set("idle", el.line.textContent || "Ready.");
    if (hideStop) this.stops.forEach((stop, i) => { stop.hidden = !shown[i]; });
  }

  /** kind: idle starting queued running done stopped diverged error invalid */
  set(kind, text) {
    this.el.line.dataset.status = kind;
    setText(this.el.line, text);
    const active = kind === "starting" || kind === "queued" || kind === "running";
    for (const stop of this.stops) {
      stop.disabled = !(active && this.run && this.run.id);
      if (this.hideStop) stop.hidden = !active;
    }
    this.el.bar.dataset.state = kind;
    if (!active) this._stopTimer();
  }

  /** A "Not started: ... marked in red" line no longer describes the builder: back to ready. */
  clearInvalid() {
    if (this.el.line.dataset.status === "invalid") this.set("idle", "Ready. Press Train to start.");
  }

  /** A run that is not training, drawn from its stored metrics: how far it got and how long it took. */
  showStored(run) {
    const metrics = run.metrics || [];
    const n = metrics.length;
    const trained = n ? n - 1 : 0;
    const epochs = (run.config.training || {}).epochs;
    const how = { done: "finished", stopped: "was stopped", diverged: "diverged", interrupted: "was interrupted", error: "failed" }[run.status];
    this.set(run.status === "done" ? "done" : run.status,
      `Drawn from the stored metrics: ${trained} trained epoch${trained === 1 ? "" : "s"} plus epoch 0, the untrained network`
      + (how && run.status !== "done" ? ` (the run ${how}).` : "."));
    this.el.fill.style.width = run.status === "done" ? "100%" : `${100 * Math.max(0, n - 1) / Math.max(1, epochs || 1)}%`;
    this.el.epoch.textContent = `epoch ${n ? metrics[n - 1].epoch : 0} / ${epochs ?? "?"}`;
    this.el.time.textContent = run.summary && run.summary.elapsed_s !== undefined ? `took ${duration(run.summary.elapsed_s, { tenths: true })}` : "";
  }

  /** Follow a run: {id, short, epochs}. */
  follow(run) {
    this._stopTimer(); // the previous run's clock; this one starts when it does
    this.run = { ...run, epoch: null, elapsed: 0, t0: performance.now(), rate: null, stampedAt: performance.now() };
    this._progress(0);
    this.el.epoch.textContent = `epoch 0 / ${run.epochs}`;
    this.el.time.textContent = "";
    this.set("starting", `${runTitle(run.short)}: starting…`);
  }

  isFollowing(id) { return Boolean(this.run && this.run.id === id); }

  /**
   * Follow no run: an empty bar, no epoch, no clock. A new Train press starts here, so a Train the
   * server refuses does not leave the previous run's "epoch 100 / 100 · took 2.5 s" next to its message.
   */
  clear(kind = "idle", text = this.el.line.textContent) {
    this._stopTimer();
    this.run = null;
    this._progress(0);
    setText(this.el.epoch, "epoch – / –");
    setText(this.el.time, "");
    this.set(kind, text);
  }

  queued(id, position) {
    if (!this.isFollowing(id)) return;
    this.set("queued", `${runTitle(this.run.short)}: queued, position ${position} — it starts when a worker is free (other runs are training).`);
    this.el.time.textContent = `queue position ${position}`;
  }

  started(id) {
    if (!this.isFollowing(id)) return;
    this.run.t0 = performance.now();
    this.set("running", `${runTitle(this.run.short)}: running — evaluating the untrained network (epoch 0)…`);
    this._startTimer();
  }

  epoch(id, record) {
    if (!this.isFollowing(id)) return;
    const r = this.run;
    if (r.epoch === null) { this.run.t0 = performance.now() - 1000 * (record.elapsed_s || 0); this._startTimer(); }
    r.epoch = record.epoch;
    r.elapsed = record.elapsed_s || 0;
    r.stampedAt = performance.now();
    if (record.epoch === 0) r.elapsed0 = r.elapsed;
    else r.rate = (r.elapsed - (r.elapsed0 || 0)) / record.epoch; // seconds per epoch
    this._progress(record.epoch / Math.max(1, r.epochs));
    setText(this.el.epoch, `epoch ${record.epoch} / ${r.epochs}`);
    const acc = record.test_acc !== null && record.test_acc !== undefined
      ? ` — train ${pct(record.train_acc)}, test ${pct(record.test_acc)}` : "";
    this.set("running", `${runTitle(r.short)}: training, epoch ${record.epoch} of ${r.epochs}${acc}`);
    this._tick();
  }

  finished(id, summary, config) {
    if (!this.isFollowing(id)) return;
    const r = this.run;
    summary = summary || {};
    const status = summary.status || summary.event || "done";
    const final = summary.final || {};
    const secs = summary.elapsed_s;
    // The bar shows the last epoch trained, also for a run that stopped or diverged on the way (its
    // last epochs may not have been shown yet: the epoch text follows the chart redraws).
    const done = status === "done";
    const completed = typeof final.epoch === "number" ? final.epoch : done ? r.epochs : summary.epochs_completed;
    if (typeof completed === "number") {
      this._progress(done ? 1 : completed / Math.max(1, r.epochs));
      setText(this.el.epoch, `epoch ${completed} / ${r.epochs}`);
    }
    if (done) {
      const gap = typeof final.train_acc === "number" && typeof final.test_acc === "number"
        ? ` (gap ${(100 * (final.train_acc - final.test_acc)).toFixed(1)} points)` : "";
      // 10 % is what guessing gets on ten digits: a run that ends there learned nothing (a learning rate
      // far too large often lands there without the loss overflowing).
      const guessing = typeof final.train_acc === "number" && final.train_acc < 0.2
        ? " The network is no better than guessing (10 % is chance): if the loss jumped, try a smaller"
          + " learning rate; if it barely moved, a larger one or more epochs." : "";
      this.set("done", `${runTitle(r.short)}: done in ${duration(secs, { tenths: true })} — train accuracy ${pct(final.train_acc)}, test accuracy ${pct(final.test_acc)}${gap}.${guessing}`);
    } else if (status === "stopped") {
      this.set("stopped", `${runTitle(r.short)}: stopped at epoch ${summary.epochs_completed ?? r.epoch ?? 0} of ${r.epochs}.`);
    } else if (status === "diverged") {
      this.set("diverged", `${runTitle(r.short)}: diverged — ${summary.message || "the loss became infinite or NaN"}.`);
    } else {
      this.set(status, `${runTitle(r.short)}: ${status}${summary.message ? " — " + summary.message : ""}.`);
    }
    this.el.time.textContent = secs !== undefined ? `took ${duration(secs, { tenths: true })}` : "";
  }

  failed(id, message) {
    if (id !== null && !this.isFollowing(id)) return;
    this.set("error", `${this.run ? `${runTitle(this.run.short)}: ` : ""}error — ${message}`);
  }

  _progress(fraction) {
    const f = Math.max(0, Math.min(1, fraction || 0));
    const width = (100 * f).toFixed(1) + "%";
    if (this.el.fill.style.width !== width) this.el.fill.style.width = width;
    this.el.bar.setAttribute("aria-valuenow", String(Math.round(100 * f)));
  }

  _startTimer() {
    if (!this.timer) this.timer = setInterval(() => this._tick(), 500);
  }

  _stopTimer() {
    if (this.timer) { clearInterval(this.timer); this.timer = null; }
  }

  _tick() {
    const r = this.run;
    if (!r) return;
    const elapsed = (performance.now() - r.t0) / 1000;
    let text = `elapsed ${duration(elapsed)}`;
    if (r.rate && r.epoch !== null) {
      const sinceLast = (performance.now() - r.stampedAt) / 1000;
      const eta = Math.max(0, r.rate * (r.epochs - r.epoch) - sinceLast);
      text += ` · ETA ${duration(eta)}`;
    }
    setText(this.el.time, text);
  }
}

// "#3" (the dashboard's runs) reads "Run #3"; "original", "re-run 1" (a run's page) read as they are.
function runTitle(short) {
  const name = String(short ?? "");
  return name.startsWith("#") ? `Run ${name}` : name.charAt(0).toUpperCase() + name.slice(1);
}

// A text node rewritten with the same words still costs a style, layout and paint pass (and a frame):
// the elapsed time changes once a second, the timer ticks twice.
function setText(el, text) {
  if (el.textContent !== text) el.textContent = text;
}
