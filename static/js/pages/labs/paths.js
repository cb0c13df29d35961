// Lab §6.1: optimizer paths on a 2-D function, animated step by step.
// The paths come from POST /api/labs/paths (the Python optimizers, driven with update(params, grads)).

import { getJSON, postJSON } from "../../api.js";
import { debounce } from "../../debounce.js";
import { optimizerLabel } from "../../format.js";
import { labPage } from "../../labs/lab_page.js";
import { pathCharts } from "../../labs/path_charts.js";
import { rowsEditor } from "../../labs/rows_editor.js";
import { stepPlayer } from "../../labs/step_player.js";

const $ = (id) => document.getElementById(id);
const BOOK = { function: "book", steps: 30, start_x: -7, start_y: 2, speed: 6,
  optimizers: [{ name: "sgd", lr: 0.95 }, { name: "momentum", lr: 0.1 }, { name: "adagrad", lr: 1.5 }, { name: "adam", lr: 0.3 }] };

async function main() {
  const lab = labPage({ book: BOOK });
  const { settings } = lab;
  let defaults;          // /api/labs/paths/defaults
  try { defaults = await getJSON("/api/labs/paths/defaults"); } catch (err) {
    lab.notice(`Could not load the lab from the server: ${err.message}`);
    return;
  }
  const functions = defaults.functions;
  const lrOf = (name) => defaults.lrs[settings.function][name];
  usableOptimizers(settings, defaults);
  let result = null;     // the last /api/labs/paths answer
  let seq = 0;           // answers to older settings are dropped

  const charts = pathCharts({ charts: $("charts"), ends: $("ends"), note: $("function-note"), overlay: $("overlay") });
  const player = stepPlayer({ play: $("play"), back: $("step-back"), forward: $("step-fwd"), slider: $("step"), label: $("step-label") },
    { onStep: (k) => charts.show(result, k), rate: () => settings.speed });
  $("overlay").addEventListener("change", () => { if (result) { charts.draw(result); player.redraw(); } });
  const form = lab.form([
    { key: "function", label: "Function", type: "select", options: functions.map((f) => [f.name, f.label]) },
    { key: "steps", label: "Steps", min: 1, max: defaults.max_steps, step: 1, integer: true },
    { key: "start_x", label: "Start x" },
    { key: "start_y", label: "Start y" },
    { key: "speed", label: "Animation speed", unit: "steps / s", min: 1, max: 60, step: 1 },
  ], (key) => {
    if (key === "function") {
      // Learning rates depend on the function's scale: take the lab's defaults for the new one.
      const fn = functions.find((f) => f.name === settings.function);
      [settings.start_x, settings.start_y] = fn.start;
      for (const o of settings.optimizers) o.lr = lrOf(o.name);
      form.sync();
      rows.render();
    }
    if (key === "speed") { lab.save(); if (player.playing) player.play(); return; }   // the speed only paces the replay
    refresh();
  }, { onInvalid: (key) => { if (key !== "speed") { refresh.cancel(); stale(); } } });
  const rows = rowsEditor({ rows: $("opt-rows"), add: $("opt-add"), error: $("opt-error") }, {
    list: () => settings.optimizers, nameKey: "name", noun: "Optimizer", addLabel: "+ add an optimizer…",
    options: Object.keys(defaults.optimizers).map((name) => [name, optimizerLabel(name)]),
    number: { key: "lr", label: "Learning rate" }, numberFor: () => true, label: (o) => optimizerLabel(o.name),
    defaultRow: (name) => ({ name, lr: lrOf(name) }),
  }, { onChange: () => refresh(), onInvalid: () => { refresh.cancel(); stale(); } });
  $("opt-all").addEventListener("click", () => {
    settings.optimizers = Object.keys(defaults.optimizers).map((name) => ({ name, lr: lrOf(name) }));
    rows.render();
    refresh();
  });

  /** A field holds an invalid value: say that what is shown comes from the last valid settings. */
  function stale() {
    seq += 1;   // an answer still on its way belongs to the older settings: drop it
    player.pause();
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

  const refresh = debounce(async () => {
    lab.save();
    if (form.rejected().some((key) => key !== "speed") || rows.invalid()) { stale(); return; }   // wait until every marked field is fixed
    const mine = ++seq;
    let answer;
    try {
      answer = await postJSON("/api/labs/paths", {
        function: settings.function, steps: settings.steps, start: [settings.start_x, settings.start_y],
        optimizers: settings.optimizers.map((o) => ({ name: o.name, lr: o.lr })),
      });
    } catch (err) {
      if (mine !== seq) return;
      lab.notice(showFieldErrors(err.errors, { settings, form, rows }) ? null : `These settings do not work: ${err.message}`);
      stale();
      return;
    }
    if (mine !== seq) return;
    lab.notice(null);
    form.clearServerErrors();
    rows.clearErrors();
    fresh();
    result = answer;
    charts.draw(result);
    player.load(result.steps);
    player.play(true);
  }, 200);

  lab.onReset(() => { rows.render(); refresh(); });
  rows.render();
  refresh();
}

/** The optimizers of a link that the lab knows, each with a learning rate (a link may name optimizers
 * without one: the lab's default for the function); the book's four if none is left. */
function usableOptimizers(settings, defaults) {
  if (!defaults.functions.some((f) => f.name === settings.function)) settings.function = "book";
  const listed = Array.isArray(settings.optimizers) ? settings.optimizers : [];
  settings.optimizers = listed.filter((o) => o && defaults.optimizers[o.name])
    .map((o) => ({ name: o.name, lr: typeof o.lr === "number" && o.lr > 0 ? o.lr : defaults.lrs[settings.function][o.name] }));
  if (!settings.optimizers.length) settings.optimizers = structuredClone(BOOK.optimizers);
}

/** The server's field errors, shown at their fields (the settings form's, the optimizer rows'); true
 * when every one found its field. */
function showFieldErrors(errors, { settings, form, rows }) {
  if (!errors || !errors.length) return false;
  let placed = 0;
  for (const e of errors) {
    const row = /^optimizers\[(\d+)\]/.exec(e.field);
    if (row && Number(row[1]) < settings.optimizers.length) {
      rows.setError(Number(row[1]), `${optimizerLabel(settings.optimizers[Number(row[1])].name)}: ${e.message}.`);
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

main();
