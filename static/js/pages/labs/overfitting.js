// Lab §6.4: overfitting, weight decay, dropout and both, side by side (4 runs via run:start; 5 with an
// inverted-dropout run beside the book's).

import { batchLab } from "../../labs/batch_lab.js";
import { overfittingView } from "../../labs/overfitting_view.js";

const $ = (id) => document.getElementById(id);
const BOOK = { epochs: 301, train_size: 300, weight_decay: 0.1, dropout: 0.2, dropout_style: "book", layers: 6, units: 100, lr: 0.01, seed: 0 };
const STYLES = [["book", "the book's (×(1 − p) at test time)"], ["inverted", "inverted (×1/(1 − p) while training)"],
  ["compare", "both: add an inverted run"]];

batchLab({
  book: BOOK,
  absent: { dropout_style: "inverted" },   // a link from before the style setting trained inverted dropout: it keeps doing so
  fields: [
    { key: "epochs", label: "Epochs", min: 1, max: 1000, step: 1, integer: true },
    { key: "train_size", label: "Training images", min: 1, max: 4999, step: 1, integer: true, help: "The rest of the 5,000-image pool is the test set." },
    { key: "weight_decay", label: "Weight decay λ", min: 0, max: 10, help: "Adds ½λ‖W‖² to the loss (the book: 0.1)." },
    { key: "dropout", label: "Dropout rate", min: 0, max: 0.9, help: "Share of units dropped while training (the book: 0.2)." },
    { key: "dropout_style", label: "Dropout style", type: "select", options: STYLES, help: "The book's style reproduces its Fig. 6-23; “both” adds an inverted-dropout run on the same data, weights and masks." },
    { key: "layers", label: "Hidden layers", min: 1, max: 10, step: 1, integer: true },
    { key: "units", label: "Units per layer", min: 1, max: 2048, step: 1, integer: true },
    { key: "lr", label: "Learning rate (SGD)", min: 1e-9, max: 10 },
    { key: "seed", label: "Seed", min: 0, step: 1, integer: true },
  ],
  planText: (plan, settings) => `${plan.runs.length} runs of ${plan.meta.epochs} epochs · ${settings.train_size} training images, ${plan.meta.test_size.toLocaleString()} test images`,
  view: overfittingView({ variants: $("variants"), gap: $("chart-gap"), table: $("run-table") }),
});
