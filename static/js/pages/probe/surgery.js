// Surgery panel: click units of a hidden layer to switch them off (POST /api/probe/<id>/surgery);
// test accuracy and the digit's probabilities follow; units can be ranked by the accuracy each one
// alone costs (GET /api/probe/<id>/rank).

import { h, pct } from "../../format.js";
import { getRank, postSurgery } from "../../api.js";
import { probabilityBars } from "./charts.js";

const $ = (id) => document.getElementById(id);

/** surgeryPanel({model: () => runId, onError}) -> {setLayers(layers, accuracy), setPicture(picture)}. */
export function surgeryPanel({ model, onError }) {
  let layers = [];
  let off = {};                 // layer index -> Set of units switched off
  let ranks = {};               // layer index -> the server's ranking
  let picture = null;
  let generation = 0;
  let layer = 0;

  const select = $("surgery-layer");
  select.addEventListener("change", () => { layer = Number(select.value); drawUnits(); });
  $("surgery-reset").addEventListener("click", () => { off = {}; drawUnits(); update(); });
  $("surgery-topk").addEventListener("click", () => topK());

  function setLayers(list, intact) {
    layers = list;
    off = {};
    ranks = {};
    layer = list.length - 1;      // the last hidden layer: its units speak most directly to the digits
    select.replaceChildren(...list.map((l) => h("option", { value: String(l.index) }, `${l.index + 1}: ${l.label}`)));
    select.value = String(layer);
    $("surgery-accuracy").textContent = pct(intact);
    $("surgery-intact").textContent = "with every unit on";
    $("surgery-rank-line").textContent = "";
    drawUnits();
  }

  function offList() {
    const doc = {};
    for (const [i, units] of Object.entries(off)) if (units.size) doc[i] = [...units].sort((a, b) => a - b);
    return doc;
  }

  function drawUnits() {
    const spec = layers[layer];
    if (!spec) return;
    const k = $("surgery-k");
    k.max = String(spec.units);
    if (Number(k.value) > spec.units) k.value = String(spec.units);
    const units = off[layer] || new Set();
    const ranked = ranks[layer];
    const drop = new Map(ranked ? ranked.units.map((u, order) => [u.unit, { ...u, order }]) : []);
    const worst = ranked ? Math.max(1e-9, ...ranked.units.map((u) => u.drop)) : 1;
    const name = spec.kind === "conv" ? "channel" : "unit";
    const grid = $("surgery-grid");
    grid.style.setProperty("--columns", String(spec.units > 64 ? Math.ceil(Math.sqrt(spec.units * 2)) : Math.ceil(Math.sqrt(spec.units))));
    grid.replaceChildren(...Array.from({ length: spec.units }, (_, u) => {
      const isOff = units.has(u);
      const r = drop.get(u);
      const title = `${name} ${u}${isOff ? " (off)" : ""}${r ? `: alone off, it costs ${(r.drop * 100).toFixed(1)} points of accuracy (rank ${r.order + 1})` : ""}`;
      const cell = h("button", { type: "button", class: "probe-unit" + (isOff ? " off" : ""), "aria-pressed": String(isOff), title, "aria-label": title,
        dataset: { unit: String(u) }, onclick: () => toggle(u) });
      if (r && r.drop > 0) cell.style.setProperty("--heat", String(Math.min(1, r.drop / worst)));
      return cell;
    }));
    const total = Object.values(off).reduce((n, s) => n + s.size, 0);
    $("surgery-line").textContent = total ? `${total} ${total === 1 ? "unit" : "units"} off (${Object.entries(offList()).map(([i, u]) => `${u.length} in layer ${Number(i) + 1}`).join(", ")}).` : "";
  }

  function toggle(u) {
    const units = off[layer] || (off[layer] = new Set());
    if (units.has(u)) units.delete(u); else units.add(u);
    drawUnits();
    update();
  }

  async function rank() {
    if (ranks[layer]) return ranks[layer];
    $("surgery-rank-line").textContent = `Ranking the ${layers[layer].units} units of layer ${layer + 1}: each one switched off alone…`;
    const ranked = await getRank(model(), layer);
    ranks[layer] = ranked;
    const useless = ranked.units.filter((u) => u.drop <= 0).length;
    const top = ranked.units[0];
    $("surgery-rank-line").textContent = `Ranked on ${ranked.images} test images: unit ${top.unit} matters most (alone off, accuracy falls by `
      + `${(top.drop * 100).toFixed(1)} points); ${useless} of ${ranked.units.length} cost nothing alone. Redder squares matter more.`;
    return ranked;
  }

  async function topK() {
    const spec = layers[layer];
    const k = Math.max(1, Math.min(spec.units, Math.round(Number($("surgery-k").value) || 1)));
    $("surgery-topk").disabled = true;
    try {
      const ranked = await rank();
      off[layer] = new Set(ranked.units.slice(0, k).map((u) => u.unit));
      drawUnits();
      await update();
    } catch (err) {
      onError(`The units could not be ranked: ${err.message}`);
    } finally {
      $("surgery-topk").disabled = false;
    }
  }

  async function update() {
    const mine = ++generation;
    const body = { off: offList() };
    if (picture) body.image = picture.image;
    let result;
    try {
      result = await postSurgery(model(), body);
    } catch (err) {
      if (mine === generation) onError(`Surgery failed: ${err.message}`);
      return;
    }
    if (mine !== generation) return;
    $("surgery-accuracy").textContent = pct(result.accuracy);
    const points = (result.accuracy - result.intact_accuracy) * 100;
    $("surgery-intact").textContent = Object.keys(result.off).length
      ? `intact ${pct(result.intact_accuracy)} (${points >= 0 ? "+" : "−"}${Math.abs(points).toFixed(1)} points), on ${result.images} test images`
      : `with every unit on, on ${result.images} test images`;
    if (result.probabilities) {
      probabilityBars($("surgery-bars"), result.probabilities, { title: `${picture.label}: the network answers ${result.prediction} (${pct(result.probabilities[result.prediction], 0)})` });
    }
    $("surgery-panel").dataset.elapsedMs = String(result.elapsed_ms);
    $("surgery-time").textContent = `Answered in ${result.elapsed_ms < 1 ? "< 1" : Math.round(result.elapsed_ms)} ms on the server.`;
    $("surgery-panel").dataset.updates = String(Number($("surgery-panel").dataset.updates || 0) + 1);
  }

  return {
    setLayers,
    setPicture(p) { picture = p; update(); },
  };
}
