// Lab: gradient check of a whole network in float64 (POST /api/labs/gradcheck?detail=1).
// The network comes from the page's address, in the dashboard's share-link format (#config=<base64url JSON>),
// or a preset; the page follows its address, so editing the #config= part reloads the network.

import { getSchema, postJSON } from "../../api.js";
import { describeConfig } from "../../format.js";
import { configPart, decodeConfig, encodeConfig } from "../../hash.js";
import { configEditor } from "../../labs/config_editor.js";
import { gradcheckView } from "../../labs/gradcheck_view.js";
import { labPage } from "../../labs/lab_page.js";
import { readSettings } from "../../labs/settings_link.js";

const $ = (id) => document.getElementById(id);
const BOOK = { batch: 4, max_entries: 20, seed: 0 };
const linkUnreadable = (error) => `The settings in this link could not be read (${error}).`;

async function main() {
  const lab = labPage({ book: BOOK, readNotice: null });   // said together with the network's own problem
  const { settings } = lab;
  let schema;
  try { schema = await getSchema(); } catch (err) { lab.notice(`Could not load the lab: ${err.message}`); return; }

  const bookConfig = () => structuredClone(schema.presets.overfitting ? schema.presets.overfitting.config : schema.default_config);
  const BOOK_PRESET = schema.presets.overfitting ? "overfitting" : "";
  let config = bookConfig();
  let warning = null;   // a problem with the address, kept on screen after the check has run
  const part = configPart();
  if (part) {
    try { config = configFrom(part); }
    catch (err) { warning = `The network in this link could not be read (${err.message}); the book's overfitting network is shown.`; }
  }
  if (lab.error) warning = [linkUnreadable(lab.error), warning].filter(Boolean).join(" ");
  lab.notice(warning, "warning");

  const view = gradcheckView({ summary: $("summary"), detail: $("summary-detail"), chart: $("chart-errors"), table: $("results") });
  const form = lab.form([
    { key: "batch", label: "Images in the batch", min: 1, max: 64, step: 1, integer: true },
    { key: "max_entries", label: "Entries checked per parameter", min: 1, max: 200, step: 1, integer: true, help: "Chosen at random; each costs two forward passes." },
    { key: "seed", label: "Seed", min: 0, step: 1, integer: true, help: "Picks the images, the initial weights and the checked entries." },
  ], () => run());
  const editor = configEditor({ preset: $("preset"), text: $("config-text"), error: $("config-error"), builder: $("open-builder") }, {
    presets: schema.presets,
    onEdit: (next, { preset }) => {
      config = next;
      warning = null;
      if (preset) editor.show(config);
      run();
    },
  });
  if (!part) editor.choose(BOOK_PRESET);   // no network in the link: say which one is shown

  let seq = 0;   // answers to older settings are dropped
  async function run() {
    lab.save();
    writeConfig(config);
    editor.link(config);
    const mine = ++seq;
    view.checking(`Checking ${describeConfig(config)}…`);
    let result;
    try {
      result = await postJSON("/api/labs/gradcheck?detail=1", { config, batch: settings.batch, max_entries: settings.max_entries, seed: settings.seed });
    } catch (err) {
      if (mine === seq) view.failed(err);
      return;
    }
    if (mine !== seq) return;
    lab.notice(warning, "warning");
    view.show(result);
  }
  $("check").addEventListener("click", run);

  // The page follows its address: a new #config= (typed, pasted or from history) reloads the network, a new #s=
  // the settings. The page's own updates use history.replaceState, which fires no hashchange.
  window.addEventListener("hashchange", () => {
    const read = readSettings(BOOK);
    Object.assign(settings, read.settings);
    form.sync();
    warning = read.error ? linkUnreadable(read.error) : null;
    const next = configPart();
    if (next) {
      try {
        config = configFrom(next);
        editor.choose("");
      } catch (err) {
        warning = [warning, `The network in the new address could not be read (${err.message}); the network shown before is kept.`]
          .filter(Boolean).join(" ");
      }
    } else {
      config = bookConfig();
      editor.choose(BOOK_PRESET);
    }
    editor.clearError();
    lab.notice(warning, "warning");
    editor.show(config);
    run();
  });

  lab.onReset(() => {
    warning = null;
    config = bookConfig();
    editor.choose(BOOK_PRESET);
    editor.show(config);
    run();
  });
  editor.show(config);
  run();
}

/** Put the network into the address's #config= part (keeping the #s= part). */
function writeConfig(config) {
  const parts = location.hash.replace(/^#/, "").split("&").filter((p) => p && !p.startsWith("config="));
  parts.push("config=" + encodeConfig(config));
  history.replaceState(history.state, "", location.pathname + location.search + "#" + parts.join("&"));
}

/** The network of a #config= part (decodeConfig's readable errors, also for a malformed %-escape). */
function configFrom(part) {
  let text = part;
  try { text = decodeURIComponent(part); } catch (err) { /* decodeConfig names the stray characters */ }
  return decodeConfig(text);
}

main();
