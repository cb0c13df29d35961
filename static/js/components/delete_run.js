// "Delete run" on a run's page: asks, deletes the run with its metrics and weights, and goes to /runs,
// which says it is gone. A queued or running run cannot be deleted: the button says to stop it first.

import { deleteRun } from "../api.js";
import { showNotice } from "./notice.js";

const ACTIVE = new Set(["queued", "running"]);

/** button: Delete run; notice: where a refusal is told; runId; title(): the run's title for the question.
 * -> {update(status)}: the run's status now. */
export function deleteRunButton(button, { notice, runId, title }) {
  let status = "";

  function update(next) {
    status = next;
    button.disabled = ACTIVE.has(status);
    button.title = button.disabled ? "Stop this run first: a run that is queued or running cannot be deleted"
      : "Delete this run with its metrics and weights";
  }

  button.addEventListener("click", async () => {
    if (!window.confirm(`Delete run “${title()}”? Its metrics and trained weights are deleted from this server; this cannot be undone.`)) return;
    button.disabled = true;
    try {
      await deleteRun(runId);
    } catch (err) {
      if (err.status !== 404) {   // 404: already gone
        showNotice(notice, err.status === 409
          ? "This run is queued or running: stop it first, then delete it."
          : `Could not delete this run: ${err.message}`, { kind: "error" });
        button.disabled = ACTIVE.has(status);
        return;
      }
    }
    location.assign(`/runs?deleted=${encodeURIComponent(runId)}`);
  });

  return { update };
}
