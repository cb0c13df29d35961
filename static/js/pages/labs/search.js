// Lab §6.5: random hyperparameter search (search:start / search:trial / search:done / search:stop),
// a live scatter of learning rate vs weight decay, the best trials and "narrow the ranges".

import { postJSON } from "../../api.js";
import { duration } from "../../format.js";
import { batchProgress } from "../../labs/batch_progress.js";
import { labPage } from "../../labs/lab_page.js";
import { searchCharts } from "../../labs/search_charts.js";
import { searchClient } from "../../labs/search_client.js";

const $ = (id) => document.getElementById(id);
const BOOK = { trials: 100, lr_from: -6, lr_to: -2, wd_from: -8, wd_to: -4, samples: 500, validation: 0.2,
  epochs: 50, layers: 6, units: 100, batch_size: 100, seed: 0, top: 5 };
const FIELDS = [
  { key: "trials", label: "Trials", min: 1, max: 1000, step: 1, integer: true, help: "The book: 100." },
  { key: "lr_from", label: "Learning rate from", unit: "10^", min: -12, max: 2 },
  { key: "lr_to", label: "Learning rate to", unit: "10^", min: -12, max: 2 },
  { key: "wd_from", label: "Weight decay from", unit: "10^", min: -12, max: 2 },
  { key: "wd_to", label: "Weight decay to", unit: "10^", min: -12, max: 2 },
  { key: "samples", label: "Images", min: 2, max: 5000, step: 1, integer: true, help: "Training + validation (the book: 500)." },
  { key: "validation", label: "Validation share", min: 0.01, max: 0.9, help: "The book: 0.2, i.e. 400 train / 100 validation." },
  { key: "epochs", label: "Epochs per trial", min: 1, max: 1000, step: 1, integer: true },
  { key: "layers", label: "Hidden layers", min: 0, max: 10, step: 1, integer: true },
  { key: "units", label: "Units per layer", min: 1, max: 2048, step: 1, integer: true },
  { key: "batch_size", label: "Batch size", min: 1, max: 5000, step: 1, integer: true },
  { key: "top", label: "Best trials to keep", min: 1, max: 20, step: 1, integer: true, help: "Shown in the table and used to narrow the ranges." },
  { key: "seed", label: "Seed", min: 0, step: 1, integer: true, help: "Fixes the split, the initial weights and the sampled values." },
];
const SETUP_KEYS = ["trials", "samples", "validation", "epochs", "layers", "units", "batch_size", "seed"];
const pick = (obj, keys) => Object.fromEntries(keys.map((k) => [k, obj[k]]));
const round3 = (x) => Math.round(x * 1000) / 1000;
const plural = (n, word) => `${n} ${word}${n > 1 ? "es" : ""}`;

function main() {
  const lab = labPage({ book: BOOK });
  const { settings, info } = lab;
  const bar = batchProgress(document.querySelector(".lab-progress"));
  const charts = searchCharts({ scatter: $("chart-scatter"), curves: $("chart-curves"), best: $("best-table"),
    bestTitle: $("best-title"), narrowText: $("narrow-text") });
  let setup = null;      // the last /api/labs/search/setup answer
  let results = [];      // the finished trials of the search shown
  let planned = [];      // the trials it draws
  let narrowed = null;   // the ranges spanning the best trials, once it ended
  let startedAt = 0;
  const ranges = () => ({ lr: [10 ** settings.lr_from, 10 ** settings.lr_to], weight_decay: [10 ** settings.wd_from, 10 ** settings.wd_to] });
  const best = () => results.filter((r) => r.val_acc !== null && r.val_acc !== undefined)
    .sort((a, b) => b.val_acc - a.val_acc).slice(0, settings.top);
  const showBest = () => charts.best(best(), settings.top);
  const showNarrowed = () => { $("narrow").disabled = !narrowed || search.running; charts.narrowed(narrowed); };

  const search = searchClient(lab.socket, {
    onTrial(p) {
      results.push(p);
      charts.trial(p, planned.filter((t) => !results.some((r) => r.trial === t.trial)));
      const elapsed = (performance.now() - startedAt) / 1000;
      const eta = elapsed / p.done * (p.total - p.done);
      bar.set(p.done / p.total, `${p.done} / ${p.total} trials · ${duration(elapsed)} elapsed · about ${duration(eta)} left`, "running");
      showBest();
    },
    async onDone(p) {
      narrowed = null;
      if (results.some((r) => r.val_acc !== null && r.val_acc !== undefined)) {
        try {
          narrowed = await postJSON("/api/labs/search/narrow", { results: results.map(({ curve, ...r }) => r), top: settings.top });
        } catch (err) {
          lab.notice(`Could not narrow the ranges: ${err.message}`);
        }
      }
      const speed = p.results ? ` · ${(p.elapsed_s / p.results).toFixed(1)} s per trial with ${p.workers} worker${p.workers > 1 ? "s" : ""}` : "";
      bar.set(p.results / p.total, `${p.status === "done" ? "Done" : "Stopped"}: ${p.results} of ${p.total} trials in ${duration(p.elapsed_s)}${speed}`, p.status === "done" ? "done" : "stopped");
      showBest();
      showNarrowed();
      setRunning(false);
    },
    onError: (p) => lab.notice(`The search failed: ${p.error}`),
    onLost() {
      lab.notice("The connection to the server was lost, so the search stopped (its finished trials are still shown). Start it again when the connection is back.", "warning");
      bar.set(results.length / Math.max(1, planned.length), `Stopped after ${results.length} trials: connection lost`, "stopped");
      setRunning(false);
    },
  });

  const form = lab.form(FIELDS, () => changed());

  async function changed() {
    lab.save();
    try {
      setup = await postJSON("/api/labs/search/setup", { ...ranges(), ...pick(settings, SETUP_KEYS) });
    } catch (err) {
      setup = null;
      $("run").disabled = true;
      lab.notice(`These settings do not work: ${err.message}`);
      return;
    }
    lab.notice(null);
    if (!search.running) $("run").disabled = false;
    const d = setup.config.data;
    $("plan").textContent = `${setup.trials} trials · ${d.train_size} train / ${d.validation_size} validation images · ${setup.config.training.epochs} epochs each · ${plural(info.searchWorkers, "worker process")}`;
    if (!search.running && !results.length) { planned = []; charts.reset(ranges(), planned); }
  }

  function setRunning(running) {
    $("run").disabled = running || !setup;
    $("stop").disabled = !running;
    form.disable(running);
    $("narrow").disabled = running || !narrowed;
  }

  /** Back to no search: a new one, or new ranges. */
  function forget() {
    results = [];
    narrowed = null;
    showBest();
    showNarrowed();
  }

  $("run").addEventListener("click", async () => {
    if (!setup) return;
    forget();
    setRunning(true);
    bar.set(0, "Starting the worker processes…", "running");
    const ack = await search.start({ config: setup.config, trials: setup.trials, lr: setup.lr, weight_decay: setup.weight_decay });
    if (ack.error) {
      lab.notice(`The search could not start: ${ack.error}`);
      bar.set(0, "Not started.", "error");
      setRunning(false);
      return;
    }
    lab.notice(null);
    planned = ack.trials;
    startedAt = performance.now();
    charts.reset(ranges(), planned);
    bar.set(0, `0 / ${planned.length} trials · ${plural(ack.workers, "worker process")} started`, "running");
  });
  $("stop").addEventListener("click", async () => {
    if (!search.running) return;
    $("stop").disabled = true;
    const ack = await search.stop();
    bar.set(results.length / Math.max(1, planned.length), ack.error ? ack.error : "Stopping: the trials already running finish first…", "stopped");
  });
  $("narrow").addEventListener("click", () => {
    if (!narrowed) return;
    narrowTo(settings, narrowed);
    form.sync();
    forget();
    changed();
  });

  lab.onReset(() => changed(), { allow: () => !search.running });
  showBest();
  changed();
}

/** The settings' ranges (powers of ten) set to the narrowed ones; a weight decay range from 0 is kept. */
function narrowTo(settings, narrowed) {
  settings.lr_from = round3(Math.log10(narrowed.lr[0]));
  settings.lr_to = round3(Math.log10(narrowed.lr[1]));
  if (narrowed.weight_decay[0] > 0) {
    settings.wd_from = round3(Math.log10(narrowed.weight_decay[0]));
    settings.wd_to = round3(Math.log10(narrowed.weight_decay[1]));
  }
}

main();
