// Live line charts of the labs: newPlot once, then the lines grow as records arrive (design §4).

import { PLOTLY_CONFIG } from "../plot_style.js";

/**
 * A Plotly chart whose lines grow as records arrive: newPlot once, then extendTraces per animation
 * frame with everything buffered since the last one. Traces are addressed by key.
 */
export class LiveLines {
  /** div: the chart; layout: its Plotly layout (kept: callers change its axes before reset()). */
  constructor(div, layout, config = PLOTLY_CONFIG) {
    this.div = div;
    this.layout = layout;
    this.config = config;
    this.keys = [];
    this.buffer = new Map();
    this.frame = null;
  }

  /** traces: [{key, name, color, dash, width, legendgroup, showlegend}] -> a fresh chart. */
  reset(traces) {
    this.keys = traces.map((t) => t.key);
    this.buffer.clear();
    const data = traces.map((t) => ({
      type: "scatter", mode: "lines", x: [], y: [], name: t.name, legendgroup: t.legendgroup, showlegend: t.showlegend !== false,
      line: { color: t.color, dash: t.dash || "solid", width: t.width || 2 }, xaxis: t.xaxis, yaxis: t.yaxis,
      hovertemplate: t.hovertemplate || `%{y:.4g}<extra>${t.name}</extra>`,
    }));
    Plotly.react(this.div, data, this.layout, this.config);
  }

  push(key, x, y) {
    if (y === null || y === undefined || !isFinite(y)) return;
    const index = this.keys.indexOf(key);
    if (index < 0) return;
    if (!this.buffer.has(index)) this.buffer.set(index, { x: [], y: [] });
    const b = this.buffer.get(index);
    b.x.push(x);
    b.y.push(y);
    if (!this.frame) this.frame = requestAnimationFrame(() => this.flush());
  }

  flush() {
    this.frame = null;
    if (!this.buffer.size) return;
    const indices = [...this.buffer.keys()];
    const update = { x: indices.map((i) => this.buffer.get(i).x), y: indices.map((i) => this.buffer.get(i).y) };
    this.buffer.clear();
    Plotly.extendTraces(this.div, update, indices);
  }

  relayout(update) { Plotly.relayout(this.div, update); }
}
