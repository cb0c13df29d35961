// /runs: the list of stored runs with links to their permalinks.

import { listRuns, permalink } from "./api.js";
import { builderLink } from "./hash.js";
import { h, describeConfig, pct, when } from "./format.js";
import { showNotice } from "./page.js";

const $ = (id) => document.getElementById(id);
let runs = [];
let timer = null;
const picked = new Set(); // run ids ticked for comparison (kept across reloads of the list)
const MAX_COMPARE = 10;

/** The dashboard with the ticked runs on its charts: /?compare=id1,id2 (main.js). */
function updateCompare() {
  const link = $("compare");
  const ids = runs.map((r) => r.run_id).filter((id) => picked.has(id));
  link.hidden = runs.length === 0;
  link.href = ids.length ? `/?compare=${ids.map(encodeURIComponent).join(",")}` : "/";
  link.setAttribute("aria-disabled", String(!ids.length));
  link.classList.toggle("disabled", !ids.length);
  link.textContent = ids.length ? `Compare ${ids.length} on the dashboard` : "Tick runs to compare them";
}

/** The server does not list runs (PLAYGROUND_LIST_RUNS=off): say so, not "no runs" or an error. */
function listingOff() {
  clearTimeout(timer);
  $("runs-card").hidden = true;
  $("listing-off").hidden = false;
  $("page-notice").hidden = true;
}

async function load() {
  try {
    runs = (await listRuns()).runs || [];
    $("page-notice").hidden = true;
  } catch (err) {
    if (err.status === 403) return listingOff();   // turned off since the page was rendered
    showNotice($("page-notice"), `Could not load the stored runs: ${err.message}`);
    runs = [];
  }
  render();
  clearTimeout(timer);
  if (runs.some((r) => r.status === "running" || r.status === "queued")) timer = setTimeout(load, 3000);
}

function render() {
  updateCompare();
  const filter = $("status-filter").value;
  const shown = runs.filter((r) => !filter || r.status === filter || (filter === "running" && r.status === "queued"));
  $("runs-count").textContent = `${shown.length} of ${runs.length} run${runs.length === 1 ? "" : "s"}`;
  if (!shown.length) {
    $("runs-body").replaceChildren(h("tr", {}, h("td", { colspan: 8, class: "empty" },
      runs.length ? "No run has this status." : "No stored runs yet. ",
      runs.length ? "" : h("a", { href: "/" }, "Train one on the dashboard."))));
    return;
  }
  $("runs-body").replaceChildren(...shown.map((r) => {
    const s = r.summary || {};
    const final = s.final || {};
    const epochs = ((r.config || {}).training || {}).epochs;
    const name = r.config && r.config.name;
    const pick = h("input", { type: "checkbox", class: "run-pick", "aria-label": `Compare run ${r.run_id}` });
    pick.checked = picked.has(r.run_id);
    pick.addEventListener("change", () => {
      if (pick.checked && picked.size >= MAX_COMPARE) {
        pick.checked = false;
        showNotice($("page-notice"), `At most ${MAX_COMPARE} runs can be compared at once.`, { kind: "warning" });
        return;
      }
      if (pick.checked) picked.add(r.run_id); else picked.delete(r.run_id);
      updateCompare();
    });
    return h("tr", { "data-run-id": r.run_id, "data-status": r.status },
      h("td", { class: "c-pick" }, pick),
      h("td", { class: "c-run" }, h("a", { href: permalink(r.run_id), class: "run-link" }, h("code", {}, String(r.run_id)))),
      h("td", { class: "c-status" }, h("span", { class: `badge badge-${r.status}`, title: r.message || s.message || "" }, r.status)),
      h("td", { class: "nowrap c-created" }, when(r.created_at)),
      h("td", { class: "desc" }, name ? h("strong", {}, name + " — ") : "", describeConfig(r.config)),
      h("td", { class: "num", "data-label": "epochs" }, `${final.epoch ?? r.last_epoch ?? "–"}/${epochs ?? "?"}`),
      h("td", { class: "num", "data-label": "train" }, pct(final.train_acc)),
      h("td", { class: "num", "data-label": "test" }, pct(final.test_acc)),
      h("td", { class: "actions" }, h("a", { href: builderLink(r.config), title: "Load these settings into the builder" }, "Open in builder")));
  }));
}

$("status-filter").addEventListener("change", render);
$("reload").addEventListener("click", load);
$("compare").addEventListener("click", (e) => { if (!picked.size) e.preventDefault(); });
if ($("listing-off").hidden) load();
