// The head of a run's page: its title (the config's name, else its description), status badge, where it
// came from, facts (created, finished, epochs, accuracies, time), "Open in builder" and the weights link.

import { weightsUrl } from "../api.js";
import { builderLink } from "../hash.js";
import { h, describeConfig, pct, when, duration } from "../format.js";
import { originNodes, rerunOf } from "../origin.js";

const ACTIVE = new Set(["queued", "running"]);

/** A run's title: its config's name, else its description as the dashboard's lists show it. */
export function runTitle(r) {
  const name = r.config && typeof r.config.name === "string" ? r.config.name.trim() : "";
  return name || describeConfig(r.config) || `Run ${r.run_id}`;
}

/** root: #run-page (data-page-title: the title the server rendered). -> {show(run)} */
export function runHead(root) {
  const $ = (id) => root.querySelector(`#${id}`);
  return {
    show(r) {
      const badge = $("run-status");
      badge.textContent = r.status;
      badge.className = `badge badge-${r.status}`;
      root.dataset.status = r.status;
      const title = runTitle(r);
      $("run-title").textContent = title;
      document.title = document.title.replace(root.dataset.pageTitle, () => title);
      root.dataset.pageTitle = title;
      // Named: the description says what it is; unnamed, the title is the description.
      const named = title !== describeConfig(r.config);
      $("run-description").textContent = named ? describeConfig(r.config) : "";
      $("run-description").hidden = !named;
      showOrigin($("run-origin"), r.origin);
      $("run-facts").replaceChildren(...facts(r).map(([k, v]) => h("div", { class: "fact" }, h("dt", {}, k), h("dd", {}, v))));
      $("open-builder").href = builderLink(r.config);
      showWeights($("download"), r);
    },
  };
}

function facts(r) {
  const s = r.summary || {};
  const final = s.final || (r.metrics && r.metrics[r.metrics.length - 1]) || {};
  const list = [
    ["Created", when(r.created_at)],
    ["Finished", r.finished_at ? when(r.finished_at) : ACTIVE.has(r.status) ? "still training" : "–"],
    ["Epochs", `${final.epoch ?? 0} of ${(r.config.training || {}).epochs ?? "?"}`],
    ["Train accuracy", pct(final.train_acc)],
    ["Test accuracy", pct(final.test_acc)],
    ["Best test accuracy", s.best_test_acc !== undefined ? `${pct(s.best_test_acc)} (epoch ${s.best_epoch})` : "–"],
    ["Training time", s.elapsed_s !== undefined ? duration(s.elapsed_s, { tenths: true }) : "–"],
  ];
  if (s.message || r.message) list.push(["Message", s.message || r.message]);
  return list;
}

function showOrigin(line, origin) {
  line.hidden = !origin;
  if (!origin) return;
  if (origin.kind === "dashboard") line.replaceChildren("Trained on the dashboard.");
  else if (origin.kind === "rerun") line.replaceChildren("A ", rerunOf(origin), ": the same settings and seed, trained again.");
  else if (origin.kind === "lab") line.replaceChildren("From the ", originNodes(origin));
  else line.replaceChildren(originNodes(origin));
}

function showWeights(download, r) {
  download.href = weightsUrl(r.run_id);
  const hasWeights = r.status === "done" || r.status === "stopped";
  download.classList.toggle("disabled", !hasWeights);
  download.setAttribute("aria-disabled", String(!hasWeights));
  download.title = hasWeights ? "The trained weights as a NumPy .npz file (np.load)" : "Weights are saved when a run finishes";
  if (!hasWeights) download.removeAttribute("href");
}
