// The answer of the predict panel: the 28x28 input the network saw, the digit, how sure it is, and a bar
// per digit. A result belongs to one input: while a new input is being recognised the old result is
// marked stale (.predict-stale on the panel, dimmed), and a refusal empties the view.

import { percent } from "../../format.js";

const DIGITS = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
const CHART_CONFIG = { displayModeBar: false, responsive: true, staticPlot: false };

/** el: {panel, digit, confidence, input (28x28 canvas), chart} -> {show(result), clear(digitText), markStale(on)} */
export function resultView(el) {
  let chartReady = false;

  function drawChart(probs, best) {
    if (!chartReady) {
      el.chart.textContent = "";
      window.Plotly.newPlot(el.chart, bars(probs, best), layout(), CHART_CONFIG);
      chartReady = true;
    } else {
      window.Plotly.react(el.chart, bars(probs, best), layout(), CHART_CONFIG);
    }
  }

  // an empty chart from the start, so the panel does not jump when the first answer arrives
  const initChart = () => { if (!chartReady) drawChart(null); };
  if (document.readyState === "complete") initChart();
  else window.addEventListener("load", initChart, { once: true });

  const markStale = (on) => el.panel.classList.toggle("predict-stale", on);

  return {
    markStale,
    /** result: {prediction, probabilities: [10], input: 28x28 rows in 0..1} */
    show(result) {
      el.digit.textContent = String(result.prediction);
      el.digit.classList.remove("predict-none");
      el.confidence.textContent = `${percent(result.probabilities[result.prediction])}% sure`;
      drawInput(el.input, result.input);
      drawChart(result.probabilities, result.prediction);
      el.panel.dataset.prediction = String(result.prediction);
    },
    /** No result on screen: the 28x28 view, the digit ("–" nothing yet, "?" refused), the confidence and the bars. */
    clear(digitText) {
      el.digit.textContent = digitText;
      el.digit.classList.toggle("predict-none", digitText === "–"); // nothing yet: a grey dash, not a blue bar
      el.confidence.textContent = "";
      el.input.getContext("2d").clearRect(0, 0, 28, 28);
      if (chartReady) drawChart(null);
      else el.chart.textContent = "";
      delete el.panel.dataset.prediction;
      markStale(false);
    },
  };
}

function drawInput(canvas, rows) {
  const ctx = canvas.getContext("2d");
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

function layout() {
  return {
    margin: { l: 40, r: 8, t: 8, b: 36 },
    height: 220,
    xaxis: { tickmode: "array", tickvals: DIGITS, title: { text: "digit" }, fixedrange: true },
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
    x: DIGITS,
    y,
    marker: { color: y.map((_, i) => (i === best ? "#1f6fd1" : "#b8c7db")) },
    customdata: y.map((p) => `${percent(p)}%`),
    hovertemplate: "%{x}: %{customdata}<extra></extra>",
  }];
}
