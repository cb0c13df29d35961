// Lab §6.2.2: per-layer activation histograms of the book's 5-layer random network
// (POST /api/labs/histograms), drawn as one grid: a row per weight initialisation, a column per layer.

import { getSchema, postJSON } from "../../api.js";
import { debounce } from "../../debounce.js";
import { MAXOUT, activationGrid } from "../../labs/activation_grid.js";
import { labPage } from "../../labs/lab_page.js";

const $ = (id) => document.getElementById(id);
const BOOK = { activation: "sigmoid", std_a: 1, std_b: 0.01, xavier: true, he: true, bins: 30, samples: 1000,
  units: 100, layers: 5, seed: 0, cap: true, pieces: 2 };
const FIRST = ["sigmoid", "tanh", "relu"];

async function main() {
  let activations = FIRST;
  try { activations = (await getSchema()).activations; } catch (err) { /* the book's three still work */ }
  const ordered = [...FIRST, ...activations.filter((a) => !FIRST.includes(a)), MAXOUT];
  const lab = labPage({ book: BOOK });
  const { settings } = lab;
  const grid = activationGrid({ grid: $("grid"), title: $("grid-title"), look: $("grid-look"), meta: $("grid-meta"), stats: $("stats") });
  let seq = 0;   // answers to older settings are dropped
  const form = lab.form([
    { key: "activation", label: "Activation", type: "select",
      options: ordered.map((a) => [a, a === MAXOUT ? "maxout (k pieces)" : a.replace(/_/g, " ")]) },
    { key: "pieces", label: "Maxout pieces k", min: 2, max: 10, step: 1, integer: true,
      help: "Each unit is the largest of k products x·W, each with a W of its own drawn like the others (fan-in n)." },
    { key: "std_a", label: "Weight std, row 1", min: 1e-6, max: 100, help: "Gaussian weights with this standard deviation (the book: 1)." },
    { key: "std_b", label: "Weight std, row 2", min: 1e-6, max: 100, help: "The book: 0.01." },
    { key: "xavier", label: "Xavier: std 1/√n", type: "checkbox" },
    { key: "he", label: "He: std √(2/n)", type: "checkbox" },
    { key: "layers", label: "Layers", min: 1, max: 10, step: 1, integer: true },
    { key: "units", label: "Units per layer (n)", min: 1, max: 1000, step: 1, integer: true },
    { key: "samples", label: "Random inputs", min: 1, max: 10000, step: 1, integer: true },
    { key: "bins", label: "Bins", min: 2, max: 200, step: 1, integer: true },
    { key: "seed", label: "Seed", min: 0, step: 1, integer: true },
    { key: "cap", label: "Cap the y axis", type: "checkbox",
      help: "A huge bar of exact zeros or saturated values then goes off the chart, as in the book." },
  ], () => refresh());
  const showPieces = () => { form.inputs.pieces.closest(".field").hidden = settings.activation !== MAXOUT; };
  showPieces();
  form.inputs.activation.addEventListener("change", showPieces);   // at once; a reset shows it in refresh()

  const refresh = debounce(async () => {
    showPieces();
    lab.save();
    const inits = [{ init: "std", std: settings.std_a }, { init: "std", std: settings.std_b }];
    if (settings.xavier) inits.push({ init: "xavier", label: "Xavier" });
    if (settings.he) inits.push({ init: "he", label: "He" });
    const mine = ++seq;
    let result;
    try {
      result = await postJSON("/api/labs/histograms", { activation: settings.activation, inits, bins: settings.bins,
        samples: settings.samples, units: settings.units, layers: settings.layers, seed: settings.seed,
        ...(settings.activation === MAXOUT ? { pieces: settings.pieces } : {}) });
    } catch (err) {
      if (mine === seq) lab.notice(`These settings do not work: ${err.message}`);
      return;
    }
    if (mine !== seq) return;
    lab.notice(null);
    grid.show(result, { cap: settings.cap });
  }, 200);

  lab.onReset(() => refresh());
  refresh();
}

main();
