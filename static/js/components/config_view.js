// A stored run's configuration, as people read it: the layers with their output shapes, a table of the
// settings, and the JSON itself.

import { h, lossLabel, optimizerLabel, fmtNum, fmtSmall, dropoutStyle, dropoutStyleLabel, batchNormEps } from "../format.js";
import { describeLayer, isImageLayer, layerShapes, shapeText } from "../layers.js";

/** root: the element of the layers and the table; json: the <pre> of the JSON. -> {show(config)} */
export function configView(root, { json }) {
  return {
    show(config) {
      const c = config || {};
      const m = c.model || {};
      const layers = Array.isArray(m.hidden_layers) ? m.hidden_layers : [];
      const table = settingRows(c, layers).map(([k, v]) => h("tr", {}, h("th", { scope: "row" }, k), h("td", {}, v ?? "–")));
      root.replaceChildren(
        h("div", { class: "config-arch" }, h("h3", {}, "Layers"), architecture(layers, m.loss)),
        h("table", { class: "config-table" }, h("tbody", {}, table)));
      json.textContent = JSON.stringify(config, null, 2);
    },
  };
}

function architecture(layers, loss) {
  const shapes = layerShapes(layers);
  return h("ol", { class: "arch" },
    h("li", {}, layers.some(isImageLayer) ? "input: a 1×28×28 image (784 pixels)" : "input: 784 pixels"),
    layers.map((l, i) => h("li", {},
      `hidden ${i + 1}: ${describeLayer(l)}`, shapes[i].shape ? ` → ${shapeText(shapes[i].shape)}` : "")),
    h("li", {}, `output: 10 scores (${lossLabel(loss)})`));
}

function settingRows(c, layers) {
  const d = c.data || {}, m = c.model || {}, o = c.optimizer || {}, t = c.training || {};
  const hyper = Object.entries(o).filter(([k]) => k !== "name").map(([k, v]) => `${k} ${fmtNum(v)}`).join(", ");
  const rows = [
    ["Training images", d.train_size], ["Validation images", d.validation_size || 0],
    ["Test images", d.test_size ?? "all the rest"], ["Seed", c.seed],
    ["Weight init", m.weight_init === "std" ? `Gaussian, std ${fmtNum(m.weight_init_std)}` : m.weight_init],
    ["Optimizer", `${optimizerLabel(o.name)}${hyper ? " — " + hyper : ""}`],
    ["Epochs", t.epochs], ["Batch size", t.batch_size], ["Weight decay λ", fmtNum(t.weight_decay ?? 0)],
    ["Dropout style", dropoutStyleLabel(dropoutStyle(m)) + (layers.some((l) => l && l.dropout > 0) ? "" : " (no layer has dropout)")],
    ["Batch-norm ε", fmtSmall(batchNormEps(m)) + (layers.some((l) => l && l.batch_norm) ? "" : " (no layer has batch norm)")],
  ];
  if (t.dtype) rows.push(["Precision", t.dtype]);
  return rows;
}
