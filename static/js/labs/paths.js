// Lab §6.1: optimizer paths on a 2-D function, animated step by step.
// The paths come from POST /api/labs/paths (the Python optimizers, driven with update(params, grads)).

import { $, h, api, baseLayout, axis, buildFields, debounce, linkTools, readSettings, writeSettings, showNotice, colourOf, PLOTLY_CONFIG, fmtNum } from "./common.js";
import { watchConnection } from "./common.js";
import { optimizerLabel } from "../format.js";

const BOOK = { function: "book", steps: 30, start_x: -7, start_y: 2, speed: 6,
  optimizers: [{ name: "sgd", lr: 0.95 }, { name: "momentum", lr: 0.1 }, { name: "adagrad", lr: 1.5 }, { name: "adam", lr: 0.3 }] };

let defaults = null;   // /api/labs/paths/defaults
let result = null;     // last /api/labs/paths answer
let step = 0;
let timer = null;
let seq = 0;

async function main() {
  watchConnection();
  try {
    defaults = await api("/api/labs/paths/defaults");
  } catch (err) {
    showNotice(`Could not load the lab from the server: ${err.message}`);
    return;
  }
  const { settings, error } = readSettings(BOOK);
  if (error) showNotice(`The settings in this link could not be read (${error}); the book's settings are shown.`, "warning");
  const functions = defaults.functions;
  if (!functions.some((f) => f.name === settings.function)) settings.function = "book";
  if (!Array.isArray(settings.optimizers) || !settings.optimizers.length) settings.optimizers = structuredClone(BOOK.optimizers);
  // A link may name optimizers without learning rates: take the lab's default for this function.
  settings.optimizers = settings.optimizers.filter((o) => o && defaults.optimizers[o.name])
    .map((o) => ({ name: o.name, lr: typeof o.lr === "number" && o.lr > 0 ? o.lr : defaults.lrs[settings.function][o.name] }));
  if (!settings.optimizers.length) settings.optimizers = structuredClone(BOOK.optimizers);
  const form = buildFields($("fields"), [
    { key: "function", label: "Function", type: "select", options: functions.map((f) => [f.name, f.label]) },
    { key: "steps", label: "Steps", min: 1, max: defaults.max_steps, step: 1, integer: true },
    { key: "start_x", label: "Start x" },
    { key: "start_y", label: "Start y" },
    { key: "speed", label: "Animation speed", unit: "steps / s", min: 1, max: 60, step: 1 },
  ], settings, (key) => {
    if (key === "function") {
      // Learning rates depend on the function's scale: take the lab's defaults for the new one.
      const fn = functions.find((f) => f.name === settings.function);
      settings.start_x = fn.start[0];
      settings.start_y = fn.start[1];
      for (const o of settings.optimizers) o.lr = defaults.lrs[settings.function][o.name];
      form.sync();
      renderRows();
    }
    if (key === "speed") { writeSettings(settings); if (timer) play(); return; }
    refresh();
  }, { onInvalid: (key) => { if (key !== "speed") { refresh.cancel(); stale(); } } });   // the speed only paces the replay

  // ---- optimizer rows
  const add = $("opt-add");
  add.append(h("option", { value: "" }, "+ add an optimizer…"),
    ...Object.keys(defaults.optimizers).map((name) => h("option", { value: name }, optimizerLabel(name))));
  add.addEventListener("change", () => {
    if (!add.value) return;
    settings.optimizers.push({ name: add.value, lr: defaults.lrs[settings.function][add.value] });
    add.value = "";
    renderRows();
    refresh();
  });
  $("opt-all").addEventListener("click", () => {
    settings.optimizers = Object.keys(defaults.optimizers).map((name) => ({ name, lr: defaults.lrs[settings.function][name] }));
    renderRows();
    refresh();
  });

  const badRows = new Set();   // optimizer rows whose learning rate field holds a refused value
  function renderRows() {
    badRows.clear();
    const rows = $("opt-rows");
    rows.replaceChildren();
    settings.optimizers.forEach((o, i) => {
      const select = h("select", { "aria-label": `Optimizer ${i + 1}` },
        Object.keys(defaults.optimizers).map((name) => h("option", { value: name }, optimizerLabel(name))));
      select.value = o.name;
      select.addEventListener("change", () => { o.name = select.value; o.lr = defaults.lrs[settings.function][o.name]; lr.value = o.lr; refresh(); });
      const lr = h("input", { type: "number", step: "any", min: 0, value: o.lr, "aria-label": `Learning rate of optimizer ${i + 1}`,
        "aria-describedby": "opt-error" });
      lr.addEventListener("input", () => {
        const v = Number(lr.value);
        const bad = lr.value.trim() === "" || !(v > 0) || !isFinite(v);
        if (bad) {
          badRows.add(i);
          rowError(i, `The learning rate of ${optimizerLabel(o.name)} must be a number above 0${lr.value.trim() ? ` (got ${lr.value.trim()})` : ""}.`);
          refresh.cancel();
          stale();
          return;
        }
        badRows.delete(i);
        rowError(i, null);
        o.lr = v;
        refresh();
      });
      const remove = h("button", { type: "button", class: "icon-btn danger", title: "Remove", "aria-label": `Remove optimizer ${i + 1}`, disabled: settings.optimizers.length <= 1 }, "×");
      remove.addEventListener("click", () => { settings.optimizers.splice(i, 1); renderRows(); refresh(); });
      rows.append(h("div", { class: "opt-row" }, h("span", { class: "opt-swatch", style: `--c:${colourOf(i)}` }), select, lr, remove));
    });
    rowError(null, null);
  }

  /** Mark optimizer row i's learning rate with a message under the rows (null: unmark it; i null: unmark all). */
  const rowMessages = new Map();
  function rowError(i, message) {
    if (i === null) rowMessages.clear();
    else if (message) rowMessages.set(i, message);
    else rowMessages.delete(i);
    [...$("opt-rows").querySelectorAll("input")].forEach((input, k) => {
      input.classList.toggle("invalid", rowMessages.has(k));
      input.setAttribute("aria-invalid", rowMessages.has(k) ? "true" : "false");
    });
    const text = [...rowMessages.keys()].sort((a, b) => a - b).map((k) => rowMessages.get(k)).join(" ");
    $("opt-error").textContent = text;
    $("opt-error").hidden = !text;
  }

  /** A field holds an invalid value: say that what is shown comes from the last valid settings. */
  function stale() {
    seq += 1;   // an answer still on its way belongs to the older settings: drop it
    pause();
    $("stale-note").textContent = result
      ? `The charts and the table still show the last valid settings (${result.steps} steps); they update once the marked field is fixed.`
      : "Nothing to show until the marked field is fixed.";
    $("stale-note").hidden = false;
    for (const el of [$("charts"), $("ends-card")]) el.classList.add("is-stale");
  }
  function fresh() {
    $("stale-note").hidden = true;
    for (const el of [$("charts"), $("ends-card")]) el.classList.remove("is-stale");
  }

  /** The server's field errors, shown at their fields; true when every one found its field. */
  function showFieldErrors(errors) {
    if (!errors || !errors.length) return false;
    let placed = 0;
    for (const e of errors) {
      const row = /^optimizers\[(\d+)\]/.exec(e.field);
      if (row && Number(row[1]) < settings.optimizers.length) {
        rowError(Number(row[1]), `${optimizerLabel(settings.optimizers[Number(row[1])].name)}: ${e.message}.`);
        placed += 1;
      } else if (e.field === "start") {
        form.setError("start_x", `Start ${e.message}.`);
        placed += 1;
      } else if (form.inputs[e.field]) {
        const text = e.message.includes(e.field) ? e.message : `${e.field} ${e.message}`;
        form.setError(e.field, `${text[0].toUpperCase()}${text.slice(1)}.`);
        placed += 1;
      }
    }
    return placed === errors.length;
  }

  const refresh = debounce(async () => {
    writeSettings(settings);
    if (form.rejected().some((key) => key !== "speed") || badRows.size) { stale(); return; }   // wait until every marked field is fixed
    const mine = ++seq;
    let answer;
    try {
      answer = await api("/api/labs/paths", {
        function: settings.function, steps: settings.steps, start: [settings.start_x, settings.start_y],
        optimizers: settings.optimizers.map((o) => ({ name: o.name, lr: o.lr })),
      });
    } catch (err) {
      if (mine !== seq) return;
      if (showFieldErrors(err.errors)) showNotice(null);
      else showNotice(`These settings do not work: ${err.message}`);
      stale();
      return;
    }
    if (mine !== seq) return;
    showNotice(null);
    form.clearServerErrors();
    rowError(null, null);
    fresh();
    result = answer;
    draw();
    play(true);
  }, 200);

  linkTools({ onReset: () => {
    Object.assign(settings, structuredClone(BOOK));
    form.sync();
    renderRows();
    refresh();
  } });

  // ---- player
  const slider = $("step");
  slider.addEventListener("input", () => { pause(); setStep(Number(slider.value)); });
  $("play").addEventListener("click", () => (timer ? pause() : play(step >= result.steps)));
  $("step-back").addEventListener("click", () => { pause(); setStep(Math.max(0, step - 1)); });
  $("step-fwd").addEventListener("click", () => { pause(); setStep(Math.min(result.steps, step + 1)); });
  $("overlay").addEventListener("change", () => { draw(); setStep(step); });

  function play(fromStart = false) {
    pause();
    if (!result) return;
    if (fromStart) setStep(0);
    $("play").textContent = "❚❚ Pause";
    timer = setInterval(() => {
      if (step >= result.steps) { pause(); return; }
      setStep(step + 1);
    }, 1000 / Math.max(1, settings.speed));
  }
  function pause() {
    clearInterval(timer);
    timer = null;
    $("play").textContent = "▶ Play";
  }

  renderRows();
  refresh();
}

// ------------------------------------------------------------------ drawing

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

function draw() {
  const charts = $("charts");
  const fn = result.function;
  charts.replaceChildren();
  charts.classList.toggle("overlay", $("overlay").checked);
  $("function-note").textContent = `${fn.formula}. ${fn.note}${fn.log_contours ? " Contours are drawn on a log scale." : ""}`
    + " ✖ marks the minimum; each chart's f is the function's value at the current step.";
  const slider = $("step");
  slider.max = String(result.steps);
  if ($("overlay").checked) {
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
  renderEnds();
}

function setStep(k) {
  if (!result) return;
  step = k;
  $("step").value = String(k);
  $("step-label").textContent = `step ${k} / ${result.steps}`;
  const cells = [...$("charts").querySelectorAll(".cell-chart, .lab-chart")];
  if ($("overlay").checked) {
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

function renderEnds() {
  const body = $("ends").querySelector("tbody");
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

main();
