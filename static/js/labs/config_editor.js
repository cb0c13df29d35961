// The network of the gradient-check lab as settings: a preset, or the experiment config as JSON text
// (checked as JSON here, as a config by the server), with "Open in builder" for the network shown.

import { debounce } from "../debounce.js";
import { h } from "../format.js";
import { builderLink } from "../hash.js";

const TYPING_MS = 500;

/**
 * el: {preset (<select>), text (<textarea>), error (its message), builder (the "Open in builder" link)};
 * presets: the schema's presets; onEdit(config, {preset}): another network was picked (a preset) or typed.
 * -> {show(config), link(config), choose(presetName) ("" for none), clearError()}
 */
export function configEditor(el, { presets, onEdit }) {
  el.preset.append(h("option", { value: "" }, "from the link, or edited below"),
    // "Book: overfitting", not its whole label: a select cannot wrap, and the check's summary names the network
    ...Object.entries(presets).map(([name, p]) => h("option", { value: name, title: p.label }, (p.label || name).split(" (")[0])));
  el.preset.addEventListener("change", () => {
    if (!el.preset.value) return;
    onEdit(structuredClone(presets[el.preset.value].config), { preset: true });
  });

  function clearError() {
    el.text.classList.remove("invalid");
    el.error.hidden = true;
  }

  el.text.addEventListener("input", debounce(() => {
    let value;
    try {
      value = JSON.parse(el.text.value);
      if (!value || typeof value !== "object" || Array.isArray(value)) throw new Error("it must be a JSON object");
    } catch (err) {
      el.text.classList.add("invalid");
      el.error.textContent = `Not valid JSON: ${err.message}`;
      el.error.hidden = false;
      return;
    }
    clearError();
    el.preset.value = "";
    onEdit(value, { preset: false });
  }, TYPING_MS));

  const link = (config) => { el.builder.href = builderLink(config); };
  return {
    show(config) {
      el.text.value = JSON.stringify(config, null, 2);
      link(config);
    },
    link,
    choose(name) { el.preset.value = name; },
    clearError,
  };
}
