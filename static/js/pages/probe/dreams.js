// Dreams panel: ten pictures per network, each grown by gradient ascent on one digit's score
// (GET /api/runs/<id>/dreams), drawn frame by frame as they formed.

import { h, pct } from "../../format.js";
import { getDreams } from "../../api.js";
import { DIGITS, PLOTLY_CONFIG, digitLines, lineLayout } from "./charts.js";
import { drawPicture, pictureCanvas } from "./picture.js";

const FRAMES = 12;
const FRAME_MS = 110;
const reducedMotion = () => window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches;

/** One row: a label and ten cells (picture, caption). */
function row(label) {
  const cells = DIGITS.map((d) => {
    const canvas = pictureCanvas(null, `the dream of a ${d}`);
    const caption = h("figcaption", {}, `${d}`);
    return { canvas, caption, element: h("figure", { class: "probe-dream" }, canvas, caption) };
  });
  const element = h("div", { class: "probe-dream-row" }, h("div", { class: "probe-dream-label" }, label),
    h("div", { class: "probe-dream-cells" }, cells.map((c) => c.element)));
  return { element, cells };
}

function caption(cell, d, p, answer) {
  const parts = [h("strong", {}, String(d)), " ", pct(p, 0)];
  if (answer !== d) parts.push(h("span", { class: "probe-off-answer", title: `the network answers ${answer} for this dream` }, ` says ${answer}`));
  cell.caption.replaceChildren(...parts);
}

/** dreamsPanel({rows, chart, settingsLine, onError}) -> {show(networks, settings)}; networks: [{id, label}]. */
export function dreamsPanel({ rows, chart, settingsLine, onError }) {
  let generation = 0;

  async function show(networks, settings) {
    const mine = ++generation;
    delete rows.dataset.done;
    const drawn = networks.map((n) => row(n.label));
    rows.replaceChildren(...drawn.map((r) => r.element));
    rows.setAttribute("aria-busy", "true");
    settingsLine.textContent = `Dreaming: 10 dreams × ${settings.steps} steps…`;
    let results;
    try {
      results = await Promise.all(networks.map((n) => getDreams(n.id, { ...settings, frames: FRAMES })));
    } catch (err) {
      if (mine === generation) { settingsLine.textContent = ""; rows.removeAttribute("aria-busy"); onError(`The dreams could not be made: ${err.message}`); }
      return;
    }
    if (mine !== generation) return;
    results.forEach((r, i) => { r.label = networks[i].label; });
    rows.removeAttribute("aria-busy");
    const s = results[0].settings;
    settingsLine.textContent = `${s.steps} steps of gradient ascent from ${s.start === "noise" ? `noise (seed ${s.seed})` : `grey ${s.grey}`}, `
      + `step size ${s.step_size}, L2 ${s.l2}, smoothness ${s.smoothness}, objective: the digit's ${s.objective === "score" ? "score" : "log-probability"}; `
      + `pixels kept in [0, 1]. ${results.map((r, i) => `${networks[i].label}: ${r.elapsed_s.toFixed(2)} s`).join(", ")} on the server.`;
    animate(results, drawn, mine);
  }

  function animate(results, drawn, mine) {
    const frames = results[0].frames.length;
    const steps = results[0].frame_steps;
    const paint = (f) => {
      results.forEach((result, r) => {
        const frame = result.frames[f];
        drawn[r].cells.forEach((cell, d) => drawPicture(cell.canvas, frame.images[d], { already: true }));
        const own = result.own_probability[f];
        drawn[r].cells.forEach((cell, d) => caption(cell, d, own[d], f === frames - 1 ? argmax(result.probabilities[d]) : d));
      });
      const own = results[0].own_probability;
      Plotly.react(chart, digitLines(steps.slice(0, f + 1), own.slice(0, f + 1), [], { markers: true }),
        lineLayout("step of the ascent (log scale)", "p(its own digit)", { hovermode: "closest",
          title: { text: `${results[0].label}: how sure the network is of each dream's digit, step by step`, font: { size: 12 }, x: 0.01, xanchor: "left", y: 0.98 },
          margin: { l: 52, r: 12, t: 28, b: 44 },
          xaxis: { title: { text: "step of the ascent (log scale)", standoff: 4 }, type: "log", gridcolor: "#e6e9ef",
            tickvals: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000], range: [0, Math.log10(steps[steps.length - 1]) + 0.02] } }), PLOTLY_CONFIG);
    };
    if (reducedMotion()) { paint(frames - 1); return finish(results, drawn); }
    let f = 0;
    const tick = () => {
      if (mine !== generation) return;
      paint(f);
      f += 1;
      if (f < frames) setTimeout(() => requestAnimationFrame(tick), FRAME_MS);
      else finish(results, drawn);
    };
    tick();
  }

  function finish(results, drawn) {
    const last = results[0].own_probability[results[0].own_probability.length - 1];
    chart.setAttribute("aria-label", `Probability of each dream's own digit, step by step; after ${results[0].steps} steps: `
      + DIGITS.map((d) => `${d}: ${pct(last[d], 0)}`).join(", "));
    results.forEach((result, r) => drawn[r].cells.forEach((cell, d) => {
      drawPicture(cell.canvas, result.images[d]);
      cell.canvas.setAttribute("aria-label", `the dream of a ${d}: the network is ${pct(result.probabilities[d][d], 0)} sure it is a ${d}`);
    }));
    rows.dataset.done = "1";
  }

  return { show };
}

export const argmax = (p) => p.indexOf(Math.max(...p));
