// The settings form of a lab: fields built from a spec, bound to a settings object. A number outside
// its range is refused at its field, with a message saying what it accepts; the settings keep their
// last valid value meanwhile.

import { h } from "../format.js";

/** What a number field accepts, for its message: "must be a whole number from 1 to 2,000". */
function fieldRule(f) {
  const n = (v) => (Number.isInteger(v) ? v.toLocaleString("en") : String(v));
  const kind = f.integer ? "a whole number" : "a number";
  if (f.min !== undefined && f.max !== undefined) return `must be ${kind} from ${n(f.min)} to ${n(f.max)}`;
  if (f.min !== undefined) return `must be ${kind} of at least ${n(f.min)}`;
  if (f.max !== undefined) return `must be ${kind} of at most ${n(f.max)}`;
  return `must be ${kind}`;
}

/**
 * Build fields into `container`. spec: [{key, label, type: number|select|checkbox|text, min, max, step,
 * options: [[value, label]], help, unit}]. Values live in `settings`; onChange(key) after each edit.
 * A number outside its range is marked at its field with a message saying what it accepts, and
 * onInvalid(key, message) is called (the settings keep their last valid value). setError(key, message)
 * marks a field with a message from the server; the next valid edit, or sync(), clears it.
 */
export function settingsForm(container, spec, settings, onChange, { onInvalid } = {}) {
  const inputs = {};
  const errors = {};
  const rejected = new Set();   // keys whose input the checks below refused
  function setError(key, message) {
    const input = inputs[key];
    const el = errors[key];
    if (!input || !el) return;
    input.classList.toggle("invalid", Boolean(message));
    input.setAttribute("aria-invalid", message ? "true" : "false");
    el.textContent = message || "";
    el.hidden = !message;
  }
  for (const f of spec) {
    const id = `f-${f.key}`;
    let input;
    if (f.type === "select") {
      input = h("select", { id, name: f.key },
        f.options.map(([value, label]) => h("option", { value: String(value) }, label)));
      input.value = String(settings[f.key]);
    } else if (f.type === "checkbox") {
      input = h("input", { id, name: f.key, type: "checkbox" });
      input.checked = Boolean(settings[f.key]);
    } else {
      input = h("input", { id, name: f.key, type: f.type || "number", step: f.step ?? "any", min: f.min, max: f.max, inputmode: "decimal",
        "aria-describedby": `${id}-error` });
      input.value = settings[f.key];
    }
    const handler = () => {
      let value;
      if (f.type === "checkbox") value = input.checked;
      else if (f.type === "select") value = f.numeric ? Number(input.value) : input.value;
      else if (f.type === "text") value = input.value;
      else {
        value = Number(input.value);
        const empty = input.value.trim() === "";
        const bad = empty || !isFinite(value) || (f.min !== undefined && value < f.min) || (f.max !== undefined && value > f.max)
          || (f.integer && !Number.isInteger(value));
        if (bad) {
          rejected.add(f.key);
          const message = `${f.label} ${empty ? "needs a value" : fieldRule(f)}${empty ? "" : ` (got ${input.value.trim()})`}.`;
          setError(f.key, message);
          if (onInvalid) onInvalid(f.key, message);
          return;
        }
        rejected.delete(f.key);
        setError(f.key, null);
      }
      settings[f.key] = value;
      onChange(f.key);
    };
    input.addEventListener(f.type === "select" || f.type === "checkbox" ? "change" : "input", handler);
    const label = f.type === "checkbox"
      ? h("label", { class: "check-line", for: id }, input, h("span", {}, f.label))
      : h("label", { class: "field-label", for: id }, f.label, f.unit ? h("span", { class: "unit" }, f.unit) : null);
    const error = h("p", { class: "field-error", id: `${id}-error`, role: "alert", hidden: true });
    const field = h("div", { class: "field" + (f.wide ? " wide" : "") }, f.type === "checkbox" ? label : [label, input],
      error, f.help ? h("p", { class: "field-help" }, f.help) : null);
    container.append(field);
    inputs[f.key] = input;
    errors[f.key] = error;
  }
  return {
    inputs,
    setError,
    /** Keys whose input holds a value the checks refused (the settings keep the last valid one). */
    rejected: () => [...rejected],
    /** Clear the messages of the fields the checks did not refuse (after the server accepted the settings). */
    clearServerErrors() { for (const key of Object.keys(inputs)) if (!rejected.has(key)) setError(key, null); },
    /** Refresh the inputs from `settings` (after a reset or a narrowing). */
    sync() {
      for (const f of spec) {
        const input = inputs[f.key];
        if (f.type === "checkbox") input.checked = Boolean(settings[f.key]);
        else input.value = String(settings[f.key]);
        rejected.delete(f.key);
        setError(f.key, null);
      }
    },
    disable(flag) { for (const input of Object.values(inputs)) input.disabled = flag; },
  };
}
