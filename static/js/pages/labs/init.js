// Lab §6.2.4: weight initialisation compared on MNIST (std 0.01 vs Xavier vs He, SGD lr 0.01).

import { getSchema } from "../../api.js";
import { optimizerLabel } from "../../format.js";
import { mnistCompareLab } from "../../labs/mnist_compare.js";

const INITS = [["std", "Gaussian"], ["xavier", "Xavier 1/√n"], ["he", "He √(2/n)"]];

const BOOK = {
  inits: [{ init: "std", std: 0.01 }, { init: "xavier" }, { init: "he" }],
  iterations: 2000, train_size: 4000, batch_size: 128, units: 100, layers: 4, activation: "relu",
  optimizer: "sgd", lr: 0.01, seed: 0,
};

async function main() {
  let optimizers = ["sgd"];
  let activations = ["relu", "sigmoid", "tanh"];
  try {
    const schema = await getSchema();
    optimizers = Object.keys(schema.optimizers);
    activations = schema.activations;
  } catch (err) { /* SGD still works */ }
  mnistCompareLab({
    book: BOOK,
    fields: [
      { key: "optimizer", label: "Optimizer", type: "select", options: optimizers.map((n) => [n, optimizerLabel(n)]) },
      { key: "lr", label: "Learning rate", min: 1e-9, max: 10 },
      { key: "iterations", label: "Iterations", min: 1, max: 100000, step: 1, integer: true, help: "Mini-batch updates per run (the book: 2,000); rounded up to whole epochs." },
      { key: "train_size", label: "Training images", min: 1, max: 4999, step: 1, integer: true },
      { key: "batch_size", label: "Batch size", min: 1, max: 5000, step: 1, integer: true },
      { key: "layers", label: "Hidden layers", min: 0, max: 10, step: 1, integer: true },
      { key: "units", label: "Units per layer", min: 1, max: 2048, step: 1, integer: true },
      { key: "activation", label: "Activation", type: "select", options: activations.map((a) => [a, a.replace(/_/g, " ")]) },
      { key: "seed", label: "Seed", min: 0, step: 1, integer: true },
    ],
    rows: {
      key: "inits", nameKey: "init", noun: "Initialisation", addLabel: "+ add an initialisation…",
      options: INITS,
      label: (row) => (INITS.find(([value]) => value === row.init) || [row.init, row.init])[1],
      number: { key: "std", label: "Standard deviation" },
      numberFor: (row) => row.init === "std",
      defaultRow: (init) => (init === "std" ? { init, std: 0.01 } : { init }),
    },
  });
}

main();
