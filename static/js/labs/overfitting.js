// Lab §6.4: overfitting, weight decay, dropout and both, side by side (4 runs via run:start; 5 with an
// inverted-dropout run beside the book's).

import { $, h, api, axis, baseLayout, buildFields, linkTools, readSettings, writeSettings, showNotice, PALETTE,
  RunBatch, LiveLines, describeCounts, progress, badge, runLinks, isFinal } from "./common.js";
import { watchConnection } from "./common.js";
import { pct } from "../format.js";

const BOOK = { epochs: 301, train_size: 300, weight_decay: 0.1, dropout: 0.2, dropout_style: "book", layers: 6, units: 100, lr: 0.01, seed: 0 };
const STYLES = [["book", "the book's (×(1 − p) at test time)"], ["inverted", "inverted (×1/(1 − p) while training)"],
  ["compare", "both: add an inverted run"]];
const TRAIN = "#1f6fd1";
const TEST = "#d6402b";

async function main() {
  watchConnection();
  // a link from before the style setting trained inverted dropout: it keeps doing so
  const { settings, error } = readSettings(BOOK, location.hash, { absent: { dropout_style: "inverted" } });
  if (error) showNotice(`The settings in this link could not be read (${error}); the book's settings are shown.`, "warning");
  const form = buildFields($("fields"), [
    { key: "epochs", label: "Epochs", min: 1, max: 1000, step: 1, integer: true },
    { key: "train_size", label: "Training images", min: 1, max: 4999, step: 1, integer: true, help: "The rest of the 5,000-image pool is the test set." },
    { key: "weight_decay", label: "Weight decay λ", min: 0, max: 10, help: "Adds ½λ‖W‖² to the loss (the book: 0.1)." },
    { key: "dropout", label: "Dropout rate", min: 0, max: 0.9, help: "Share of units dropped while training (the book: 0.2)." },
    { key: "dropout_style", label: "Dropout style", type: "select", options: STYLES, help: "The book's style reproduces its Fig. 6-23; “both” adds an inverted-dropout run on the same data, weights and masks." },
    { key: "layers", label: "Hidden layers", min: 1, max: 10, step: 1, integer: true },
    { key: "units", label: "Units per layer", min: 1, max: 2048, step: 1, integer: true },
    { key: "lr", label: "Learning rate (SGD)", min: 1e-9, max: 10 },
    { key: "seed", label: "Seed", min: 0, step: 1, integer: true },
  ], settings, () => changed());

  let plan = null;
  let batch = null;
  let charts = {};
  const gap = new LiveLines($("chart-gap"), baseLayout({ xaxis: axis("epoch"), yaxis: axis("gap (% points)"), uirevision: "keep" }));
  const bar = progress(document.querySelector(".lab-progress"));

  async function changed() {
    writeSettings(settings);
    try {
      plan = await api("/api/labs/overfitting/runs", settings);
    } catch (err) {
      plan = null;
      $("run").disabled = true;
      showNotice(`These settings do not work: ${err.message}`);
      return;
    }
    showNotice(null);
    if (!batch || !batch.active) { $("run").disabled = false; drawEmpty(); }
    $("plan").textContent = `${plan.runs.length} runs of ${plan.meta.epochs} epochs · ${settings.train_size} training images, ${plan.meta.test_size.toLocaleString()} test images`;
  }

  function drawEmpty() {
    const grid = $("variants");
    grid.replaceChildren();
    charts = {};
    plan.runs.forEach((run, i) => {
      const div = h("div", { class: "cell-chart", role: "img", "aria-label": `Accuracy of ${run.label}` });
      const meta = h("p", { class: "cell-meta" }, "not started");
      grid.append(h("div", { class: "chart-cell" }, h("h3", { title: run.label }, h("span", { style: `color:${PALETTE[i]}` }, run.label)), meta, div));
      const lines = new LiveLines(div, baseLayout({ margin: { l: 40, r: 8, t: 6, b: 34 }, showlegend: false,
        xaxis: axis("epoch", { range: [0, plan.meta.epochs] }), yaxis: axis("", { range: [0, 101], ticksuffix: "%" }) }),
        { ...PLOTLY_CONFIG_SMALL });
      lines.reset([{ key: "train", name: "train", color: TRAIN }, { key: "test", name: "test", color: TEST, dash: "dash" }]);
      charts[run.key] = { lines, meta };
    });
    gap.reset(plan.runs.map((run, i) => ({ key: run.key, name: run.label, color: PALETTE[i] })));
  }

  $("run").addEventListener("click", () => {
    if (!plan) return;
    drawEmpty();
    const items = plan.runs.map((r, i) => ({ ...r, color: PALETTE[i], record: null }));
    const epochs = plan.meta.epochs;
    batch = new RunBatch({
      onEpoch: (item, r) => {
        item.record = r;
        const c = charts[item.key];
        c.lines.push("train", r.epoch, r.train_acc == null ? null : 100 * r.train_acc);
        c.lines.push("test", r.epoch, r.test_acc == null ? null : 100 * r.test_acc);
        if (r.train_acc != null && r.test_acc != null) {
          gap.push(item.key, r.epoch, 100 * (r.train_acc - r.test_acc));
          c.meta.textContent = `epoch ${r.epoch} · gap ${(100 * (r.train_acc - r.test_acc)).toFixed(1)} pts`;
        }
      },
      onState: (item, counts) => {
        const done = batch.items.reduce((s, it) => s + (isFinal(it.status) ? epochs : Math.max(0, it.epoch)), 0);
        bar.set(done / (epochs * counts.total), describeCounts(counts), counts.finished === counts.total ? "done" : "running");
        renderTable(batch.items);
      },
      onAllDone: () => setRunning(false),
    });
    batch.start(items);
    setRunning(true);
  });
  $("stop").addEventListener("click", () => batch && batch.stop());

  function setRunning(running) {
    $("run").disabled = running || !plan;
    $("stop").disabled = !running;
    form.disable(running);
  }

  linkTools({ onReset: () => {
    if (batch && batch.active) return;
    Object.assign(settings, structuredClone(BOOK));
    form.sync();
    changed();
  } });
  changed();
}

const PLOTLY_CONFIG_SMALL = { responsive: true, displaylogo: false, displayModeBar: false };

function renderTable(items) {
  $("run-table").querySelector("tbody").replaceChildren(...items.map((it) => {
    const r = it.record || {};
    const g = r.train_acc != null && r.test_acc != null ? `${(100 * (r.train_acc - r.test_acc)).toFixed(1)} pts` : "–";
    return h("tr", {},
      h("td", { class: "swatch-cell" }, h("span", { class: "sw", style: `--c:${it.color}` })),
      h("td", {}, it.label), h("td", {}, badge(it)), h("td", { class: "num" }, r.epoch ?? "–"),
      h("td", { class: "num" }, pct(r.train_acc)), h("td", { class: "num" }, pct(r.test_acc)), h("td", { class: "num" }, g),
      h("td", {}, runLinks(it)));
  }));
}

main();
