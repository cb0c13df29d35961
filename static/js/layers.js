// Hidden layers of the experiment config (design.md §1, nnengine/config.py): dense, maxout, conv and pool.
// A dense layer has no "type" key (the form configs had before conv layers existed); conv and pool
// layers say their type. Pure functions: the builder, the run page and the run lists use them.

export const LAYER_TYPES = ["dense", "conv", "pool", "maxout"];
export const TYPE_LABELS = { dense: "Dense", conv: "Conv", pool: "Max-pool", maxout: "Maxout" };
/** Layers that take a flat input (the maps are flattened before the first of them). */
export const FLAT_TYPES = ["dense", "maxout"];

export const LAYER_DEFAULTS = {
  dense: { units: 100, activation: "relu", batch_norm: false, dropout: 0.0 },
  conv: { type: "conv", filters: 8, kernel: 5, stride: 1, pad: 2, activation: "relu", batch_norm: false, dropout: 0.0 },
  pool: { type: "pool", size: 2, stride: 2 },
  maxout: { type: "maxout", units: 100, pieces: 2, dropout: 0.0 },
};

/** The input image every conv layer starts from: channels, height, width. */
export const INPUT_SHAPE = [1, 28, 28];

export const layerType = (layer) => (layer && typeof layer === "object" && layer.type !== undefined ? layer.type : "dense");

/** Whether a layer works on images (conv, pool): the network's input is then a 1×28×28 image. */
export const isImageLayer = (layer) => ["conv", "pool"].includes(layerType(layer));

/** A layer with its type's defaults filled in; an unknown type is kept as it is (the server names it). */
export function normalizeLayer(layer) {
  const obj = layer && typeof layer === "object" && !Array.isArray(layer) ? layer : {};
  const type = layerType(obj);
  if (!(type in LAYER_DEFAULTS)) return { ...obj };
  const out = { ...LAYER_DEFAULTS[type], ...obj };
  if (type === "conv" && obj.pad === undefined && typeof out.kernel === "number") out.pad = Math.floor(out.kernel / 2);
  if (type === "pool" && obj.stride === undefined && typeof out.size === "number") out.stride = out.size;
  return out;
}

/**
 * The layer `layer` becomes when its type is switched to `type`: that type's defaults, keeping the
 * units, activation, batch norm and dropout it had when both types have them.
 */
export function changeType(layer, type) {
  const out = { ...LAYER_DEFAULTS[type] };
  for (const key of ["units", "activation", "batch_norm", "dropout"]) {
    if (key in out && layer && key in layer) out[key] = layer[key];
  }
  return out;
}

const windowOut = (size, k, stride, pad) => Math.floor((size + 2 * pad - k) / stride) + 1;
const whole = (x) => Number.isInteger(x) && x > 0;

/**
 * Output shape of every hidden layer, as the server computes it: [c, h, w] for conv and pool layers,
 * [units] for dense and maxout ones; null from the first layer whose numbers are missing or whose window
 * does not fit (the server's message says why). flatten: true on the first flat layer after an image.
 */
export function layerShapes(layers) {
  let shape = INPUT_SHAPE;
  return (layers || []).map((layer) => {
    const type = layerType(layer);
    if (shape === null) return { shape: null };
    if (FLAT_TYPES.includes(type)) {
      const flatten = shape.length === 3;
      const input = shape;
      shape = whole(layer.units) && (type !== "maxout" || whole(layer.pieces)) ? [layer.units] : null;
      return { shape, flatten, input };
    }
    if (shape.length !== 3 || !(type in LAYER_DEFAULTS)) { shape = null; return { shape }; }
    const [c, hgt, wid] = shape;
    const k = type === "conv" ? layer.kernel : layer.size;
    const pad = type === "conv" ? layer.pad : 0;
    const stride = layer.stride;
    if (![k, stride].every(whole) || !Number.isInteger(pad) || pad < 0 || k > hgt + 2 * pad) { shape = null; return { shape }; }
    const channels = type === "conv" ? layer.filters : c;
    if (!whole(channels)) { shape = null; return { shape }; }
    shape = [channels, windowOut(hgt, k, stride, pad), windowOut(wid, k, stride, pad)];
    return { shape };
  });
}

/** [8, 14, 14] -> "8×14×14"; [100] -> "100". */
export const shapeText = (shape) => (shape ? shape.join("×") : "–");

/** Number of values in a shape, e.g. 1568 for [8, 14, 14]. */
export const shapeSize = (shape) => (shape ? shape.reduce((a, b) => a * b, 1) : 0);

/** A short token for architecture strings: "100", "conv8(5×5)", "conv16(3×3/2)", "pool2", "maxout100(k=2)". */
export function layerToken(layer) {
  switch (layerType(layer)) {
    case "maxout": return `maxout${layer.units}(k=${layer.pieces})`;
    case "conv": return `conv${layer.filters}(${layer.kernel}×${layer.kernel}${layer.stride > 1 ? "/" + layer.stride : ""})`;
    case "pool": return `pool${layer.size}${layer.stride !== layer.size ? "/" + layer.stride : ""}`;
    case "dense": return `${layer.units}`;
    default: return String(layer.type);
  }
}

/** One line for a layer: "conv: 8 filters 5×5, stride 1, padding 2, relu, batch norm". */
export function describeLayer(layer) {
  const extras = (l) => [l.batch_norm ? "batch norm" : "", l.dropout ? `dropout ${+Number(l.dropout).toPrecision(4)}` : ""].filter(Boolean);
  switch (layerType(layer)) {
    case "conv":
      return ["conv: " + `${layer.filters} filters ${layer.kernel}×${layer.kernel}`, `stride ${layer.stride}`,
        `padding ${layer.pad}`, layer.activation, ...extras(layer)].join(", ");
    case "pool":
      return `max-pool: ${layer.size}×${layer.size} windows, stride ${layer.stride}`;
    case "maxout":
      return [`maxout: ${layer.units} units, each the max of ${layer.pieces} affine pieces`, ...extras(layer)].join(", ");
    case "dense":
      return [`${layer.units} units`, layer.activation, ...extras(layer)].join(", ");
    default:
      return `unknown layer type ${JSON.stringify(layer.type)}`;
  }
}
