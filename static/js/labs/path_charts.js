// The optimizer-paths lab's charts: the function's contours with each optimizer's path on them (a small
// chart per optimizer, or all on one chart), drawn up to the step the player shows, and the table of
// where each path ends.

import { h, fmtNum, optimizerLabel } from "../format.js";
import { PLOTLY_CONFIG, axis, baseLayout, colourOf } from "../plot_style.js";

function contourTrace(contour, fn) {
  return {
    type: "contour", x: contour.x, y: contour.y, z: contour.z, ncontours: 18, showscale: false, hoverinfo: "skip",
    colorscale: [[0, "#eef4fb"], [1, "#b9cde6"]], contours: { coloring: "fill", showlines: true },
    line: { color: "rgba(70,100,140,0.35)", width: 0.8 }, name: fn.label,
  };
}

function minimaTrace(fn) {
  return { type: "scatter", mode: "markers", x: fn.minima.map((m) => m[0]), y: fn.minima.map((m) => m[1]),
    marker: { symbol: "x", size: 9, color: "#1d2530" }, name: "minimum", hoverinfo: "skip", showlegend: false };
}

function pathTraces(p, color, k, showlegend) {
  const n = Math.min(k + 1, p.x.length);
  return [
    { type: "scatter", mode: "lines+markers", x: p.x.slice(0, n), y: p.y.slice(0, n), name: `${optimizerLabel(p.name)} (lr ${fmtNum(p.hyperparams.lr)})`,
      line: { color, width: 2 }, marker: { size: 4, color }, showlegend,
      hovertemplate: "x %{x:.4g}<br>y %{y:.4g}<extra>%{fullData.name}</extra>" },
    { type: "scatter", mode: "markers", x: [p.x[n - 1]], y: [p.y[n - 1]], showlegend: false, hoverinfo: "skip",
      marker: { size: 11, color, line: { color: "#fff", width: 2 } } },
  ];
}

function layoutFor(fn, extra = {}) {
  return baseLayout({
    margin: { l: 40, r: 8, t: 6, b: 32 },
    xaxis: axis("x", { range: fn.x_range, zeroline: false }),
    yaxis: axis("y", { range: fn.y_range, zeroline: false }),
    showlegend: false, ...extra,
  });
}

/**
 * el: {charts (the grid), ends (the table), note (the function's line), overlay (the "one chart" checkbox)}.
 * -> {draw(result), show(result, k)}: result is /api/labs/paths's answer; k the step shown.
 */
export function pathCharts(el) {
  return {
    draw: (result) => draw(el, result),
    show: (result, k) => show(el, result, k),
  };
}

function draw(el, result) {
  const charts = el.charts;
  const fn = result.function;
  charts.replaceChildren();
  charts.classList.toggle("overlay", el.overlay.checked);
  el.note.textContent = `${fn.formula}. ${fn.note}${fn.log_contours ? " Contours are drawn on a log scale." : ""}`
    + " ✖ marks the minimum; each chart's f is the function's value at the current step.";
  if (el.overlay.checked) {
    const div = h("div", { class: "lab-chart tall", role: "img", "aria-label": "All optimizer paths on one chart" });
    charts.append(h("div", { class: "chart-cell", style: "grid-column: 1 / -1" }, div));
    const traces = [contourTrace(result.contour, fn), minimaTrace(fn)];
    result.paths.forEach((p, i) => traces.push(...pathTraces(p, colourOf(i), result.steps, true)));
    Plotly.newPlot(div, traces, layoutFor(fn, { showlegend: true, legend: { orientation: "h", y: -0.12 } }), PLOTLY_CONFIG);
  } else {
    result.paths.forEach((p, i) => {
      const div = h("div", { class: "cell-chart", role: "img", "aria-label": `Path of ${optimizerLabel(p.name)}` });
      const meta = h("span", { class: "cell-meta" });
      charts.append(h("div", { class: "chart-cell" }, h("h3", {}, h("span", {}, `${optimizerLabel(p.name)} · lr ${fmtNum(p.hyperparams.lr)}`), meta), div));
      Plotly.newPlot(div, [contourTrace(result.contour, fn), minimaTrace(fn), ...pathTraces(p, colourOf(i), result.steps, false)],
        layoutFor(fn), { ...PLOTLY_CONFIG, displayModeBar: false });
    });
  }
  showEnds(el.ends, result);
}

/** Every path drawn up to step k. */
function show(el, result, k) {
  const cells = [...el.charts.querySelectorAll(".cell-chart, .lab-chart")];
  if (el.overlay.checked) {
    const div = cells[0];
    const xs = [], ys = [], idx = [];
    result.paths.forEach((p, i) => {
      const n = Math.min(k + 1, p.x.length);
      xs.push(p.x.slice(0, n), [p.x[n - 1]]);
      ys.push(p.y.slice(0, n), [p.y[n - 1]]);
      idx.push(2 + 2 * i, 3 + 2 * i);
    });
    Plotly.restyle(div, { x: xs, y: ys }, idx);
  } else {
    result.paths.forEach((p, i) => {
      const n = Math.min(k + 1, p.x.length);
      Plotly.restyle(cells[i], { x: [p.x.slice(0, n), [p.x[n - 1]]], y: [p.y.slice(0, n), [p.y[n - 1]]] }, [2, 3]);
      const meta = cells[i].parentElement.querySelector(".cell-meta");
      meta.textContent = `f = ${fmtNum(p.f[n - 1])}` + (p.diverged_at !== null && k >= p.diverged_at ? " · diverged" : "");
    });
  }
}

/** Where each path ends: x, y, f, and whether it diverged or left the window. */
function showEnds(table, result) {
  const body = table.querySelector("tbody");
  body.replaceChildren(...result.paths.map((p, i) => {
    const n = p.x.length - 1;
    const fn = result.function;
    const outside = p.x[n] < fn.x_range[0] || p.x[n] > fn.x_range[1] || p.y[n] < fn.y_range[0] || p.y[n] > fn.y_range[1];
    const note = p.diverged_at !== null ? `diverged at step ${p.diverged_at}` : outside ? "left the window" : "";
    return h("tr", {},
      h("td", { class: "swatch-cell" }, h("span", { class: "sw", style: `--c:${colourOf(i)}` })),
      h("td", {}, optimizerLabel(p.name)), h("td", { class: "num" }, fmtNum(p.hyperparams.lr)),
      h("td", { class: "num" }, fmtNum(p.x[n])), h("td", { class: "num" }, fmtNum(p.y[n])),
      h("td", { class: "num" }, fmtNum(p.f[n])), h("td", { class: "muted" }, note));
  }));
}
