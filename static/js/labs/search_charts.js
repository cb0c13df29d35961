// The search lab's view: a scatter of the trials (learning rate against weight decay, coloured by
// validation accuracy; the waiting ones as grey rings), the best trials as a table and as curves, and
// the narrowed ranges they suggest.

import { h, pct, fmtNum } from "../format.js";
import { PALETTE, PLOTLY_CONFIG, axis, baseLayout } from "../plot_style.js";

/**
 * el: {scatter, curves (the charts), best (the table), bestTitle, narrowText}.
 * -> {reset(ranges, planned), trial(p, waiting), best(top, count), narrowed(ranges)}
 */
export function searchCharts(el) {
  return {
    /** An empty scatter over the ranges searched ({lr: [lo, hi], weight_decay: [lo, hi]}), the planned trials waiting. */
    reset({ lr, weight_decay: wd }, planned) {
      Plotly.react(el.scatter, [
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
    },
    /** A finished trial p onto the scatter; `waiting`: the planned trials not finished yet. */
    trial(p, waiting) {
      Plotly.extendTraces(el.scatter, { x: [[p.lr]], y: [[p.weight_decay]], text: [[`val. acc. ${pct(p.val_acc)} (trial ${p.trial})`]],
        "marker.color": [[p.val_acc ?? 0]] }, [1]);
      Plotly.restyle(el.scatter, { x: [waiting.map((t) => t.lr)], y: [waiting.map((t) => t.weight_decay)] }, [0]);
    },
    /** The best trials (`top`, best first; `count` asked for), in the table and as curves. */
    best(top, count) {
      el.bestTitle.textContent = `Best ${count} trials (by validation accuracy)`;
      const body = el.best.querySelector("tbody");
      if (!top.length) body.replaceChildren(h("tr", {}, h("td", { colspan: 8, class: "muted" }, "No trial has finished yet.")));
      else body.replaceChildren(...top.map((r, i) => h("tr", { class: i === 0 ? "best" : "" },
        h("td", { class: "swatch-cell" }, h("span", { class: "sw", style: `--c:${PALETTE[i % PALETTE.length]}` })),
        h("td", { class: "num" }, i + 1), h("td", { class: "num" }, r.trial), h("td", { class: "num" }, r.lr.toExponential(2)),
        h("td", { class: "num" }, r.weight_decay.toExponential(2)), h("td", { class: "num" }, pct(r.val_acc)),
        h("td", { class: "num" }, pct(r.train_acc)), h("td", { class: "num" }, `${fmtNum(r.elapsed_s)} s`))));
      Plotly.react(el.curves, top.flatMap(curves), baseLayout({ xaxis: axis("epoch"), yaxis: axis("accuracy", { range: [0, 1.02], tickformat: ".0%" }),
        legend: { orientation: "h", x: 0, y: -0.2, font: { size: 11 } }, margin: { l: 52, r: 12, t: 10, b: 40 }, uirevision: "keep" }), PLOTLY_CONFIG);
    },
    /** The ranges that span the best trials ({lr, weight_decay, from}), or null before a search ended. */
    narrowed(ranges) {
      if (!ranges) { el.narrowText.textContent = "After a search: new ranges spanning the best trials' learning rates and weight decays."; return; }
      el.narrowText.replaceChildren("New ranges from the best ", String(ranges.from.length), " trials: learning rate ",
        h("code", {}, `${ranges.lr[0].toExponential(1)} … ${ranges.lr[1].toExponential(1)}`), ", weight decay ",
        h("code", {}, `${ranges.weight_decay[0].toExponential(1)} … ${ranges.weight_decay[1].toExponential(1)}`), ".");
    },
  };
}

/** A best trial's validation (solid) and training (dashed) accuracy per epoch. */
function curves(r, i) {
  const colour = PALETTE[i % PALETTE.length];
  const name = `#${i + 1}: lr ${r.lr.toExponential(1)}, wd ${r.weight_decay.toExponential(1)}`;
  const epochs = r.curve.map((c) => c.epoch);
  return [
    { type: "scatter", mode: "lines", x: epochs, y: r.curve.map((c) => c.val_acc), name,
      line: { color: colour, width: 2 }, legendgroup: name, hovertemplate: `val. %{y:.1%}<extra>${name}</extra>` },
    { type: "scatter", mode: "lines", x: epochs, y: r.curve.map((c) => c.train_acc), name,
      line: { color: colour, width: 1.5, dash: "dash" }, legendgroup: name, showlegend: false, hovertemplate: `train %{y:.1%}<extra>${name}</extra>` },
  ];
}

/** Tick labels of a log axis over [lo, hi]: powers of ten when it spans two decades or more (Plotly
 * would label the 2s and 5s between them as a bare "2", "5"), else every label as a number ("2e-3"). */
function logTicks([lo, hi]) {
  return Math.log10(hi / lo) >= 2 ? { dtick: 1, exponentformat: "power" } : { tickformat: ".0e" };
}
