// The batch-norm lab's view: one Plotly figure with a grid of small charts, one per weight scale, each
// with the training accuracy of the run with batch norm (solid) and without (dashed), and the final
// accuracies at its top right once both have finished.

import { fmtNum } from "../format.js";
import { FONT, GRID, cellAxes } from "../plot_style.js";
import { describeCounts, isFinal } from "./run_batch.js";
import { LiveLines } from "./live_lines.js";

const BN = "#1f6fd1";
const PLAIN = "#e08a00";
const NOTES_AFTER_MS = 300;   // finished runs' notes: one redraw for the runs that end together
const colourOf = (item) => (item.group === "bn" ? BN : PLAIN);
const scaleText = (w) => fmtNum(Number(w.toPrecision(3)));

/** The figure's layout for n cells: {layout, rows}. */
function gridLayout(n, epochs, scales) {
  const cols = Math.min(4, n);
  const rows = Math.ceil(n / cols);
  const layout = {
    font: FONT, paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "#fff", showlegend: false, hovermode: "closest",
    grid: { rows, columns: cols, pattern: "independent", xgap: 0.08, ygap: 0.28 },
    margin: { l: 48, r: 12, t: 26, b: 40 }, annotations: [],
  };
  for (let i = 0; i < n; i++) {
    const { s } = cellAxes(i);
    const bottom = Math.floor(i / cols) === rows - 1;
    layout[`xaxis${s}`] = { range: [0, epochs], gridcolor: GRID, tickfont: { size: 10 }, nticks: 5, zeroline: false,
      title: bottom ? { text: "epoch", font: { size: 11 }, standoff: 2 } : undefined };
    layout[`yaxis${s}`] = { range: [0, 1.02], gridcolor: GRID, tickfont: { size: 10 }, nticks: 3, tickformat: ".0%",
      showticklabels: i % cols === 0 };
    layout.annotations.push({ xref: `x${s} domain`, yref: `y${s} domain`, x: 0, y: 1, yanchor: "bottom",
      xanchor: "left", text: `<b>w = ${scaleText(scales[i])}</b>`, showarrow: false, font: { size: 12 } });
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
    const scales = [...new Set(diverged.map((it) => it.scale))].sort((a, b) => b - a).map(scaleText);
    parts.push(`${diverged.length} diverged (${plain ? "no batch norm, " : ""}w = ${scales.join(", ")}): weights that large blow the signal up, which is part of the lesson`);
  }
  if (failed > 0) parts.push(`${failed} failed to run`);
  return parts.join(" · ");
}

/** div: the figure -> a batchLab view. */
export function batchnormGrid(div) {
  const chart = new LiveLines(div, {});
  let plan = null;
  let notesTimer = null;

  /** Each cell's final accuracies (with · without batch norm), or "diverged". */
  function cellNotes(items) {
    const scales = plan.meta.scales;
    const { layout } = gridLayout(scales.length, plan.meta.epochs, scales);
    const notes = layout.annotations;
    for (const cell of scales.keys()) {
      const pair = items.filter((it) => it.cell === cell && isFinal(it.status));
      const text = pair.map((it) => {
        const acc = it.record && it.record.train_acc;
        const value = it.status === "diverged" ? "diverged" : acc == null ? "" : `${(100 * acc).toFixed(0)}%`;
        return value ? `<span style="color:${colourOf(it)}">${value}</span>` : "";
      }).filter(Boolean).join(" · ");
      const { s } = cellAxes(cell);
      if (text) notes.push({ xref: `x${s} domain`, yref: `y${s} domain`, x: 1, y: 1, xanchor: "right", yanchor: "bottom",
        text, showarrow: false, font: { size: 11 } });
    }
    chart.relayout({ annotations: notes });
  }

  return {
    reset(next) {
      plan = next;
      const scales = plan.meta.scales;
      const { layout, rows } = gridLayout(scales.length, plan.meta.epochs, scales);
      div.style.height = `${60 + rows * 205}px`;
      chart.layout = layout;
      chart.reset(plan.runs.map((r) => {
        const { x, y } = cellAxes(r.cell);
        return { key: r.key, name: `${r.label}, w = ${fmtNum(r.scale)}`, color: colourOf(r), dash: r.group === "bn" ? "solid" : "dash",
          xaxis: x, yaxis: y, hovertemplate: `epoch %{x}: %{y:.1%}<extra>${r.label}</extra>` };
      }));
    },
    epoch(item, record) { chart.push(item.key, record.epoch, record.train_acc); },
    state(item, items) {
      if (isFinal(item.status) && !notesTimer) notesTimer = setTimeout(() => { notesTimer = null; cellNotes(items); }, NOTES_AFTER_MS);
    },
    done: (items) => cellNotes(items),
    progressText: describeGrid,
  };
}
