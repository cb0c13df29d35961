// Lab §6.5: random hyperparameter search (search:start / search:trial / search:done / search:stop),
// a live scatter of learning rate vs weight decay, the best trials and "narrow the ranges".

import { $, h, api, axis, baseLayout, buildFields, linkTools, readSettings, writeSettings, showNotice, PALETTE,
  PLOTLY_CONFIG, progress, labSocket, fmtNum } from "./common.js";
import { watchConnection } from "./common.js";
import { pct, duration } from "../format.js";

const BOOK = { trials: 100, lr_from: -6, lr_to: -2, wd_from: -8, wd_to: -4, samples: 500, validation: 0.2,
  epochs: 50, layers: 6, units: 100, batch_size: 100, seed: 0, top: 5 };
const ACK_TIMEOUT_MS = 20000;
const round3 = (x) => Math.round(x * 1000) / 1000;

let setup = null;
let searchId = null;
let results = [];
let planned = [];
let startedAt = 0;
let narrowed = null;

async function main() {
  watchConnection();
  const { settings, error } = readSettings(BOOK);
  if (error) showNotice(`The settings in this link could not be read (${error}); the book's settings are shown.`, "warning");
  const workers = Number(document.getElementById("lab").dataset.searchWorkers || 1);
  const form = buildFields($("fields"), [
    { key: "trials", label: "Trials", min: 1, max: 1000, step: 1, integer: true, help: "The book: 100." },
    { key: "lr_from", label: "Learning rate from", unit: "10^", min: -12, max: 2 },
    { key: "lr_to", label: "Learning rate to", unit: "10^", min: -12, max: 2 },
    { key: "wd_from", label: "Weight decay from", unit: "10^", min: -12, max: 2 },
    { key: "wd_to", label: "Weight decay to", unit: "10^", min: -12, max: 2 },
    { key: "samples", label: "Images", min: 2, max: 5000, step: 1, integer: true, help: "Training + validation (the book: 500)." },
    { key: "validation", label: "Validation share", min: 0.01, max: 0.9, help: "The book: 0.2, i.e. 400 train / 100 validation." },
    { key: "epochs", label: "Epochs per trial", min: 1, max: 1000, step: 1, integer: true },
    { key: "layers", label: "Hidden layers", min: 0, max: 10, step: 1, integer: true },
    { key: "units", label: "Units per layer", min: 1, max: 2048, step: 1, integer: true },
    { key: "batch_size", label: "Batch size", min: 1, max: 5000, step: 1, integer: true },
    { key: "top", label: "Best trials to keep", min: 1, max: 20, step: 1, integer: true, help: "Shown in the table and used to narrow the ranges." },
    { key: "seed", label: "Seed", min: 0, step: 1, integer: true, help: "Fixes the split, the initial weights and the sampled values." },
  ], settings, () => changed());
  const bar = progress(document.querySelector(".lab-progress"));
  const socket = labSocket();

  const scatterDiv = $("chart-scatter");
  function resetScatter() {
    const lr = [10 ** settings.lr_from, 10 ** settings.lr_to];
    const wd = [10 ** settings.wd_from, 10 ** settings.wd_to];
    Plotly.react(scatterDiv, [
      { type: "scatter", mode: "markers", x: planned.map((t) => t.lr), y: planned.map((t) => t.weight_decay), name: "waiting",
        marker: { size: 7, color: "rgba(0,0,0,0)", line: { color: "#a6b0bd", width: 1 } }, hoverinfo: "skip" },
      { type: "scatter", mode: "markers", x: [], y: [], text: [], name: "finished",
        marker: { size: 10, color: [], cmin: 0, cmax: 1, colorscale: "Viridis", showscale: true, line: { color: "#fff", width: 0.5 },
          colorbar: { title: { text: "val. acc." }, tickformat: ".0%", thickness: 12, len: 0.9 } },
        hovertemplate: "lr %{x:.3g}<br>weight decay %{y:.3g}<br>%{text}<extra></extra>" },
    ], baseLayout({ showlegend: false, margin: { l: 60, r: 10, t: 10, b: 44 },
      xaxis: axis("learning rate", { type: "log", range: [Math.log10(lr[0]) - 0.1, Math.log10(lr[1]) + 0.1], ...logTicks(lr) }),
      yaxis: axis("weight decay", { type: "log", range: [Math.log10(wd[0]) - 0.1, Math.log10(wd[1]) + 0.1], ...logTicks(wd) }) }),
    PLOTLY_CONFIG);
  }

  async function changed() {
    writeSettings(settings);
    try {
      setup = await api("/api/labs/search/setup", settingsForServer());
    } catch (err) {
      setup = null;
      $("run").disabled = true;
      showNotice(`These settings do not work: ${err.message}`);
      return;
    }
    showNotice(null);
    if (!searchId) $("run").disabled = false;
    const d = setup.config.data;
    $("plan").textContent = `${setup.trials} trials · ${d.train_size} train / ${d.validation_size} validation images · ${setup.config.training.epochs} epochs each · ${workers} worker process${workers > 1 ? "es" : ""}`;
    if (!searchId && !results.length) { planned = []; resetScatter(); }
  }

  function settingsForServer() {
    return { trials: settings.trials, lr: [10 ** settings.lr_from, 10 ** settings.lr_to], weight_decay: [10 ** settings.wd_from, 10 ** settings.wd_to],
      samples: settings.samples, validation: settings.validation, epochs: settings.epochs, layers: settings.layers,
      units: settings.units, batch_size: settings.batch_size, seed: settings.seed };
  }

  function setRunning(running) {
    $("run").disabled = running || !setup;
    $("stop").disabled = !running;
    form.disable(running);
    $("narrow").disabled = running || !narrowed;
  }

  // ---- socket events (each search has its own room; ignore other searches)
  socket.io.on("search:trial", (p) => {
    if (p.search_id !== searchId) return;
    results.push(p);
    Plotly.extendTraces(scatterDiv, { x: [[p.lr]], y: [[p.weight_decay]], text: [[`val. acc. ${pct(p.val_acc)} (trial ${p.trial})`]],
      "marker.color": [[p.val_acc ?? 0]] }, [1]);
    const left = planned.filter((t) => !results.some((r) => r.trial === t.trial));
    Plotly.restyle(scatterDiv, { x: [left.map((t) => t.lr)], y: [left.map((t) => t.weight_decay)] }, [0]);
    const elapsed = (performance.now() - startedAt) / 1000;
    const eta = elapsed / p.done * (p.total - p.done);
    bar.set(p.done / p.total, `${p.done} / ${p.total} trials · ${duration(elapsed)} elapsed · about ${duration(eta)} left`, "running");
    showBest();
  });
  socket.io.on("search:done", async (p) => {
    if (p.search_id !== searchId) return;
    searchId = null;
    narrowed = null;
    if (results.some((r) => r.val_acc !== null && r.val_acc !== undefined)) {
      try {
        narrowed = await api("/api/labs/search/narrow", { results: results.map(({ curve, ...r }) => r), top: settings.top });
      } catch (err) {
        showNotice(`Could not narrow the ranges: ${err.message}`);
      }
    }
    const speed = p.results ? ` · ${(p.elapsed_s / p.results).toFixed(1)} s per trial with ${p.workers} worker${p.workers > 1 ? "s" : ""}` : "";
    bar.set(p.results / p.total, `${p.status === "done" ? "Done" : "Stopped"}: ${p.results} of ${p.total} trials in ${duration(p.elapsed_s)}${speed}`, p.status === "done" ? "done" : "stopped");
    showBest();
    showNarrowed();
    setRunning(false);
  });
  socket.io.on("disconnect", () => {
    // A search belongs to the connection that started it: the server stops it when that goes away.
    if (!searchId) return;
    searchId = null;
    showNotice("The connection to the server was lost, so the search stopped (its finished trials are still shown). Start it again when the connection is back.", "warning");
    bar.set(results.length / Math.max(1, planned.length), `Stopped after ${results.length} trials: connection lost`, "stopped");
    setRunning(false);
  });
  socket.io.on("search:error", (p) => {
    if (p.search_id !== searchId) return;
    showNotice(`The search failed: ${p.error}`);
  });

  function emit(event, payload) {
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve({ error: `the server did not answer ${event}` }), ACK_TIMEOUT_MS);
      socket.io.emit(event, payload, (ack) => { clearTimeout(timer); resolve(ack || {}); });
    });
  }

  $("run").addEventListener("click", async () => {
    if (!setup) return;
    results = [];
    narrowed = null;
    showBest();
    showNarrowed();
    setRunning(true);
    bar.set(0, "Starting the worker processes…", "running");
    const ack = await emit("search:start", { config: setup.config, trials: setup.trials, lr: setup.lr, weight_decay: setup.weight_decay });
    if (ack.error) {
      showNotice(`The search could not start: ${ack.error}`);
      bar.set(0, "Not started.", "error");
      setRunning(false);
      return;
    }
    showNotice(null);
    searchId = ack.search_id;
    planned = ack.trials;
    startedAt = performance.now();
    resetScatter();
    bar.set(0, `0 / ${planned.length} trials · ${ack.workers} worker process${ack.workers > 1 ? "es" : ""} started`, "running");
  });
  $("stop").addEventListener("click", async () => {
    if (!searchId) return;
    $("stop").disabled = true;
    const ack = await emit("search:stop", { search_id: searchId });
    bar.set(results.length / Math.max(1, planned.length), ack.error ? ack.error : "Stopping: the trials already running finish first…", "stopped");
  });

  $("narrow").addEventListener("click", () => {
    if (!narrowed) return;
    settings.lr_from = round3(Math.log10(narrowed.lr[0]));
    settings.lr_to = round3(Math.log10(narrowed.lr[1]));
    if (narrowed.weight_decay[0] > 0) {
      settings.wd_from = round3(Math.log10(narrowed.weight_decay[0]));
      settings.wd_to = round3(Math.log10(narrowed.weight_decay[1]));
    }
    form.sync();
    results = [];
    narrowed = null;
    showBest();
    showNarrowed();
    changed();
  });

  function best() {
    return results.filter((r) => r.val_acc !== null && r.val_acc !== undefined)
      .sort((a, b) => b.val_acc - a.val_acc).slice(0, settings.top);
  }

  function showBest() {
    const top = best();
    $("best-title").textContent = `Best ${settings.top} trials (by validation accuracy)`;
    const body = $("best-table").querySelector("tbody");
    if (!top.length) body.replaceChildren(h("tr", {}, h("td", { colspan: 8, class: "muted" }, "No trial has finished yet.")));
    else body.replaceChildren(...top.map((r, i) => h("tr", { class: i === 0 ? "best" : "" },
      h("td", { class: "swatch-cell" }, h("span", { class: "sw", style: `--c:${PALETTE[i % PALETTE.length]}` })),
      h("td", { class: "num" }, i + 1), h("td", { class: "num" }, r.trial), h("td", { class: "num" }, r.lr.toExponential(2)),
      h("td", { class: "num" }, r.weight_decay.toExponential(2)), h("td", { class: "num" }, pct(r.val_acc)),
      h("td", { class: "num" }, pct(r.train_acc)), h("td", { class: "num" }, `${fmtNum(r.elapsed_s)} s`))));
    const traces = [];
    top.forEach((r, i) => {
      const colour = PALETTE[i % PALETTE.length];
      const name = `#${i + 1}: lr ${r.lr.toExponential(1)}, wd ${r.weight_decay.toExponential(1)}`;
      traces.push({ type: "scatter", mode: "lines", x: r.curve.map((c) => c.epoch), y: r.curve.map((c) => c.val_acc), name,
        line: { color: colour, width: 2 }, legendgroup: name, hovertemplate: `val. %{y:.1%}<extra>${name}</extra>` });
      traces.push({ type: "scatter", mode: "lines", x: r.curve.map((c) => c.epoch), y: r.curve.map((c) => c.train_acc), name,
        line: { color: colour, width: 1.5, dash: "dash" }, legendgroup: name, showlegend: false, hovertemplate: `train %{y:.1%}<extra>${name}</extra>` });
    });
    Plotly.react($("chart-curves"), traces, baseLayout({ xaxis: axis("epoch"), yaxis: axis("accuracy", { range: [0, 1.02], tickformat: ".0%" }),
      legend: { orientation: "h", x: 0, y: -0.2, font: { size: 11 } }, margin: { l: 52, r: 12, t: 10, b: 40 }, uirevision: "keep" }), PLOTLY_CONFIG);
  }

  function showNarrowed() {
    const text = $("narrow-text");
    $("narrow").disabled = !narrowed || Boolean(searchId);
    if (!narrowed) { text.textContent = "After a search: new ranges spanning the best trials' learning rates and weight decays."; return; }
    text.replaceChildren("New ranges from the best ", String(narrowed.from.length), " trials: learning rate ",
      h("code", {}, `${narrowed.lr[0].toExponential(1)} … ${narrowed.lr[1].toExponential(1)}`), ", weight decay ",
      h("code", {}, `${narrowed.weight_decay[0].toExponential(1)} … ${narrowed.weight_decay[1].toExponential(1)}`), ".");
  }

  linkTools({ onReset: () => {
    if (searchId) return;
    Object.assign(settings, structuredClone(BOOK));
    form.sync();
    changed();
  } });
  showBest();
  changed();
}

main();

/** Tick labels of a log axis over [lo, hi]: powers of ten when it spans two decades or more (Plotly
 * would label the 2s and 5s between them as a bare "2", "5"), else every label as a number ("2e-3"). */
function logTicks([lo, hi]) {
  return Math.log10(hi / lo) >= 2 ? { dtick: 1, exponentformat: "power" } : { tickformat: ".0e" };
}
