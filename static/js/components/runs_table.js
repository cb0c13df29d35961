// The table of /runs: a row per stored run with a tick box, its link, status, origin, network,
// epochs, accuracies, "Open in builder" and "Delete".

import { permalink } from "../api.js";
import { builderLink } from "../hash.js";
import { h, describeConfig, pct, when } from "../format.js";
import { originNodes, shortId } from "../origin.js";

const ACTIVE = new Set(["queued", "running"]);

/** A run as people name it: its config's name, else its id. */
export const runName = (r) => (r.config && typeof r.config.name === "string" && r.config.name.trim()) || shortId(r.run_id);

/**
 * body: the <tbody>; picks: the ticked runs (run_picks.js); onDelete([[id, name]]): "Delete" of a row.
 * -> {show(runs, {filtered})}
 */
export function runsTable(body, { picks, onDelete }) {
  function row(r) {
    const s = r.summary || {};
    const final = s.final || {};
    const epochs = ((r.config || {}).training || {}).epochs;
    const name = r.config && r.config.name;
    const pick = h("input", { type: "checkbox", class: "run-pick", "aria-label": `Tick run ${runName(r)}` });
    pick.checked = picks.has(r.run_id);
    pick.addEventListener("change", () => picks.set(r.run_id, runName(r), pick.checked));
    const active = ACTIVE.has(r.status);
    const remove = h("button", {
      type: "button", class: "link-btn danger run-delete", disabled: active,
      title: active ? "Stop this run first: a run that is queued or running cannot be deleted" : "Delete this run with its metrics and weights",
      "aria-label": `Delete run ${runName(r)}`, onclick: () => onDelete([[r.run_id, runName(r)]]),
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

  return {
    show(runs, { filtered }) {
      if (runs.length) {
        body.replaceChildren(...runs.map(row));
        return;
      }
      body.replaceChildren(h("tr", {}, h("td", { colspan: 10, class: "empty" },
        filtered ? "No stored run matches these filters. " : "No stored runs yet. ",
        filtered ? h("a", { href: "/runs" }, "Show every run.") : h("a", { href: "/" }, "Train one on the dashboard."))));
    },
  };
}
