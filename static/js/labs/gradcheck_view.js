// The gradient-check lab's view: a summary (every parameter agrees, or which disagree), a bar per
// parameter of the relative error between backprop and the numerical gradient on a log scale with the
// pass mark, and a table of the checked parameters.

import { h, fmtNum, describeConfig } from "../format.js";
import { PLOTLY_CONFIG, axis, baseLayout } from "../plot_style.js";

const TOLERANCE = 1e-6;

/**
 * el: {summary (the status line), detail (the line under it), chart, table}.
 * -> {checking(text), failed(err), show(result)}: result is /api/labs/gradcheck?detail=1's answer.
 */
export function gradcheckView(el) {
  return {
    checking(text) {
      el.summary.dataset.status = "running";
      el.summary.textContent = text;
    },
    failed(err) {
      el.summary.dataset.status = "error";
      el.summary.textContent = "This network cannot be checked.";
      el.detail.textContent = err.errors ? err.errors.map((e) => `${e.field}: ${e.message}`).join("; ") : err.message;
    },
    show: (result) => draw(el, result),
  };
}

function draw(el, result) {
  const rows = result.params;
  const summary = el.summary;
  const mism = rows.filter((r) => r.status === "mismatch" || r.status === "nonfinite");
  summary.dataset.status = mism.length ? "error" : "done";
  summary.textContent = mism.length
    ? `${mism.length} of ${rows.length} parameters disagree: the backward pass has a bug (or the network is not differentiable there).`
    : `All ${rows.length} parameters agree: largest relative error ${result.max_rel_error === null ? "–" : result.max_rel_error.toExponential(1)} (pass mark ${TOLERANCE.toExponential(0)}).`;
  el.detail.textContent = `${describeConfig(result.config)} · loss ${fmtNum(result.loss)} on ${result.batch} images (training mode: dropout masks held fixed, batch statistics) · float64 · h = ${result.h}.`;

  const checked = rows.filter((r) => r.rel_error !== null);
  Plotly.react(el.chart, [{
    type: "bar", x: checked.map((r) => r.label), y: checked.map((r) => r.rel_error),
    marker: { color: checked.map((r) => (r.rel_error < TOLERANCE ? "#1e8a4c" : "#b3261e")) },
    hovertemplate: "%{x}<br>relative error %{y:.2e}<extra></extra>",
  }], baseLayout({ margin: { l: 60, r: 12, t: 10, b: 90 }, showlegend: false,
    xaxis: axis("", { tickangle: -40, automargin: true }),
    yaxis: axis("relative error", { type: "log", range: [-13, 0], exponentformat: "power", dtick: 3 }),
    shapes: [{ type: "line", xref: "paper", x0: 0, x1: 1, y0: TOLERANCE, y1: TOLERANCE, line: { color: "#b3261e", dash: "dash", width: 1.5 } }],
  }), PLOTLY_CONFIG);

  el.table.querySelector("tbody").replaceChildren(...rows.map((r) => {
    const width = r.rel_error === null ? 0 : Math.max(2, Math.min(100, (Math.log10(r.rel_error) + 13) / 13 * 100));
    const result = r.status === "ok" ? h("span", { class: "status-ok" }, "✓ ok")
      : r.status === "zero" ? h("span", { class: "status-zero", title: "Both gradients are zero to within rounding" }, "zero")
        : h("span", { class: "status-bad" }, r.status);
    return h("tr", {},
      h("td", {}, r.label), h("td", {}, h("code", {}, r.param)), h("td", { class: "num" }, r.shape.join(" × ")),
      h("td", { class: "num" }, `${r.checked} of ${r.size.toLocaleString()}`),
      h("td", { class: "num" }, r.rel_error === null ? "–" : [h("span", { class: "err-bar" + (r.rel_error < TOLERANCE ? "" : " bad"), style: `width:${width * 0.6}px` }), r.rel_error.toExponential(2)]),
      h("td", { class: "num" }, r.max_abs_error === null ? "–" : r.max_abs_error.toExponential(2)),
      h("td", { class: "num" }, r.grad_norm === null ? "–" : fmtNum(r.grad_norm)), h("td", {}, result));
  }));
}
