// A list of compared things in a lab's settings (optimizers with their learning rates, weight
// initialisations with their std): a row each, with its colour, a choice, a number, and "×"; a select
// below adds one. A number that is not above 0 is refused at its row (the row keeps its last valid one).

import { h } from "../format.js";
import { colourOf } from "../plot_style.js";

/**
 * el: {rows (container), add (the <select> that adds a row), error (where messages go, optional)}.
 * spec: {list() (the settings' array of rows), nameKey, noun ("Optimizer"), addLabel, options: [[value, label]],
 * number: {key, label}, numberFor(row) (whether the row has the number), defaultRow(value), label(row)
 * (its name in messages)}. onChange(): a row changed; onInvalid(): a number was refused.
 * -> {render(), disable(flag), invalid() (rows holding a refused number), setError(i, message), clearErrors()}
 */
export function rowsEditor(el, spec, { onChange, onInvalid = () => {} }) {
  const bad = new Set();          // rows whose number field holds a refused value
  const messages = new Map();     // row -> its message
  const noun = spec.noun.toLowerCase();

  el.add.append(h("option", { value: "" }, spec.addLabel), ...spec.options.map(([v, l]) => h("option", { value: v }, l)));
  el.add.addEventListener("change", () => {
    if (!el.add.value) return;
    spec.list().push(spec.defaultRow(el.add.value));
    el.add.value = "";
    render();
    onChange();
  });

  function showErrors() {
    [...el.rows.querySelectorAll("input")].forEach((input, k) => {
      input.classList.toggle("invalid", messages.has(k));
      input.setAttribute("aria-invalid", messages.has(k) ? "true" : "false");
    });
    if (!el.error) return;
    const text = [...messages.keys()].sort((a, b) => a - b).map((k) => messages.get(k)).join(" ");
    el.error.textContent = text;
    el.error.hidden = !text;
  }

  function setError(i, message) {
    if (message) messages.set(i, message); else messages.delete(i);
    showErrors();
  }

  function row(item, i, list) {
    const select = h("select", { "aria-label": `${spec.noun} ${i + 1}` }, spec.options.map(([v, l]) => h("option", { value: v }, l)));
    select.value = item[spec.nameKey];
    const num = h("input", { type: "number", step: "any", min: 0, "aria-label": `${spec.number.label} of ${noun} ${i + 1}`,
      "aria-describedby": el.error ? el.error.id : undefined });
    const showNumber = () => {
      const used = spec.numberFor(item);
      num.disabled = !used;
      num.value = used ? item[spec.number.key] : "";
      num.placeholder = used ? "" : "—";
    };
    select.addEventListener("change", () => {
      Object.assign(item, spec.defaultRow(select.value));   // its number is the new choice's default
      bad.delete(i);
      setError(i, null);
      showNumber();
      onChange();
    });
    num.addEventListener("input", () => {
      const v = Number(num.value);
      const got = num.value.trim();
      if (got === "" || !(v > 0) || !isFinite(v)) {
        bad.add(i);
        setError(i, `The ${spec.number.label.toLowerCase()} of ${spec.label(item)} must be a number above 0${got ? ` (got ${got})` : ""}.`);
        onInvalid();
        return;
      }
      bad.delete(i);
      setError(i, null);
      item[spec.number.key] = v;
      onChange();
    });
    showNumber();
    const remove = h("button", { type: "button", class: "icon-btn danger", title: "Remove", "aria-label": `Remove ${noun} ${i + 1}`,
      disabled: list.length <= 1 }, "×");
    remove.addEventListener("click", () => { list.splice(i, 1); render(); onChange(); });
    return h("div", { class: "opt-row" }, h("span", { class: "opt-swatch", style: `--c:${colourOf(i)}` }), select, num, remove);
  }

  function render() {
    bad.clear();
    messages.clear();
    const list = spec.list();
    el.rows.replaceChildren(...list.map((item, i) => row(item, i, list)));
    showErrors();
  }

  return {
    render,
    disable(flag) { for (const input of [...el.rows.querySelectorAll("select, input, button"), el.add]) input.disabled = flag; },
    invalid: () => bad.size,
    setError,
    clearErrors() { messages.clear(); showErrors(); },
  };
}
