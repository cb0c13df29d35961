// The controller of the labs that train a batch of runs (optimizers and weight init on MNIST, batch
// norm, overfitting): settings -> POST /api/labs/<slug>/runs (the configs to train) -> "Train all"
// starts them through RunBatch -> each lab's view draws the records as they arrive. The settings live
// in the address; "Train all" waits until every refused field is fixed (a refused value must not be
// trained with the last valid one); while a batch trains the settings are locked.

import { postJSON } from "../api.js";
import { labPage } from "./lab_page.js";
import { batchProgress } from "./batch_progress.js";
import { RunBatch, describeCounts, isFinal } from "./run_batch.js";

/**
 * spec: {
 *   book, absent: the settings (lab_page.js); fields: the settings form's spec (settings_form.js);
 *   extra(settings, changed, {onInvalid}): more settings controls than the fields (a rows editor) ->
 *     {disable(running), sync(), invalid()}, optional;
 *   planText(plan, settings, info): the line that says what "Train all" trains (info: lab_page.js's);
 *   view: {
 *     reset(plan): empty charts for the planned runs;
 *     items(plan): the runs to train, [{key, label, config, ...}] (default: plan.runs);
 *     epoch(item, record): a run's epoch record arrived; state(item, items): a run's status changed;
 *     done(items): every run finished (optional); progressText(counts, items) (default: describeCounts)
 *   }
 * }
 * plan: {runs: [{key, label, config, ...}], meta: {epochs, ...}} from the server.
 */
export function batchLab({ book, absent, fields, extra = null, planText, view }) {
  const lab = labPage({ book, absent });
  const { settings, info } = lab;
  const $ = (id) => document.getElementById(id);
  const runButton = $("run"), stopButton = $("stop"), planLine = $("plan");
  const bar = batchProgress(document.querySelector(".lab-progress"));
  let plan = null;      // the last answer of /api/labs/<slug>/runs
  let batch = null;

  const form = lab.form(fields, () => changed(), { onInvalid: () => { runButton.disabled = true; } });
  const more = extra ? extra(settings, () => changed(), { onInvalid: () => { runButton.disabled = true; } }) : null;
  const refused = () => form.rejected().length > 0 || Boolean(more && more.invalid());
  const training = () => Boolean(batch && batch.active);

  async function changed() {
    lab.save();
    try {
      plan = await postJSON(`/api/labs/${info.slug}/runs`, settings);
    } catch (err) {
      plan = null;
      runButton.disabled = true;
      planLine.textContent = "";
      lab.notice(`These settings do not work: ${err.message}`);
      return;
    }
    lab.notice(null);
    if (!training()) {
      runButton.disabled = refused();
      view.reset(plan);
    }
    planLine.textContent = planText(plan, settings, info);
  }

  function setRunning(running) {
    runButton.disabled = running || !plan || refused();
    stopButton.disabled = !running;
    form.disable(running);
    if (more) more.disable(running);
  }

  runButton.addEventListener("click", () => {
    if (!plan) return;
    view.reset(plan);
    const epochs = plan.meta.epochs;
    const items = (view.items ? view.items(plan) : plan.runs).map((r) => ({ ...r, record: null }));
    const progressText = view.progressText || describeCounts;
    batch = new RunBatch({ lab: info.slug, socket: lab.socket, maxActive: info.maxPerClient }, {
      onEpoch: (item, record) => { item.record = record; view.epoch(item, record); },
      onState: (item, counts) => {
        const epochsDone = batch.items.reduce((s, it) => s + (isFinal(it.status) ? epochs : Math.max(0, it.epoch)), 0);
        bar.set(epochsDone / (epochs * counts.total), progressText(counts, batch.items), counts.finished === counts.total ? "done" : "running");
        if (view.state) view.state(item, batch.items);
      },
      onAllDone: () => { setRunning(false); if (view.done) view.done(batch.items); },
    });
    batch.start(items);
    setRunning(true);
  });
  stopButton.addEventListener("click", () => batch && batch.stop());

  lab.onReset(() => { if (more) more.sync(); changed(); }, { allow: () => !training() });
  changed();
}
