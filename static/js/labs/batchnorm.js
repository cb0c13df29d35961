// Lab §6.3: training accuracy with and without batch norm for 16 weight scales (32 runs via run:start),
// drawn as one Plotly figure with a 4x4 grid of small charts.

import { $, api, buildFields, linkTools, readSettings, writeSettings, showNotice, FONT, GRID, PLOTLY_CONFIG,
  RunBatch, LiveLines, describeCounts, progress, isFinal, fmtNum } from "./common.js";
import { watchConnection } from "./common.js";

const BOOK = { scales: 16, scale_from: 0, scale_to: -4, epochs: 20, train_size: 1000, batch_size: 100,
  units: 100, layers: 5, activation: "relu", optimizer: "sgd", lr: 0.01, batch_norm_eps: 1e-6, seed: 0 };
const BN = "#1f6fd1";
const PLAIN = "#e08a00";

let plan = null;
let batch = null;
let chart = null;

function gridLayout(n, epochs, scales) {
  const cols = Math.min(4, n);
  const rows = Math.ceil(n / cols);
  const layout = {
    font: FONT, paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "#fff", showlegend: false, hovermode: "closest",
    grid: { rows, columns: cols, pattern: "independent", xgap: 0.08, ygap: 0.28 },
    margin: { l: 48, r: 12, t: 26, b: 40 }, annotations: [],
  };
  for (let i = 0; i < n; i++) {
    const s = i === 0 ? "" : i + 1;
    const bottom = Math.floor(i / cols) === rows - 1;
    layout[`xaxis${s}`] = { range: [0, epochs], gridcolor: GRID, tickfont: { size: 10 }, nticks: 5, zeroline: false,
      title: bottom ? { text: "epoch", font: { size: 11 }, standoff: 2 } : undefined };
    layout[`yaxis${s}`] = { range: [0, 1.02], gridcolor: GRID, tickfont: { size: 10 }, nticks: 3, tickformat: ".0%",
      showticklabels: i % cols === 0 };
    layout.annotations.push({ xref: `x${s === "" ? "" : s} domain`, yref: `y${s === "" ? "" : s} domain`, x: 0, y: 1, yanchor: "bottom",
      xanchor: "left", text: `<b>w = ${fmtNum(Number(scales[i].toPrecision(3)))}</b>`, showarrow: false, font: { size: 12 } });
  }
  return { layout, rows };
}

/** "32 of 32 finished · 2 diverged (…)": a run that diverges at a large weight scale is one of the
 * things this lab shows, so it is named as such and not counted with runs that failed to run. */
function describeGrid(counts, items) {
  const diverged = items.filter((it) => it.status === "diverged");
  const failed = counts.failed - diverged.length;
  const parts = [describeCounts({ ...counts, failed: 0 })];
  if (diverged.length) {
    const plain = diverged.every((it) => it.group === "plain");
    const scales = [...new Set(diverged.map((it) => it.scale))].sort((a, b) => b - a).map((w) => fmtNum(Number(w.toPrecision(3))));
    parts.push(`${diverged.length} diverged (${plain ? "no batch norm, " : ""}w = ${scales.join(", ")}): weights that large blow the signal up, which is part of the lesson`);
  }
  if (failed > 0) parts.push(`${failed} failed to run`);
  return parts.join(" · ");
}

async function main() {
  watchConnection();
  // a link from before the ε setting normalised with 1e-5: it keeps doing so
  const { settings, error } = readSettings(BOOK, location.hash, { absent: { batch_norm_eps: 1e-5 } });
  if (error) showNotice(`The settings in this link could not be read (${error}); the book's settings are shown.`, "warning");
  const form = buildFields($("fields"), [
    { key: "scales", label: "Weight scales", min: 1, max: 16, step: 1, integer: true, help: "How many, spaced evenly in log scale (the book: 16)." },
    { key: "scale_from", label: "Largest scale", unit: "10^", min: -6, max: 1, help: "The book: 10⁰ = 1." },
    { key: "scale_to", label: "Smallest scale", unit: "10^", min: -6, max: 1, help: "The book: 10⁻⁴." },
    { key: "epochs", label: "Epochs", min: 1, max: 200, step: 1, integer: true },
    { key: "train_size", label: "Training images", min: 1, max: 5000, step: 1, integer: true },
    { key: "batch_size", label: "Batch size", min: 1, max: 5000, step: 1, integer: true },
    { key: "lr", label: "Learning rate (SGD)", min: 1e-9, max: 10 },
    { key: "layers", label: "Hidden layers", min: 1, max: 10, step: 1, integer: true },
    { key: "units", label: "Units per layer", min: 1, max: 2048, step: 1, integer: true },
    { key: "batch_norm_eps", label: "Batch-norm ε", min: 1e-8, max: 1, help: "Added to the batch variance (the book: 10⁻⁶; a config without it, like PyTorch: 10⁻⁵). With 10⁻⁵ the smallest scale stays at chance." },
    { key: "seed", label: "Seed", min: 0, step: 1, integer: true },
  ], settings, () => changed());
  chart = new LiveLines($("grid"), {});
  const bar = progress(document.querySelector(".lab-progress"));

  async function changed() {
    writeSettings(settings);
    try {
      plan = await api("/api/labs/batchnorm/runs", settings);
    } catch (err) {
      plan = null;
      $("run").disabled = true;
      showNotice(`These settings do not work: ${err.message}`);
      return;
    }
    showNotice(null);
    if (!batch || !batch.active) { $("run").disabled = false; drawEmpty(); }
    const workers = Number(document.getElementById("lab").dataset.workers || 1);
    $("plan").textContent = `${plan.runs.length} runs of ${plan.meta.epochs} epochs · the server trains ${workers} at a time`;
  }

  function drawEmpty() {
    const scales = plan.meta.scales;
    const { layout, rows } = gridLayout(scales.length, plan.meta.epochs, scales);
    $("grid").style.height = `${60 + rows * 205}px`;
    chart.layout = layout;
    chart.reset(plan.runs.map((r) => ({
      key: r.key, name: `${r.label}, w = ${fmtNum(r.scale)}`, color: r.group === "bn" ? BN : PLAIN,
      dash: r.group === "bn" ? "solid" : "dash", xaxis: `x${r.cell === 0 ? "" : r.cell + 1}`, yaxis: `y${r.cell === 0 ? "" : r.cell + 1}`,
      hovertemplate: `epoch %{x}: %{y:.1%}<extra>${r.label}</extra>`,
    })));
  }

  function cellNotes(items) {
    const scales = plan.meta.scales;
    const { layout } = gridLayout(scales.length, plan.meta.epochs, scales);
    const notes = layout.annotations;
    for (const cell of scales.keys()) {
      const pair = items.filter((it) => it.cell === cell && isFinal(it.status));
      const text = pair.map((it) => {
        const acc = it.record && it.record.train_acc;
        const colour = it.group === "bn" ? BN : PLAIN;
        const value = it.status === "diverged" ? "diverged" : acc == null ? "" : `${(100 * acc).toFixed(0)}%`;
        return value ? `<span style="color:${colour}">${value}</span>` : "";
      }).filter(Boolean).join(" · ");
      const s = cell === 0 ? "" : cell + 1;
      if (text) notes.push({ xref: `x${s} domain`, yref: `y${s} domain`, x: 1, y: 1, xanchor: "right", yanchor: "bottom",
        text, showarrow: false, font: { size: 11 } });
    }
    Plotly.relayout($("grid"), { annotations: notes });
  }

  $("run").addEventListener("click", () => {
    if (!plan) return;
    drawEmpty();
    const items = plan.runs.map((r) => ({ ...r, record: null }));
    const epochs = plan.meta.epochs;
    let notesTimer = null;
    batch = new RunBatch({
      onEpoch: (item, record) => { item.record = record; chart.push(item.key, record.epoch, record.train_acc); },
      onState: (item, counts) => {
        const done = batch.items.reduce((s, it) => s + (isFinal(it.status) ? epochs : Math.max(0, it.epoch)), 0);
        bar.set(done / (epochs * counts.total), describeGrid(counts, batch.items), counts.finished === counts.total ? "done" : "running");
        if (isFinal(item.status) && !notesTimer) notesTimer = setTimeout(() => { notesTimer = null; cellNotes(batch.items); }, 300);
      },
      onAllDone: () => { setRunning(false); cellNotes(batch.items); },
    });
    batch.start(items);
    setRunning(true);
  });
  $("stop").addEventListener("click", () => batch && batch.stop());

  function setRunning(running) {
    $("run").disabled = running || !plan;
    $("stop").disabled = !running;
    form.disable(running);
  }

  linkTools({ onReset: () => {
    if (batch && batch.active) return;
    Object.assign(settings, structuredClone(BOOK));
    form.sync();
    changed();
  } });
  changed();
}

main();
