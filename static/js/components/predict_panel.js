// The predict panel (templates/_predict.html): draw or upload a digit, POST /api/predict, show the
// 28x28 input, the digit and a bar chart. The picture is recognised when a stroke ends, when a file
// is read and when another model is picked; one request at a time, the newest picture next.

import { predictDigit } from "../api.js";
import { drawPad } from "./predict/draw_pad.js";
import { modelPicker } from "./predict/model_picker.js";
import { resultView } from "./predict/result_view.js";

const capitalised = (text) => text.charAt(0).toUpperCase() + text.slice(1);

/**
 * panel: #predict-panel. runs(): the entries of the page's run list (model_picker.js); ownRun: {id, status}
 * of a run's page, else null.
 * -> {predict(), clear(), runFinished(id, status, summary), runsChanged(), last (the answer shown, or null),
 *     requests (answers received)}
 */
export function predictPanel(panel, { runs = () => [], ownRun = null } = {}) {
  const $ = (id) => panel.querySelector(`#${id}`);
  const statusLine = $("predict-status");
  const view = resultView({ panel, digit: $("predict-digit"), confidence: $("predict-confidence"),
    input: $("predict-input"), chart: $("predict-chart") });
  const pad = drawPad($("predict-canvas"), $("predict-file"), { onUpload: () => view.markStale(true), onPicture: () => predict() });
  const models = modelPicker($("predict-model"), { note: $("predict-model-note"), runs, ownRun,
    onChange: () => { if (pad.hasInk) predict(); } });
  let inFlight = false;
  let pending = false;        // a newer picture waits for the answer in flight
  let last = null;
  let requests = 0;

  function setStatus(text, isError = false) {
    statusLine.textContent = text;
    statusLine.classList.toggle("predict-error", isError);
  }

  function clearResult(digitText) {
    view.clear(digitText);
    last = null;
  }

  async function predict() {
    if (!pad.hasInk) return null;
    view.markStale(true);
    if (inFlight) { pending = true; return null; }
    inFlight = true;
    panel.setAttribute("aria-busy", "true");
    setStatus("Recognising…");
    let result = null;
    try {
      const { blob, filename } = await pad.picture();
      result = await predictDigit(blob, filename, models.runId);
      requests += 1;
      last = result;
      view.show(result);
      const note = pad.uploadNote;
      setStatus(`Recognised by ${models.shortName(result.model)}.` + (note ? ` ${note}` : ""));
      view.markStale(pending);  // another input is waiting for its answer
    } catch (err) {
      if (!err.network) requests += 1;
      result = null;
      setStatus(capitalised(err.message), true);   // the server's reason, or that it cannot be reached
      clearResult("?");
    } finally {
      inFlight = false;
      panel.removeAttribute("aria-busy");
      if (pending) { pending = false; predict(); }
    }
    return result;
  }

  function clear() {
    pad.clear();
    clearResult("–");
    setStatus("Draw a digit to start.");
  }
  $("predict-clear").addEventListener("click", clear);

  return {
    predict,
    clear,
    runFinished: (id, status, summary) => models.runFinished(id, status, summary),
    runsChanged: () => models.sync(),
    get last() { return last; },
    get requests() { return requests; },
  };
}
