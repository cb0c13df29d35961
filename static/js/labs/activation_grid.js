// The activation-histograms lab's view: one Plotly figure, a row of histograms per weight
// initialisation and a column per layer, what to look for with the activation shown, and a table of
// each layer's mean, std and share of saturated (or zero) values.

import { h, fmtNum, percent } from "../format.js";
import { FONT, GRID, PLOTLY_CONFIG } from "../plot_style.js";

const ROW_COLOURS = ["#d6402b", "#8a97a8", "#1f6fd1", "#1e9e5a", "#7b4fc9", "#e08a00"];
// Maxout is not a function of one number: a layer of its own weights, k pieces per unit (nnengine/maxout.py).
export const MAXOUT = "maxout";
// What to look for with the activation shown (the book's three; the rest get the general advice).
const LOOK = {
  sigmoid: "Sigmoid: with std 1 the values pile up at 0 and 1 (saturated: the gradient vanishes); with std 0.01 "
    + "they all sit at 0.5 (every unit says the same); Xavier keeps them spread out in every layer.",
  tanh: "tanh: with std 1 the values pile up at −1 and 1 (saturated); with std 0.01 they all sit at 0; Xavier keeps "
    + "a spread in every layer.",
  relu: "ReLU: about half of the values are exactly 0 in every layer (that bar goes off the chart). With std 0.01 "
    + "the rest shrink towards 0 layer after layer, and so do the gradients; with Xavier they still drift towards "
    + "0 in deeper layers; He keeps the same spread in every layer. With std 1 they grow about eightfold per layer, "
    + "far beyond the range drawn.",
};
const lookMaxout = (k) => (k === 2
  ? "Maxout, 2 pieces: each unit is the larger of x·W₁ and x·W₂, so a quarter of the values are below 0 and the "
    + "mean sits above 0. The mean square of max(z₁, z₂) is the variance of one piece, twice what ReLU keeps: so "
    + "Xavier, not He, keeps the same spread in every layer (root mean square ≈ 1), He grows it by √2 per layer, "
    + "With n = 100 units, std 0.01 shrinks it tenfold per layer and std 1 grows it tenfold."
  : `Maxout, ${k} pieces: the max of ${k} pieces leans further to the right than the max of 2 (fewer values below 0), `
    + "so even Xavier's spread grows layer after layer (k = 3: about ×1.13 per layer, k = 5: ×1.34), and He's "
    + "grows faster; 2 pieces with Xavier keep it the same.");
const LOOK_ANY = "Compare the rows: values piled up at the ends of the range are saturated (no gradient), values "
  + "squeezed into one bin have lost their expressiveness (every unit says the same).";

/** The counts as drawn: values outside the range (counted in the end bins by the server, so that
 * every layer sums to its total) are left out of the bars, as the book's plt.hist(range=...) does,
 * and reported in the cell's note instead. */
function drawn(layer) {
  const counts = [...layer.counts];
  counts[0] -= layer.below;
  counts[counts.length - 1] -= layer.above + layer.nonfinite;
  return counts;
}

// A share that is not all (or none) of the values never reads "100.0 %" (or "0.0 %").
const pctOf = (n, total) => `${percent(n / total, n && n < total / 1000 ? 2 : 1)} %`;

/** √(mean² + std²) of a layer's values, the scale that maxout's initialisation has to keep; null if unknown. */
const rms = (layer) => (layer.mean == null || layer.std == null ? null : Math.hypot(layer.mean, layer.std));
const fmtRms = (layer) => (rms(layer) == null ? "–" : fmtNum(Number(rms(layer).toPrecision(3))));

function cellNote(layer, activation) {
  if (activation === MAXOUT) return `root mean square ${fmtRms(layer)}`;
  if (activation === "relu" || layer.zeros > layer.total * 0.2) return `zeros ${pctOf(layer.zeros, layer.total)}`;
  return `saturated ${pctOf(layer.saturated, layer.total)}`;
}

/**
 * el: {grid (the figure), title, look (what to look for), meta (its line), stats (the table)}.
 * -> {show(result, {cap})}: result is /api/labs/histograms's answer; cap: cap the y axes (the book's way).
 */
export function activationGrid(el) {
  return {
    show(result, { cap }) {
      draw(el, result, cap);
      drawTable(el.stats, result);
    },
  };
}

function draw(el, result, capped) {
  const rows = result.inits.length;
  const cols = result.layers;
  const traces = [];
  const annotations = [];
  // One y range per row (per initialisation), shared by its layers so they can be compared.
  const caps = result.inits.map((init) => {
    let top = 0;
    let second = 0;
    for (const layer of init.layers) {
      const sorted = [...drawn(layer)].sort((a, b) => b - a);
      top = Math.max(top, sorted[0]);
      second = Math.max(second, sorted[1] || 0);
    }
    // headroom above the bars for each chart's note
    return capped && top > 2.5 * second ? Math.ceil(second * 1.35) : Math.max(1, top * 1.3);
  });
  const [lo, hi] = result.range;
  result.inits.forEach((init, r) => {
    const cap = caps[r];
    init.layers.forEach((layer, c) => {
      const n = r * cols + c + 1;
      const edges = layer.edges;
      const centres = edges.slice(0, -1).map((e, i) => (e + edges[i + 1]) / 2);
      traces.push({
        type: "bar", x: centres, y: drawn(layer), width: edges[1] - edges[0], xaxis: `x${n}`, yaxis: `y${n}`,
        marker: { color: ROW_COLOURS[r % ROW_COLOURS.length], line: { width: 0 } }, showlegend: false,
        hovertemplate: `${init.label}, layer ${layer.layer}<br>%{x:.3g}: %{y:,} values<extra></extra>`,
      });
      const offChart = drawn(layer).map((v, i) => [v, centres[i]]).filter(([v]) => v > cap);
      const parts = [cellNote(layer, result.activation)];
      if (layer.above) parts.push(`${pctOf(layer.above, layer.total)} > ${fmtNum(hi)}`);
      if (layer.below) parts.push(`${pctOf(layer.below, layer.total)} < ${fmtNum(lo)}`);
      annotations.push({ xref: `x${n} domain`, yref: `y${n} domain`, x: 0.98, y: 0.98, xanchor: "right", yanchor: "top",
        text: parts.join("<br>"), showarrow: false, font: { size: 10, color: "#44546a" }, align: "right",
        bgcolor: "rgba(255,255,255,0.75)" });
      for (const [v, x] of offChart) {
        annotations.push({ xref: `x${n}`, yref: `y${n} domain`, x, y: 1, yanchor: "bottom", text: `↑${(v / 1000).toFixed(0)}k`,
          showarrow: false, font: { size: 9, color: "#b3261e" } });
      }
      if (r === 0) annotations.push({ xref: `x${n} domain`, yref: "paper", x: 0.5, y: 1, yanchor: "bottom", yshift: 14,
        text: `<b>layer ${layer.layer}</b>`, showarrow: false, font: { size: 12 } });
      if (c === 0) annotations.push({ xref: "paper", yref: `y${n} domain`, x: 0, xshift: -62, y: 0.5, textangle: -90,
        text: `<b>${init.label}</b>`, showarrow: false, font: { size: 12, color: ROW_COLOURS[r % ROW_COLOURS.length] } });
    });
  });
  const layout = {
    font: FONT, paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "#fff", bargap: 0.05,
    grid: { rows, columns: cols, pattern: "independent", xgap: 0.06, ygap: 0.22 },
    margin: { l: 84, r: 10, t: 36, b: 44 }, annotations, height: 54 + rows * 170,
  };
  for (let n = 1; n <= rows * cols; n++) {
    const row = Math.floor((n - 1) / cols);
    layout[`xaxis${n === 1 ? "" : n}`] = { range: [lo, hi], gridcolor: GRID, tickfont: { size: 10 }, nticks: 5, zeroline: false };
    layout[`yaxis${n === 1 ? "" : n}`] = { range: [0, caps[row]], gridcolor: GRID, tickfont: { size: 10 }, nticks: 4,
      showticklabels: (n - 1) % cols === 0, tickformat: "~s" };
    if (row === rows - 1) layout[`xaxis${n === 1 ? "" : n}`].title = { text: "activation value", font: { size: 11 }, standoff: 4 };
  }
  el.grid.style.height = `${layout.height}px`;
  Plotly.react(el.grid, traces, layout, PLOTLY_CONFIG);
  el.title.textContent = result.activation === MAXOUT ? `maxout (${result.pieces} pieces) activations per layer`
    : `${result.activation.replace(/_/g, " ")} activations per layer`;
  el.look.textContent = result.activation === MAXOUT ? lookMaxout(result.pieces) : LOOK[result.activation] || LOOK_ANY;
  el.meta.textContent = `${result.samples.toLocaleString()} inputs × ${result.units} units = ${(result.samples * result.units).toLocaleString()} values per histogram · range ${fmtNum(lo)} … ${fmtNum(hi)}`;
}

function drawTable(table, result) {
  const head = table.querySelector("thead");
  head.replaceChildren(h("tr", {}, h("th", {}, "initialisation"), h("th", {}, "measure"),
    ...Array.from({ length: result.layers }, (_, i) => h("th", { class: "num" }, `layer ${i + 1}`))));
  const body = table.querySelector("tbody");
  const rows = [];
  for (const init of result.inits) {
    const measures = [["mean", (l) => fmtNum(l.mean)], ["std", (l) => fmtNum(l.std)],
      result.activation === MAXOUT ? ["root mean square", fmtRms]
        : [result.activation === "relu" ? "exact zeros" : "saturated", (l) => pctOf(result.activation === "relu" ? l.zeros : l.saturated, l.total)]];
    measures.forEach(([name, fn], i) => rows.push(h("tr", {},
      i === 0 ? h("th", { rowspan: measures.length, scope: "rowgroup" }, init.label) : null,
      h("td", { class: "muted" }, name), ...init.layers.map((l) => h("td", { class: "num" }, fn(l))))));
  }
  body.replaceChildren(...rows);
}
