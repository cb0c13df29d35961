// The Model list of the predict panel: "default" or a run with stored weights.
//
// A run can recognise digits once it has stored weights: the server keeps them for "done" and "stopped"
// runs (server/runs/outcome.py KEEP_WEIGHTS; a stopped run may still have none if it stopped before training),
// never for diverged or failed ones, so a run is offered only after a HEAD request for its weights.
// Offered are: the run of a run's page (at once; chosen when it is done), the runs of the page's run
// list that finished with weights (named as in that list: "run #1 — ..."), and the newest finished runs
// the server lists ("stored run abc123… — ..."). The page's runs come first ("On this page"), then the
// stored ones grouped by where they came from (<optgroup>s: the dashboard's, re-runs, earlier runs,
// then one per lab, so that a lab's 32-run batch does not bury them). The default model stays selected
// until the user picks a run.

import { defaultModel, hasWeights } from "../../api.js";
import { describeConfig } from "../../format.js";
import { originGroup, pickerRuns } from "../../origin.js";

const WITH_WEIGHTS = new Set(["done", "stopped"]);
const PAGE_GROUP = { key: "page", label: "On this page", order: -1 };
const SYNC_EVERY_MS = 2000;   // stored runs added to the charts, names and accuracies

const pct = (x) => (typeof x === "number" && isFinite(x) ? `${(x * 100).toFixed(1)}%` : null);

/**
 * select: the <select>; note: the line that says a run can now recognise digits (never on a run's page).
 * runs(): the entries of the page's run list ({id, short, name, description, status, meta}).
 * ownRun: {id, status} of a run's page, else null. onChange(): the user picked another model.
 * -> {runId (null: the default model), shortName(modelId), runFinished(id, status, summary), sync()}
 * sync(): the run list changed (it is also looked at every 2 s, and when the list gets the focus).
 */
export function modelPicker(select, { note = null, runs = () => [], ownRun = null, onChange = () => {} } = {}) {
  const options = new Map();       // run id -> its <option>
  const weightChecks = new Map();  // run id -> Promise<boolean>: the server has its weights
  const summaries = new Map();     // run id -> the summary of a run that finished
  const stored = new Map();        // run id -> {description, name, label, group, rank}: finished runs the server lists
  const groups = new Map();        // group key -> its <optgroup>

  const listEntry = (id) => runs().find((e) => e.id === id) || null;

  /** {short, full}: "run #1" and "run #1 — name — 784-20-10 relu, sgd lr 0.1 (test 85.0%)". */
  function names(id) {
    const e = listEntry(id);
    const older = stored.get(id);
    const short = ownRun && ownRun.id === id ? "this run" : e && e.short ? `run ${e.short}`
      : older ? `stored run ${id.slice(0, 6)}…` : `run ${id}`;
    const parts = [short];
    if (e && e.name) parts.push(e.name);
    if (e && e.description) parts.push(e.description);
    else if (older) parts.push(...[older.name, older.label, older.description].filter(Boolean));
    const summary = summaries.get(id);
    const acc = pct(summary && summary.final && summary.final.test_acc);
    const fromMeta = !acc && e && typeof e.meta === "string" && /test ([\d.]+%)/.exec(e.meta);
    const status = (e && e.status) || (summary && summary.status) || "";
    const notes = [status && status !== "done" ? status : "", acc ? `test ${acc}` : fromMeta ? `test ${fromMeta[1]}` : ""]
      .filter(Boolean);
    return { short, full: parts.join(" — ") + (notes.length ? ` (${notes.join(", ")})` : "") };
  }

  function weightsOf(id) {
    if (!weightChecks.has(id)) {
      weightChecks.set(id, hasWeights(id).catch(() => { weightChecks.delete(id); return false; }));   // try again next time
    }
    return weightChecks.get(id);
  }

  /** The <optgroup> of a group {key, label, order}, made on first use and kept in order. */
  function optgroup(group) {
    let el = groups.get(group.key);
    if (el) return el;
    el = document.createElement("optgroup");
    el.label = group.label;
    el.dataset.group = group.key;
    el.dataset.order = String(group.order);
    const after = [...select.querySelectorAll("optgroup")].find((other) =>
      Number(other.dataset.order) > group.order
      || (Number(other.dataset.order) === group.order && other.label.localeCompare(group.label) > 0));
    select.insertBefore(el, after || null);
    groups.set(group.key, el);
    return el;
  }

  /** Runs of this page (its run list, or the run of a run's page) first; stored ones by their origin. */
  function groupOf(id) {
    if ((ownRun && ownRun.id === id) || listEntry(id) || !stored.has(id)) return PAGE_GROUP;
    return stored.get(id).group || PAGE_GROUP;
  }

  function upsert(id) {
    let opt = options.get(id);
    if (!opt) {
      opt = document.createElement("option");
      opt.value = id;
      options.set(id, opt);
    }
    const group = optgroup(groupOf(id));
    if (opt.parentNode !== group) {
      // In a group, in the order the server listed them (newest first); the page's runs as they came.
      const rank = stored.has(id) && group !== groups.get(PAGE_GROUP.key) ? stored.get(id).rank : Infinity;
      opt.dataset.rank = String(rank);
      const before = [...group.children].find((other) => Number(other.dataset.rank) > rank);
      const selected = select.value;
      group.insertBefore(opt, before || null);
      select.value = selected;          // moving an option must not change the choice
    }
    const n = names(id);
    // every 2 s while runs train: write only what changed (a write still costs a style pass)
    if (opt.textContent !== n.full) opt.textContent = n.full;
    if (opt.dataset.short !== n.short) opt.dataset.short = n.short;
    const title = `${n.full} · run id ${id}`;
    if (opt.title !== title) opt.title = title;
  }

  function setNote(text) {
    if (!note || ownRun) return;     // on a run's page its run is already the choice
    note.textContent = text;
    note.hidden = !text;
  }

  async function offer(id, status, { quiet = false } = {}) {
    if (!id) return;
    if (options.has(id)) { upsert(id); return; }
    if (!WITH_WEIGHTS.has(status) || !(await weightsOf(id))) return;
    const isNew = !options.has(id);
    upsert(id);
    if (isNew && !quiet && select.value === "default") {
      setNote(`${names(id).short.replace(/^run/, "Run")} finished and can recognise digits too: pick it under Model.`);
    }
  }

  function sync() {
    if (ownRun) upsert(ownRun.id);
    for (const e of runs()) offer(e.id, e.status);
  }

  // The run of a run's page: offered at once (while it trains, the server says to wait), chosen when done.
  if (ownRun) {
    upsert(ownRun.id);
    if (ownRun.status === "done") select.value = ownRun.id;
  }
  // Runs trained earlier, where the server lists them: the newest that finished, so a stored run can
  // recognise digits without being put on the charts first (a server with listing off answers 403).
  pickerRuns({ status: "done", own: 20, perLab: 10 }).then((listed) => {
    for (const [rank, r] of listed.entries()) {
      if (r.status !== "done" || options.has(r.run_id)) continue;
      stored.set(r.run_id, { description: describeConfig(r.config), group: originGroup(r.origin),
        label: r.origin && r.origin.label, name: r.config && typeof r.config.name === "string" ? r.config.name : "", rank });
      if (r.summary) summaries.set(r.run_id, r.summary);
      offer(r.run_id, r.status, { quiet: true });
    }
  }).catch(() => {});            // the default model and this page's runs still work
  defaultModel().then((info) => {
    const acc = info && info.accuracy && info.accuracy.heldout_mnist;
    const opt = select.querySelector('option[value="default"]');
    if (opt && typeof acc === "number") {
      // short enough for a phone's select; the title says where the accuracy was measured
      opt.textContent = `default model (CNN, ${(acc * 100).toFixed(1)}% right)`;
      opt.title = `A small convolutional network: ${(acc * 100).toFixed(1)}% of held-out MNIST digits right`;
    }
  }).catch(() => {});

  sync();
  setInterval(sync, SYNC_EVERY_MS);
  select.addEventListener("focus", sync);
  select.addEventListener("change", () => { setNote(""); onChange(); });

  return {
    get runId() { return select.value && select.value !== "default" ? select.value : null; },
    /** How the status line names a model: "the default model", "run #1", "this run". */
    shortName(model) {
      if (model === "default") return "the default model";
      const opt = options.get(String(model));
      return (opt && opt.dataset.short) || `run ${model}`;
    },
    runFinished(id, status, summary) {
      if (summary) summaries.set(id, summary);
      offer(id, status);
    },
    sync,
  };
}
