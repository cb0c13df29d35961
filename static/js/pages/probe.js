// "Probe a network" (templates/labs/probe.html): dreams, adversarial digits, robustness, neuron surgery and
// morphing on the default model or any finished run, each panel a module of pages/probe/ over the
// endpoints of server/probe.py (static/js/api.js).

import { describeConfig, h, pct, when } from "../format.js";
import { labPage } from "../labs/lab_page.js";
import { settingsForm } from "../labs/settings_form.js";
import { getExamples, getProbeInfo, listRuns } from "../api.js";
import { adversarialPanel } from "./probe/adversarial.js";
import { digitSource } from "./probe/digit_source.js";
import { dreamsPanel } from "./probe/dreams.js";
import { morphPanel } from "./probe/morph.js";
import { robustnessPanel } from "./probe/robustness.js";
import { surgeryPanel } from "./probe/surgery.js";

const DEFAULTS = { run: "default", compare: "", steps: 200, start: "grey", l2: 1, smoothness: 0.5, target: "any", max_epsilon: 0.5 };
const WITH_WEIGHTS = new Set(["done", "stopped"]);
const $ = (id) => document.getElementById(id);
const DIGIT_OPTIONS = [["any", "any other digit"], ...[...Array(10).keys()].map((d) => [String(d), `the digit ${d}`])];

function main() {
  const lab = labPage({ book: DEFAULTS, readNotice: (error) => `The settings in this link could not be read (${error}).` });
  const { settings } = lab;
  const showNotice = (text, kind) => lab.notice(text, kind);
  if (lab.info.runId) settings.run = lab.info.runId;                // /labs/probe/<run_id>
  const labels = { default: "The default model" };
  const label = (id) => labels[id] || `run ${id}`;

  const dreams = dreamsPanel({ rows: $("dream-rows"), chart: $("dream-chart"), settingsLine: $("dream-settings"), onError: showNotice });
  const attack = adversarialPanel({ settings: () => settings, model: () => settings.run, onError: showNotice });
  const robustness = robustnessPanel({ onError: showNotice });
  const surgery = surgeryPanel({ model: () => settings.run, onError: showNotice });
  const morph = morphPanel({ model: () => settings.run, onError: showNotice });
  const sources = {
    attack: digitSource({ id: "attack-digit", legend: "The digit to attack", model: () => settings.run, onError: showNotice, onPick: (p) => attack.attack(p) }),
    surgery: digitSource({ id: "surgery-digit", legend: "A digit to watch", model: () => settings.run, onError: showNotice, onPick: (p) => surgery.setPicture(p), draw: false }),
    a: digitSource({ id: "morph-a-digit", legend: "A (s = 0)", model: () => settings.run, onError: showNotice, onPick: (p) => morph.setEnd("a", p) }),
    b: digitSource({ id: "morph-b-digit", legend: "B (s = 1)", model: () => settings.run, onError: showNotice, onPick: (p) => morph.setEnd("b", p) }),
  };
  $("attack-source").append(sources.attack.element);
  $("surgery-source").append(sources.surgery.element);
  $("morph-a").append(sources.a.element);
  $("morph-b").append(sources.b.element);

  const networks = () => [{ id: settings.run, label: label(settings.run) },
    ...(settings.compare && settings.compare !== settings.run ? [{ id: settings.compare, label: label(settings.compare) }] : [])];
  const dream = () => dreams.show(networks(), { steps: settings.steps, start: settings.start, l2: settings.l2, smoothness: settings.smoothness });

  const dreamForm = settingsForm($("dream-fields"), [
    { key: "steps", label: "Steps", min: 1, max: 2000, step: 10, integer: true },
    { key: "start", label: "Start from", type: "select", options: [["grey", "plain grey"], ["noise", "random noise"]] },
    { key: "l2", label: "L2 penalty", min: 0, max: 100, step: 0.5, help: "Pulls every pixel towards black: larger, darker dreams." },
    { key: "smoothness", label: "Smoothness penalty", min: 0, max: 100, step: 0.5, help: "Pulls each pixel towards its neighbours: larger, blurrier dreams." },
  ], settings, () => { save(); dream(); });
  const attackForm = settingsForm($("attack-fields"), [
    { key: "target", label: "Push the answer towards", type: "select", options: DIGIT_OPTIONS },
    { key: "max_epsilon", label: "Largest ε tried", min: 0.004, max: 1, step: 0.05, help: "1 would allow any picture at all." },
  ], settings, () => { save(); if (sources.attack.current) attack.attack(sources.attack.current); });

  const save = lab.save;

  const select = $("run-select"), compare = $("compare-select");
  select.addEventListener("change", () => {
    settings.run = select.value;
    const path = settings.run === "default" ? "/labs/probe" : `/labs/probe/${encodeURIComponent(settings.run)}`;
    history.replaceState(history.state, "", path + location.hash);
    load();
  });
  compare.addEventListener("change", () => { settings.compare = compare.value; save(); dream(); robustness.clear(); });
  $("dream-again").addEventListener("click", () => dreams.show(networks(), { steps: settings.steps, start: "noise", l2: settings.l2,
    smoothness: settings.smoothness, seed: Math.floor(Math.random() * 1e6) }));
  $("robust-go").addEventListener("click", () => robustness.measure(networks()));

  listRuns({ status: "done,stopped", limit: 200 }).then(({ runs }) => {
    const usable = runs.filter((r) => WITH_WEIGHTS.has(r.status));
    for (const r of usable) labels[r.run_id] = r.config && r.config.name ? r.config.name : `run ${r.run_id.slice(0, 8)}`;
    const options = () => [h("option", { value: "default" }, "The default model"),
      ...usable.map((r) => h("option", { value: r.run_id }, `${labels[r.run_id]} · ${when(r.finished_at || r.created_at)} · ${describeConfig(r.config)}`))];
    select.replaceChildren(...options());
    compare.replaceChildren(h("option", { value: "" }, "nothing"), ...options());
    if (settings.run !== "default" && !usable.some((r) => r.run_id === settings.run)) select.append(h("option", { value: settings.run }, label(settings.run)));
    select.value = settings.run;
    compare.value = settings.compare;
    if (settings.compare) dream();           // the labels are known now
  }).catch(() => { /* listing runs may be turned off: the page's own run and the default model remain */ });

  async function load() {
    save();
    showNotice(null);
    robustness.clear();
    $("subject-line").textContent = "Loading the network…";
    let info, examples;
    try {
      [info, { digits: examples }] = await Promise.all([getProbeInfo(settings.run), getExamples(settings.run, 3)]);
    } catch (err) {
      $("subject-line").textContent = "";
      showNotice(err.status === 404 ? `There is no stored run ${settings.run}.` : `This network cannot be probed: ${err.message}`);
      return;
    }
    const what = info.config ? describeConfig(info.config) : info.about;
    const line = [h("strong", {}, label(info.model)), " · ", what, ` · test accuracy ${pct(info.accuracy)} on ${info.test_images} images it never trained on`];
    if (info.model !== "default") {
      line.push(" · ", h("a", { href: `/runs/${encodeURIComponent(info.model)}` }, "its run"), " · ",
        h("a", { href: `/labs/inside/${encodeURIComponent(info.model)}` }, "look inside"));
    }
    $("subject-line").replaceChildren(...line);
    for (const source of Object.values(sources)) source.setExamples(examples);
    surgery.setLayers(info.layers, info.accuracy);
    dream();
    sources.attack.pick(7, 0);
    sources.surgery.pick(3, 0);
    sources.a.pick(1, 0);
    sources.b.pick(7, 0);
  }

  // "Defaults": the dream and attack settings back to theirs; the networks on show stay
  lab.onReset(() => {
    settings.run = select.value || settings.run;
    settings.compare = compare.value;
    dreamForm.sync();
    attackForm.sync();
    save();
    dream();
  });
  load();
}

main();
