// Morph panel: the straight path from digit A to digit B (POST /api/probe/<id>/morph), a slider
// along it, and the ten probabilities with the points where the answer flips.

import { pct } from "../../format.js";
import { postMorph } from "../../api.js";
import { PLOTLY_CONFIG, digitLines, lineLayout, marker } from "./charts.js";
import { blend, drawPicture } from "./picture.js";

const $ = (id) => document.getElementById(id);
const POINTS = 41;

/** morphPanel({model: () => runId, onError}) -> {setEnd("a" | "b", picture)}. */
export function morphPanel({ model, onError }) {
  const ends = { a: null, b: null };
  let path = null;
  let generation = 0;
  const slider = $("morph-slider");
  slider.max = String(POINTS - 1);
  slider.addEventListener("input", () => position());

  async function load() {
    if (!ends.a || !ends.b) return;
    const mine = ++generation;
    $("morph-line").textContent = "Walking the path…";
    try {
      const result = await postMorph(model(), { a: ends.a.image, b: ends.b.image, points: POINTS });
      if (mine !== generation) return;
      path = result;
      chart();
      position();
      $("morph-panel").dataset.done = "1";
    } catch (err) {
      if (mine === generation) { $("morph-line").textContent = ""; onError(`The morph failed: ${err.message}`); }
    }
  }

  function chart() {
    const first = path.predictions[0], last = path.predictions[path.predictions.length - 1];
    const emphasis = [...new Set([first, last, ...path.flips.map((f) => f.to)])];
    const marks = path.flips.map((f) => marker(f.s, { dash: "dash", label: `${f.from}→${f.to}` }));
    const here = marker(Number(slider.value) / (POINTS - 1), { color: "#7b4fc9", dash: "solid" });
    Plotly.react($("morph-chart"), digitLines(path.s, path.probabilities, emphasis), lineLayout("s: from A (0) to B (1)", "probability", {
      shapes: [...marks.map((m) => m.shape), here.shape], annotations: marks.map((m) => m.annotation), hovermode: "x unified",
    }), PLOTLY_CONFIG);
    const flips = path.flips.map((f) => `from ${f.from} to ${f.to} at s = ${f.s.toFixed(3)}`).join(", ");
    $("morph-chart").setAttribute("aria-label", `The ten probabilities along the path from A to B; the answer flips ${flips || "nowhere"}`);
  }

  function position() {
    const i = Number(slider.value);
    const s = i / (POINTS - 1);
    $("morph-s").textContent = s.toFixed(2);
    if (!ends.a || !ends.b) return;
    drawPicture($("morph-picture"), blend(ends.a.image, ends.b.image, s));
    if (!path) return;
    const p = path.probabilities[i];
    const answer = path.predictions[i];
    const flips = path.flips.length ? ` It flips ${path.flips.map((f) => `from ${f.from} to ${f.to} at s = ${f.s.toFixed(3)}`).join(", then ")}.`
      : " Its answer never changes along the way.";
    $("morph-line").textContent = `At s = ${s.toFixed(2)} the network answers ${answer} (${pct(p[answer], 0)}).${flips}`;
    Plotly.relayout($("morph-chart"), { [`shapes[${path.flips.length}].x0`]: s, [`shapes[${path.flips.length}].x1`]: s });
  }

  return {
    setEnd(which, picture) {
      ends[which] = picture;
      path = null;
      load();
    },
  };
}
