// "Look inside" a finished run: histograms of weights and activations (GET /api/labs/inside/<run_id>),
// and the first layer's weights drawn as 28x28 images.

import { $, h, api, buildFields, linkTools, readSettings, writeSettings, showNotice, FONT, GRID, PLOTLY_CONFIG, fmtNum } from "./common.js";
import { watchConnection } from "./common.js";
import { describeConfig, pct, when } from "../format.js";

const BOOK = { split: "test", samples: 1000, images: 100, first_layer: "change" };
const KEEP = new Set(["done", "stopped"]);

async function main() {
  watchConnection();
  const lab = document.getElementById("lab");
  let runId = lab.dataset.runId || "";
  const { settings, error } = readSettings(BOOK);
  if (error) showNotice(`The settings in this link could not be read (${error}).`, "warning");
  const form = buildFields($("fields"), [
    { key: "split", label: "Images for the activations", type: "select", options: [["test", "the run's test images"], ["train", "the run's training images"]] },
    { key: "samples", label: "How many", min: 1, max: 2000, step: 1, integer: true },
    { key: "images", label: "First-layer units drawn", min: 1, max: 256, step: 1, integer: true },
    { key: "first_layer", label: "Draw the first layer's", type: "select", options: [["change", "change since initialisation"], ["final", "final weights"]],
      help: "After a short training the random start dominates the final weights; the change shows what was learned." },
  ], settings, () => load());

  const select = $("run-select");
  select.addEventListener("change", () => {
    if (!select.value) return;
    runId = select.value;
    history.replaceState(history.state, "", `/labs/inside/${encodeURIComponent(runId)}${location.hash}`);
    load();
  });
  try {
    const { runs } = await api("/api/runs?limit=200");
    const usable = runs.filter((r) => KEEP.has(r.status));
    if (!runId) {
      $("run-line").replaceChildren(usable.length
        ? `Pick one of the ${usable.length} finished runs on the left.`
        : h("span", {}, "No run has finished on this server yet: train one on the ", h("a", { href: "/" }, "dashboard"),
          " or in a lab (for example ", h("a", { href: "/labs/overfitting" }, "overfitting"), "), then come back."));
    }
    select.replaceChildren(h("option", { value: "" }, usable.length ? "Pick a run…" : "No finished run yet"),
      ...usable.map((r) => h("option", { value: r.run_id }, `${when(r.finished_at || r.created_at)} · ${r.config && r.config.name ? r.config.name + " · " : ""}${describeConfig(r.config)}`)));
    if (runId) select.value = runId;
  } catch (err) {
    const off = err.status === 403;   // PLAYGROUND_LIST_RUNS=off: run ids are the key to the runs
    select.replaceChildren(h("option", { value: runId }, off ? (runId ? `run ${runId}` : "Listing runs is turned off") : "Could not list the runs"));
    select.disabled = off;
    if (off && !runId) {
      $("run-line").replaceChildren("Listing the stored runs is turned off on this server, so open a run by its address: ",
        h("code", {}, "/labs/inside/<run id>"), ", or with the “look inside” link of a run you trained in a lab.");
    }
  }

  async function load() {
    writeSettings(settings);
    if (!runId) return;
    $("run-line").textContent = "Loading…";
    let data;
    try {
      data = await api(`/api/labs/inside/${encodeURIComponent(runId)}?split=${settings.split}&samples=${settings.samples}&images=${settings.images}&first_layer=${settings.first_layer}`);
    } catch (err) {
      $("run-line").textContent = "";
      showNotice(err.status === 404 ? `There is no stored run ${runId}.` : `Cannot look inside run ${runId}: ${err.message}`);
      return;
    }
    showNotice(null);
    const last = (data.metrics || [])[data.metrics.length - 1] || {};
    $("run-line").replaceChildren(
      h("strong", {}, data.config.name || "Run "), " ", h("a", { href: `/runs/${encodeURIComponent(runId)}` }, runId), " · ",
      describeConfig(data.config), ` · ${data.status}, epoch ${last.epoch ?? "–"}: train ${pct(last.train_acc)}, test ${pct(last.test_acc)} · activations of ${data.samples} ${data.split} images`);
    for (const el of document.querySelectorAll(".run-view")) el.hidden = false;
    histGrid($("chart-weights"), data.weights, "#1f6fd1");
    histGrid($("chart-acts"), data.activations, "#1e9e5a");
    filters(data.first_layer);
    const what = data.first_layer.kind === "conv" ? `First conv layer's ${data.first_layer.image_shape.join("×")} kernels`
      : data.first_layer.kind === "maxout" ? `First maxout layer, each unit's ${data.first_layer.pieces} pieces` : "First layer as images";
    $("filters-title").textContent = data.first_layer.drawn === "change" ? `${what}: change since initialisation` : `${what}: final weights`;
  }

  linkTools({ onReset: () => { Object.assign(settings, structuredClone(BOOK)); form.sync(); load(); } });
  load();
}

// Each histogram gets at least this many pixels of width, so its title ("W1 784×100 · std 0.044") fits:
// four across on a wide screen, one on a phone.
const MIN_CELL = 210;

/** Columns for n histograms in `div`, from its width. */
function columns(div, n) {
  return Math.max(1, Math.min(n, 4, Math.floor((div.clientWidth || 800) / MIN_CELL)));
}

/** Redraw a grid when a resize changes how many columns fit (Plotly's own resize keeps the column count). */
const drawn = new Map();   // div -> {layers, colour, cols}
let resizeTimer = null;
window.addEventListener("resize", () => {
  clearTimeout(resizeTimer);
  resizeTimer = setTimeout(() => {
    for (const [div, d] of drawn) if (columns(div, d.layers.length) !== d.cols) histGrid(div, d.layers, d.colour);
  }, 150);
});

function histGrid(div, layers, colour) {
  const n = layers.length;
  if (!n) { drawn.delete(div); Plotly.purge(div); div.textContent = "None."; return; }
  const cols = columns(div, n);
  drawn.set(div, { layers, colour, cols });
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
}

function filters(first) {
  const box = $("filters");
  box.classList.toggle("maxout-units", first.kind === "maxout");
  $("colour-key-text").textContent = first.kind === "maxout" ? "each unit's pieces scaled together to their largest weight"
    : "each image scaled to its own largest weight";
  if (!first.images.length) { box.replaceChildren(h("p", { class: "muted" }, "The first layer does not take 28×28 images.")); return; }
  // a dense unit's 784 input weights as 28×28, or a conv filter's k×k kernel
  const [height, width] = first.image_shape || [28, 28];
  const name = first.kind === "conv" ? "filter" : "unit";
  box.setAttribute("aria-label", first.kind === "conv" ? `The first conv layer's kernels, drawn as ${height} by ${width} images`
    : first.kind === "maxout" ? `The first maxout layer's ${first.pieces} pieces of each unit, each drawn as a 28 by 28 image`
    : "The first layer's weights into each unit, drawn as 28 by 28 images");
  if (first.kind === "maxout") {
    // k images per unit, one after another on the server's side: a framed group per unit
    const k = first.pieces;
    box.style.setProperty("--pieces", k);
    const groups = [];
    for (let unit = 0; unit * k < first.images.length; unit++) {
      const pieces = first.images.slice(unit * k, (unit + 1) * k)
        .map((img, j) => image(img, width, height, `unit ${unit + 1}, piece ${j + 1} of ${k}`));
      groups.push(h("span", { class: "maxout-unit", title: `unit ${unit + 1}: the max of these ${k} pieces` }, ...pieces));
    }
    box.replaceChildren(...groups);
    return;
  }
  box.replaceChildren(...first.images.map((img, unit) => image(img, width, height, `${name} ${unit + 1}`)));
}

/** One weight image on a canvas: red for positive, blue for negative, white for 0 (v in -127..127). */
function image(img, width, height, title) {
  const canvas = h("canvas", { width, height, title });
  const ctx = canvas.getContext("2d");
  const data = ctx.createImageData(width, height);
  img.forEach((v, i) => {
    const t = v / 127;   // -1 .. 1
    const [r, g, b] = t >= 0 ? [255 - 63 * t, 255 - 198 * t, 255 - 198 * t] : [255 + 212 * t, 255 + 160 * t, 255 + 75 * t];
    data.data.set([r, g, b, 255], i * 4);
  });
  ctx.putImageData(data, 0, 0);
  return canvas;
}

main();
