// /runs: the stored runs, filtered (origin, status, text, batch) and paged by the server (GET /api/runs),
// with links to their pages, "Compare on the dashboard" and deleting (per row, or the ticked ones).
// The filters and the page live in the address (/runs?origin=lab:batchnorm&status=done&q=adam&page=2).

import { listRuns } from "../api.js";
import { deleteRuns } from "../components/delete_runs.js";
import { showNotice } from "../components/notice.js";
import { runPicks } from "../components/run_picks.js";
import { isFiltered, readRunsAddress, runsFilters, writeRunsAddress } from "../components/runs_filters.js";
import { runName, runsTable } from "../components/runs_table.js";
import { shortId } from "../origin.js";

const $ = (id) => document.getElementById(id);
const PAGE_SIZE = 50;
const ACTIVE = new Set(["queued", "running"]);
const RELOAD_WHILE_ACTIVE_MS = 3000;

function main() {
  const state = readRunsAddress();
  const notice = $("page-notice");
  let runs = [];          // the runs of the page shown
  let total = 0;          // how many runs match the filters
  let timer = null;
  let loading = 0;        // sequence number of the newest request: older answers are dropped

  const filters = runsFilters($("runs-filters"), { state, onChange: () => { delete notice.dataset.keep; load(); } });
  const picks = runPicks({ compare: $("compare"), remove: $("delete-ticked"), pickPage: $("pick-page"),
    boxes: () => [...document.querySelectorAll("#runs-body input.run-pick")] }, { onDelete: remove, nameOf: runName });
  const table = runsTable($("runs-body"), { picks, onDelete: remove });

  /** The server does not list runs (PLAYGROUND_LIST_RUNS=off): say so, not "no runs" or an error. */
  function listingOff() {
    clearTimeout(timer);
    $("runs-card").hidden = true;
    $("listing-off").hidden = false;
    notice.hidden = true;
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
      showNotice(notice, err.status === 400 ? `These filters do not work: ${err.message}`
        : `Could not load the stored runs: ${err.message}`, { kind: "error" });
      runs = [];
      total = 0;
      return render();
    }
    if (seq !== loading) return;
    if (!notice.dataset.keep) notice.hidden = true;
    runs = body.runs || [];
    total = body.total ?? runs.length;
    if (body.facets) filters.setFacets(body.facets);
    const pages = Math.max(1, Math.ceil(total / PAGE_SIZE));
    if (state.page > pages && total > 0) {       // the page emptied (runs deleted): show the last one
      state.page = pages;
      writeRunsAddress(state);
      return load();
    }
    render();
    if (runs.some((r) => ACTIVE.has(r.status))) timer = setTimeout(load, RELOAD_WHILE_ACTIVE_MS);
  }

  function render() {
    const first = total ? (state.page - 1) * PAGE_SIZE + 1 : 0;
    const last = (state.page - 1) * PAGE_SIZE + runs.length;
    $("runs-count").textContent = total
      ? `${first.toLocaleString("en")}–${last.toLocaleString("en")} of ${total.toLocaleString("en")} ${isFiltered(state) ? "matching " : ""}run${total === 1 ? "" : "s"}`
      : "";
    const pages = Math.max(1, Math.ceil(total / PAGE_SIZE));
    $("pager").hidden = pages <= 1;
    $("page-info").textContent = `Page ${state.page} of ${pages}`;
    $("page-prev").disabled = state.page <= 1;
    $("page-next").disabled = state.page >= pages;
    filters.show();
    table.show(runs, { filtered: isFiltered(state) });
    picks.show({ total });
  }

  /** Delete runs [[id, name], ...] after asking; the notice survives the reload after it. */
  async function remove(entries) {
    const result = await deleteRuns(entries);
    if (!result) return;
    picks.forget(result.gone);
    keepNotice(result.text, result.kind);
    await load({ facets: true });
  }

  /** A notice that survives the reloads after it (cleared by the next filter change). */
  function keepNotice(text, kind) {
    showNotice(notice, text, { kind });
    notice.dataset.keep = "1";
  }

  const turn = (page) => { state.page = page; writeRunsAddress(state); load(); };
  $("page-prev").addEventListener("click", () => turn(Math.max(1, state.page - 1)));
  $("page-next").addEventListener("click", () => turn(state.page + 1));
  $("reload").addEventListener("click", () => load({ facets: true }));
  $("pick-page").addEventListener("change", () => picks.pickAll(runs, $("pick-page").checked));
  if (state.deleted) {   // back from a run's page after deleting it there
    keepNotice(`Deleted run ${shortId(state.deleted)}.`, "success");
    state.deleted = "";
    writeRunsAddress(state);
  }
  if ($("listing-off").hidden) load({ facets: true });
}

main();
