// Robustness panel: test accuracy under Gaussian noise and blur of growing strength
// (GET /api/probe/<id>/robustness), one line per network compared.

import { h } from "../../format.js";
import { getRobustness } from "../../api.js";
import { PLOTLY_CONFIG, lineLayout } from "./charts.js";
import { pictureCanvas } from "./picture.js";

const $ = (id) => document.getElementById(id);
const COLOURS = ["#1f6fd1", "#d6402b"];

/** robustnessPanel({onError}) -> {measure(networks), clear()}; networks: [{id, label}]. */
export function robustnessPanel({ onError }) {
  let generation = 0;

  function chart(div, results, networks, key, title) {
    Plotly.react(div, results.map((r, i) => ({
      type: "scatter", mode: "lines+markers", name: networks[i].label, x: r[key].map((p) => p.sigma), y: r[key].map((p) => p.accuracy),
      line: { color: COLOURS[i], width: 2.5, dash: i ? "dash" : "solid" }, hovertemplate: `σ %{x:.2f}: %{y:.1%}<extra>${networks[i].label}</extra>`,
    })), lineLayout(title, "test accuracy", { hovermode: "closest" }), PLOTLY_CONFIG);
    const words = results.map((r, i) => `${networks[i].label}: ${(r[key][0].accuracy * 100).toFixed(1)}% clean, `
      + `${(r[key][r[key].length - 1].accuracy * 100).toFixed(1)}% at σ ${r[key][r[key].length - 1].sigma}`).join("; ");
    div.setAttribute("aria-label", `Test accuracy against ${title}: ${words}`);
  }

  /** One test image at each strength, as the network was shown it. */
  function strip(box, points, kind) {
    box.replaceChildren(...points.map((p) => h("figure", { class: "probe-strength" },
      pictureCanvas(p.example, `a test image with ${kind} of σ ${p.sigma.toFixed(2)}`), h("figcaption", {}, `σ ${p.sigma.toFixed(2)}`))));
  }

  /** What the curves say, in words: who keeps more at the strongest noise and blur. */
  function summary(results, networks) {
    const end = (r, key) => r[key][r[key].length - 1].accuracy;
    if (results.length < 2) {
      return `At the strongest noise ${networks[0].label} keeps ${(end(results[0], "noise") * 100).toFixed(1)}% of its test images right, `
        + `at the strongest blur ${(end(results[0], "blur") * 100).toFixed(1)}%.`;
    }
    return ["noise", "blur"].map((key) => {
      const [a, b] = results.map((r) => end(r, key));
      const [win, lose] = a >= b ? [0, 1] : [1, 0];
      return `Under the strongest ${key}, ${networks[win].label} keeps ${(Math.max(a, b) * 100).toFixed(1)}% against ${(Math.min(a, b) * 100).toFixed(1)}% for ${networks[lose].label}.`;
    }).join(" ");
  }

  async function measure(networks) {
    const mine = ++generation;
    $("robust-go").disabled = true;
    $("robust-line").textContent = `Corrupting the test images and asking ${networks.length > 1 ? "both networks" : "the network"}…`;
    try {
      const results = await Promise.all(networks.map((n) => getRobustness(n.id, {})));
      if (mine !== generation) return;
      $("robust-charts").hidden = false;
      chart($("robust-noise"), results, networks, "noise", "σ of the Gaussian noise (pixel values)");
      chart($("robust-blur"), results, networks, "blur", "σ of the blur (pixels)");
      strip($("robust-noise-examples"), results[0].noise, "noise");
      strip($("robust-blur-examples"), results[0].blur, "blur");
      $("robust-line").textContent = `On ${results.map((r, i) => `${r.images} test images of ${networks[i].label}`).join(" and ")}; `
        + "noise drawn with a fixed seed, so the same settings give the same curves. " + summary(results, networks);
      $("robust-panel").dataset.done = "1";
    } catch (err) {
      if (mine === generation) { $("robust-line").textContent = ""; onError(`The robustness curves could not be measured: ${err.message}`); }
    } finally {
      if (mine === generation) $("robust-go").disabled = false;
    }
  }

  function clear() {
    generation += 1;
    for (const id of ["robust-noise", "robust-blur"]) Plotly.purge($(id));
    $("robust-charts").hidden = true;
    delete $("robust-panel").dataset.done;
    $("robust-go").disabled = false;
    $("robust-line").textContent = "Press Measure (a few seconds for a convolutional network).";
  }

  return { measure, clear };
}
