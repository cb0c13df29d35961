// Permalink page of one stored run: charts from the stored metrics (instantly), its config, where it
// came from, weights download, "Open in builder", "Re-run" overlaid on the same charts, and "Delete run".
// The page is titled by the run's name (its config's "name", else its description); Stop shows only
// while the followed run is queued or running.

import { deleteRun, getRun, weightsUrl } from "./api.js";
import { Charts } from "./charts.js";
import { RunList } from "./runs.js";
import { StatusPanel } from "./status.js";
import { Live } from "./live.js";
import { builderLink } from "./hash.js";
import { h, describeConfig, pct, when, duration, optimizerLabel, lossLabel, fmtNum, fmtSmall, dropoutStyle, dropoutStyleLabel, batchNormEps } from "./format.js";
import { showNotice, watchConnection } from "./page.js";
import { describeLayer, isImageLayer, layerShapes, shapeText } from "./layers.js";
import { originNodes, rerunOf } from "./origin.js";

const $ = (id) => document.getElementById(id);
const ACTIVE = new Set(["queued", "running"]);
const COMPARED = ["train_loss", "train_acc", "test_loss", "test_acc", "val_loss", "val_acc"];

async function main() {
  const root = $("run-page");
  const runId = root.dataset.runId || decodeURIComponent(location.pathname.replace(/\/+$/, "").split("/").pop());
  const loading = getRun(runId); // first: the request runs while the charts are set up (run.html also preloads it)
  loading.catch(() => {});
  const charts = new Charts({ loss: $("chart-loss"), acc: $("chart-acc"), gap: $("chart-gap") });
  const status = new StatusPanel(
    { line: $("status"), bar: $("progress"), fill: $("progress-fill"), epoch: $("progress-epoch"), time: $("progress-time"), stop: $("stop") },
    { onStop: (id) => live.stop(id), hideStop: true });
  const list = new RunList($("runs"), charts, { onAddStored: (id) => addStored(id), onStop: (id) => live.stop(id) });
  const live = new Live({ charts, list, status });
  watchConnection();
  $("log-loss").addEventListener("change", (e) => charts.setLogLoss(e.target.checked));

  let run;
  try {
    run = await loading;
  } catch (err) {
    $("run-description").textContent = err.status === 404 ? "There is no stored run with this id." : `Could not load this run: ${err.message}`;
    showNotice($("page-notice"), err.status === 404
      ? `No run ${runId} is stored on this server. See the list of stored runs.`
      : `Could not load run ${runId}: ${err.message}`);
    $("download").hidden = true;
    return;
  }

  renderHead(run);
  renderConfig(run.config);
  live.add(runId, { config: run.config, status: run.status, metrics: run.metrics || [], summary: run.summary, short: "original", focus: ACTIVE.has(run.status) });
  if (ACTIVE.has(run.status)) {
    const ack = await live.watch(runId);
    if (ack && ack.error) showNotice($("page-notice"), `Could not follow the live run: ${ack.error}`);
  } else {
    const n = (run.metrics || []).length;
    const trained = n ? n - 1 : 0;
    const how = { done: "finished", stopped: "was stopped", diverged: "diverged", interrupted: "was interrupted", error: "failed" }[run.status];
    status.set(run.status === "done" ? "done" : run.status,
      `Drawn from the stored metrics: ${trained} trained epoch${trained === 1 ? "" : "s"} plus epoch 0, the untrained network`
      + (how && run.status !== "done" ? ` (the run ${how}).` : "."));
    $("progress-fill").style.width = run.status === "done" ? "100%" : `${100 * Math.max(0, n - 1) / Math.max(1, (run.config.training || {}).epochs || 1)}%`;
    $("progress-epoch").textContent = `epoch ${n ? run.metrics[n - 1].epoch : 0} / ${(run.config.training || {}).epochs ?? "?"}`;
    $("progress-time").textContent = run.summary && run.summary.elapsed_s !== undefined ? `took ${duration(run.summary.elapsed_s, { tenths: true })}` : "";
  }

  // Keep the header in step when the original finishes while we watch it.
  document.addEventListener("playground:run-finished", async (e) => {
    const { run_id: id } = e.detail;
    if (id === runId) {
      try { run = await getRun(runId); renderHead(run); } catch (err) { /* keep the old header */ }
    } else if (reruns.has(id)) {
      compareRerun(id);
    }
  });

  // ---- Re-run
  const reruns = new Set();
  const rerun = $("rerun");
  rerun.disabled = false;
  rerun.addEventListener("click", async () => {
    rerun.disabled = true;
    $("rerun-notice").hidden = true;
    status.set("starting", "Sending the same settings to the server…");
    let ack;
    try {
      ack = await live.start(run.config, { short: `re-run ${reruns.size + 1}`, origin: { kind: "rerun", source: runId } });
    } catch (err) {
      status.failed(null, err.message);
      rerun.disabled = false;
      return;
    }
    rerun.disabled = false;
    if (ack.error) { status.set("error", `Re-run not started: ${ack.error}`); return; }
    reruns.add(ack.run_id);
  });

  // ---- Delete
  $("delete-run").addEventListener("click", async () => {
    const title = runTitle(run);
    if (!window.confirm(`Delete run “${title}”? Its metrics and trained weights are deleted from this server; this cannot be undone.`)) return;
    const button = $("delete-run");
    button.disabled = true;
    try {
      await deleteRun(runId);
    } catch (err) {
      if (err.status !== 404) {   // 404: already gone
        showNotice($("page-notice"), err.status === 409
          ? "This run is queued or running: stop it first, then delete it."
          : `Could not delete this run: ${err.message}`, { kind: "error" });
        button.disabled = ACTIVE.has(run.status);
        return;
      }
    }
    location.assign(`/runs?deleted=${encodeURIComponent(runId)}`);
  });

  async function compareRerun(id) {
    let a, b;
    try { [a, b] = await Promise.all([getRun(runId), getRun(id)]); } catch (err) { return; }
    const ma = a.metrics || [], mb = b.metrics || [];
    const n = Math.min(ma.length, mb.length);
    let diff = null;
    for (let i = 0; i < n && !diff; i++) {
      for (const key of COMPARED) {
        if ((ma[i][key] ?? null) !== (mb[i][key] ?? null)) { diff = { epoch: ma[i].epoch, key, a: ma[i][key], b: mb[i][key] }; break; }
      }
    }
    const entry = list.get(id);
    const label = entry ? entry.short : "the re-run";
    const notice = $("rerun-notice");
    if (diff) {
      showNotice(notice, `${label} differs from the original at epoch ${diff.epoch}: ${diff.key} ${diff.a} vs ${diff.b}.`, { kind: "warning" });
    } else if (ma.length !== mb.length) {
      showNotice(notice, `${label}: the first ${n} epoch records are identical to the original (the runs have ${ma.length} and ${mb.length} records).`, { kind: "info" });
    } else {
      showNotice(notice, `${label} reproduced the original exactly: the same loss and accuracy at all ${n} epoch records (same settings, same seed).`, { kind: "success" });
    }
  }

  async function addStored(id) {
    if (list.get(id)) return;
    try {
      const other = await getRun(id);
      live.add(id, { config: other.config, status: other.status, metrics: other.metrics || [], summary: other.summary });
      if (ACTIVE.has(other.status)) live.watch(id);
    } catch (err) {
      showNotice($("page-notice"), `Could not load run ${id}: ${err.message}`);
    }
  }

  window.playground = { charts, list, live, run: () => run, runId, points: (id) => charts.points(id || runId), timing: () => ({ ...live.timing }) };
  document.dispatchEvent(new CustomEvent("playground:ready"));

  function renderHead(r) {
    const badge = $("run-status");
    badge.textContent = r.status;
    badge.className = `badge badge-${r.status}`;
    root.dataset.status = r.status;
    const title = runTitle(r);
    $("run-title").textContent = title;
    document.title = document.title.replace(root.dataset.pageTitle, () => title);
    root.dataset.pageTitle = title;
    // Named: the description says what it is; unnamed, the title is the description.
    const named = title !== describeConfig(r.config);
    $("run-description").textContent = named ? describeConfig(r.config) : "";
    $("run-description").hidden = !named;
    renderOrigin(r.origin);
    const del = $("delete-run");
    del.disabled = ACTIVE.has(r.status);
    del.title = del.disabled ? "Stop this run first: a run that is queued or running cannot be deleted"
      : "Delete this run with its metrics and weights";
    const s = r.summary || {};
    const final = s.final || (r.metrics && r.metrics[r.metrics.length - 1]) || {};
    const facts = [
      ["Created", when(r.created_at)],
      ["Finished", r.finished_at ? when(r.finished_at) : ACTIVE.has(r.status) ? "still training" : "–"],
      ["Epochs", `${final.epoch ?? 0} of ${(r.config.training || {}).epochs ?? "?"}`],
      ["Train accuracy", pct(final.train_acc)],
      ["Test accuracy", pct(final.test_acc)],
      ["Best test accuracy", s.best_test_acc !== undefined ? `${pct(s.best_test_acc)} (epoch ${s.best_epoch})` : "–"],
      ["Training time", s.elapsed_s !== undefined ? duration(s.elapsed_s, { tenths: true }) : "–"],
    ];
    if (s.message || r.message) facts.push(["Message", s.message || r.message]);
    $("run-facts").replaceChildren(...facts.map(([k, v]) => h("div", { class: "fact" }, h("dt", {}, k), h("dd", {}, v))));
    $("open-builder").href = builderLink(r.config);
    const download = $("download");
    download.href = weightsUrl(r.run_id || runId);
    const hasWeights = r.status === "done" || r.status === "stopped";
    download.classList.toggle("disabled", !hasWeights);
    download.setAttribute("aria-disabled", String(!hasWeights));
    download.title = hasWeights ? "The trained weights as a NumPy .npz file (np.load)" : "Weights are saved when a run finishes";
    if (!hasWeights) download.removeAttribute("href");
  }
}

/** A run's title: its config's name, else its description as the dashboard's lists show it. */
function runTitle(r) {
  const name = r.config && typeof r.config.name === "string" ? r.config.name.trim() : "";
  return name || describeConfig(r.config) || `Run ${r.run_id}`;
}

function renderOrigin(origin) {
  const line = $("run-origin");
  line.hidden = !origin;
  if (!origin) return;
  if (origin.kind === "dashboard") line.replaceChildren("Trained on the dashboard.");
  else if (origin.kind === "rerun") line.replaceChildren("A ", rerunOf(origin), ": the same settings and seed, trained again.");
  else if (origin.kind === "lab") line.replaceChildren("From the ", originNodes(origin));
  else line.replaceChildren(originNodes(origin));
}

function renderConfig(config) {
  const c = config || {};
  const d = c.data || {}, m = c.model || {}, o = c.optimizer || {}, t = c.training || {};
  const layers = Array.isArray(m.hidden_layers) ? m.hidden_layers : [];
  const shapes = layerShapes(layers);
  const arch = h("ol", { class: "arch" },
    h("li", {}, layers.some(isImageLayer) ? "input: a 1×28×28 image (784 pixels)" : "input: 784 pixels"),
    layers.map((l, i) => h("li", {},
      `hidden ${i + 1}: ${describeLayer(l)}`, shapes[i].shape ? ` → ${shapeText(shapes[i].shape)}` : "")),
    h("li", {}, `output: 10 scores (${lossLabel(m.loss)})`));
  const hyper = Object.entries(o).filter(([k]) => k !== "name").map(([k, v]) => `${k} ${fmtNum(v)}`).join(", ");
  const rows = [
    ["Training images", d.train_size], ["Validation images", d.validation_size || 0],
    ["Test images", d.test_size ?? "all the rest"], ["Seed", c.seed],
    ["Weight init", m.weight_init === "std" ? `Gaussian, std ${fmtNum(m.weight_init_std)}` : m.weight_init],
    ["Optimizer", `${optimizerLabel(o.name)}${hyper ? " — " + hyper : ""}`],
    ["Epochs", t.epochs], ["Batch size", t.batch_size], ["Weight decay λ", fmtNum(t.weight_decay ?? 0)],
    ["Dropout style", dropoutStyleLabel(dropoutStyle(m)) + (layers.some((l) => l && l.dropout > 0) ? "" : " (no layer has dropout)")],
    ["Batch-norm ε", fmtSmall(batchNormEps(m)) + (layers.some((l) => l && l.batch_norm) ? "" : " (no layer has batch norm)")],
  ];
  if (t.dtype) rows.push(["Precision", t.dtype]);
  $("config-view").replaceChildren(
    h("div", { class: "config-arch" }, h("h3", {}, "Layers"), arch),
    h("table", { class: "config-table" }, h("tbody", {}, rows.map(([k, v]) => h("tr", {}, h("th", { scope: "row" }, k), h("td", {}, v ?? "–"))))));
  $("config-json").textContent = JSON.stringify(config, null, 2);
}

main().catch((err) => {
  showNotice(document.getElementById("page-notice"), `This page failed to start: ${err.message}`);
  throw err;
});
