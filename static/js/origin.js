// Where a stored run came from (its `origin`, server/origin.py): the group it is listed under in the
// run pickers, and the words and links that say it on /runs and on a run's page.

import { h } from "./format.js";
import { listRuns, permalink } from "./api.js";

/** The runs page filtered: /runs?origin=lab:batchnorm&batch=... */
export const runsLink = (params) => `/runs?${new URLSearchParams(params).toString()}`;

/**
 * {key, label, order} of the group a run is offered under: the dashboard's runs first, then re-runs,
 * then runs from before origins existed (most of them the dashboard's), then one group per lab.
 */
export function originGroup(origin) {
  if (!origin) return { key: "untagged", label: "Earlier runs", order: 2 };
  if (origin.kind === "dashboard") return { key: "dashboard", label: "Dashboard runs", order: 0 };
  if (origin.kind === "rerun") return { key: "rerun", label: "Re-runs", order: 1 };
  if (origin.kind === "lab") return { key: `lab:${origin.lab}`, label: `Lab: ${origin.lab_title || origin.lab}`, order: 3 };
  return { key: "other", label: "Other runs", order: 4 };
}

/** The short id people see: the first 8 characters of it. */
export const shortId = (runId) => (String(runId).length > 10 ? `${String(runId).slice(0, 8)}…` : String(runId));

/** "re-run of <name or id>" with a link to the source run (plain text once it is deleted). */
export function rerunOf(origin) {
  const name = origin.source_name || shortId(origin.source);
  const source = origin.source_exists === false
    ? h("span", { class: "muted", title: `run ${origin.source} is no longer stored` }, `${name} (deleted)`)
    : h("a", { href: permalink(origin.source), class: "source-link", title: `run ${origin.source}` }, name);
  return h("span", { class: "origin origin-rerun" }, "re-run of ", source);
}

/**
 * The origin as nodes: "dashboard"; "Batch normalisation lab · Batch norm · batch <a>Ab3x…</a>";
 * "re-run of <a>name</a>"; "–" without one. `links`: whether the lab and batch link to /runs filtered.
 */
export function originNodes(origin, { links = true } = {}) {
  if (!origin) return h("span", { class: "origin muted", title: "Stored before runs were tagged with their origin, or started by a script" }, "–");
  if (origin.kind === "dashboard") return h("span", { class: "origin" }, "dashboard");
  if (origin.kind === "rerun") return rerunOf(origin);
  if (origin.kind === "lab") {
    const title = origin.lab_title || origin.lab;
    const lab = links ? h("a", { href: runsLink({ origin: `lab:${origin.lab}` }), title: `Every stored run of the ${title} lab` }, `${title} lab`) : `${title} lab`;
    const batch = links
      ? h("a", { href: runsLink({ origin: `lab:${origin.lab}`, batch: origin.batch }), class: "batch-link", title: `The runs of this batch (${origin.batch})` }, `batch ${shortId(origin.batch)}`)
      : `batch ${shortId(origin.batch)}`;
    return h("span", { class: "origin origin-lab" }, lab, origin.label ? ` · ${origin.label}` : "", " · ", batch);
  }
  return h("span", { class: "origin" }, String(origin.kind));
}

/**
 * Stored runs for a run picker: the newest `own` of the dashboard's (with re-runs and untagged runs),
 * then the newest `perLab` of each lab that has runs, so that no lab's batches bury the others.
 * Throws as listRuns does (a server that does not list runs answers 403).
 */
export async function pickerRuns({ status = "", own = 20, perLab = 10 } = {}) {
  const first = await listRuns({ origin: "dashboard,rerun,untagged", status, limit: own, facets: 1 });
  const labs = ((first.facets || {}).origins || []).filter((f) => f.origin.startsWith("lab:"));
  const more = await Promise.all(labs.map((f) => listRuns({ origin: f.origin, status, limit: perLab })));
  return [...(first.runs || []), ...more.flatMap((body) => body.runs || [])];
}
