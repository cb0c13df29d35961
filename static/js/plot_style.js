// The look every Plotly chart of the playground shares: colours, font, grid, the mode bar, and the
// layout and axis defaults of the labs' charts.

export const PALETTE = ["#1f6fd1", "#d6402b", "#1e9e5a", "#e08a00", "#7b4fc9", "#8c5a3c", "#d0479b", "#0f9bb0", "#8a9a12", "#5f6b7a"];
/** PALETTE and seven more, all distinct: a lab can show all 17 optimizers at once (paths, MNIST optimizers). */
const WIDE_PALETTE = [...PALETTE, "#111111", "#e3c500", "#17296e", "#9b1236", "#6fcf3f", "#b88aea", "#f28e6b"];
/** The colour of the i-th line of a lab. */
export const colourOf = (i) => WIDE_PALETTE[i % WIDE_PALETTE.length];

export const FONT = { family: "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif", size: 12, color: "#2b3440" };
export const GRID = "#e6e9ef";
export const PLOTLY_CONFIG = {
  responsive: true,
  displaylogo: false,
  modeBarButtonsToRemove: ["select2d", "lasso2d", "autoScale2d", "toggleSpikelines"],
};
/** Small charts of a grid: no mode bar over each of them. */
export const SMALL_CHART_CONFIG = { responsive: true, displaylogo: false, displayModeBar: false };

export function baseLayout(extra = {}) {
  return {
    font: FONT, paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "#fff",
    margin: { l: 52, r: 12, t: 10, b: 40 }, hovermode: "closest",
    legend: { orientation: "h", y: -0.22, x: 0 },
    ...extra,
  };
}

export function axis(title, extra = {}) {
  return { title: { text: title, standoff: 6 }, gridcolor: GRID, zerolinecolor: "#c9d1dc", automargin: true, ...extra };
}

/** The axis names of the i-th cell of a Plotly grid (0-based): {x: "x3", y: "y3", s: "3"}; the first is "x", "y". */
export function cellAxes(i) {
  const s = i === 0 ? "" : String(i + 1);
  return { x: `x${s}`, y: `y${s}`, s };
}
