// "Look inside" a finished run: histograms of weights and activations (GET /api/labs/inside/<run_id>),
// and the first layer's weights drawn as 28x28 images.

import { getJSON, insideLink, permalink } from "../../api.js";
import { h, describeConfig, pct } from "../../format.js";
import { showFirstLayer } from "../../labs/first_layer.js";
import { histogramGrid } from "../../labs/inside_grids.js";
import { labPage } from "../../labs/lab_page.js";
import { runPicker } from "../../labs/run_picker.js";

const $ = (id) => document.getElementById(id);
const BOOK = { split: "test", samples: 1000, images: 100, first_layer: "change" };

async function main() {
  const lab = labPage({ book: BOOK, readNotice: (error) => `The settings in this link could not be read (${error}).` });
  const { settings } = lab;
  let runId = lab.info.runId;
  lab.form([
    { key: "split", label: "Images for the activations", type: "select", options: [["test", "the run's test images"], ["train", "the run's training images"]] },
    { key: "samples", label: "How many", min: 1, max: 2000, step: 1, integer: true },
    { key: "images", label: "First-layer units drawn", min: 1, max: 256, step: 1, integer: true },
    { key: "first_layer", label: "Draw the first layer's", type: "select", options: [["change", "change since initialisation"], ["final", "final weights"]],
      help: "After a short training the random start dominates the final weights; the change shows what was learned." },
  ], () => load());
  const weights = histogramGrid($("chart-weights"), { colour: "#1f6fd1" });
  const activations = histogramGrid($("chart-acts"), { colour: "#1e9e5a" });
  await runPicker($("run-select"), $("run-line"), {
    runId,
    onPick: (picked) => {
      runId = picked;
      history.replaceState(history.state, "", `${insideLink(runId)}${location.hash}`);
      load();
    },
  });

  async function load() {
    lab.save();
    if (!runId) return;
    $("run-line").textContent = "Loading…";
    const query = new URLSearchParams({ split: settings.split, samples: settings.samples, images: settings.images, first_layer: settings.first_layer });
    let data;
    try {
      data = await getJSON(`/api/labs/inside/${encodeURIComponent(runId)}?${query}`);
    } catch (err) {
      $("run-line").textContent = "";
      lab.notice(err.status === 404 ? `There is no stored run ${runId}.` : `Cannot look inside run ${runId}: ${err.message}`);
      return;
    }
    lab.notice(null);
    const last = (data.metrics || [])[data.metrics.length - 1] || {};
    $("run-line").replaceChildren(
      h("strong", {}, data.config.name || "Run "), " ", h("a", { href: permalink(runId) }, runId), " · ",
      describeConfig(data.config), ` · ${data.status}, epoch ${last.epoch ?? "–"}: train ${pct(last.train_acc)}, test ${pct(last.test_acc)} · activations of ${data.samples} ${data.split} images`);
    for (const el of document.querySelectorAll(".run-view")) el.hidden = false;
    weights.show(data.weights);
    activations.show(data.activations);
    showFirstLayer($("filters"), $("colour-key-text"), data.first_layer);
    const first = data.first_layer;
    const what = first.kind === "conv" ? `First conv layer's ${first.image_shape.join("×")} kernels`
      : first.kind === "maxout" ? `First maxout layer, each unit's ${first.pieces} pieces` : "First layer as images";
    $("filters-title").textContent = first.drawn === "change" ? `${what}: change since initialisation` : `${what}: final weights`;
  }

  lab.onReset(() => load());
  load();
}

main();
