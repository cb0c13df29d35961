// Shared page logic of the MNIST comparison labs (§6.1.8 optimizers, §6.2.4 weight init):
// settings -> POST /api/labs/<slug>/runs (configs) -> RunBatch (one run:start per config) ->
// loss and accuracy overlaid against iterations, and a table of the runs.

import { $, h, api, axis, baseLayout, buildFields, linkTools, readSettings, writeSettings, showNotice, colourOf,
  RunBatch, LiveLines, describeCounts, progress, badge, runLinks, isFinal, fmtNum } from "./common.js";
import { watchConnection } from "./common.js";
import { pct } from "../format.js";

/**
 * spec: {slug, book, fields: [...buildFields spec], rows: {key, options: [[value, label]], number: {key, label, min},
 * numberFor(row) -> bool, defaultRow(value) -> row}}
 */
export function compareLab(spec) {
  watchConnection();
  const { settings, error } = readSettings(spec.book);
  if (error) showNotice(`The settings in this link could not be read (${error}); the book's settings are shown.`, "warning");
  let plan = null;          // last /api/labs/<slug>/runs answer
  let batch = null;

  // a refused value (marked at its field) must not be trained with the last valid one: no "Train all" until fixed
  const form = buildFields($("fields"), spec.fields, settings, () => changed(), { onInvalid: () => { $("run").disabled = true; } });
  const rowsSpec = spec.rows;
  const add = $("row-add");
  add.append(h("option", { value: "" }, rowsSpec.addLabel), ...rowsSpec.options.map(([v, l]) => h("option", { value: v }, l)));
  add.addEventListener("change", () => {
    if (!add.value) return;
    settings[rowsSpec.key].push(rowsSpec.defaultRow(add.value));
    add.value = "";
    renderRows();
    changed();
  });

  function renderRows() {
    const rows = $("rows");
    rows.replaceChildren();
    settings[rowsSpec.key].forEach((row, i) => {
      const select = h("select", { "aria-label": `${rowsSpec.noun} ${i + 1}` }, rowsSpec.options.map(([v, l]) => h("option", { value: v }, l)));
      select.value = row[rowsSpec.nameKey];
      const num = h("input", { type: "number", step: "any", min: 0, "aria-label": `${rowsSpec.number.label} of ${rowsSpec.noun.toLowerCase()} ${i + 1}` });
      const syncNum = () => {
        const used = rowsSpec.numberFor(row);
        num.disabled = !used;
        num.value = used ? row[rowsSpec.number.key] : "";
        num.placeholder = used ? "" : "—";
      };
      select.addEventListener("change", () => { Object.assign(row, rowsSpec.defaultRow(select.value)); syncNum(); changed(); });
      num.addEventListener("input", () => {
        const v = Number(num.value);
        const bad = num.value.trim() === "" || !(v > 0) || !isFinite(v);
        num.classList.toggle("invalid", bad);
        if (!bad) { row[rowsSpec.number.key] = v; changed(); }
      });
      syncNum();
      const remove = h("button", { type: "button", class: "icon-btn danger", title: "Remove", "aria-label": `Remove ${rowsSpec.noun.toLowerCase()} ${i + 1}`, disabled: settings[rowsSpec.key].length <= 1 }, "×");
      remove.addEventListener("click", () => { settings[rowsSpec.key].splice(i, 1); renderRows(); changed(); });
      rows.append(h("div", { class: "opt-row" }, h("span", { class: "opt-swatch", style: `--c:${colourOf(i)}` }), select, num, remove));
    });
  }

  // ---- charts
  const lossChart = new LiveLines($("chart-loss"), baseLayout({
    xaxis: axis("iterations (mini-batch updates)"), yaxis: axis("training loss", { type: "log", tickformat: "~g", nticks: 4 }), uirevision: "keep" }));
  const accChart = new LiveLines($("chart-acc"), baseLayout({
    xaxis: axis("iterations (mini-batch updates)"), yaxis: axis("test accuracy (%)", { range: [0, 100] }), uirevision: "keep" }));
  $("log-loss").addEventListener("change", (e) => {
    const log = e.target.checked;
    // automatic ticks, few of them: powers of ten over many decades, 1-2-5 over one or two, plain numbers within
    // one; tickformat "~g" writes each as the number it is (0.2, not the "2" Plotly puts between powers of ten)
    lossChart.layout.yaxis.type = log ? "log" : "linear";
    lossChart.relayout({ "yaxis.type": lossChart.layout.yaxis.type });
  });
  const bar = progress(document.querySelector(".lab-progress"));

  async function changed() {
    writeSettings(settings);
    try {
      plan = await api(`/api/labs/${spec.slug}/runs`, settings);
    } catch (err) {
      plan = null;
      $("run").disabled = true;
      $("plan").textContent = "";
      showNotice(`These settings do not work: ${err.message}`);
      return;
    }
    showNotice(null);
    if (!batch || !batch.active) {
      $("run").disabled = form.rejected().length > 0;
      drawEmpty();
    }
    const m = plan.meta;
    $("plan").textContent = `${plan.runs.length} runs · ${m.epochs} epochs × ${m.iterations_per_epoch} iterations = ${m.iterations.toLocaleString()} iterations each · ${m.test_size.toLocaleString()} test images`;
  }

  function setRunning(running) {
    $("run").disabled = running || !plan || form.rejected().length > 0;
    $("stop").disabled = !running;
    form.disable(running);
    for (const el of document.querySelectorAll("#rows select, #rows input, #rows button, #row-add")) el.disabled = running;
    if (!running) renderRows();
  }

  /** Empty charts with one (legend) entry per planned run, axes spanning the planned iterations. */
  function drawEmpty() {
    const items = plan.runs.map((r, i) => ({ ...r, color: colourOf(i) }));
    for (const chart of [lossChart, accChart]) chart.layout.xaxis.range = [0, plan.meta.iterations];
    lossChart.reset(items.map((it) => ({ key: it.key, name: it.label, color: it.color })));
    accChart.reset(items.map((it) => ({ key: it.key, name: it.label, color: it.color, hovertemplate: `%{y:.1f} %<extra>${it.label}</extra>` })));
    return items;
  }

  $("run").addEventListener("click", () => {
    if (!plan) return;
    const perEpoch = plan.meta.iterations_per_epoch;
    const items = drawEmpty().map((it) => ({ ...it, record: null }));
    const totalEpochs = plan.meta.epochs;
    batch = new RunBatch({
      onEpoch: (item, record) => {
        item.record = record;
        lossChart.push(item.key, record.epoch * perEpoch, record.train_loss);
        accChart.push(item.key, record.epoch * perEpoch, record.test_acc === null ? null : 100 * record.test_acc);
      },
      onState: (item, counts) => {
        const epochsDone = batch.items.reduce((s, it) => s + (isFinal(it.status) ? totalEpochs : Math.max(0, it.epoch)), 0);
        bar.set(epochsDone / (totalEpochs * counts.total), describeCounts(counts), counts.finished === counts.total ? "done" : "running");
        renderTable(batch.items, perEpoch);
      },
      onAllDone: () => setRunning(false),
    });
    batch.start(items);
    setRunning(true);
  });
  $("stop").addEventListener("click", () => batch && batch.stop());

  linkTools({ onReset: () => {
    if (batch && batch.active) return;
    Object.assign(settings, structuredClone(spec.book));
    form.sync();
    renderRows();
    changed();
  } });

  renderRows();
  changed();
}

function renderTable(items, perEpoch) {
  const body = $("run-table").querySelector("tbody");
  body.replaceChildren(...items.map((it) => {
    const r = it.record || {};
    return h("tr", {},
      h("td", { class: "swatch-cell" }, h("span", { class: "sw", style: `--c:${it.color}` })),
      h("td", {}, it.label), h("td", {}, badge(it), it.error ? h("div", { class: "muted small" }, it.error) : null),
      h("td", { class: "num" }, r.epoch !== undefined ? (r.epoch * perEpoch).toLocaleString() : "–"),
      h("td", { class: "num" }, r.train_loss != null ? fmtNum(r.train_loss) : "–"),
      h("td", { class: "num" }, pct(r.train_acc)), h("td", { class: "num" }, pct(r.test_acc)),
      h("td", {}, runLinks(it)));
  }));
}
