// The hidden layers in the builder: a card per layer with its fields and its output shape, worked out
// in the browser as the user types (layers.js, the page's one copy of the server's shape arithmetic).

import { h } from "../../format.js";
import { LAYER_TYPES, TYPE_LABELS, isImageLayer, layerShapes, layerType, shapeSize, shapeText } from "../../layers.js";
import { TIPS } from "./texts.js";

/** The line above the layers: what the network takes in. */
export function inputNote(layers) {
  return layers.some(isImageLayer)
    ? "Input: a 1×28×28 image (784 pixels)" : "Input: 784 pixels (a 28×28 image)";
}

/**
 * The cards of the hidden layers: a type choice, ↑ ↓ ✕, the type's fields and the output shape (filled in
 * by showShapes). make: the builder's field makers (fields.js); activations: the schema's.
 */
export function layerCards(layers, { make, activations }) {
  if (!layers.length) {
    return [h("p", { class: "empty-layers" }, "No hidden layers: the input connects straight to the output (a linear classifier).")];
  }
  return layers.flatMap((layer, i) => {
    const p = `model.hidden_layers[${i}]`;
    const type = layerType(layer);
    const name = `Hidden layer ${i + 1}`;
    const types = LAYER_TYPES.includes(type) ? LAYER_TYPES : [...LAYER_TYPES, type];
    const typeSelect = h("select", { class: "layer-type", "data-field": `${p}.type`, "data-type": "str", "data-label": `${name} · type`, "aria-label": `${name} type` },
      types.map((t) => h("option", { value: t }, TYPE_LABELS[t] || `${t} (unknown)`)));
    typeSelect.value = type;
    return [
      h("p", { class: "flatten-note", "data-flatten-for": i, hidden: true }),
      h("div", { class: `layer layer-${type}`, "data-field-group": p, "data-index": i, "data-layer-type": type },
        h("div", { class: "layer-head" },
          h("span", { class: "layer-title" }, `${i + 1}`,
            h("span", { class: "field layer-type-field", "data-field-wrap": `${p}.type` }, typeSelect),
            make.tipMark(TIPS.type)),
          h("span", { class: "layer-tools" },
            h("button", { type: "button", class: "icon-btn", "data-action": "up", "data-index": i, disabled: i === 0, title: "Move this layer up", "aria-label": `Move layer ${i + 1} up` }, "↑"),
            h("button", { type: "button", class: "icon-btn", "data-action": "down", "data-index": i, disabled: i === layers.length - 1, title: "Move this layer down", "aria-label": `Move layer ${i + 1} down` }, "↓"),
            h("button", { type: "button", class: "icon-btn danger", "data-action": "remove", "data-index": i, title: "Remove this layer", "aria-label": `Remove layer ${i + 1}` }, "✕"))),
        ...layerFields(type, p, name, { make, activations }),
        h("div", { class: "layer-out" }, "output ", h("span", { class: "layer-shape", "data-shape-for": i }),
          h("span", { class: "layer-shape-words", "data-shape-words-for": i }))),
    ];
  });
}

/** The fields of a layer of `type` at config path p ("model.hidden_layers[2]"), named `name` in error lists. */
function layerFields(type, p, name, { make, activations }) {
  const num = (key, label, opts = {}) => make.number(`${p}.${key}`, label, { int: true, labelFor: `${name} · ${label}`, ...opts });
  const activation = () => make.select(`${p}.activation`, "activation", activations || [], { tip: TIPS.activation, labelFor: `${name} · activation` });
  switch (type) {
    case "conv":
      return [
        h("div", { class: "row" },
          num("filters", "filters", { min: 1, tip: TIPS.filters }),
          num("kernel", "kernel", { min: 1, unit: "k×k", tip: TIPS.kernel })),
        h("div", { class: "row" },
          num("stride", "stride", { min: 1, tip: TIPS.conv_stride }),
          num("pad", "padding", { min: 0, tip: TIPS.pad })),
        h("div", { class: "row" },
          activation(),
          make.checkbox(`${p}.batch_norm`, "batch norm", { tip: TIPS.conv_batch_norm, labelFor: `${name} · batch norm` })),
        h("div", { class: "row" }, num("dropout", "dropout p", { int: false, step: 0.05, min: 0, tip: TIPS.conv_dropout })),
      ];
    case "pool":
      return [h("div", { class: "row" },
        num("size", "window size", { min: 1, tip: TIPS.size }),
        num("stride", "stride", { min: 1, tip: TIPS.pool_stride }))];
    case "dense":
      return [
        h("div", { class: "row" }, num("units", "units", { min: 1, tip: TIPS.units }), activation()),
        h("div", { class: "row" },
          make.checkbox(`${p}.batch_norm`, "batch norm", { tip: TIPS.batch_norm, labelFor: `${name} · batch norm` }),
          num("dropout", "dropout p", { int: false, step: 0.05, min: 0, tip: TIPS.dropout })),
      ];
    case "maxout":
      return [
        h("div", { class: "row" },
          num("units", "units", { min: 1, tip: TIPS.maxout_units }),
          num("pieces", "pieces k", { min: 2, tip: TIPS.pieces })),
        h("div", { class: "row" }, num("dropout", "dropout p", { int: false, step: 0.05, min: 0, tip: TIPS.maxout_dropout })),
        h("p", { class: "layer-note" }, "A learned activation: each unit outputs the largest of its k affine pieces."),
      ];
    default:
      return [h("p", { class: "note" }, `Unknown layer type “${type}”: pick Dense, Conv, Max-pool or Maxout.`)];
  }
}

/** Every layer's output shape (and the flatten notes, the input and output lines) in the cards under root,
 * without re-rendering them. */
export function showShapes(root, layers) {
  const shapes = layerShapes(layers);
  shapes.forEach(({ shape, flatten, input }, i) => {
    const badge = root.querySelector(`[data-shape-for="${i}"]`);
    if (badge) {
      badge.textContent = shapeText(shape);
      badge.classList.toggle("unknown", !shape);
    }
    const words = root.querySelector(`[data-shape-words-for="${i}"]`);
    if (words) {
      words.textContent = !shape ? "— does not fit: see the marked setting"
        : shape.length === 3 ? `= ${shape[0]} map${shape[0] === 1 ? "" : "s"} of ${shape[1]}×${shape[2]}`
        : layerType(layers[i]) === "maxout"
          ? `number${shape[0] === 1 ? "" : "s"}, each the max of ${layers[i].pieces} pieces`
        : `number${shape[0] === 1 ? "" : "s"}, one per unit`;
    }
    const note = root.querySelector(`[data-flatten-for="${i}"]`);
    if (note) {
      note.hidden = !flatten;
      if (flatten) note.textContent = `Flatten: ${shapeText(input)} = ${shapeSize(input).toLocaleString("en")} numbers in one row`;
    }
  });
  const last = shapes.length ? shapes[shapes.length - 1] : { shape: [784] };
  const out = root.querySelector("#output-note");
  if (out) {
    out.textContent = last.shape && last.shape.length === 3
      ? `Flatten: ${shapeText(last.shape)} = ${shapeSize(last.shape).toLocaleString("en")} numbers, then output: 10 scores, one per digit 0–9`
      : "Output: 10 scores, one per digit 0–9";
  }
  const input = root.querySelector("#input-note");
  if (input) input.textContent = inputNote(layers);
}
