// /runs: the stored runs, filtered (origin, status, text, batch) and paged by the server (GET /api/runs),
// with links to their pages, "Compare on the dashboard" and deleting (per row, or the ticked ones).
// The filters and the page live in the address (/runs?origin=lab:batchnorm&status=done&q=adam&page=2).

import { deleteRun, listRuns, permalink } from "./api.js";
import { builderLink } from "./hash.js";
import { h, describeConfig, pct, when } from "./format.js";
import { showNotice } from "./page.js";
import { originNodes, shortId } from "./origin.js";

const $ = (id) => document.getElementById(id);
const PAGE_SIZE = 50;
const MAX_COMPARE = 10;
const ACTIVE = new Set(["queued", "running"]);

let runs = [];          // the runs of the page shown
let total = 0;          // how many runs match the filters
let timer = null;
let loading = 0;        // sequence number of the newest request: older answers are dropped
const picked = new Map(); // run id -> its name: ticked runs (kept across pages, reloads and filters)

const state = readAddress();

function readAddress() {
  const params = new URLSearchParams(location.search);
  const page = Number(params.get("page"));
  return {
    q: params.get("q") || "", origin: params.get("origin") || "", status: params.get("status") || "",
    batch: params.get("batch") || "", page: Number.isInteger(page) && page > 1 ? page : 1,
    deleted: params.get("deleted") || "",
  };
}

function writeAddress() {
  const params = new URLSearchParams();
  for (const key of ["origin", "status", "q", "batch"]) if (state[key]) params.set(key, state[key]);
  if (state.page > 1) params.set("page", String(state.page));
  const search = params.toString();
  const url = location.pathname + (search ? `?${search}` : "") + location.hash;
  if (url !== location.pathname + location.search + location.hash) history.replaceState(null, "", url);
}

/** A run as people name it: its config's name, else its id. */
const runName = (r) => (r.config && typeof r.config.name === "string" && r.config.name.trim()) || shortId(r.run_id);

/** The server does not list runs (PLAYGROUND_LIST_RUNS=off): say so, not "no runs" or an error. */
function listingOff() {
  clearTimeout(timer);
  $("runs-card").hidden = true;
  $("listing-off").hidden = false;
  $("page-notice").hidden = true;
}

async function load({ facets = false } = {}) {
  const seq = ++loading;
  clearTimeout(timer);
  const query = { origin: state.origin, status: state.status, q: state.q.trim(), batch: state.batch,
    limit: PAGE_SIZE, offset: (state.page - 1) * PAGE_SIZE, facets: facets ? 1 : "" };
  let body;
  try {
    body = await listRuns(query);
  } catch (err) {
    if (seq !== loading) return;
    if (err.status === 403) return listingOff();   // turned off since the page was rendered
    showNotice($("page-notice"), err.status === 400
      ? `These filters do not work: ${err.message}`
      : `Could not load the stored runs: ${err.message}`, { kind: "error" });
    runs = [];
    total = 0;
    render();
    return;
  }
  if (seq !== loading) return;
  if (!$("page-notice").dataset.keep) $("page-notice").hidden = true;
  runs = body.runs || [];
  total = body.total ?? runs.length;
  if (body.facets) fillOriginChoices(body.facets);
  const pages = Math.max(1, Math.ceil(total / PAGE_SIZE));
  if (state.page > pages && total > 0) {       // the page emptied (runs deleted): show the last one
    state.page = pages;
    writeAddress();
    return load();
  }
  render();
  if (runs.some((r) => ACTIVE.has(r.status))) timer = setTimeout(load, 3000);
}

/** Lab choices of "From", with how many runs each origin has (from the server's facets). */
function fillOriginChoices(facets) {
  const select = $("origin-filter");
  const counts = new Map((facets.origins || []).map((f) => [f.origin, f]));
  const labs = (facets.origins || []).filter((f) => f.origin.startsWith("lab:"))
    .sort((a, b) => String(a.title).localeCompare(String(b.title)));
  const anyLab = labs.reduce((sum, f) => sum + f.count, 0);
  const label = (text, n) => (n === undefined ? text : `${text} (${n.toLocaleString("en")})`);
  const all = Object.values(facets.statuses || {}).reduce((a, b) => a + b, 0);
  const fixed = [["", "everywhere", all], ["dashboard", "the dashboard", (counts.get("dashboard") || {}).count || 0],
    ["rerun", "re-runs", (counts.get("rerun") || {}).count || 0], ["lab", "any lab", anyLab]];
  const options = fixed.map(([value, text, n]) => h("option", { value }, label(text, n)));
  options.push(h("option", { value: "untagged" }, label("no origin (older runs)", (counts.get("untagged") || {}).count || 0)));
  const labOptions = labs.map((f) => h("option", { value: f.origin }, label(f.title, f.count)));
  if (state.origin.startsWith("lab:") && !counts.has(state.origin)) {
    labOptions.push(h("option", { value: state.origin }, label(state.origin.slice(4), 0)));
  }
  if (labOptions.length) options.push(h("optgroup", { label: "one lab" }, labOptions));
  select.replaceChildren(...options);
  select.value = state.origin;
}

function updateTools() {
  const compare = $("compare");
  const ids = [...picked.keys()];
  compare.hidden = total === 0 && !ids.length;
  const usable = ids.length > 0 && ids.length <= MAX_COMPARE;
  compare.href = usable ? `/?compare=${ids.map(encodeURIComponent).join(",")}` : "/";
  compare.setAttribute("aria-disabled", String(!usable));
  compare.classList.toggle("disabled", !usable);
  compare.textContent = !ids.length ? "Tick runs to compare them"
    : ids.length > MAX_COMPARE ? `Compare at most ${MAX_COMPARE} (${ids.length} ticked)` : `Compare ${ids.length} on the dashboard`;
  const del = $("delete-ticked");
  del.hidden = !ids.length;
  del.textContent = `Delete ${ids.length} ticked`;
  const boxes = [...document.querySelectorAll("#runs-body input.run-pick")];
  const ticked = boxes.filter((b) => b.checked).length;
  const all = $("pick-page");
  all.checked = boxes.length > 0 && ticked === boxes.length;
  all.indeterminate = ticked > 0 && ticked < boxes.length;
  all.disabled = boxes.length === 0;
}

function render() {
  const first = total ? (state.page - 1) * PAGE_SIZE + 1 : 0;
  const last = (state.page - 1) * PAGE_SIZE + runs.length;
  const filtered = state.origin || state.status || state.q.trim() || state.batch;
  $("runs-count").textContent = total
    ? `${first.toLocaleString("en")}–${last.toLocaleString("en")} of ${total.toLocaleString("en")} ${filtered ? "matching " : ""}run${total === 1 ? "" : "s"}`
    : "";
  const pages = Math.max(1, Math.ceil(total / PAGE_SIZE));
  $("pager").hidden = pages <= 1;
  $("page-info").textContent = `Page ${state.page} of ${pages}`;
  $("page-prev").disabled = state.page <= 1;
  $("page-next").disabled = state.page >= pages;
  $("batch-chip").hidden = !state.batch;
  $("batch-chip-text").textContent = `batch ${shortId(state.batch)}`;
  $("batch-chip").title = `Only the runs of batch ${state.batch}`;

  if (!runs.length) {
    $("runs-body").replaceChildren(h("tr", {}, h("td", { colspan: 10, class: "empty" },
      filtered ? "No stored run matches these filters. " : "No stored runs yet. ",
      filtered ? h("a", { href: "/runs" }, "Show every run.") : h("a", { href: "/" }, "Train one on the dashboard."))));
    updateTools();
    return;
  }
  $("runs-body").replaceChildren(...runs.map(row));
  updateTools();
}

function row(r) {
  const s = r.summary || {};
  const final = s.final || {};
  const epochs = ((r.config || {}).training || {}).epochs;
  const name = r.config && r.config.name;
  const pick = h("input", { type: "checkbox", class: "run-pick", "aria-label": `Tick run ${runName(r)}` });
  pick.checked = picked.has(r.run_id);
  pick.addEventListener("change", () => {
    if (pick.checked) picked.set(r.run_id, runName(r)); else picked.delete(r.run_id);
    updateTools();
  });
  const active = ACTIVE.has(r.status);
  const remove = h("button", {
    type: "button", class: "link-btn danger run-delete", disabled: active,
    title: active ? "Stop this run first: a run that is queued or running cannot be deleted" : "Delete this run with its metrics and weights",
    "aria-label": `Delete run ${runName(r)}`, onclick: () => removeRuns([[r.run_id, runName(r)]]),
  }, "Delete");
  return h("tr", { "data-run-id": r.run_id, "data-status": r.status },
    h("td", { class: "c-pick" }, pick),
    h("td", { class: "c-run" }, h("a", { href: permalink(r.run_id), class: "run-link", title: `run ${r.run_id}` }, h("code", {}, shortId(r.run_id)))),
    h("td", { class: "c-status" }, h("span", { class: `badge badge-${r.status}`, title: r.message || s.message || "" }, r.status)),
    h("td", { class: "nowrap c-created" }, when(r.created_at)),
    h("td", { class: r.origin ? "c-origin" : "c-origin no-origin" }, originNodes(r.origin)),
    h("td", { class: "desc" }, name ? h("strong", {}, name + " — ") : "", describeConfig(r.config)),
    h("td", { class: "num", "data-label": "epochs" }, `${final.epoch ?? r.last_epoch ?? "–"}/${epochs ?? "?"}`),
    h("td", { class: "num", "data-label": "train" }, pct(final.train_acc)),
    h("td", { class: "num", "data-label": "test" }, pct(final.test_acc)),
    h("td", { class: "actions" },
      h("a", { class: "act", href: builderLink(r.config), title: "Load these settings into the builder" }, "Open in builder"),
      h("span", { class: "act" }, h("span", { class: "only-narrow-inline", "aria-hidden": "true" }, " · "), remove)));
}

/** Delete runs [[id, name], ...] after asking; says what happened (a running run is kept). */
async function removeRuns(entries) {
  if (!entries.length) return;
  const what = entries.length === 1 ? `run “${entries[0][1]}”` : `${entries.length} runs`;
  const their = entries.length === 1 ? "Its" : "Their";
  if (!window.confirm(`Delete ${what}? ${their} metrics and trained weights are deleted from this server; this cannot be undone.`)) return;
  const gone = [], kept = [], failed = [];
  for (const [id, name] of entries) {  // one at a time: the server is also training
    try {
      await deleteRun(id);
      gone.push(id);
    } catch (err) {
      if (err.status === 404) gone.push(id);            // already deleted elsewhere
      else if (err.status === 409) kept.push(name);
      else failed.push(`${name}: ${err.message}`);
    }
  }
  for (const id of gone) picked.delete(id);
  const parts = [];
  if (gone.length) parts.push(gone.length === 1 && entries.length === 1 ? `Deleted ${what}.` : `Deleted ${gone.length} of ${entries.length} runs.`);
  if (kept.length) parts.push(`Kept ${kept.length} that ${kept.length === 1 ? "is" : "are"} still queued or running (stop ${kept.length === 1 ? "it" : "them"} first): ${kept.join(", ")}.`);
  if (failed.length) parts.push(`Could not delete ${failed.join("; ")}.`);
  notice(parts.join(" "), failed.length ? "error" : kept.length ? "warning" : "success");
  await load({ facets: true });
}

/** A notice that survives the reload after it (cleared by the next filter change). */
function notice(text, kind) {
  const el = $("page-notice");
  showNotice(el, text, { kind });
  el.dataset.keep = "1";
}

function changed(key, value) {
  state[key] = value;
  state.page = 1;
  delete $("page-notice").dataset.keep;
  writeAddress();
  load();
}

function debounce(fn, ms) {
  let t = null;
  return (...args) => { clearTimeout(t); t = setTimeout(() => fn(...args), ms); };
}

$("runs-q").value = state.q;
$("status-filter").value = state.status;
$("origin-filter").value = state.origin;
$("runs-filters").addEventListener("submit", (e) => { e.preventDefault(); changed("q", $("runs-q").value); });
$("runs-q").addEventListener("input", debounce(() => { if ($("runs-q").value !== state.q) changed("q", $("runs-q").value); }, 250));
$("status-filter").addEventListener("change", () => changed("status", $("status-filter").value));
$("origin-filter").addEventListener("change", () => changed("origin", $("origin-filter").value));
$("batch-clear").addEventListener("click", () => changed("batch", ""));
$("page-prev").addEventListener("click", () => { state.page = Math.max(1, state.page - 1); writeAddress(); load(); });
$("page-next").addEventListener("click", () => { state.page += 1; writeAddress(); load(); });
$("reload").addEventListener("click", () => load({ facets: true }));
$("compare").addEventListener("click", (e) => { if (!picked.size || picked.size > MAX_COMPARE) e.preventDefault(); });
$("delete-ticked").addEventListener("click", () => removeRuns([...picked.entries()]));
$("pick-page").addEventListener("change", () => {
  const on = $("pick-page").checked;
  for (const r of runs) {
    if (on) picked.set(r.run_id, runName(r)); else picked.delete(r.run_id);
  }
  for (const box of document.querySelectorAll("#runs-body input.run-pick")) box.checked = on;
  updateTools();
});
if (state.deleted) {   // back from a run's page after deleting it there
  notice(`Deleted run ${shortId(state.deleted)}.`, "success");
  state.deleted = "";
  writeAddress();
}
if ($("listing-off").hidden) load({ facets: true });
window.runsPage = { state, reload: () => load({ facets: true }) };
