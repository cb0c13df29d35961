// The builder's inputs. Every input carries `data-field` = the config path the server uses in its error
// messages (e.g. "model.hidden_layers[2].units"), so server errors land under the right input, and
// `data-type`, which says how its text is read back (readField).

import { h } from "../../format.js";
import { getPath } from "../../config_path.js";
import { TIPS } from "./texts.js";

const tipMark = (text) => h("span", { class: "tip", tabindex: "0", role: "img", "aria-label": text, "data-tip": text }, "?");

/**
 * Field makers over the config that state() returns: each makes a labelled input showing the value at
 * its path. opts: {unit, tip, hidden, extraClass, labelFor (the name in error lists), ...}.
 */
export function fieldMakers(state) {
  function field(path, label, control, { unit, tip, hidden, extraClass } = {}) {
    const tipText = tip || TIPS[path];
    return h("label", { class: "field" + (extraClass ? " " + extraClass : ""), hidden: Boolean(hidden), "data-field-wrap": path },
      h("span", { class: "field-label" }, label, unit ? h("span", { class: "unit" }, ` (${unit})`) : null, tipText ? tipMark(tipText) : null),
      control);
  }

  /** opts: {int, step, min, placeholder, nullable (empty = null)} */
  function number(path, label, opts = {}) {
    const value = getPath(state(), path);
    const input = h("input", {
      type: "number", inputmode: opts.int ? "numeric" : "decimal",
      step: opts.step || (opts.int ? 1 : "any"), min: opts.min,
      placeholder: opts.placeholder,
      "data-field": path, "data-type": opts.nullable ? "optint" : opts.int ? "int" : "float",
      "data-label": opts.labelFor || label,
    });
    input.value = value === null || value === undefined ? "" : String(value);
    return field(path, label, input, opts);
  }

  /** options: the values; opts: {labels: {value: text}, labelFn(value)}; a value not among them is kept as "(unknown)". */
  function select(path, label, options, opts = {}) {
    const value = getPath(state(), path);
    const names = [...options];
    const el = h("select", { "data-field": path, "data-type": "str", "data-label": opts.labelFor || label },
      names.map((name) => h("option", { value: name }, (opts.labels && opts.labels[name]) || (opts.labelFn && opts.labelFn(name)) || name)));
    if (value !== undefined && value !== null && !names.includes(value)) {
      el.append(h("option", { value: String(value) }, `${value} (unknown)`));
    }
    el.value = value === undefined || value === null ? "" : String(value);
    return field(path, label, el, opts);
  }

  function checkbox(path, label, opts = {}) {
    const input = h("input", { type: "checkbox", "data-field": path, "data-type": "bool", "data-label": opts.labelFor || label });
    input.checked = Boolean(getPath(state(), path));
    const tipText = opts.tip || TIPS[path];
    return h("label", { class: "field check", "data-field-wrap": path },
      h("span", { class: "check-line" }, input, " ", label, tipText ? tipMark(tipText) : null));
  }

  function text(path, label, opts = {}) {
    const input = h("input", { type: "text", maxlength: 200, placeholder: opts.placeholder, "data-field": path, "data-type": "text", "data-label": label });
    input.value = getPath(state(), path) || "";
    return field(path, label, input, opts);
  }

  return { number, select, checkbox, text, tipMark };
}

/** The value an input holds, as its data-type says: a boolean, a number (null when empty), or text. */
export function readField(input) {
  const raw = input.value.trim();
  switch (input.dataset.type) {
    case "bool": return input.checked;
    case "int":
    case "float":
    case "optint": return raw === "" ? null : Number(raw);
    default: return input.value;
  }
}
