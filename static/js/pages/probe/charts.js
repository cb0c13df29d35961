// The probe page's small Plotly charts: probability bars, and line charts with marked x positions.

import { FONT, GRID, PLOTLY_CONFIG, colourOf } from "../../plot_style.js";

export const DIGITS = [...Array(10).keys()];

/** Ten bars, the answer in the accent colour. */
export function probabilityBars(div, p, { title } = {}) {
  const best = p.indexOf(Math.max(...p));
  Plotly.react(div, [{
    type: "bar", x: DIGITS.map(String), y: p, marker: { color: p.map((_, i) => (i === best ? "#1f6fd1" : "#b8c4d4")) },
    hovertemplate: "digit %{x}: %{y:.1%}<extra></extra>",
  }], {
    font: FONT, paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "#fff", margin: { l: 40, r: 8, t: title ? 24 : 6, b: 28 },
    title: title ? { text: title, font: { size: 12 }, x: 0, xanchor: "left" } : undefined,
    xaxis: { type: "category", tickfont: { size: 12 } }, yaxis: { range: [0, 1], tickformat: ".0%", gridcolor: GRID, nticks: 5 },
    bargap: 0.2, showlegend: false,
  }, { ...PLOTLY_CONFIG, displayModeBar: false });
  div.setAttribute("aria-label", `Probabilities: ${DIGITS.map((d) => `${d}: ${(p[d] * 100).toFixed(1)}%`).join(", ")}`);
}

/** A line per digit (colourOf(d)); `emphasis` digits drawn thick, the others thin and pale. */
export function digitLines(xs, rows, emphasis = [], { markers = false } = {}) {
  return DIGITS.map((d) => {
    const strong = !emphasis.length || emphasis.includes(d);
    return {
      type: "scatter", mode: markers ? "lines+markers" : "lines", marker: { size: 4 }, name: String(d), x: xs, y: rows.map((p) => p[d]),
      line: { color: colourOf(d), width: strong ? 3 : 1.2 }, opacity: strong ? 1 : 0.45,
      hovertemplate: `digit ${d}: %{y:.1%}<extra></extra>`,
    };
  });
}

export function lineLayout(xTitle, yTitle, extra = {}) {
  return {
    font: FONT, paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "#fff", margin: { l: 52, r: 12, t: 22, b: 44 },
    hovermode: "x unified", legend: { orientation: "h", y: -0.3, x: 0, font: { size: 11 } },
    xaxis: { title: { text: xTitle, standoff: 4 }, gridcolor: GRID, zeroline: false },
    yaxis: { title: { text: yTitle, standoff: 4 }, gridcolor: GRID, range: [0, 1.02], tickformat: ".0%" },
    ...extra,
  };
}

/** A vertical line across the plot at x, with an optional label on top (`log`: the x axis is in log
 * scale, where Plotly places annotations by log10 x but shapes by x). */
export function marker(x, { color = "#1d2530", dash = "dot", label = null, log = false } = {}) {
  return {
    shape: { type: "line", xref: "x", yref: "paper", x0: x, x1: x, y0: 0, y1: 1, line: { color, width: 1.5, dash } },
    annotation: label ? { x: log ? Math.log10(x) : x, xref: "x", y: 1, yref: "paper", yanchor: "bottom", text: label, showarrow: false,
      font: { size: 11, color } } : null,
  };
}

export { PLOTLY_CONFIG };
