// The dashboard: builder + Train/Stop + live charts + compare list + config in the address.

import { getSchema, getRun, validate } from "./api.js";
import { Builder } from "./builder.js";
import { Charts } from "./charts.js";
import { RunList } from "./runs.js";
import { StatusPanel } from "./status.js";
import { Live } from "./live.js";
import { readConfigFromHash, writeConfigToHash } from "./hash.js";
import { watchConnection, showNotice } from "./page.js";
import { installTooltips } from "./tooltip.js";

const $ = (id) => document.getElementById(id);

// A fresh dashboard shows the book's experiment (§6.4: 784-100x6-10 on 300 images), whose untouched
// Train memorises the training images as the intro says. parse_config({}) and the schema's
// default_config keep their one layer: the CLI and stored configs mean what they meant.
const START_PRESET = "overfitting";

async function main() {
  const charts = new Charts({ loss: $("chart-loss"), acc: $("chart-acc"), gap: $("chart-gap") });
  const status = new StatusPanel(
    { line: $("status"), bar: $("progress"), fill: $("progress-fill"), epoch: $("progress-epoch"), time: $("progress-time"),
      stop: [$("stop"), $("stop-end")] },
    { onStop: (id) => stopRun(id) });
  let live = null;
  const list = new RunList($("runs"), charts, {
    onAddStored: (id) => addStored(id), onStop: (id) => stopRun(id), onRemove: (id) => forgetCompared(id) });
  live = new Live({ charts, list, status });
  live.connect();
  watchConnection();
  installTooltips();
  installJumps();
  $("log-loss").addEventListener("change", (e) => charts.setLogLoss(e.target.checked));

  let schema;
  try {
    schema = await getSchema();
  } catch (err) {
    showNotice($("page-notice"), `Could not load the settings from the server (${err.message}). Is \`python -m server\` running? Reload the page to try again.`);
    $("builder").replaceChildren();
    return;
  }

  // ---- builder + address + live validation
  let validateTimer = null;
  let validateSeq = 0;
  const start = ((schema.presets || {})[START_PRESET] || {}).config || schema.default_config;
  const builder = new Builder($("builder"), schema, {
    initial: start,
    onChange: (config, { commit }) => {
      writeConfigToHash(config);
      if (commit) {
        clearTimeout(validateTimer);
        validateTimer = setTimeout(() => check(config), 250);
      }
    },
  });

  async function check(config) {
    const seq = ++validateSeq;
    let result;
    try { result = await validate(config); } catch (err) { return; }
    if (seq !== validateSeq) return; // a newer edit is being checked
    if (result.ok) {
      builder.clearErrors();
      // "Not started: ... marked in red" no longer describes the builder
      if ($("status").dataset.status === "invalid") status.set("idle", "Ready. Press Train to start.");
    } else builder.showErrors(result.errors && result.errors.length ? result.errors : [{ field: "config", message: result.error }],
      "Some settings are not valid yet:");
  }

  function loadFromHash() {
    const fromHash = readConfigFromHash();
    if ($("status").dataset.status === "invalid") status.set("idle", "Ready. Press Train to start.");
    const notice = $("hash-notice");
    if (fromHash.error) {
      showNotice(notice, `The settings in this link could not be read: ${fromHash.error}. The default network (the book's overfitting experiment) is shown instead.`);
      builder.setConfig(start, { silent: true });
      writeConfigToHash(builder.getConfig());
    } else if (fromHash.config) {
      notice.hidden = true;
      builder.setConfig(fromHash.config, { silent: true });
      writeConfigToHash(builder.getConfig());
      check(builder.getConfig());
    } else {
      notice.hidden = true;
      writeConfigToHash(builder.getConfig());
    }
  }
  const linkHasConfig = Boolean(readConfigFromHash().config);
  loadFromHash();
  window.addEventListener("hashchange", () => {
    // Someone pasted another link into the address bar of an open dashboard.
    const current = JSON.stringify(builder.getConfig());
    const fromHash = readConfigFromHash();
    if (fromHash.config && JSON.stringify(fromHash.config) === current) return;
    loadFromHash();
  });

  // ---- train / stop: one Train above the charts, one at the end of the builder (a phone shows the
  // builder below the charts); they are one button: both wait for the server's answer together.
  const trains = [$("train"), $("train-end")].filter(Boolean);
  const setTrainDisabled = (disabled) => { for (const b of trains) b.disabled = disabled; };
  setTrainDisabled(false);
  for (const button of trains) button.addEventListener("click", () => train(button));

  async function train(button) {
    clearTimeout(validateTimer);
    validateSeq++;
    const config = builder.getConfig();
    setTrainDisabled(true);
    status.clear("starting", "Sending the settings to the server…");
    let ack;
    try {
      ack = await live.start(config, { name: config.name, origin: { kind: "dashboard" } });
    } catch (err) {
      status.failed(null, err.message);
      setTrainDisabled(false);
      showRunBar(button);
      return;
    }
    setTrainDisabled(false);
    if (ack.error) {
      const errors = ack.errors && ack.errors.length ? ack.errors : null;
      if (errors) {
        builder.showErrors(errors, "The server did not start this run. Fix the marked settings:");
        status.set("invalid", `Not started: ${errors.length === 1 ? "1 setting needs" : errors.length + " settings need"} fixing (marked in red in the builder).`);
        builder.focusField(errors[0].field);
      } else {
        status.set("error", `Not started: ${ack.error}`);
        showRunBar(button);
      }
      return;
    }
    builder.clearErrors();
    showRunBar(button);
  }

  /** Train pressed at the end of the builder, below the charts on a phone: show what it did there. */
  function showRunBar(button) {
    const bar = $("charts-top");
    if (button.id === "train-end" && bar && !inView(bar)) bar.scrollIntoView({ block: "start" });
  }

  function stopRun(id) {
    if (!id) return;
    if (status.isFollowing(id)) status.set("running", "Stopping…");
    live.stop(id).then((ack) => { if (ack && ack.error) status.failed(id, ack.error); });
  }

  async function addStored(id) {
    if (list.get(id)) return;
    let run;
    try { run = await getRun(id); } catch (err) {
      showNotice($("page-notice"), `Could not load run ${id}: ${err.message}`);
      return;
    }
    live.add(id, { config: run.config, status: run.status, metrics: run.metrics || [], summary: run.summary, name: run.config && run.config.name });
    if (run.status === "running" || run.status === "queued") live.watch(id);
  }

  /** A run taken off the list leaves ?compare= too, so that a reload does not bring it back. */
  function forgetCompared(id) {
    const url = new URL(location.href);
    const ids = (url.searchParams.get("compare") || "").split(",").filter(Boolean);
    if (!ids.includes(id)) return;
    const rest = ids.filter((other) => other !== id);
    if (rest.length) url.searchParams.set("compare", rest.join(","));
    else url.searchParams.delete("compare");
    history.replaceState(null, "", url.pathname + url.search + url.hash);
  }

  // ---- /?compare=id1,id2 (the runs page's "Compare"): those stored runs on the charts, and the first
  // one's settings in the builder unless the link carries its own, so a variant is one edit away.
  const compare = [...new Set((new URLSearchParams(location.search).get("compare") || "")
    .split(",").map((id) => id.trim()).filter(Boolean))].slice(0, 10);
  (async () => {
    for (const id of compare) await addStored(id);
    const first = compare.map((id) => list.get(id)).find((e) => e && e.config);
    if (first && !linkHasConfig) {
      builder.setConfig(first.config, { silent: true });
      writeConfigToHash(builder.getConfig());
    }
  })();

  // ---- test/debug hook (tests assert primarily on the DOM and Plotly's gd.data)
  window.playground = {
    builder, charts, list, live,
    config: () => builder.getConfig(),
    currentRunId: () => live.focusId,
    points: (id) => charts.points(id || live.focusId),
    timing: () => ({ ...live.timing }),
  };
  document.dispatchEvent(new CustomEvent("playground:ready"));
}

/** The element is wholly inside the window. */
function inView(el) {
  const r = el.getBoundingClientRect();
  return r.top >= 0 && r.bottom <= window.innerHeight;
}

/**
 * In-page links (a[data-jump], e.g. "Edit network ↓") scroll to their target and move the focus
 * there, without touching the address: its #config= part is the builder's state, and a hash change
 * would reload the builder from it.
 */
function installJumps() {
  document.addEventListener("click", (e) => {
    const link = e.target.closest("a[data-jump]");
    if (!link) return;
    const target = document.getElementById(link.getAttribute("href").slice(1));
    if (!target) return;
    e.preventDefault();
    target.scrollIntoView({ block: "start" });
    if (!target.hasAttribute("tabindex")) target.setAttribute("tabindex", "-1");
    target.focus({ preventScroll: true });
  });
}

main().catch((err) => {
  const notice = document.getElementById("page-notice");
  if (notice) showNotice(notice, `The dashboard failed to start: ${err.message}`);
  throw err;
});
