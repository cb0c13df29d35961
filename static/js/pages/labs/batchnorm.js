// Lab §6.3: training accuracy with and without batch norm for 16 weight scales (32 runs via run:start),
// drawn as one Plotly figure with a 4x4 grid of small charts.

import { batchLab } from "../../labs/batch_lab.js";
import { batchnormGrid } from "../../labs/batchnorm_grid.js";

const BOOK = { scales: 16, scale_from: 0, scale_to: -4, epochs: 20, train_size: 1000, batch_size: 100,
  units: 100, layers: 5, activation: "relu", optimizer: "sgd", lr: 0.01, batch_norm_eps: 1e-6, seed: 0 };

batchLab({
  book: BOOK,
  absent: { batch_norm_eps: 1e-5 },   // a link from before the ε setting normalised with 1e-5: it keeps doing so
  fields: [
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
  ],
  planText: (plan, settings, info) => `${plan.runs.length} runs of ${plan.meta.epochs} epochs · the server trains ${info.workers} at a time`,
  view: batchnormGrid(document.getElementById("grid")),
});
