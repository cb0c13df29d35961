// Adversarial panel: the smallest L-infinity change that flips the answer (POST /api/adversarial),
// drawn as original + amplified change = result, with the confidence against epsilon, and a check
// of the result through POST /api/predict with preprocess=none.

import { pct } from "../../format.js";
import { postAdversarial, postPredict } from "../../api.js";
import { PLOTLY_CONFIG, lineLayout, marker } from "./charts.js";
import { drawChange, drawPicture, pictureBlob } from "./picture.js";

const $ = (id) => document.getElementById(id);

/** adversarialPanel({settings: () => {target, max_epsilon, iterations}, model: () => runId, onError}) -> {attack(picture)}. */
export function adversarialPanel({ settings, model, onError }) {
  let last = null;
  let generation = 0;

  async function attack(picture) {
    if (!picture) return;
    const mine = ++generation;
    drawPicture($("attack-original"), picture.image);
    $("attack-line").textContent = "Looking for the smallest change…";
    $("attack-check").disabled = true;
    $("attack-check-line").textContent = "";
    const { target, max_epsilon, iterations } = settings();
    let body;
    try {
      body = await postAdversarial(await pictureBlob(picture.image), { preprocess: "none", run_id: model(),
        target: target === "any" ? "" : target, max_epsilon, iterations });
    } catch (err) {
      if (mine === generation) { $("attack-line").textContent = ""; onError(`The attack failed: ${err.message}`); }
      return;
    }
    if (mine !== generation) return;
    last = body;
    draw(body, picture);
  }

  function draw(body, picture) {
    const original = body.original.input.flat(), perturbed = body.perturbed.flat();
    const change = perturbed.map((v, i) => v - original[i]);
    const biggest = Math.max(...change.map(Math.abs));
    drawPicture($("attack-original"), original);
    drawChange($("attack-change"), change, biggest);
    drawPicture($("attack-result"), perturbed);
    const was = body.original.prediction, now = body.prediction;
    $("attack-original-caption").textContent = `Original: ${was} (${pct(body.original.probabilities[was], 0)})`;
    const levels = body.epsilon_levels;
    const gain = biggest > 0 ? Math.round(1 / biggest) : 1;
    $("attack-change-caption").textContent = `Change (ε = ${body.epsilon.toFixed(3)}), shown ×${gain}`;
    $("attack-scale").textContent = `full colour = ±${body.epsilon.toFixed(3)}, i.e. ${levels} of 255 grey levels; drawn ${gain}× stronger than it is`;
    $("attack-result-caption").textContent = body.flipped ? `Adversarial: ${now} (${pct(body.probabilities[now], 0)})` : `Still ${now} (${pct(body.probabilities[now], 0)})`;
    $("attack-result").setAttribute("aria-label", `The adversarial digit: the network answers ${now}`);
    $("attack-line").replaceChildren(body.flipped
      ? `Changing no pixel by more than ${levels} grey level${levels === 1 ? "" : "s"} (ε = ${body.epsilon.toFixed(3)}) turns ${picture.label}, read as ${was}, into a ${now}`
        + `${body.target !== null ? " (the digit asked for)" : ""}. To you it still looks like a ${was}.`
      : `No change of up to ε = ${body.epsilon.toFixed(3)} made the network answer ${body.target !== null ? body.target : "anything but " + was}; allow a larger ε.`);
    $("attack-check").disabled = false;
    const eps = body.curve.map((c) => c.epsilon);
    const answers = body.curve.map((c) => `answer ${c.prediction}`);
    const traces = [{ y: body.curve.map((c) => c.probabilities[was]), name: `p(${was}), the original answer`, color: "#1f6fd1" }];
    if (now !== was) traces.push({ y: body.curve.map((c) => c.probabilities[now]), name: `p(${now}), the new answer`, color: "#d6402b" });
    if (body.target === null) {
      // an untargeted attack only pushes the original answer down: past the smallest ε other digits can win
      traces.push({ y: body.curve.map((c) => 1 - c.probabilities[was]), name: `p(any digit but ${was})`, color: "#8a97a8", dash: "dot", width: 1.5 });
    }
    const m = marker(body.epsilon, { label: `ε = ${body.epsilon.toFixed(3)}`, log: true });
    Plotly.react($("attack-chart"), traces.map((t) => ({
      type: "scatter", mode: "lines+markers", name: t.name, x: eps, y: t.y, text: answers,
      line: { color: t.color, width: t.width || 2.5, dash: t.dash || "solid" }, marker: { size: 5 },
      hovertemplate: `ε %{x:.3f}: %{y:.1%} (%{text})<extra>${t.name}</extra>`,
    })), lineLayout("ε, the largest change of any pixel (attacked with each ε)", "confidence", {
      shapes: [m.shape], annotations: [m.annotation], hovermode: "closest",
      xaxis: { title: { text: "ε, the largest change of any pixel (attacked with each ε; log scale)", standoff: 4 }, type: "log",
        gridcolor: "#e6e9ef", tickvals: [0.004, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1], ticktext: ["1/255", "0.01", "0.02", "0.05", "0.1", "0.2", "0.5", "1"] },
    }), PLOTLY_CONFIG);
    $("attack-chart").setAttribute("aria-label", `Confidence against epsilon: at ε = ${body.epsilon.toFixed(3)} the answer changes from ${was} to ${now}`);
  }

  /** Send the adversarial picture, as its PNG, to /api/predict with preprocess=none. */
  async function check() {
    if (!last) return;
    $("attack-check-line").textContent = "Asking /api/predict…";
    try {
      const seen = await postPredict(await pictureBlob(last.perturbed), { preprocess: "none", run_id: model() });
      const same = seen.prediction === last.prediction;
      $("attack-check-line").textContent = `/api/predict, given this picture as it is, answers ${seen.prediction} `
        + `(${pct(seen.probabilities[seen.prediction], 0)})${same ? ": the same answer." : ": not the same answer!"}`;
    } catch (err) {
      $("attack-check-line").textContent = `/api/predict refused it: ${err.message}`;
    }
  }
  $("attack-check").addEventListener("click", check);

  return { attack };
}
