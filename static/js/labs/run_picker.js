// The look-inside lab's run picker: the finished runs the server lists (done or stopped: they have
// weights), or, when listing runs is turned off, only the run of the page's address.

import { listRuns } from "../api.js";
import { h, describeConfig, when } from "../format.js";

const KEEP = new Set(["done", "stopped"]);
const LISTED = 200;

/**
 * select: the <select>; line: the line above the charts, which says what to do while no run is open;
 * runId: the run of the address ("" for none); onPick(runId): the user picked a run.
 */
export async function runPicker(select, line, { runId, onPick }) {
  select.addEventListener("change", () => { if (select.value) onPick(select.value); });
  try {
    const { runs } = await listRuns({ limit: LISTED });
    const usable = runs.filter((r) => KEEP.has(r.status));
    if (!runId) {
      line.replaceChildren(usable.length
        ? `Pick one of the ${usable.length} finished runs on the left.`
        : h("span", {}, "No run has finished on this server yet: train one on the ", h("a", { href: "/" }, "dashboard"),
          " or in a lab (for example ", h("a", { href: "/labs/overfitting" }, "overfitting"), "), then come back."));
    }
    select.replaceChildren(h("option", { value: "" }, usable.length ? "Pick a run…" : "No finished run yet"),
      ...usable.map((r) => h("option", { value: r.run_id }, `${when(r.finished_at || r.created_at)} · ${r.config && r.config.name ? r.config.name + " · " : ""}${describeConfig(r.config)}`)));
    if (runId) select.value = runId;
  } catch (err) {
    const off = err.status === 403;   // PLAYGROUND_LIST_RUNS=off: run ids are the key to the runs
    select.replaceChildren(h("option", { value: runId }, off ? (runId ? `run ${runId}` : "Listing runs is turned off") : "Could not list the runs"));
    select.disabled = off;
    if (off && !runId) {
      line.replaceChildren("Listing the stored runs is turned off on this server, so open a run by its address: ",
        h("code", {}, "/labs/inside/<run id>"), ", or with the “look inside” link of a run you trained in a lab.");
    }
  }
}
