// The network builder: form <-> config (design.md §1). Its parts: the words (builder/texts.js), the
// inputs (builder/fields.js), the layer cards (builder/layer_cards.js) and the server's messages
// (builder/errors.js).

import { h, optimizerLabel, fmtNum } from "../format.js";
import { getPath, parsePath, setPath } from "../config_path.js";
import { changeType, normalizeLayer } from "../layers.js";
import { fieldErrors, scrollParent } from "./builder/errors.js";
import { fieldMakers, readField } from "./builder/fields.js";
import { inputNote, layerCards, showShapes } from "./builder/layer_cards.js";
import { ABSENT_MEANS, DROPOUT_STYLE_LABELS, HYPER_LABELS, HYPER_TIPS, LOSS_LABELS, OPTIMIZER_ORDER, WEIGHT_INIT_LABELS, byOrder } from "./builder/texts.js";

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
    this.make = fieldMakers(() => this.state);
    this.errors = fieldErrors(root);
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
          this.make.number("data.train_size", "train size", { unit: "images", int: true, min: 1 }),
          this.make.number("seed", "seed", { int: true, min: 0 })),
        this._dataNoteElement(),
        this._advanced()),
      this._section("Network", "model",
        h("p", { class: "io-note", id: "input-note" }, inputNote(this.state.model.hidden_layers)),
        h("div", { class: "layers", "data-field-group": "model.hidden_layers" },
          layerCards(this.state.model.hidden_layers, { make: this.make, activations: this.schema.activations })),
        h("button", {
          type: "button", class: "btn btn-small add-layer", "data-action": "add-layer",
          disabled: this.state.model.hidden_layers.length >= this.maxLayers,
          title: `Add a hidden layer (at most ${this.maxLayers})`,
        }, "+ Add hidden layer"),
        h("p", { class: "io-note", id: "output-note" }, "Output: 10 scores, one per digit 0–9"),
        h("div", { class: "row" },
          this.make.select("model.dropout_style", "dropout style", this.schema.dropout_styles || ["inverted", "book"], { labels: DROPOUT_STYLE_LABELS }),
          this.make.number("model.batch_norm_eps", "batch-norm ε", { step: "any", min: ((this.schema.limits || {}).batch_norm_eps || [])[0] })),
        h("p", { class: "note dropout-note", id: "dropout-note" }, this._dropoutNote()),
        h("div", { class: "row" },
          this.make.select("model.weight_init", "weight init", this.schema.weight_inits || [], { labels: WEIGHT_INIT_LABELS }),
          this.make.number("model.weight_init_std", "std", { step: "any", hidden: this.state.model.weight_init !== "std" })),
        this.make.select("model.loss", "loss", this.schema.losses || [], { labels: LOSS_LABELS })),
      this._section("Optimizer", "optimizer",
        this.make.select("optimizer.name", "optimizer", Object.keys(this.schema.optimizers || {}).sort(byOrder(OPTIMIZER_ORDER)), { labelFn: optimizerLabel }),
        h("div", { class: "row wrap hyper" }, this._hyperparams())),
      this._section("Training", "training",
        h("div", { class: "row" },
          this.make.number("training.epochs", "epochs", { int: true, min: 1 }),
          this.make.number("training.batch_size", "batch size", { unit: "images", int: true, min: 1 })),
        this.make.number("training.weight_decay", "weight decay λ", { step: "any", min: 0 })),
    );
    showShapes(this.root, this.state.model.hidden_layers);
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
        this.make.number("data.validation_size", "validation", { unit: "images", int: true, min: 0 }),
        this.make.number("data.test_size", "test size", { unit: "images", int: true, min: 0, placeholder: "rest", nullable: true })),
      h("div", { class: "row" },
        this.make.select("training.dtype", "precision", ["float32", "float64"]),
        this.make.text("name", "run name", { placeholder: "optional" })));
  }

  _hyperparams() {
    const opt = this.state.optimizer;
    const defaults = (this.schema.optimizers || {})[opt.name] || {};
    const keys = [...Object.keys(defaults).sort(byOrder(["lr", "momentum", "beta1", "beta2", "beta3", "decay_rate", "rho"])),
      ...Object.keys(opt).filter((k) => k !== "name" && !(k in defaults))];
    if (!keys.length) return [h("p", { class: "note" }, "This optimizer has no hyperparameters.")];
    return keys.map((key) => this.make.number(`optimizer.${key}`, HYPER_LABELS[key] || key.replace(/_/g, " "), {
      step: "any",
      tip: (HYPER_TIPS[key] || `Hyperparameter "${key}" of ${optimizerLabel(opt.name)}.`) +
        (key in defaults ? ` Default: ${fmtNum(defaults[key])}.` : " Not a hyperparameter of this optimizer."),
      labelFor: `${optimizerLabel(opt.name)} · ${HYPER_LABELS[key] || key}`,
    }));
  }

  // ------------------------------------------------------------ events

  _onEdit(event, commit) {
    const input = event.target.closest("[data-field]");
    if (!input || !this.root.contains(input)) return;
    const path = input.dataset.field;
    const value = readField(input);
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
    if (path.startsWith("model.hidden_layers")) showShapes(this.root, this.state.model.hidden_layers);
    if (path.startsWith("data.")) {
      const note = this.root.querySelector("#data-note");
      if (note) { note.textContent = this._dataNote(); note.classList.toggle("warn", note.textContent.startsWith("⚠")); }
    }
    if (commit) this.errors.clearField(path);
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

  /** errors: [{field, message}] from the server, shown until the next edit of their fields or clearErrors();
   * title: the summary's first line. A re-render (a layer added, moved) shows them again. */
  showErrors(errors, title = "Some settings are not valid:") {
    this.lastErrors = errors && errors.length ? { errors, title } : null;
    this.errors.show(errors, title);
  }

  /** Bring a field into view and focus it (the first refused one after Train). */
  focusField(path) { this.errors.focus(path); }

  clearErrors() {
    this.lastErrors = null;
    this.errors.clear();
  }
}
