// Permalink page of one stored run: charts from the stored metrics (instantly), its config, where it
// came from, weights download, "Open in builder", "Re-run" overlaid on the same charts, "Delete run",
// and the predict panel with this run as a model. Stop shows only while the followed run is queued
// or running.

import { getRun } from "../api.js";
import { Live } from "../live.js";
import { lazySocket } from "../socket.js";
import { Charts } from "../components/charts.js";
import { configView } from "../components/config_view.js";
import { connectionBadge } from "../components/connection_badge.js";
import { deleteRunButton } from "../components/delete_run.js";
import { showNotice } from "../components/notice.js";
import { predictPanel } from "../components/predict_panel.js";
import { rerunButton } from "../components/rerun.js";
import { runHead, runTitle } from "../components/run_head.js";
import { RunList } from "../components/run_list.js";
import { StatusPanel } from "../components/status.js";

const $ = (id) => document.getElementById(id);
const ACTIVE = new Set(["queued", "running"]);

async function main() {
  const root = $("run-page");
  const runId = root.dataset.runId || decodeURIComponent(location.pathname.replace(/\/+$/, "").split("/").pop());
  const loading = getRun(runId); // first: the request runs while the charts are set up (run.html also preloads it)
  loading.catch(() => {});
  const notice = $("page-notice");
  const socket = lazySocket({ onConnection: connectionBadge($("conn")).show });
  const charts = new Charts({ loss: $("chart-loss"), acc: $("chart-acc"), gap: $("chart-gap") });
  const status = new StatusPanel(
    { line: $("status"), bar: $("progress"), fill: $("progress-fill"), epoch: $("progress-epoch"), time: $("progress-time"), stop: $("stop") },
    { onStop: (id) => live.stop(id), hideStop: true });
  const list = new RunList($("runs"), charts, {
    onAddStored: (id) => live.addStored(id).catch((err) => showNotice(notice, `Could not load run ${id}: ${err.message}`)),
    onStop: (id) => live.stop(id) });
  const predict = predictPanel($("predict-panel"), { runs: () => list.entries, ownRun: { id: runId, status: root.dataset.status || "" } });
  window.predictPanel = predict;   // test hook
  const live = new Live({ charts, list, status, socket, onFinished: (id, state, summary) => {
    predict.runFinished(id, state, summary);
    if (id === runId) refreshHead();   // the original finished while we watched it
    else if (rerun) rerun.compare(id);
  } });
  let rerun = null;   // once the run is loaded
  const head = runHead(root);
  const remove = deleteRunButton($("delete-run"), { notice, runId, title: () => runTitle(run) });
  $("log-loss").addEventListener("change", (e) => charts.setLogLoss(e.target.checked));

  let run;
  try {
    run = await loading;
  } catch (err) {
    $("run-description").textContent = err.status === 404 ? "There is no stored run with this id." : `Could not load this run: ${err.message}`;
    showNotice(notice, err.status === 404
      ? `No run ${runId} is stored on this server. See the list of stored runs.`
      : `Could not load run ${runId}: ${err.message}`);
    $("download").hidden = true;
    return;
  }
  rerun = rerunButton($("rerun"), { notice: $("rerun-notice"), runId, config: () => run.config, live, status, list });

  function showHead() {
    head.show(run);
    remove.update(run.status);
  }
  async function refreshHead() {
    try { run = await getRun(runId); showHead(); } catch (err) { /* keep the old header */ }
  }

  showHead();
  configView($("config-view"), { json: $("config-json") }).show(run.config);
  live.add(runId, { config: run.config, status: run.status, metrics: run.metrics || [], summary: run.summary, short: "original", focus: ACTIVE.has(run.status) });
  predict.runsChanged();   // the Model list names this run as the run list does
  if (ACTIVE.has(run.status)) {
    const ack = await live.watch(runId);
    if (ack && ack.error) showNotice(notice, `Could not follow the live run: ${ack.error}`);
  } else {
    status.showStored(run);
  }

  window.playground = { charts, list, live, run: () => run, runId, points: (id) => charts.points(id || runId), timing: () => ({ ...live.timing }) };
}

main().catch((err) => {
  showNotice(document.getElementById("page-notice"), `This page failed to start: ${err.message}`);
  throw err;
});
