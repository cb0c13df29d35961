// Cells of a batch lab's run table: a run's status badge and its links.

import { h } from "../format.js";
import { insideLink, permalink } from "../api.js";
import { isFinal } from "./run_batch.js";

/** Status badge of a run item: "epoch 12", "queued #2", "done", ... (its error as the title). */
export function badge(item) {
  const label = item.status === "running" && item.epoch >= 0 ? `epoch ${item.epoch}`
    : item.status === "queued" && item.position ? `queued #${item.position}` : item.status;
  return h("span", { class: `badge badge-${item.status}`, title: item.error || "" }, label);
}

/** Links of a run item: its permalink, and the look-inside page once it has finished with weights. */
export function runLinks(item) {
  if (!item.runId) return null;
  return h("span", { class: "run-links" },
    h("a", { href: permalink(item.runId), title: "The stored run (permalink)" }, "run"),
    isFinal(item.status) && item.status !== "error" && item.status !== "diverged"
      ? [" · ", h("a", { href: insideLink(item.runId), title: "Histograms of its weights and activations, first layer as images" }, "look inside")]
      : null);
}
