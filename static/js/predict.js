/* Predict panel: draw or upload a digit, POST /api/predict, show the 28x28 input, the digit and a bar chart.
 *
 * - Drawing: pointer events (mouse, pen, touch) on a 280x280 canvas, black ink on a transparent background
 *   (exported as PNG with alpha, which the server flattens onto white). The pen is 24 px wide: about MNIST's
 *   stroke relative to a digit that fills most of the box. The prediction updates when a stroke ends.
 * - Upload: any PNG/JPEG (also GIF/BMP/WebP) file is sent as is, unless it is over the 2 MB upload cap
 *   (a phone photo): then it is shrunk to 1024 px in the browser first. A preview is drawn into the canvas.
 * - Model: "default" or a run with stored weights: a run's page offers its run (chosen when it is done);
 *   every page offers the runs of its run list (window.playground.list) that finished with weights, added
 *   when they finish (the playground:run-finished event) and named as in that list ("run #1 — ..."), and
 *   the newest finished runs the server lists ("stored run abc123… — ..."). The runs of the page come first
 *   ("On this page"), then the stored ones grouped by where they came from (<optgroup>s: the dashboard's,
 *   re-runs, earlier runs, then one per lab, so that a lab's 32-run batch does not bury them).
 * - A result belongs to one input: while a new input is being recognised the old result is marked stale
 *   (.predict-stale, dimmed), and a refusal clears the 28x28 view, the digit and the bars.
 * - window.predictPanel exposes {predict, clear, last} for tests.
 */
(function () {
  "use strict";
  const panel = document.getElementById("predict-panel");
  if (!panel) return;

  const PEN = 24;            // canvas px: about MNIST's stroke (0.12-0.14 of the digit height) for a 180-200 px digit
  const canvas = document.getElementById("predict-canvas");
  const g = canvas.getContext("2d");
  const inputCanvas = document.getElementById("predict-input");
  const select = document.getElementById("predict-model");
  const fileInput = document.getElementById("predict-file");
  const digitOut = document.getElementById("predict-digit");
  const confOut = document.getElementById("predict-confidence");
  const statusEl = document.getElementById("predict-status");
  const chartEl = document.getElementById("predict-chart");

  let drawing = null;          // {id, x, y} while a pointer is down
  let hasInk = false;
  let uploaded = null;         // the uploaded File while it is what the canvas shows (no strokes on top)
  let inFlight = false;
  let pending = false;
  let chartReady = false;
  const state = { last: null, requests: 0 };
  // percent(): a probability that rounds to 100.0 % reads "> 99.9 %" (the network is never certain).
  const formatting = import("./format.js");
  let percent = (p) => (p * 100).toFixed(1);
  formatting.then((format) => { percent = format.percent; }).catch(() => {});

  // ------------------------------------------------------------------ drawing
  function setupPen() {
    g.lineCap = "round";
    g.lineJoin = "round";
    g.lineWidth = PEN;
    g.strokeStyle = "#000";
    g.fillStyle = "#000";
  }
  setupPen();

  function toCanvas(ev) {
    const r = canvas.getBoundingClientRect();
    return { x: (ev.clientX - r.left) * canvas.width / r.width, y: (ev.clientY - r.top) * canvas.height / r.height };
  }

  function dot(p) {
    g.beginPath();
    g.arc(p.x, p.y, PEN / 2, 0, Math.PI * 2);
    g.fill();
  }

  function segment(a, b) {
    g.beginPath();
    g.moveTo(a.x, a.y);
    g.lineTo(b.x, b.y);
    g.stroke();
  }

  canvas.addEventListener("pointerdown", (ev) => {
    if (ev.button !== undefined && ev.button > 0) return;
    ev.preventDefault();
    try { canvas.setPointerCapture(ev.pointerId); } catch (_) { /* synthetic events */ }
    const p = toCanvas(ev);
    drawing = { id: ev.pointerId, last: p };
    uploaded = null;            // strokes on top of an uploaded picture: send the canvas from now on
    hasInk = true;
    dot(p);
  });

  canvas.addEventListener("pointermove", (ev) => {
    if (!drawing || ev.pointerId !== drawing.id) return;
    ev.preventDefault();
    const events = typeof ev.getCoalescedEvents === "function" ? ev.getCoalescedEvents() : [];
    for (const e of (events.length ? events : [ev])) {
      const p = toCanvas(e);
      segment(drawing.last, p);
      drawing.last = p;
    }
  });

  function endStroke(ev) {
    if (!drawing || (ev && ev.pointerId !== drawing.id)) return;
    drawing = null;
    predict();
  }
  canvas.addEventListener("pointerup", endStroke);
  canvas.addEventListener("pointercancel", endStroke);
  canvas.addEventListener("lostpointercapture", endStroke);

  function clear() {
    g.clearRect(0, 0, canvas.width, canvas.height);
    hasInk = false;
    uploaded = null;
    fileInput.value = "";
    clearResult("–");
    setStatus("Draw a digit to start.");
  }

  /** No result on screen: the 28x28 view, the digit, the confidence and the bars are emptied. */
  function clearResult(digitText) {
    digitOut.textContent = digitText;
    digitOut.classList.toggle("predict-none", digitText === "–"); // nothing yet: a grey dash, not a blue bar
    confOut.textContent = "";
    inputCanvas.getContext("2d").clearRect(0, 0, 28, 28);
    if (chartReady && window.Plotly) window.Plotly.react(chartEl, bars(null), layout(), CONFIG);
    else chartEl.textContent = "";
    state.last = null;
    delete panel.dataset.prediction;
    markStale(false);
  }

  /** The result on screen is (not) the answer for what the canvas shows now. */
  function markStale(on) {
    panel.classList.toggle("predict-stale", on);
  }
  document.getElementById("predict-clear").addEventListener("click", clear);

  // ------------------------------------------------------------------ upload
  fileInput.addEventListener("change", async () => {
    const file = fileInput.files && fileInput.files[0];
    if (!file) return;
    uploaded = file;
    shrinkNote = "";
    hasInk = true;
    markStale(true);            // the old result is not this picture's, whatever the server answers
    g.clearRect(0, 0, canvas.width, canvas.height);
    let bmp = null;
    if (window.createImageBitmap) {
      try {
        bmp = await createImageBitmap(file);
        const s = Math.min(canvas.width / bmp.width, canvas.height / bmp.height);
        const w = bmp.width * s, h = bmp.height * s;
        g.drawImage(bmp, (canvas.width - w) / 2, (canvas.height - h) / 2, w, h);
      } catch (_) { /* not an image the browser reads: the server will say what is wrong with it */ }
    }
    if (bmp && file.size > UPLOAD_LIMIT_BYTES) {
      // A phone photo is often 3-5 MB, over the server's 2 MB cap; 28x28 needs far fewer pixels.
      const smaller = await shrunk(bmp);
      if (smaller && uploaded === file) {
        uploaded = new File([smaller], file.name.replace(/\.[^.]*$/, "") + "-shrunk.jpg", { type: "image/jpeg" });
        shrinkNote = `Your ${bmp.width}×${bmp.height} picture (${(file.size / 1048576).toFixed(1)} MB) was ` +
          `shrunk to at most ${SHRINK_TO_PX} px before sending (uploads are capped at 2 MB).`;
      }
    }
    predict();
  });

  const UPLOAD_LIMIT_BYTES = 2 * 1024 * 1024;  // the server's MAX_CONTENT_LENGTH
  const SHRINK_TO_PX = 1024;
  let shrinkNote = "";

  /** The picture at most SHRINK_TO_PX on its longer side, flattened onto white (as the server would),
   * as a JPEG blob; null if the browser cannot encode it. */
  function shrunk(bmp) {
    const s = Math.min(1, SHRINK_TO_PX / Math.max(bmp.width, bmp.height));
    const out = document.createElement("canvas");
    out.width = Math.max(1, Math.round(bmp.width * s));
    out.height = Math.max(1, Math.round(bmp.height * s));
    const og = out.getContext("2d");
    og.fillStyle = "#fff";
    og.fillRect(0, 0, out.width, out.height);
    og.imageSmoothingQuality = "high";
    og.drawImage(bmp, 0, 0, out.width, out.height);
    return new Promise((resolve) => out.toBlob(resolve, "image/jpeg", 0.92));
  }

  // ------------------------------------------------------------------ models
  // A run can recognise digits once it has stored weights: the server keeps them for "done" and "stopped"
  // runs (server/jobs.py _KEEP_WEIGHTS; a stopped run may still have none if it stopped before training),
  // never for diverged or failed ones. The panel offers the runs on this page's run list (window.playground
  // .list: runs trained here, stored runs added to the charts) that have them, checked with a HEAD request.
  // The default model stays selected until the user picks a run (on a finished run's page: that run).
  const WITH_WEIGHTS = new Set(["done", "stopped"]);
  const runOptions = new Map();    // run id -> its <option>
  const weightChecks = new Map();  // run id -> Promise<boolean>: the server has its weights
  const summaries = new Map();     // run id -> summary from playground:run-finished
  const storedRuns = new Map();    // run id -> {description, name, label, group, rank}: finished runs the server lists
  const groups = new Map();        // group key -> its <optgroup>
  const PAGE_GROUP = { key: "page", label: "On this page", order: -1 };
  const runPage = document.getElementById("run-page");

  function pageRun() {
    if (runPage && runPage.dataset.runId) return { id: runPage.dataset.runId, status: runPage.dataset.status || "" };
    if (panel.dataset.runId) return { id: panel.dataset.runId, status: panel.dataset.runStatus || "" };
    return null;
  }

  function listEntry(id) {
    const list = window.playground && window.playground.list;
    return list && typeof list.get === "function" ? list.get(id) || null : null;
  }

  function pct(x) { return typeof x === "number" && isFinite(x) ? `${(x * 100).toFixed(1)}%` : null; }

  /** {short, full}: "run #1" and "run #1 — name — 784-20-10 relu, sgd lr 0.1 (test 85.0%)". */
  function runNames(id) {
    const e = listEntry(id);
    const own = pageRun();
    const older = storedRuns.get(id);
    const short = own && own.id === id ? "this run" : e && e.short ? `run ${e.short}`
      : older ? `stored run ${id.slice(0, 6)}…` : `run ${id}`;
    const parts = [short];
    if (e && e.name) parts.push(e.name);
    if (e && e.description) parts.push(e.description);
    else if (older) parts.push(...[older.name, older.label, older.description].filter(Boolean));
    const summary = summaries.get(id);
    const acc = pct(summary && summary.final && summary.final.test_acc);
    const fromMeta = !acc && e && typeof e.meta === "string" && /test ([\d.]+%)/.exec(e.meta);
    const status = (e && e.status) || (summary && summary.status) || "";
    const notes = [status && status !== "done" ? status : "", acc ? `test ${acc}` : fromMeta ? `test ${fromMeta[1]}` : ""]
      .filter(Boolean);
    return { short, full: parts.join(" — ") + (notes.length ? ` (${notes.join(", ")})` : "") };
  }

  function hasWeights(id) {
    if (!weightChecks.has(id)) {
      const check = fetch(`/api/runs/${encodeURIComponent(id)}/weights.npz`, { method: "HEAD" })
        .then((r) => r.ok)
        .catch(() => { weightChecks.delete(id); return false; });   // try again next time
      weightChecks.set(id, check);
    }
    return weightChecks.get(id);
  }

  /** The <optgroup> of a group {key, label, order}, made on first use and kept in order. */
  function optgroup(group) {
    let el = groups.get(group.key);
    if (el) return el;
    el = document.createElement("optgroup");
    el.label = group.label;
    el.dataset.group = group.key;
    el.dataset.order = String(group.order);
    const after = [...select.querySelectorAll("optgroup")].find((other) =>
      Number(other.dataset.order) > group.order
      || (Number(other.dataset.order) === group.order && other.label.localeCompare(group.label) > 0));
    select.insertBefore(el, after || null);
    groups.set(group.key, el);
    return el;
  }

  /** Runs of this page (its run list, or the run of a run's page) first; stored ones by their origin. */
  function groupOf(id) {
    const own = pageRun();
    if ((own && own.id === id) || listEntry(id) || !storedRuns.has(id)) return PAGE_GROUP;
    return storedRuns.get(id).group || PAGE_GROUP;
  }

  function upsertOption(id) {
    let opt = runOptions.get(id);
    if (!opt) {
      opt = document.createElement("option");
      opt.value = id;
      runOptions.set(id, opt);
    }
    const group = optgroup(groupOf(id));
    if (opt.parentNode !== group) {
      // In a group, in the order the server listed them (newest first); the page's runs as they came.
      const rank = storedRuns.has(id) && group !== groups.get(PAGE_GROUP.key) ? storedRuns.get(id).rank : Infinity;
      opt.dataset.rank = String(rank);
      const before = [...group.children].find((other) => Number(other.dataset.rank) > rank);
      const selected = select.value;
      group.insertBefore(opt, before || null);
      select.value = selected;          // moving an option must not change the choice
    }
    const names = runNames(id);
    if (opt.textContent !== names.full) opt.textContent = names.full;
    // every 2 s while runs train: write only what changed (a write still costs a style pass)
    if (opt.dataset.short !== names.short) opt.dataset.short = names.short;
    const title = `${names.full} · run id ${id}`;
    if (opt.title !== title) opt.title = title;
    return opt;
  }

  async function offerRun(id, status, { quiet = false } = {}) {
    if (!id) return;
    if (runOptions.has(id)) { upsertOption(id); return; }
    if (!WITH_WEIGHTS.has(status) || !(await hasWeights(id))) return;
    const isNew = !runOptions.has(id);
    upsertOption(id);
    if (isNew && !quiet && select.value === "default") {
      setModelNote(`${runNames(id).short.replace(/^run/, "Run")} finished and can recognise digits too: pick it under Model.`);
    }
  }

  const modelNote = document.getElementById("predict-model-note");
  function setModelNote(text) {
    if (!modelNote || runPage) return;     // on a run's page its run is already the choice
    modelNote.textContent = text;
    modelNote.hidden = !text;
  }

  // The run of a run's page: offered at once (while it trains, the server says to wait), chosen when done.
  const own = pageRun();
  if (own) {
    upsertOption(own.id);
    if (runPage && own.status === "done") select.value = own.id;
  }

  function syncWithRunList() {
    const list = window.playground && window.playground.list;
    if (own) upsertOption(own.id);
    if (!list || !Array.isArray(list.entries)) return;
    for (const e of list.entries) offerRun(e.id, e.status);
  }
  document.addEventListener("playground:run-finished", (ev) => {
    const d = ev.detail || {};
    if (!d.run_id) return;
    if (d.summary) summaries.set(d.run_id, d.summary);
    offerRun(d.run_id, d.status);
  });
  // Runs trained earlier, where the server lists them: the newest that finished, so a stored run can
  // recognise digits without being put on the charts first (a server with listing off answers 403).
  // The dashboard's runs (and re-runs, and runs from before origins) and each lab's are asked for apart
  // (origin.js pickerRuns), so that a lab batch of 32 runs does not push the others out of the list.
  Promise.all([formatting, import("./origin.js")])
    .then(async ([format, origins]) => {
      const runs = await origins.pickerRuns({ status: "done", own: 20, perLab: 10 });
      for (const [rank, r] of runs.entries()) {
        if (r.status !== "done" || runOptions.has(r.run_id)) continue;
        storedRuns.set(r.run_id, { description: format.describeConfig(r.config), group: origins.originGroup(r.origin),
          label: r.origin && r.origin.label, name: r.config && typeof r.config.name === "string" ? r.config.name : "", rank });
        if (r.summary) summaries.set(r.run_id, r.summary);
        offerRun(r.run_id, r.status, { quiet: true });
      }
    })
    .catch(() => {});            // the default model and this page's runs still work

  document.addEventListener("playground:ready", syncWithRunList);
  syncWithRunList();
  setInterval(syncWithRunList, 2000);        // stored runs added to the charts, names and accuracies
  select.addEventListener("focus", syncWithRunList);
  select.addEventListener("change", () => {
    setModelNote("");
    if (hasInk) predict();
  });

  fetch("/api/predict/default-model").then((r) => (r.ok ? r.json() : null)).then((info) => {
    if (!info || !info.accuracy) return;
    const acc = info.accuracy.heldout_mnist;
    const opt = select.querySelector('option[value="default"]');
    if (opt && typeof acc === "number") {
      // short enough for a phone's select; the title says where the accuracy was measured
      opt.textContent = `default model (CNN, ${(acc * 100).toFixed(1)}% right)`;
      opt.title = `A small convolutional network: ${(acc * 100).toFixed(1)}% of held-out MNIST digits right`;
    }
  }).catch(() => {});

  // ------------------------------------------------------------------ request
  function setStatus(text, isError) {
    statusEl.textContent = text;
    statusEl.classList.toggle("predict-error", !!isError);
  }

  function canvasBlob() {
    return new Promise((resolve) => canvas.toBlob(resolve, "image/png"));
  }

  async function predict() {
    if (!hasInk) return null;
    markStale(true);
    if (inFlight) { pending = true; return null; }
    inFlight = true;
    panel.setAttribute("aria-busy", "true");
    setStatus("Recognising…");
    let result = null;
    try {
      const form = new FormData();
      const blob = uploaded || await canvasBlob();
      form.append("image", blob, uploaded ? uploaded.name : "drawing.png");
      if (select.value && select.value !== "default") form.append("run_id", select.value);
      const resp = await fetch("/api/predict", { method: "POST", body: form });
      let body = null;
      try { body = await resp.json(); } catch (_) { body = null; }
      await formatting.catch(() => {});   // the answer is shown with its percentages formatted
      state.requests += 1;
      if (!resp.ok || !body || body.error) {
        const msg = (body && body.error) || `the server answered ${resp.status}`;
        setStatus(msg.charAt(0).toUpperCase() + msg.slice(1), true);
        clearResult("?");
      } else {
        result = body;
        show(body);
      }
    } catch (err) {
      setStatus(`Could not reach the server: ${err.message}`, true);
      clearResult("?");
    } finally {
      inFlight = false;
      panel.removeAttribute("aria-busy");
      if (pending) { pending = false; predict(); }
    }
    return result;
  }

  // ------------------------------------------------------------------ results
  function show(res) {
    state.last = res;
    digitOut.textContent = String(res.prediction);
    digitOut.classList.remove("predict-none");
    const p = res.probabilities[res.prediction];
    confOut.textContent = `${percent(p)}% sure`;
    drawInput(res.input);
    drawChart(res.probabilities, res.prediction);
    const opt = runOptions.get(String(res.model));
    const who = res.model === "default" ? "the default model" : (opt && opt.dataset.short) || `run ${res.model}`;
    setStatus(`Recognised by ${who}.` + (uploaded && shrinkNote ? ` ${shrinkNote}` : ""));
    panel.dataset.prediction = String(res.prediction);
    markStale(pending);         // another input is waiting for its answer
  }

  function drawInput(rows) {
    const ctx = inputCanvas.getContext("2d");
    const img = ctx.createImageData(28, 28);
    for (let y = 0; y < 28; y++) {
      for (let x = 0; x < 28; x++) {
        const v = Math.max(0, Math.min(255, Math.round(rows[y][x] * 255)));
        const i = (y * 28 + x) * 4;
        img.data[i] = img.data[i + 1] = img.data[i + 2] = v;   // ink high: white on black, like MNIST
        img.data[i + 3] = 255;
      }
    }
    ctx.putImageData(img, 0, 0);
  }

  const CONFIG = { displayModeBar: false, responsive: true, staticPlot: false };
  function layout() {
    return {
      margin: { l: 40, r: 8, t: 8, b: 36 },
      height: 220,
      xaxis: { tickmode: "array", tickvals: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], title: { text: "digit" }, fixedrange: true },
      yaxis: { range: [0, 1], tickformat: ".0%", fixedrange: true },
      bargap: 0.2,
      paper_bgcolor: "rgba(0,0,0,0)",
      plot_bgcolor: "rgba(0,0,0,0)",
      font: { size: 12 },
    };
  }
  function bars(probs, best) {
    const y = probs || new Array(10).fill(0);
    return [{
      type: "bar",
      x: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
      y,
      marker: { color: y.map((_, i) => (i === best ? "#1f6fd1" : "#b8c7db")) },
      customdata: y.map((p) => `${percent(p)}%`),
      hovertemplate: "%{x}: %{customdata}<extra></extra>",
    }];
  }
  function drawChart(probs, best) {
    if (window.Plotly) {
      if (!chartReady) {
        chartEl.textContent = "";
        window.Plotly.newPlot(chartEl, bars(probs, best), layout(), CONFIG);
        chartReady = true;
      } else {
        window.Plotly.react(chartEl, bars(probs, best), layout(), CONFIG);
      }
      return;
    }
    // no Plotly (should not happen: it is vendored): plain bars
    chartEl.textContent = "";
    probs.forEach((p, i) => {
      const row = document.createElement("div");
      row.className = "predict-bar" + (i === best ? " best" : "");
      row.innerHTML = `<span>${i}</span><span class="predict-bar-fill" style="width:${(p * 100).toFixed(1)}%"></span>`;
      chartEl.appendChild(row);
    });
  }

  // an empty chart from the start, so the panel does not jump when the first answer arrives
  function initChart() {
    if (chartReady || !window.Plotly) return;
    window.Plotly.newPlot(chartEl, bars(null), layout(), CONFIG);
    chartReady = true;
  }
  if (document.readyState === "complete") initChart();
  else window.addEventListener("load", initChart);

  window.predictPanel = { predict, clear, get last() { return state.last; }, get requests() { return state.requests; } };
})();
