// Lab §6.1.8: optimizers compared on MNIST (784-100x4-10 ReLU, batch 128, ~2,000 iterations).

import { getSchema } from "../../api.js";
import { optimizerLabel } from "../../format.js";
import { mnistCompareLab } from "../../labs/mnist_compare.js";

const BOOK = {
  optimizers: [{ name: "sgd", lr: 0.01 }, { name: "momentum", lr: 0.01 }, { name: "adagrad", lr: 0.01 }, { name: "adam", lr: 0.001 }],
  iterations: 2000, train_size: 4000, batch_size: 128, units: 100, layers: 4, activation: "relu", weight_init: "he", seed: 0,
};

async function main() {
  let defaults = { sgd: { lr: 0.01 } };
  let activations = ["relu", "sigmoid", "tanh"];
  try {
    const schema = await getSchema();
    defaults = schema.optimizers;
    activations = schema.activations;
  } catch (err) { /* the book's four still work */ }
  mnistCompareLab({
    book: BOOK,
    fields: [
      { key: "iterations", label: "Iterations", min: 1, max: 100000, step: 1, integer: true, help: "Mini-batch updates per run (the book: 2,000); rounded up to whole epochs." },
      { key: "train_size", label: "Training images", min: 1, max: 4999, step: 1, integer: true, help: "From the bundled pool of 5,000; the rest are test images." },
      { key: "batch_size", label: "Batch size", min: 1, max: 5000, step: 1, integer: true },
      { key: "layers", label: "Hidden layers", min: 0, max: 10, step: 1, integer: true },
      { key: "units", label: "Units per layer", min: 1, max: 2048, step: 1, integer: true },
      { key: "activation", label: "Activation", type: "select", options: activations.map((a) => [a, a.replace(/_/g, " ")]) },
      { key: "weight_init", label: "Weight init", type: "select", options: [["he", "He"], ["xavier", "Xavier"], ["std", "std 0.01"]] },
      { key: "seed", label: "Seed", min: 0, step: 1, integer: true, help: "Same seed: same data, same initial weights for every optimizer." },
    ],
    rows: {
      key: "optimizers", nameKey: "name", noun: "Optimizer", addLabel: "+ add an optimizer…",
      options: Object.keys(defaults).map((n) => [n, optimizerLabel(n)]),
      number: { key: "lr", label: "Learning rate" },
      numberFor: () => true,
      label: (row) => optimizerLabel(row.name),
      defaultRow: (name) => ({ name, lr: (defaults[name] && defaults[name].lr) || 0.01 }),
    },
  });
}

main();
