// The network builder: form <-> config (design.md §1).
// Every input carries `data-field` = the config path the server uses in its error messages
// (e.g. "model.hidden_layers[2].units"), so server errors land under the right input.

import { h, optimizerLabel, fmtNum } from "../format.js";
import { LAYER_TYPES, TYPE_LABELS, changeType, isImageLayer, layerShapes, layerType, normalizeLayer, shapeSize, shapeText } from "../layers.js";

const TIPS = {
  "data.train_size": "How many MNIST images the network trains on. The book uses 300 so that overfitting shows quickly. Every image not used for training (or validation) is a test image.",
  seed: "Random seed. The same seed and settings give exactly the same numbers: data split, initial weights, shuffling and dropout masks.",
  "data.validation_size": "Images held out from training to tune hyperparameters without peeking at the test set (the book's search uses 20 %). 0 = none.",
  "data.test_size": "Images used to measure how well the network generalises. Leave empty to use every image not used for training or validation.",
  "training.dtype": "Floating-point precision of the computation: float32 is faster, float64 more exact.",
  name: "Optional name shown in the run lists.",
  units: "Number of neurons in this hidden layer.",
  activation: "Non-linear function applied to the layer's output (after batch norm, if on). ReLU is the book's default. Hard sigmoid is relu6(x + 3) / 6: 0 below −3, 1 above 3, a straight line in between.",
  batch_norm: "Batch normalisation: normalise each unit over the mini-batch, then scale and shift it with learned γ and β. Sits between the affine map and the activation.",
  dropout: "Dropout rate p: the fraction of this layer's units switched off at random in each training step. 0 = no dropout.",
  type: "Dense: every unit sees every number of its input. Conv: small filters slide over the image and each one learns to detect a local pattern (an edge, a stroke), making one feature map. Max-pool: keeps the largest value of each small window, so the maps shrink and small shifts of the digit matter less. Maxout: like dense, but each unit has k sets of weights (pieces) and outputs the largest of its k results, so it learns its own activation. Conv and max-pool layers come first, while the input is still an image; the first dense or maxout layer flattens the maps into one list of numbers.",
  filters: "Number of filters this layer learns. Each filter is a kernel×kernel window of weights (for each input map) and produces one feature map.",
  kernel: "Side of the square window each filter looks at: 5 means 5×5 pixels.",
  conv_stride: "Step in pixels between two positions of the window. 1 looks at every position; 2 halves the size of the maps.",
  pad: "Rings of zeros added around each map before sliding the window. With kernel k, padding (k−1)/2 keeps the size (28×28 stays 28×28); 0 shrinks it by k−1.",
  conv_batch_norm: "Batch normalisation per feature map: each map is normalised over the mini-batch and all its positions, then scaled and shifted with a learned γ and β. Sits between the convolution and the activation.",
  conv_dropout: "Dropout rate p: the fraction of this layer's outputs switched off at random in each training step. 0 = no dropout.",
  size: "Side of the square window: each output is the largest value in its window. 2 halves the height and width of the maps.",
  pool_stride: "Step in pixels between two windows. Equal to the size: windows side by side without overlap (the usual choice).",
  maxout_units: "Number of maxout units in this layer: each sees every number of its input through k pieces of its own.",
  pieces: "k, the affine pieces per unit (Goodfellow et al. 2013): unit i outputs h = max over j of (x·W_ij + b_ij). With k = 2 a unit can learn a ReLU (one piece at 0), |x| or a leaky ReLU; more pieces make finer convex curves. The layer has k times the weights of a dense layer of the same units. With k = 2, Xavier init keeps the scale of the outputs from layer to layer (He doubles their mean square per layer: see the activation-histograms lab).",
  maxout_dropout: "Dropout rate p on the units' outputs (after the max), as in the maxout paper. 0 = no dropout.",
  "model.weight_init": "How the initial weights are drawn. He: std √(2/n), suits ReLU. Xavier: std 1/√n, suits sigmoid and tanh. std: a Gaussian with the fixed std below.",
  "model.weight_init_std": "Standard deviation of the Gaussian initial weights (the book compares 1 and 0.01).",
  "model.loss": "The function training minimises. Softmax + cross-entropy is the book's choice for classification.",
  "model.dropout_style": "Where dropout's 1 − p is accounted for, in every layer with dropout. Inverted: kept units are scaled by 1/(1 − p) while training and the trained network is used as it is. The book's: kept units pass unscaled while training and every unit is scaled by 1 − p at test time. Both give the same expected output, but the book's shrinks each layer's training signal by 1 − p, so a deep network learns more slowly (the book's Fig. 6-23 uses it).",
  "model.batch_norm_eps": "ε added to the batch variance before dividing by its square root, in every batch-norm layer. The book uses 10⁻⁶; 10⁻⁵ is the default here and in PyTorch. It matters when the variance is tiny (initial weights of std 10⁻⁴): a larger ε then keeps batch norm from scaling the signal up.",
  "optimizer.name": "How each gradient is turned into a weight update (section 6.1 of the book).",
  "training.epochs": "One epoch is one pass over all training images. Accuracy is measured after each epoch.",
  "training.batch_size": "Images per gradient step (mini-batch size).",
  "training.weight_decay": "λ of the L2 penalty ½·λ·‖W‖² added to the loss, over every weight matrix and conv kernel (not the biases or batch norm's γ and β). It pulls the weights towards 0 and fights overfitting; the book uses 0.1.",
};

const HYPER_TIPS = {
  lr: "Learning rate η: the size of each step. Too large and the loss diverges, too small and learning crawls.",
  momentum: "Momentum α: how much of the previous velocity is kept (v ← αv − η∂L/∂W).",
  beta1: "β₁: decay rate of the running mean of the gradients.",
  beta2: "β₂: decay rate of the running mean of the squared gradients.",
  beta3: "β₃: decay rate of the running estimate of the relative change of the loss (Eve).",
  decay_rate: "Decay rate ρ of the running mean of the squared gradients.",
  rho: "Decay rate ρ of the running averages.",
  eps: "ε: a small constant that avoids division by zero.",
  epsilon: "ε: a small constant that avoids division by zero.",
  final_lr: "Learning rate the bounds converge to (AdaBound).",
  gamma: "Convergence speed γ of the bounds (AdaBound).",
  k: "Lower threshold for the relative change of the loss (Eve).",
  K: "Upper threshold for the relative change of the loss (Eve).",
  sigma: "Decay rate σ of the running mean of the squared gradients (Santa).",
  C: "Santa's initial friction is α₀ = C·√η: each step keeps about 1 − α of the momentum (default 1000: α₀ = 0.1).",
  N: "Santa's data-size factor: it samples exp(−β·N·mean loss), so its gradient step is η·N (default 10⁴: η·N = 10⁻⁴) and a larger N makes the noise count for less.",
  burnin: "Number of exploration steps before Santa switches to refinement.",
  anneal_a: "Annealing schedule β_t = a·(b + t)^c: the factor a.",
  anneal_b: "Annealing schedule β_t = a·(b + t)^c: the offset b.",
  anneal_c: "Annealing schedule β_t = a·(b + t)^c: the exponent c.",
};

// The book's order (design.md §2); names the server adds later go at the end.
const OPTIMIZER_ORDER = ["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adadelta", "adamax", "nadam",
  "amsgrad", "adabound", "amsbound", "rmsprop_graves", "smorms3", "eve", "santa_e", "santa_sss"];
const rank = (name, order) => (order.includes(name) ? order.indexOf(name) : order.length);
const byOrder = (order) => (a, b) => rank(a, order) - rank(b, order) || (a < b ? -1 : a > b ? 1 : 0);

const HYPER_LABELS = {
  lr: "learning rate η", momentum: "momentum α", beta1: "β₁", beta2: "β₂", beta3: "β₃",
  decay_rate: "decay rate ρ", rho: "ρ", eps: "ε", epsilon: "ε",
};

const WEIGHT_INIT_LABELS = { he: "He (std √(2/n))", xavier: "Xavier (std 1/√n)", std: "Gaussian (std)" };
const DROPOUT_STYLE_LABELS = { inverted: "inverted", book: "the book's" };
// What a model without these keys means: a stored run or share link from before they existed. The
// server says so in its schema (absent_means); these are the same values for an older server.
const ABSENT_MEANS = { "model.dropout_style": "inverted", "model.batch_norm_eps": 1e-5 };
const LOSS_LABELS = {
  cross_entropy: "softmax + cross-entropy",
  mean_squared_error: "mean squared error",
  binary_cross_entropy: "sigmoid + binary cross-entropy",
};

// ---------------------------------------------------------------- paths

/** "model.hidden_layers[2].units" -> ["model", "hidden_layers", 2, "units"] */
export function parsePath(path) {
  const keys = [];
  for (const part of path.split(".")) {
    const m = part.match(/^([^[\]]*)((?:\[\d+\])*)$/);
    if (!m) { keys.push(part); continue; }
    if (m[1]) keys.push(m[1]);
    for (const idx of m[2].matchAll(/\[(\d+)\]/g)) keys.push(Number(idx[1]));
  }
  return keys;
}

export function getPath(obj, path) {
  let cur = obj;
  for (const key of parsePath(path)) {
    if (cur === null || typeof cur !== "object") return undefined;
    cur = cur[key];
  }
  return cur;
}

export function setPath(obj, path, value) {
  const keys = parsePath(path);
  let cur = obj;
  keys.slice(0, -1).forEach((key, i) => {
    if (cur[key] === null || typeof cur[key] !== "object") cur[key] = typeof keys[i + 1] === "number" ? [] : {};
    cur = cur[key];
  });
  cur[keys[keys.length - 1]] = value;
}

/** Parent paths, nearest first: "a.b[2].c" -> ["a.b[2]", "a.b", "a"]. */
function parents(path) {
  const out = [];
  let p = path;
  for (;;) {
    const cut = Math.max(p.lastIndexOf("."), p.lastIndexOf("["));
    if (cut <= 0) break;
    p = p.slice(0, cut);
    out.push(p);
  }
  return out;
}

/** The nearest ancestor that scrolls vertically (the desktop sidebar), or null (the page). */
function scrollParent(el) {
  for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
    const style = getComputedStyle(p);
    if (/(auto|scroll)/.test(style.overflowY) && p.scrollHeight > p.clientHeight) return p;
  }
  return null;
}

const clone = (x) => (x === undefined ? undefined : JSON.parse(JSON.stringify(x)));
const isObj = (x) => x !== null && typeof x === "object" && !Array.isArray(x);

// ---------------------------------------------------------------- builder

export class Builder {
  /**
   * root: the <form> to render into; schema: GET /api/schema;
   * onChange(config, {commit}) is called on every edit (commit = a finished edit: change/click, not a keystroke).
   * initial: the config shown first (default: schema.default_config). Keys a loaded config lacks always
   * take schema.default_config's values, as the server does (parse_config), whatever `initial` is.
   */
  constructor(root, schema, { onChange = () => {}, initial } = {}) {
    this.root = root;
    this.schema = schema;
    this.onChange = onChange;
    this.defaults = clone(schema.default_config) || {};
    this.state = initial ? this._normalize(initial) : clone(this.defaults);
    this.maxLayers = ((schema.limits || {}).hidden_layers || [0, 10])[1];
    root.setAttribute("novalidate", "");
    root.addEventListener("submit", (e) => e.preventDefault());
    root.addEventListener("input", (e) => this._onEdit(e, false));
    root.addEventListener("change", (e) => this._onEdit(e, true));
    root.addEventListener("click", (e) => this._onClick(e));
    this.render();
  }

  getConfig() { return clone(this.state); }

  /** Load a config (a preset, a link, a stored run). Missing keys take the defaults. */
  setConfig(config, { silent = false } = {}) {
    this.lastErrors = null; // a new config: messages about the old one no longer apply
    this.state = this._normalize(config);
    this.render();
    if (!silent) this.onChange(this.getConfig(), { commit: true });
  }

  _normalize(config) {
    const d = clone(this.defaults);
    const c = isObj(config) ? clone(config) : {};
    const out = { ...d, ...c };
    for (const section of ["data", "model", "training"]) {
      out[section] = isObj(c[section]) ? { ...d[section], ...c[section] } : d[section];
    }
    // A key the config does not have means what it meant before the key existed, not the builder's
    // starting value: an old link keeps its numbers.
    for (const [path, value] of Object.entries(this.schema.absent_means || ABSENT_MEANS)) {
      if (getPath(c, path) === undefined) setPath(out, path, value);
    }
    const layers = out.model.hidden_layers;
    out.model.hidden_layers = Array.isArray(layers) ? layers.map(normalizeLayer) : clone(d.model.hidden_layers);
    if (isObj(c.optimizer)) {
      const name = c.optimizer.name || d.optimizer.name;
      const defaults = (this.schema.optimizers || {})[name] || {};
      out.optimizer = { name, ...defaults, ...c.optimizer };
    } else {
      out.optimizer = d.optimizer;
    }
    return out;
  }

  // ------------------------------------------------------------ rendering

  render() {
    const errorsBefore = this.lastErrors;
    this.root.replaceChildren(
      h("div", { id: "error-summary", class: "error-summary", role: "alert", hidden: true }),
      this._presets(),
      this._section("Data", "data",
        h("div", { class: "row" },
          this._number("data.train_size", "train size", { unit: "images", int: true, min: 1 }),
          this._number("seed", "seed", { int: true, min: 0 })),
        this._dataNoteElement(),
        this._advanced()),
      this._section("Network", "model",
        h("p", { class: "io-note", id: "input-note" }, this._inputNote()),
        h("div", { class: "layers", "data-field-group": "model.hidden_layers" }, this._layers()),
        h("button", {
          type: "button", class: "btn btn-small add-layer", "data-action": "add-layer",
          disabled: this.state.model.hidden_layers.length >= this.maxLayers,
          title: `Add a hidden layer (at most ${this.maxLayers})`,
        }, "+ Add hidden layer"),
        h("p", { class: "io-note", id: "output-note" }, "Output: 10 scores, one per digit 0–9"),
        h("div", { class: "row" },
          this._select("model.dropout_style", "dropout style", this.schema.dropout_styles || ["inverted", "book"], { labels: DROPOUT_STYLE_LABELS }),
          this._number("model.batch_norm_eps", "batch-norm ε", { step: "any", min: ((this.schema.limits || {}).batch_norm_eps || [])[0] })),
        h("p", { class: "note dropout-note", id: "dropout-note" }, this._dropoutNote()),
        h("div", { class: "row" },
          this._select("model.weight_init", "weight init", this.schema.weight_inits || [], { labels: WEIGHT_INIT_LABELS }),
          this._number("model.weight_init_std", "std", { step: "any", hidden: this.state.model.weight_init !== "std" })),
        this._select("model.loss", "loss", this.schema.losses || [], { labels: LOSS_LABELS })),
      this._section("Optimizer", "optimizer",
        this._select("optimizer.name", "optimizer", Object.keys(this.schema.optimizers || {}).sort(byOrder(OPTIMIZER_ORDER)), { labelFn: optimizerLabel }),
        h("div", { class: "row wrap hyper" }, this._hyperparams())),
      this._section("Training", "training",
        h("div", { class: "row" },
          this._number("training.epochs", "epochs", { int: true, min: 1 }),
          this._number("training.batch_size", "batch size", { unit: "images", int: true, min: 1 })),
        this._number("training.weight_decay", "weight decay λ", { step: "any", min: 0 })),
    );
    this._updateShapes();
    if (errorsBefore) this.showErrors(errorsBefore.errors, errorsBefore.title);
  }

  /** How the pool splits: "4,700 test images: the rest of the 5,000", or a warning when none is left
   * (then there is no test accuracy and no train-test gap to watch). */
  _dataNote() {
    const pool = ((this.schema.limits || {}).pool_size) || 5000;
    const { train_size: train, validation_size: val, test_size: test } = this.state.data;
    const whole = (v) => (Number.isInteger(v) && v >= 0 ? v : null);
    if (!(whole(train) >= 1) || (val != null && whole(val) === null)) return ""; // the field's own message says why
    const rest = pool - train - (val || 0);
    const tested = test === null || test === undefined ? rest : whole(test);
    if (tested === null || rest < 0) return "";
    if (tested === 0) {
      return `⚠ No test images are left (the pool has ${pool.toLocaleString("en")}): there will be no test accuracy and no train − test gap. Lower the train size.`;
    }
    const of = test === null || test === undefined ? `the rest of the ${pool.toLocaleString("en")}` : `of the ${rest.toLocaleString("en")} left`;
    return `Tested on ${tested.toLocaleString("en")} other image${tested === 1 ? "" : "s"} (${of}).`;
  }

  /** One sentence on what the chosen dropout style does. */
  _dropoutNote() {
    return this.state.model.dropout_style === "book"
      ? "The book's dropout: kept units pass unscaled in training, every unit ×(1 − p) at test time. Deep networks learn more slowly."
      : "Inverted dropout: kept units ×1/(1 − p) in training, the network unchanged at test time.";
  }

  _dataNoteElement() {
    const text = this._dataNote();
    return h("p", { class: "data-note" + (text.startsWith("⚠") ? " warn" : ""), id: "data-note", "aria-live": "polite" }, text);
  }

  _inputNote() {
    return this.state.model.hidden_layers.some(isImageLayer)
      ? "Input: a 1×28×28 image (784 pixels)" : "Input: 784 pixels (a 28×28 image)";
  }

  /** Refresh every layer's output shape (and the flatten notes) from the state, without re-rendering. */
  _updateShapes() {
    const shapes = layerShapes(this.state.model.hidden_layers);
    shapes.forEach(({ shape, flatten, input }, i) => {
      const badge = this.root.querySelector(`[data-shape-for="${i}"]`);
      if (badge) {
        badge.textContent = shapeText(shape);
        badge.classList.toggle("unknown", !shape);
      }
      const words = this.root.querySelector(`[data-shape-words-for="${i}"]`);
      if (words) {
        words.textContent = !shape ? "— does not fit: see the marked setting"
          : shape.length === 3 ? `= ${shape[0]} map${shape[0] === 1 ? "" : "s"} of ${shape[1]}×${shape[2]}`
          : layerType(this.state.model.hidden_layers[i]) === "maxout"
            ? `number${shape[0] === 1 ? "" : "s"}, each the max of ${this.state.model.hidden_layers[i].pieces} pieces`
          : `number${shape[0] === 1 ? "" : "s"}, one per unit`;
      }
      const note = this.root.querySelector(`[data-flatten-for="${i}"]`);
      if (note) {
        note.hidden = !flatten;
        if (flatten) note.textContent = `Flatten: ${shapeText(input)} = ${shapeSize(input).toLocaleString("en")} numbers in one row`;
      }
    });
    const last = shapes.length ? shapes[shapes.length - 1] : { shape: [784] };
    const out = this.root.querySelector("#output-note");
    if (out) {
      out.textContent = last.shape && last.shape.length === 3
        ? `Flatten: ${shapeText(last.shape)} = ${shapeSize(last.shape).toLocaleString("en")} numbers, then output: 10 scores, one per digit 0–9`
        : "Output: 10 scores, one per digit 0–9";
    }
    const input = this.root.querySelector("#input-note");
    if (input) input.textContent = this._inputNote();
  }

  _presets() {
    const order = ["overfitting", "overfitting_weight_decay", "overfitting_dropout"];
    const presets = Object.entries(this.schema.presets || {}).sort(([a], [b]) => byOrder(order)(a, b));
    if (!presets.length) return h("div");
    return h("section", { class: "presets" },
      h("h3", { class: "section-title" }, "Start from a preset"),
      h("div", { class: "preset-list" },
        presets.map(([name, p]) => h("button", {
          type: "button", class: "preset", "data-action": "preset", "data-preset": name,
          title: "Fill the builder with this experiment",
        }, p.label || name))));
  }

  _section(title, group, ...children) {
    return h("fieldset", { class: "section", "data-field-group": group },
      h("legend", { class: "section-title" }, title), ...children);
  }

  _advanced() {
    const open = this.state.data.validation_size || this.state.data.test_size !== null && this.state.data.test_size !== undefined
      || this.state.training.dtype === "float64" || this.state.name;
    return h("details", { class: "advanced", open: Boolean(open) },
      h("summary", {}, "More data options"),
      h("div", { class: "row" },
        this._number("data.validation_size", "validation", { unit: "images", int: true, min: 0 }),
        this._number("data.test_size", "test size", { unit: "images", int: true, min: 0, placeholder: "rest", nullable: true })),
      h("div", { class: "row" },
        this._select("training.dtype", "precision", ["float32", "float64"]),
        this._text("name", "run name", { placeholder: "optional" })));
  }

  _layers() {
    const layers = this.state.model.hidden_layers;
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
              h("span", { class: "tip", tabindex: "0", role: "img", "aria-label": TIPS.type, "data-tip": TIPS.type }, "?")),
            h("span", { class: "layer-tools" },
              h("button", { type: "button", class: "icon-btn", "data-action": "up", "data-index": i, disabled: i === 0, title: "Move this layer up", "aria-label": `Move layer ${i + 1} up` }, "↑"),
              h("button", { type: "button", class: "icon-btn", "data-action": "down", "data-index": i, disabled: i === layers.length - 1, title: "Move this layer down", "aria-label": `Move layer ${i + 1} down` }, "↓"),
              h("button", { type: "button", class: "icon-btn danger", "data-action": "remove", "data-index": i, title: "Remove this layer", "aria-label": `Remove layer ${i + 1}` }, "✕"))),
          ...this._layerFields(type, p, name),
          h("div", { class: "layer-out" }, "output ", h("span", { class: "layer-shape", "data-shape-for": i }),
            h("span", { class: "layer-shape-words", "data-shape-words-for": i }))),
      ];
    });
  }

  _layerFields(type, p, name) {
    const num = (key, label, opts = {}) => this._number(`${p}.${key}`, label, { int: true, labelFor: `${name} · ${label}`, ...opts });
    const activation = () => this._select(`${p}.activation`, "activation", this.schema.activations || [], { tip: TIPS.activation, labelFor: `${name} · activation` });
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
            this._checkbox(`${p}.batch_norm`, "batch norm", { tip: TIPS.conv_batch_norm, labelFor: `${name} · batch norm` })),
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
            this._checkbox(`${p}.batch_norm`, "batch norm", { tip: TIPS.batch_norm, labelFor: `${name} · batch norm` }),
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

  _hyperparams() {
    const opt = this.state.optimizer;
    const defaults = (this.schema.optimizers || {})[opt.name] || {};
    const keys = [...Object.keys(defaults).sort(byOrder(["lr", "momentum", "beta1", "beta2", "beta3", "decay_rate", "rho"])),
      ...Object.keys(opt).filter((k) => k !== "name" && !(k in defaults))];
    if (!keys.length) return [h("p", { class: "note" }, "This optimizer has no hyperparameters.")];
    return keys.map((key) => this._number(`optimizer.${key}`, HYPER_LABELS[key] || key.replace(/_/g, " "), {
      step: "any",
      tip: (HYPER_TIPS[key] || `Hyperparameter "${key}" of ${optimizerLabel(opt.name)}.`) +
        (key in defaults ? ` Default: ${fmtNum(defaults[key])}.` : " Not a hyperparameter of this optimizer."),
      labelFor: `${optimizerLabel(opt.name)} · ${HYPER_LABELS[key] || key}`,
    }));
  }

  // ------------------------------------------------------------ fields

  _field(path, label, control, { unit, tip, hidden, extraClass } = {}) {
    const tipText = tip || TIPS[path];
    return h("label", { class: "field" + (extraClass ? " " + extraClass : ""), hidden: Boolean(hidden), "data-field-wrap": path },
      h("span", { class: "field-label" },
        label, unit ? h("span", { class: "unit" }, ` (${unit})`) : null,
        tipText ? h("span", { class: "tip", tabindex: "0", role: "img", "aria-label": tipText, "data-tip": tipText }, "?") : null),
      control);
  }

  _number(path, label, opts = {}) {
    const value = getPath(this.state, path);
    const input = h("input", {
      type: "number", inputmode: opts.int ? "numeric" : "decimal",
      step: opts.step || (opts.int ? 1 : "any"), min: opts.min,
      placeholder: opts.placeholder,
      "data-field": path, "data-type": opts.nullable ? "optint" : opts.int ? "int" : "float",
      "data-label": opts.labelFor || label,
    });
    input.value = value === null || value === undefined ? "" : String(value);
    return this._field(path, label, input, opts);
  }

  _select(path, label, options, opts = {}) {
    const value = getPath(this.state, path);
    const names = [...options];
    const select = h("select", { "data-field": path, "data-type": "str", "data-label": opts.labelFor || label },
      names.map((name) => h("option", { value: name }, (opts.labels && opts.labels[name]) || (opts.labelFn && opts.labelFn(name)) || name)));
    if (value !== undefined && value !== null && !names.includes(value)) {
      select.append(h("option", { value: String(value) }, `${value} (unknown)`));
    }
    select.value = value === undefined || value === null ? "" : String(value);
    return this._field(path, label, select, opts);
  }

  _checkbox(path, label, opts = {}) {
    const input = h("input", { type: "checkbox", "data-field": path, "data-type": "bool", "data-label": opts.labelFor || label });
    input.checked = Boolean(getPath(this.state, path));
    const tipText = opts.tip || TIPS[path];
    return h("label", { class: "field check", "data-field-wrap": path },
      h("span", { class: "check-line" }, input, " ", label,
        tipText ? h("span", { class: "tip", tabindex: "0", role: "img", "aria-label": tipText, "data-tip": tipText }, "?") : null));
  }

  _text(path, label, opts = {}) {
    const input = h("input", { type: "text", maxlength: 200, placeholder: opts.placeholder, "data-field": path, "data-type": "text", "data-label": label });
    input.value = getPath(this.state, path) || "";
    return this._field(path, label, input, opts);
  }

  // ------------------------------------------------------------ events

  _read(input) {
    const raw = input.value.trim();
    switch (input.dataset.type) {
      case "bool": return input.checked;
      case "int":
      case "float": return raw === "" ? null : Number(raw);
      case "optint": return raw === "" ? null : Number(raw);
      default: return input.value;
    }
  }

  _onEdit(event, commit) {
    const input = event.target.closest("[data-field]");
    if (!input || !this.root.contains(input)) return;
    const path = input.dataset.field;
    const value = this._read(input);
    if (path === "optimizer.name") {
      if (!commit) return;
      const defaults = (this.schema.optimizers || {})[value] || {};
      this.state.optimizer = { name: value, ...clone(defaults) };
      this.render();
    } else if (path === "model.weight_init") {
      setPath(this.state, path, value);
      const std = this.root.querySelector('[data-field-wrap="model.weight_init_std"]');
      if (std) std.hidden = value !== "std";
    } else if (path === "model.dropout_style") {
      setPath(this.state, path, value);
      const note = this.root.querySelector("#dropout-note");
      if (note) note.textContent = this._dropoutNote();
    } else if (path === "name" && value === "") {
      delete this.state.name;
    } else if (/^model\.hidden_layers\[\d+\]\.type$/.test(path)) {
      if (!commit) return;
      const i = parsePath(path)[2];
      this.state.model.hidden_layers[i] = changeType(this.state.model.hidden_layers[i], value);
      this.lastErrors = null; // the layer's fields changed: old messages about it no longer apply
      this.render();
      const focus = this.root.querySelector(`[data-field="${path}"]`);
      if (focus) focus.focus();
    } else {
      setPath(this.state, path, value);
    }
    if (path.startsWith("model.hidden_layers")) this._updateShapes();
    if (path.startsWith("data.")) {
      const note = this.root.querySelector("#data-note");
      if (note) { note.textContent = this._dataNote(); note.classList.toggle("warn", note.textContent.startsWith("⚠")); }
    }
    if (commit) this._clearFieldError(path);
    this.onChange(this.getConfig(), { commit });
  }

  _onClick(event) {
    const button = event.target.closest("button[data-action]");
    if (!button || !this.root.contains(button)) return;
    const layers = this.state.model.hidden_layers;
    const i = Number(button.dataset.index);
    switch (button.dataset.action) {
      case "add-layer":
        if (layers.length >= this.maxLayers) return;
        layers.push(clone(layers[layers.length - 1] || normalizeLayer({})));
        break;
      case "remove": layers.splice(i, 1); break;
      case "up": if (i > 0) [layers[i - 1], layers[i]] = [layers[i], layers[i - 1]]; break;
      case "down": if (i < layers.length - 1) [layers[i + 1], layers[i]] = [layers[i], layers[i + 1]]; break;
      case "preset": {
        const preset = (this.schema.presets || {})[button.dataset.preset];
        if (preset) this._loadPreset(button, preset.config);
        return;
      }
      default: return;
    }
    this.lastErrors = null; // positions changed: old messages may point at the wrong layer
    this.render();
    const focus = button.dataset.action === "add-layer"
      ? this.root.querySelector(`[data-field="model.hidden_layers[${layers.length - 1}].type"]`)
      : this.root.querySelector(`button[data-action="${button.dataset.action}"][data-index="${button.dataset.action === "up" ? i - 1 : button.dataset.action === "down" ? i + 1 : i}"]`);
    if (focus && !focus.disabled) focus.focus();
    this.onChange(this.getConfig(), { commit: true });
  }

  /**
   * A tapped preset stays under the finger. Re-rendering replaces every node of the form, the one the
   * browser's scroll anchoring would hold still included, so whatever changes height above the preset
   * in the same edit (the error summary going away, a status line getting shorter) would move it.
   * The new button gets the focus back (without scrolling), for the keyboard.
   */
  _loadPreset(button, config) {
    const name = button.dataset.preset;
    const before = button.getBoundingClientRect().top;
    this.setConfig(config);
    const again = [...this.root.querySelectorAll("button[data-preset]")].find((b) => b.dataset.preset === name);
    if (!again) return;
    const shift = again.getBoundingClientRect().top - before;
    if (Math.abs(shift) >= 1) {
      const box = scrollParent(this.root);
      if (box) box.scrollTop += shift; else window.scrollBy(0, shift);
    }
    again.focus({ preventScroll: true });
  }

  // ------------------------------------------------------------ errors

  /** Find the input (or the nearest group) for a server field path. */
  _target(path) {
    for (const el of this.root.querySelectorAll("[data-field]")) if (el.dataset.field === path) return { el, exact: true };
    for (const p of [path, ...parents(path)]) {
      for (const el of this.root.querySelectorAll("[data-field-group]")) if (el.dataset.fieldGroup === p) return { el, exact: false };
    }
    return null;
  }

  /** errors: [{field, message}] from the server. title: the summary's first line. */
  showErrors(errors, title = "Some settings are not valid:") {
    this.clearErrors();
    if (!errors || !errors.length) return;
    this.lastErrors = { errors, title };
    const items = [];
    for (const { field, message } of errors) {
      const target = this._target(field || "");
      let label = field || "config";
      if (target && target.exact) {
        const input = target.el;
        input.classList.add("invalid");
        input.setAttribute("aria-invalid", "true");
        label = input.dataset.label || field;
        const wrap = input.closest(".field") || input.parentElement;
        if (wrap.hidden) wrap.hidden = false;
        const adv = input.closest("details");
        if (adv) adv.open = true;
        const msg = h("div", { class: "field-error", "data-error-for": field }, message);
        // A layer's type sits in the layer's title row: its message goes on a line of its own below.
        const head = wrap.closest(".layer-head");
        if (head) head.after(msg); else wrap.append(msg);
        input.setAttribute("aria-describedby", (msg.id = "err-" + Math.random().toString(36).slice(2)));
      } else if (target) {
        target.el.classList.add("group-invalid");
        const msg = h("div", { class: "field-error group-error", "data-error-for": field }, `${field}: ${message}`);
        const anchor = target.el.querySelector(":scope > .layer-head, :scope > legend");
        if (anchor) anchor.after(msg); else target.el.prepend(msg);
      }
      items.push(h("li", {},
        h("a", { href: "#", "data-error-link": field, onclick: (e) => { e.preventDefault(); this.focusField(field); } }, label),
        ": ", message));
    }
    const summary = this.root.querySelector("#error-summary");
    summary.replaceChildren(h("strong", {}, title), h("ul", {}, items));
    summary.hidden = false;
  }

  /**
   * Bring a field into view and focus it. Inside a scrolling sidebar only the sidebar scrolls
   * (never the page); when the error summary and the field both fit, the summary stays visible.
   */
  focusField(path) {
    const target = this._target(path);
    if (!target) return;
    const el = target.el;
    const box = scrollParent(this.root);
    if (box) {
      const boxRect = box.getBoundingClientRect();
      const elTop = el.getBoundingClientRect().top - boxRect.top + box.scrollTop;
      const summary = this.root.querySelector("#error-summary");
      const summaryTop = summary && !summary.hidden ? summary.getBoundingClientRect().top - boxRect.top + box.scrollTop : elTop;
      const fitsWithSummary = elTop + 60 - Math.max(0, summaryTop - 12) < box.clientHeight;
      box.scrollTo({ top: fitsWithSummary ? Math.max(0, summaryTop - 12) : Math.max(0, elTop - box.clientHeight / 2) });
    } else {
      el.scrollIntoView({ block: "center" });
    }
    if (el.focus) el.focus({ preventScroll: true });
  }

  clearErrors() {
    this.lastErrors = null;
    for (const el of this.root.querySelectorAll(".field-error")) el.remove();
    for (const el of this.root.querySelectorAll(".invalid")) { el.classList.remove("invalid"); el.removeAttribute("aria-invalid"); el.removeAttribute("aria-describedby"); }
    for (const el of this.root.querySelectorAll(".group-invalid")) el.classList.remove("group-invalid");
    const summary = this.root.querySelector("#error-summary");
    if (summary) { summary.hidden = true; summary.replaceChildren(); }
  }

  _clearFieldError(path) {
    for (const el of this.root.querySelectorAll(".field-error")) if (el.dataset.errorFor === path) el.remove();
    for (const el of this.root.querySelectorAll(".invalid")) if (el.dataset.field === path) { el.classList.remove("invalid"); el.removeAttribute("aria-invalid"); }
  }

  hasErrors() { return Boolean(this.lastErrors); }
}
