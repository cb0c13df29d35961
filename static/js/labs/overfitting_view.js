// The overfitting lab's view: a small chart per variant (training and test accuracy), one chart of
// every variant's train − test gap, and a table of the runs.

import { h, pct } from "../format.js";
import { PALETTE, SMALL_CHART_CONFIG, axis, baseLayout } from "../plot_style.js";
import { badge, runLinks } from "./batch_cells.js";
import { LiveLines } from "./live_lines.js";

const TRAIN = "#1f6fd1";
const TEST = "#d6402b";
const gapOf = (r) => (r.train_acc != null && r.test_acc != null ? 100 * (r.train_acc - r.test_acc) : null);

/** el: {variants (the grid of small charts), gap (the gap chart), table} -> a batchLab view. */
export function overfittingView(el) {
  const gap = new LiveLines(el.gap, baseLayout({ xaxis: axis("epoch"), yaxis: axis("gap (% points)"), uirevision: "keep" }));
  let cells = {};   // run key -> {lines, meta}

  return {
    reset(plan) {
      el.variants.replaceChildren();
      cells = {};
      plan.runs.forEach((run, i) => {
        const div = h("div", { class: "cell-chart", role: "img", "aria-label": `Accuracy of ${run.label}` });
        const meta = h("p", { class: "cell-meta" }, "not started");
        el.variants.append(h("div", { class: "chart-cell" }, h("h3", { title: run.label }, h("span", { style: `color:${PALETTE[i]}` }, run.label)), meta, div));
        const lines = new LiveLines(div, baseLayout({ margin: { l: 40, r: 8, t: 6, b: 34 }, showlegend: false,
          xaxis: axis("epoch", { range: [0, plan.meta.epochs] }), yaxis: axis("", { range: [0, 101], ticksuffix: "%" }) }),
          SMALL_CHART_CONFIG);
        lines.reset([{ key: "train", name: "train", color: TRAIN }, { key: "test", name: "test", color: TEST, dash: "dash" }]);
        cells[run.key] = { lines, meta };
      });
      gap.reset(plan.runs.map((run, i) => ({ key: run.key, name: run.label, color: PALETTE[i] })));
    },
    items: (plan) => plan.runs.map((r, i) => ({ ...r, color: PALETTE[i] })),
    epoch(item, r) {
      const c = cells[item.key];
      c.lines.push("train", r.epoch, r.train_acc == null ? null : 100 * r.train_acc);
      c.lines.push("test", r.epoch, r.test_acc == null ? null : 100 * r.test_acc);
      const g = gapOf(r);
      if (g !== null) {
        gap.push(item.key, r.epoch, g);
        c.meta.textContent = `epoch ${r.epoch} · gap ${g.toFixed(1)} pts`;
      }
    },
    state(item, items) {
      el.table.querySelector("tbody").replaceChildren(...items.map((it) => {
        const r = it.record || {};
        const g = gapOf(r);
        return h("tr", {},
          h("td", { class: "swatch-cell" }, h("span", { class: "sw", style: `--c:${it.color}` })),
          h("td", {}, it.label), h("td", {}, badge(it)), h("td", { class: "num" }, r.epoch ?? "–"),
          h("td", { class: "num" }, pct(r.train_acc)), h("td", { class: "num" }, pct(r.test_acc)),
          h("td", { class: "num" }, g === null ? "–" : `${g.toFixed(1)} pts`),
          h("td", {}, runLinks(it)));
      }));
    },
  };
}
