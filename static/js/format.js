// Small formatting helpers shared by the pages.

import { layerToken } from "./layers.js";

const OPTIMIZER_LABELS = {
  sgd: "SGD", momentum: "Momentum", nesterov: "Nesterov", adagrad: "AdaGrad", rmsprop: "RMSprop",
  adam: "Adam", adadelta: "AdaDelta", adamax: "AdaMax", nadam: "Nadam", amsgrad: "AMSGrad",
  adabound: "AdaBound", amsbound: "AMSBound", rmsprop_graves: "RMSprop (Graves)", smorms3: "SMORMS3",
  eve: "Eve", santa_e: "Santa-E", santa_sss: "Santa-SSS",
};

export function optimizerLabel(name) {
  return OPTIMIZER_LABELS[name] || name;
}

const LOSS_LABELS = {
  cross_entropy: "cross-entropy loss",
  mean_squared_error: "mean squared error",
  binary_cross_entropy: "binary cross-entropy loss",
};

export function lossLabel(name) {
  return LOSS_LABELS[name] || (name ? name.replace(/_/g, " ") + " loss" : "loss");
}

const SHORT_LOSS = { mean_squared_error: "MSE loss", binary_cross_entropy: "binary CE loss" };

// A model without the key (a run stored before it existed) used inverted dropout and ε = 1e-5.
export const dropoutStyle = (model) => ((model && model.dropout_style) || "inverted");
export const batchNormEps = (model) => (model && model.batch_norm_eps != null ? model.batch_norm_eps : 1e-5);
const STYLE_WORDS = { inverted: "inverted", book: "book-style" };

/** "the book's: kept units unscaled while training, ×(1 − p) at test time" */
export function dropoutStyleLabel(style) {
  return style === "book" ? "the book's: kept units unscaled while training, all units ×(1 − p) at test time"
    : style === "inverted" ? "inverted: kept units ×1/(1 − p) while training, unchanged at test time" : String(style);
}
const SHORT_INIT = { xavier: "Xavier init" };

/** "784-100x6-10 relu, sgd lr 0.01" or "784-conv8(5×5)-pool2-100-10 relu, adam lr 0.001", then
 * whatever differs from the defaults (design §1): weight decay, dropout (always with its style),
 * batch norm (with its ε unless 1e-5), init, loss, data sizes, batch size, epochs, seed, dtype; so two
 * runs that differ read differently. */
export function describeConfig(config) {
  if (!config || typeof config !== "object") return "";
  const model = config.model || {};
  const layers = Array.isArray(model.hidden_layers) ? model.hidden_layers : [];
  const sizes = [];
  for (const layer of layers) {
    const token = layer && typeof layer === "object" ? layerToken(layer) : String(layer);
    const last = sizes[sizes.length - 1];
    if (last && last.token === token) last.count += 1;
    else sizes.push({ token, count: 1 });
  }
  const arch = ["784", ...sizes.map((s) => (s.count > 1 ? `${s.token}x${s.count}` : s.token)), "10"].join("-");
  const acts = [...new Set(layers.map((l) => l && l.activation).filter(Boolean))];
  const parts = [arch + (acts.length ? " " + acts.join("/") : "")];
  const opt = config.optimizer || {};
  if (opt.name) parts.push(`${opt.name}${opt.lr !== undefined ? " lr " + fmtNum(opt.lr) : ""}`);
  const wd = config.training && config.training.weight_decay;
  if (wd) parts.push(`weight decay ${fmtNum(wd)}`);
  const drops = [...new Set(layers.map((l) => (l && l.dropout) || 0).filter((p) => p > 0))];
  const style = dropoutStyle(model);
  if (drops.length) parts.push(`dropout ${drops.map(fmtNum).join("/")} ${STYLE_WORDS[style] || style}`);
  const eps = batchNormEps(model);
  if (layers.some((l) => l && l.batch_norm)) parts.push(eps === 1e-5 ? "batch norm" : `batch norm ε ${fmtSmall(eps)}`);
  const init = model.weight_init;
  if (init === "std") parts.push(`init N(0, ${fmtNum(model.weight_init_std ?? 0.01)}²)`);
  else if (init && init !== "he") parts.push(SHORT_INIT[init] || `${init} init`);
  if (model.loss && model.loss !== "cross_entropy") parts.push(SHORT_LOSS[model.loss] || lossLabel(model.loss));
  const data = config.data || {};
  if (data.train_size != null && data.train_size !== 300) parts.push(`${data.train_size} train`);
  if (data.validation_size) parts.push(`${data.validation_size} validation`);
  if (data.test_size != null) parts.push(`${data.test_size} test`);
  const training = config.training || {};
  if (training.batch_size != null && training.batch_size !== 100) parts.push(`batch ${training.batch_size}`);
  if (training.epochs != null && training.epochs !== 200) parts.push(`${training.epochs} epochs`);
  if (config.seed) parts.push(`seed ${config.seed}`);
  if (training.dtype && training.dtype !== "float32") parts.push(training.dtype);
  return parts.join(", ");
}

/** A small constant as it is usually written: 1e-6 -> "1e-6", 0.01 -> "0.01". */
export function fmtSmall(x) {
  return typeof x === "number" && x > 0 && x < 1e-3 ? x.toExponential() : fmtNum(x);
}

export function fmtNum(x) {
  if (typeof x !== "number" || !isFinite(x)) return String(x);
  return String(+x.toPrecision(4));
}

/**
 * A fraction as a percentage number with `digits` decimals that never rounds "almost" to an end:
 * 0.99996 -> "> 99.9", 0.00004 -> "< 0.1" (the network is not certain, nor is it 0), while 1 and 0
 * stay "100.0" and "0.0". No unit: each caller writes its own ("%", "\u00a0%").
 */
export function percent(fraction, digits = 1) {
  const text = (fraction * 100).toFixed(digits);
  const step = 10 ** -digits;
  if (fraction < 1 && Number(text) >= 100) return `>\u00a0${(100 - step).toFixed(digits)}`;
  if (fraction > 0 && Number(text) <= 0) return `<\u00a0${step.toFixed(digits)}`;
  return text;
}

/** Fraction -> "72.3 %", "> 99.9 %" ("–" when missing). */
export function pct(fraction, digits = 1) {
  if (fraction === null || fraction === undefined || !isFinite(fraction)) return "–";
  return percent(fraction, digits) + "\u00a0%"; // no line break between number and unit
}

/** Seconds -> "0:07", "12:03", "1:02:03". */
/** 75.2 -> "1:15"; with tenths, a time under a minute reads "4.3 s" (a finished run's time: most
 * take seconds, and "0:00" says nothing). Whole seconds while a run's clock ticks. */
export function duration(seconds, { tenths = false } = {}) {
  if (seconds === null || seconds === undefined || !isFinite(seconds) || seconds < 0) return "–";
  if (tenths && seconds < 59.95) return `${seconds.toFixed(1)} s`;
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = String(s % 60).padStart(2, "0");
  return h ? `${h}:${String(m).padStart(2, "0")}:${sec}` : `${m}:${sec}`;
}

/** ISO string or Unix seconds -> local "2024-05-01 14:03". */
export function when(value) {
  if (value === null || value === undefined || value === "") return "–";
  const date = typeof value === "number" ? new Date(value < 1e12 ? value * 1000 : value) : new Date(value);
  if (isNaN(date.getTime())) return String(value);
  const pad = (n) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

/** Minimal element builder: h("a", {href, class: "x"}, "text", child). */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") el.className = value;
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
    else if (key in el && typeof value !== "string") el[key] = value;
    else el.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}
