// The dashboard: builder + Train/Stop + live charts + compare list + config in the address + the
// predict panel.

import { getSchema } from "../api.js";
import { Live } from "../live.js";
import { lazySocket } from "../socket.js";
import { writeConfigToHash } from "../hash.js";
import { Builder } from "../components/builder.js";
import { Charts } from "../components/charts.js";
import { compareLink } from "../components/compare_link.js";
import { configCheck } from "../components/config_check.js";
import { configLink } from "../components/config_link.js";
import { connectionBadge } from "../components/connection_badge.js";
import { installJumpLinks } from "../components/jump_links.js";
import { showNotice } from "../components/notice.js";
import { predictPanel } from "../components/predict_panel.js";
import { RunList } from "../components/run_list.js";
import { StatusPanel } from "../components/status.js";
import { installTooltips } from "../components/tooltips.js";
import { trainButtons } from "../components/train_buttons.js";

const $ = (id) => document.getElementById(id);

// A fresh dashboard shows the book's experiment (§6.4: 784-100x6-10 on 300 images), whose untouched
// Train memorises the training images as the intro says. parse_config({}) and the schema's
// default_config keep their one layer: the CLI and stored configs mean what they meant.
const START_PRESET = "overfitting";

async function main() {
  const socket = lazySocket({ onConnection: connectionBadge($("conn")).show });
  const charts = new Charts({ loss: $("chart-loss"), acc: $("chart-acc"), gap: $("chart-gap") });
  const status = new StatusPanel(
    { line: $("status"), bar: $("progress"), fill: $("progress-fill"), epoch: $("progress-epoch"), time: $("progress-time"),
      stop: [$("stop"), $("stop-end")] },
    { onStop: (id) => stopRun(id) });
  const compared = compareLink();
  const list = new RunList($("runs"), charts, {
    onAddStored: (id) => addStored(id), onStop: (id) => stopRun(id), onRemove: (id) => compared.forget(id) });
  const predict = predictPanel($("predict-panel"), { runs: () => list.entries });
  window.predictPanel = predict;   // test hook
  const live = new Live({ charts, list, status, socket, onFinished: (id, state, summary) => {
    predict.runFinished(id, state, summary);
    // for scripts that watch the page (bench/ui_latency.py)
    document.dispatchEvent(new CustomEvent("playground:run-finished", { detail: { run_id: id, status: state, summary } }));
  } });
  socket();   // connect now: the first Train then does not wait for the handshake
  installTooltips();
  installJumpLinks();
  $("log-loss").addEventListener("change", (e) => charts.setLogLoss(e.target.checked));

  function stopRun(id) {
    if (!id) return;
    if (status.isFollowing(id)) status.set("running", "Stopping…");
    live.stop(id).then((ack) => { if (ack && ack.error) status.failed(id, ack.error); });
  }

  async function addStored(id) {
    try { await live.addStored(id); } catch (err) {
      showNotice($("page-notice"), `Could not load run ${id}: ${err.message}`);
    }
  }

  let schema;
  try {
    schema = await getSchema();
  } catch (err) {
    showNotice($("page-notice"), `Could not load the settings from the server (${err.message}). Is \`python -m server\` running? Reload the page to try again.`);
    $("builder").replaceChildren();
    return;
  }

  const start = ((schema.presets || {})[START_PRESET] || {}).config || schema.default_config;
  const builder = new Builder($("builder"), schema, {
    initial: start,
    onChange: (config, { commit }) => {
      writeConfigToHash(config);
      if (commit) checks.schedule(config);
    },
  });
  const checks = configCheck(builder, { onValid: () => status.clearInvalid() });
  const link = configLink(builder, { fallback: start, notice: $("hash-notice"),
    onLoad: () => status.clearInvalid(), onConfig: (config) => checks.check(config) });
  trainButtons([$("train"), $("train-end")].filter(Boolean), { builder, status, live, checks, runBar: $("charts-top") });

  // The compared runs on the charts, and the first one's settings in the builder unless the link
  // carries its own, so a variant is one edit away.
  (async () => {
    for (const id of compared.ids) await addStored(id);
    const first = compared.ids.map((id) => list.get(id)).find((e) => e && e.config);
    if (first && !link.hadConfig) {
      builder.setConfig(first.config, { silent: true });
      writeConfigToHash(builder.getConfig());
    }
  })();

  // test and debug hooks (tests assert primarily on the DOM and Plotly's gd.data)
  window.playground = {
    builder, charts, list, live,
    config: () => builder.getConfig(),
    currentRunId: () => live.focusId,
    points: (id) => charts.points(id || live.focusId),
    timing: () => ({ ...live.timing }),
  };
}

main().catch((err) => {
  showNotice(document.getElementById("page-notice"), `The dashboard failed to start: ${err.message}`);
  throw err;
});
