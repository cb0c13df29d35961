// Deleting stored runs from /runs: asks once, deletes one at a time (the server is also training), and
// says what happened: a queued or running run is kept, a run already gone counts as deleted.

import { deleteRun } from "../api.js";

/** entries: [[id, name], ...] -> null if the user said no, else {gone: [ids], text, kind} for the notice. */
export async function deleteRuns(entries) {
  if (!entries.length) return null;
  const what = entries.length === 1 ? `run “${entries[0][1]}”` : `${entries.length} runs`;
  const their = entries.length === 1 ? "Its" : "Their";
  if (!window.confirm(`Delete ${what}? ${their} metrics and trained weights are deleted from this server; this cannot be undone.`)) return null;
  const gone = [], kept = [], failed = [];
  for (const [id, name] of entries) {
    try {
      await deleteRun(id);
      gone.push(id);
    } catch (err) {
      if (err.status === 404) gone.push(id);            // already deleted elsewhere
      else if (err.status === 409) kept.push(name);
      else failed.push(`${name}: ${err.message}`);
    }
  }
  const parts = [];
  if (gone.length) parts.push(gone.length === 1 && entries.length === 1 ? `Deleted ${what}.` : `Deleted ${gone.length} of ${entries.length} runs.`);
  if (kept.length) parts.push(`Kept ${kept.length} that ${kept.length === 1 ? "is" : "are"} still queued or running (stop ${kept.length === 1 ? "it" : "them"} first): ${kept.join(", ")}.`);
  if (failed.length) parts.push(`Could not delete ${failed.join("; ")}.`);
  return { gone, text: parts.join(" "), kind: failed.length ? "error" : kept.length ? "warning" : "success" };
}
