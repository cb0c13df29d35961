// Where a panel's digit comes from: one of the network's own test images (never trained on), or
// a digit drawn on a pad (read the way POST /api/predict reads it: cropped, fitted, centred).

import { h } from "../../format.js";
import { postPredict } from "../../api.js";
import { drawPad } from "./draw_pad.js";
import { pictureCanvas } from "./picture.js";

/**
 * digitSource({id, legend, onPick, onError, model}) -> {element, setExamples(digits), pick(i, j), current}.
 * digits: 10 lists of {index, image} (GET /api/probe/<id>/examples); onPick({image, label, digit?})
 * gets a 28x28 picture in [0, 1]; model() is the run id the drawing is read for.
 */
export function digitSource({ id, legend, onPick, onError, model, draw = true }) {
  let examples = [];
  let current = null;
  const grid = h("div", { class: "probe-examples", role: "group", "aria-label": `${legend}: the network's test images` });
  const status = h("p", { class: "probe-source-note muted", id: `${id}-note`, "aria-live": "polite" });
  const pad = draw ? drawPad({ label: `${legend}: draw a digit here`, onStroke: () => readDrawing() }) : null;
  const clear = pad ? h("button", { type: "button", class: "btn btn-small", onclick: () => { pad.clear(); status.textContent = "Draw a digit, then lift the pen."; } }, "Clear") : null;
  const drawBox = pad ? h("div", { class: "probe-draw", hidden: true }, pad.element, h("div", { class: "probe-draw-tools" }, clear)) : null;
  const tabTest = h("button", { type: "button", class: "btn btn-small probe-tab", "aria-pressed": "true", onclick: () => show("test") }, "Test images");
  const tabDraw = pad ? h("button", { type: "button", class: "btn btn-small probe-tab", "aria-pressed": "false", onclick: () => show("draw") }, "Draw your own") : null;
  const element = h("fieldset", { class: "probe-source", id },
    h("legend", {}, legend), h("div", { class: "probe-tabs" }, tabTest, tabDraw), grid, drawBox, status);

  function show(which) {
    tabTest.setAttribute("aria-pressed", String(which === "test"));
    if (tabDraw) tabDraw.setAttribute("aria-pressed", String(which === "draw"));
    grid.hidden = which !== "test";
    if (drawBox) drawBox.hidden = which !== "draw";
    status.textContent = which === "draw" ? "Draw a digit, then lift the pen." : "";
  }

  function mark() {
    for (const button of grid.querySelectorAll("button")) {
      button.setAttribute("aria-pressed", String(current && button.dataset.index === String(current.index)));
    }
  }

  function choose(d, j) {
    const example = examples[d] && examples[d][j];
    if (!example) return;
    current = { image: example.image, label: `test image #${example.index} (a ${d})`, digit: d, index: example.index };
    mark();
    status.textContent = "";
    onPick(current);
  }

  async function readDrawing() {
    if (!pad.hasInk()) return;
    status.textContent = "Reading your digit…";
    try {
      const blob = await pad.blob();
      const seen = await postPredict(blob, { run_id: model() });
      current = { image: seen.input, label: "your drawing", index: null };
      mark();
      status.textContent = "Your drawing, as the network sees it (28×28).";
      onPick(current);
    } catch (err) {
      status.textContent = "";
      onError(`Your drawing could not be read: ${err.message}`);
    }
  }

  return {
    element,
    get current() { return current; },
    setExamples(digits) {
      examples = digits;
      grid.replaceChildren(...digits.flatMap((row, d) => row.map((example, j) => h("button", {
        type: "button", class: "probe-example", title: `test image #${example.index}: a ${d}`, dataset: { index: String(example.index) },
        "aria-pressed": "false", onclick: () => choose(d, j),
      }, pictureCanvas(example.image, `a ${d}, test image ${example.index}`)))));
      mark();
    },
    pick: choose,
  };
}
