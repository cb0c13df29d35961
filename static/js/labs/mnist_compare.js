// The MNIST comparison labs (§6.1.8 optimizers, §6.2.4 weight init): one run per row of the settings'
// list (optimizers, or initialisations), the training loss and the test accuracy of all of them
// overlaid against mini-batch iterations, and a table of the runs.

import { h, pct, fmtNum } from "../format.js";
import { axis, baseLayout, colourOf } from "../plot_style.js";
import { batchLab } from "./batch_lab.js";
import { badge, runLinks } from "./batch_cells.js";
import { LiveLines } from "./live_lines.js";
import { rowsEditor } from "./rows_editor.js";

const ITERATIONS = "iterations (mini-batch updates)";

/**
 * book: the book's settings; fields: the settings form (settings_form.js); rows: the list compared,
 * rows_editor.js's spec without list() ({key: the settings' key of the list, nameKey, noun, ...}).
 */
export function mnistCompareLab({ book, fields, rows }) {
  const $ = (id) => document.getElementById(id);
  const view = comparisonView({ loss: $("chart-loss"), acc: $("chart-acc"), table: $("run-table"), logLoss: $("log-loss") });
  batchLab({
    book, fields, view,
    extra: (settings, changed, { onInvalid }) => {
      const editor = rowsEditor({ rows: $("rows"), add: $("row-add") }, { ...rows, list: () => settings[rows.key] },
        { onChange: changed, onInvalid });
      editor.render();
      return { disable: (running) => { editor.disable(running); if (!running) editor.render(); }, sync: editor.render, invalid: editor.invalid };
    },
    planText: (plan) => {
      const m = plan.meta;
      return `${plan.runs.length} runs · ${m.epochs} epochs × ${m.iterations_per_epoch} iterations = ${m.iterations.toLocaleString()} iterations each · ${m.test_size.toLocaleString()} test images`;
    },
  });
}

/** el: {loss, acc (the charts), table, logLoss (its checkbox)} -> a batchLab view. */
function comparisonView(el) {
  const lossChart = new LiveLines(el.loss, baseLayout({
    xaxis: axis(ITERATIONS), yaxis: axis("training loss", { type: "log", tickformat: "~g", nticks: 4 }), uirevision: "keep" }));
  const accChart = new LiveLines(el.acc, baseLayout({
    xaxis: axis(ITERATIONS), yaxis: axis("test accuracy (%)", { range: [0, 100] }), uirevision: "keep" }));
  el.logLoss.addEventListener("change", (e) => {
    // automatic ticks, few of them: powers of ten over many decades, 1-2-5 over one or two, plain numbers within
    // one; tickformat "~g" writes each as the number it is (0.2, not the "2" Plotly puts between powers of ten)
    lossChart.layout.yaxis.type = e.target.checked ? "log" : "linear";
    lossChart.relayout({ "yaxis.type": lossChart.layout.yaxis.type });
  });
  let perEpoch = 1;

  return {
    /** Empty charts with one (legend) entry per planned run, axes spanning the planned iterations. */
    reset(plan) {
      perEpoch = plan.meta.iterations_per_epoch;
      for (const chart of [lossChart, accChart]) chart.layout.xaxis.range = [0, plan.meta.iterations];
      const runs = plan.runs.map((r, i) => ({ ...r, color: colourOf(i) }));
      lossChart.reset(runs.map((r) => ({ key: r.key, name: r.label, color: r.color })));
      accChart.reset(runs.map((r) => ({ key: r.key, name: r.label, color: r.color, hovertemplate: `%{y:.1f} %<extra>${r.label}</extra>` })));
    },
    items: (plan) => plan.runs.map((r, i) => ({ ...r, color: colourOf(i) })),
    epoch(item, record) {
      lossChart.push(item.key, record.epoch * perEpoch, record.train_loss);
      accChart.push(item.key, record.epoch * perEpoch, record.test_acc === null ? null : 100 * record.test_acc);
    },
    state(item, items) {
      el.table.querySelector("tbody").replaceChildren(...items.map((it) => {
        const r = it.record || {};
        return h("tr", {},
          h("td", { class: "swatch-cell" }, h("span", { class: "sw", style: `--c:${it.color}` })),
          h("td", {}, it.label), h("td", {}, badge(it), it.error ? h("div", { class: "muted small" }, it.error) : null),
          h("td", { class: "num" }, r.epoch !== undefined ? (r.epoch * perEpoch).toLocaleString() : "–"),
          h("td", { class: "num" }, r.train_loss != null ? fmtNum(r.train_loss) : "–"),
          h("td", { class: "num" }, pct(r.train_acc)), h("td", { class: "num" }, pct(r.test_acc)),
          h("td", {}, runLinks(it)));
      }));
    },
  };
}
