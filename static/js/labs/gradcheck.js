// Lab: gradient check of a whole network in float64 (POST /api/labs/gradcheck?detail=1).
// The network comes from the page's address, in the dashboard's share-link format (#config=<base64url JSON>),
// or a preset; the page follows its address, so editing the #config= part reloads the network.

import { $, h, api, axis, baseLayout, buildFields, debounce, linkTools, readSettings, writeSettings, showNotice, PLOTLY_CONFIG, fmtNum } from "./common.js";
import { watchConnection } from "./common.js";
import { configPart, decodeConfig, encodeConfig, builderLink } from "../hash.js";
import { describeConfig } from "../format.js";

const BOOK = { batch: 4, max_entries: 20, seed: 0 };
const TOLERANCE = 1e-6;

function writeConfig(config) {
  const parts = location.hash.replace(/^#/, "").split("&").filter((p) => p && !p.startsWith("config="));
  parts.push("config=" + encodeConfig(config));
  history.replaceState(history.state, "", location.pathname + location.search + "#" + parts.join("&"));
}

/** The network of a #config= part (decodeConfig's readable errors, also for a malformed %-escape). */
function configFrom(part) {
  let text = part;
  try { text = decodeURIComponent(part); } catch (err) { /* decodeConfig names the stray characters */ }
  return decodeConfig(text);
}

async function main() {
  watchConnection();
  const { settings, error } = readSettings(BOOK);
  let schema;
  try { schema = await api("/api/schema"); } catch (err) { showNotice(`Could not load the lab: ${err.message}`); return; }

  const bookConfig = () => structuredClone(schema.presets.overfitting ? schema.presets.overfitting.config : schema.default_config);
  let config = bookConfig();
  let warning = null;   // a problem with the address, kept on screen after the check has run
  const part = configPart();
  if (part) {
    try { config = configFrom(part); }
    catch (err) { warning = `The network in this link could not be read (${err.message}); the book's overfitting network is shown.`; }
  }
  if (error) warning = [`The settings in this link could not be read (${error}).`, warning].filter(Boolean).join(" ");
  showNotice(warning, "warning");

  const form = buildFields($("fields"), [
    { key: "batch", label: "Images in the batch", min: 1, max: 64, step: 1, integer: true },
    { key: "max_entries", label: "Entries checked per parameter", min: 1, max: 200, step: 1, integer: true, help: "Chosen at random; each costs two forward passes." },
    { key: "seed", label: "Seed", min: 0, step: 1, integer: true, help: "Picks the images, the initial weights and the checked entries." },
  ], settings, () => run());

  const preset = $("preset");
  preset.append(h("option", { value: "" }, "from the link, or edited below"),
    // "Book: overfitting", not its whole label: a select cannot wrap, and the check's summary names the network
    ...Object.entries(schema.presets).map(([name, p]) => h("option", { value: name, title: p.label }, (p.label || name).split(" (")[0])));
  const BOOK_PRESET = schema.presets.overfitting ? "overfitting" : "";
  if (!part) preset.value = BOOK_PRESET;   // no network in the link: say which one is shown
  preset.addEventListener("change", () => {
    if (!preset.value) return;
    warning = null;
    config = structuredClone(schema.presets[preset.value].config);
    showConfig();
    run();
  });
  const text = $("config-text");
  text.addEventListener("input", debounce(() => {
    try {
      const value = JSON.parse(text.value);
      if (!value || typeof value !== "object" || Array.isArray(value)) throw new Error("it must be a JSON object");
      config = value;
      warning = null;
      text.classList.remove("invalid");
      $("config-error").hidden = true;
      preset.value = "";
      run();
    } catch (err) {
      text.classList.add("invalid");
      $("config-error").textContent = `Not valid JSON: ${err.message}`;
      $("config-error").hidden = false;
    }
  }, 500));

  function showConfig() {
    text.value = JSON.stringify(config, null, 2);
    $("open-builder").href = builderLink(config);
  }

  let seq = 0;
  async function run() {
    writeSettings(settings);
    writeConfig(config);
    $("open-builder").href = builderLink(config);
    const mine = ++seq;
    const summary = $("summary");
    summary.dataset.status = "running";
    summary.textContent = `Checking ${describeConfig(config)}…`;
    let result;
    try {
      result = await api("/api/labs/gradcheck?detail=1", { config, batch: settings.batch, max_entries: settings.max_entries, seed: settings.seed });
    } catch (err) {
      if (mine !== seq) return;
      summary.dataset.status = "error";
      summary.textContent = "This network cannot be checked.";
      const details = err.errors ? err.errors.map((e) => `${e.field}: ${e.message}`).join("; ") : err.message;
      $("summary-detail").textContent = details;
      return;
    }
    if (mine !== seq) return;
    showNotice(warning, "warning");
    draw(result);
  }
  $("check").addEventListener("click", run);

  // The page follows its address: a new #config= (typed, pasted or from history) reloads the network, a new #s=
  // the settings. The page's own updates use history.replaceState, which fires no hashchange.
  window.addEventListener("hashchange", () => {
    const read = readSettings(BOOK);
    Object.assign(settings, read.settings);
    form.sync();
    warning = read.error ? `The settings in this link could not be read (${read.error}).` : null;
    const next = configPart();
    if (next) {
      try {
        config = configFrom(next);
        preset.value = "";
      } catch (err) {
        warning = [warning, `The network in the new address could not be read (${err.message}); the network shown before is kept.`]
          .filter(Boolean).join(" ");
      }
    } else {
      config = bookConfig();
      preset.value = BOOK_PRESET;
    }
    text.classList.remove("invalid");
    $("config-error").hidden = true;
    showNotice(warning, "warning");
    showConfig();
    run();
  });

  linkTools({ onReset: () => {
    Object.assign(settings, structuredClone(BOOK));
    warning = null;
    config = bookConfig();
    preset.value = BOOK_PRESET;
    form.sync();
    showConfig();
    run();
  } });
  showConfig();
  run();
}

function draw(result) {
  const rows = result.params;
  const summary = $("summary");
  const mism = rows.filter((r) => r.status === "mismatch" || r.status === "nonfinite");
  summary.dataset.status = mism.length ? "error" : "done";
  summary.textContent = mism.length
    ? `${mism.length} of ${rows.length} parameters disagree: the backward pass has a bug (or the network is not differentiable there).`
    : `All ${rows.length} parameters agree: largest relative error ${result.max_rel_error === null ? "–" : result.max_rel_error.toExponential(1)} (pass mark ${TOLERANCE.toExponential(0)}).`;
  $("summary-detail").textContent = `${describeConfig(result.config)} · loss ${fmtNum(result.loss)} on ${result.batch} images (training mode: dropout masks held fixed, batch statistics) · float64 · h = ${result.h}.`;

  const checked = rows.filter((r) => r.rel_error !== null);
  Plotly.react($("chart-errors"), [{
    type: "bar", x: checked.map((r) => r.label), y: checked.map((r) => r.rel_error),
    marker: { color: checked.map((r) => (r.rel_error < TOLERANCE ? "#1e8a4c" : "#b3261e")) },
    hovertemplate: "%{x}<br>relative error %{y:.2e}<extra></extra>",
  }], baseLayout({ margin: { l: 60, r: 12, t: 10, b: 90 }, showlegend: false,
    xaxis: axis("", { tickangle: -40, automargin: true }),
    yaxis: axis("relative error", { type: "log", range: [-13, 0], exponentformat: "power", dtick: 3 }),
    shapes: [{ type: "line", xref: "paper", x0: 0, x1: 1, y0: TOLERANCE, y1: TOLERANCE, line: { color: "#b3261e", dash: "dash", width: 1.5 } }],
  }), PLOTLY_CONFIG);

  $("results").querySelector("tbody").replaceChildren(...rows.map((r) => {
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

main();
