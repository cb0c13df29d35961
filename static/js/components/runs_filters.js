// The filters of /runs (origin, status, text, batch) and the page number, kept in the address
// (/runs?origin=lab:batchnorm&status=done&q=adam&page=2) so that a filtered list is a link.

import { h } from "../format.js";
import { shortId } from "../origin.js";

const KEYS = ["origin", "status", "q", "batch"];
const TYPING_MS = 250;

/** The filters and page of the address: {q, origin, status, batch, page, deleted}. */
export function readRunsAddress() {
  const params = new URLSearchParams(location.search);
  const page = Number(params.get("page"));
  return {
    q: params.get("q") || "", origin: params.get("origin") || "", status: params.get("status") || "",
    batch: params.get("batch") || "", page: Number.isInteger(page) && page > 1 ? page : 1,
    deleted: params.get("deleted") || "",
  };
}

/** Put the filters and page of `state` into the address (no history entry). */
export function writeRunsAddress(state) {
  const params = new URLSearchParams();
  for (const key of KEYS) if (state[key]) params.set(key, state[key]);
  if (state.page > 1) params.set("page", String(state.page));
  const search = params.toString();
  const url = location.pathname + (search ? `?${search}` : "") + location.hash;
  if (url !== location.pathname + location.search + location.hash) history.replaceState(null, "", url);
}

/** Whether any filter narrows the list. */
export const isFiltered = (state) => Boolean(state.origin || state.status || state.q.trim() || state.batch);

/**
 * form: #runs-filters; state: readRunsAddress()'s object, changed in place; onChange(): a filter changed
 * (the page is back to 1). -> {setFacets(facets), show()}
 */
export function runsFilters(form, { state, onChange }) {
  const $ = (id) => form.querySelector(`#${id}`);
  const q = $("runs-q"), status = $("status-filter"), origin = $("origin-filter");

  function changed(key, value) {
    state[key] = value;
    state.page = 1;
    writeRunsAddress(state);
    onChange();
  }

  let typing = null;
  q.value = state.q;
  status.value = state.status;
  origin.value = state.origin;
  form.addEventListener("submit", (e) => { e.preventDefault(); changed("q", q.value); });
  q.addEventListener("input", () => {
    clearTimeout(typing);
    typing = setTimeout(() => { if (q.value !== state.q) changed("q", q.value); }, TYPING_MS);
  });
  status.addEventListener("change", () => changed("status", status.value));
  origin.addEventListener("change", () => changed("origin", origin.value));
  $("batch-clear").addEventListener("click", () => changed("batch", ""));

  return {
    /** Lab choices of "From", with how many runs each origin has (from the server's facets). */
    setFacets(facets) {
      const counts = new Map((facets.origins || []).map((f) => [f.origin, f]));
      const labs = (facets.origins || []).filter((f) => f.origin.startsWith("lab:"))
        .sort((a, b) => String(a.title).localeCompare(String(b.title)));
      const anyLab = labs.reduce((sum, f) => sum + f.count, 0);
      const label = (text, n) => (n === undefined ? text : `${text} (${n.toLocaleString("en")})`);
      const all = Object.values(facets.statuses || {}).reduce((a, b) => a + b, 0);
      const count = (key) => (counts.get(key) || {}).count || 0;
      const fixed = [["", "everywhere", all], ["dashboard", "the dashboard", count("dashboard")],
        ["rerun", "re-runs", count("rerun")], ["lab", "any lab", anyLab]];
      const options = fixed.map(([value, text, n]) => h("option", { value }, label(text, n)));
      options.push(h("option", { value: "untagged" }, label("no origin (older runs)", count("untagged"))));
      const labOptions = labs.map((f) => h("option", { value: f.origin }, label(f.title, f.count)));
      if (state.origin.startsWith("lab:") && !counts.has(state.origin)) {
        labOptions.push(h("option", { value: state.origin }, label(state.origin.slice(4), 0)));
      }
      if (labOptions.length) options.push(h("optgroup", { label: "one lab" }, labOptions));
      origin.replaceChildren(...options);
      origin.value = state.origin;
    },
    /** The batch chip: shown while the list is one batch's. */
    show() {
      $("batch-chip").hidden = !state.batch;
      $("batch-chip-text").textContent = `batch ${shortId(state.batch)}`;
      $("batch-chip").title = `Only the runs of batch ${state.batch}`;
    },
  };
}
