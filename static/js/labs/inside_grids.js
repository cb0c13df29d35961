// The look-inside lab's view of a trained network: histograms of each layer's weights and activations.

import { fmtNum, pct } from "../format.js";
import { FONT, GRID, PLOTLY_CONFIG } from "../plot_style.js";

const RESIZE_MS = 150;
// Each histogram gets at least this many pixels of width, so its title ("W1 784×100 · std 0.044") fits:
// four across on a wide screen, one on a phone.
const MIN_CELL = 210;

/** Columns for n histograms in `div`, from its width. */
function columns(div, n) {
  return Math.max(1, Math.min(n, 4, Math.floor((div.clientWidth || 800) / MIN_CELL)));
}

/**
 * A grid of histograms, one per layer (GET /api/labs/inside's weights or activations), as many across as
 * fit; redrawn when a resize changes how many fit (Plotly's own resize keeps the column count).
 * div: the figure; colour: the bars'. -> {show(layers)}
 */
export function histogramGrid(div, { colour }) {
  let layers = [];
  let cols = 0;
  let resizeTimer = null;
  window.addEventListener("resize", () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => { if (layers.length && columns(div, layers.length) !== cols) show(layers); }, RESIZE_MS);
  });
  function show(next) {
    layers = next;
    cols = layers.length ? drawGrid(div, layers, colour) : 0;
  }
  return { show };
}

/** Draw the histograms of `layers` into `div`; the number of columns drawn. */
function drawGrid(div, layers, colour) {
  const n = layers.length;
  if (!n) { Plotly.purge(div); div.textContent = "None."; return 0; }
  const cols = columns(div, n);
  const rows = Math.ceil(n / cols);
  const layout = { font: FONT, paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "#fff", showlegend: false, bargap: 0.02,
    grid: { rows, columns: cols, pattern: "independent", xgap: 0.08, ygap: 0.35 }, margin: { l: 44, r: 10, t: 24, b: 30 }, annotations: [] };
  const traces = layers.map((layer, i) => {
    const s = i === 0 ? "" : i + 1;
    layout[`xaxis${s}`] = { gridcolor: GRID, tickfont: { size: 10 }, nticks: 5, exponentformat: "e" };
    layout[`yaxis${s}`] = { gridcolor: GRID, tickfont: { size: 10 }, nticks: 4, tickformat: "~s" };
    layout.annotations.push({ xref: `x${s} domain`, yref: `y${s} domain`, x: 0, y: 1, xanchor: "left", yanchor: "bottom", showarrow: false,
      text: `<b>${layer.label}</b> · std ${fmtNum(Number(layer.std.toPrecision(2)))}${layer.zeros ? ` · zeros ${pct(layer.zeros / layer.total, 0)}` : ""}`, font: { size: 11 } });
    const e = layer.edges;
    return { type: "bar", x: e.slice(0, -1).map((v, j) => (v + e[j + 1]) / 2), y: layer.counts, width: e[1] - e[0],
      xaxis: `x${s}`, yaxis: `y${s}`, marker: { color: colour },
      hovertemplate: `%{x:.3g}: %{y:,}<extra>mean ${fmtNum(layer.mean)}, std ${fmtNum(layer.std)}</extra>` };
  });
  div.style.height = `${40 + rows * (cols === 1 ? 150 : 190)}px`;   // one column (a phone): lower rows
  Plotly.react(div, traces, layout, PLOTLY_CONFIG);
  return cols;
}
