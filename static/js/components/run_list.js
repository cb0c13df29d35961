// The compare list: every run drawn on the charts, with its colour, a visibility toggle,
// a link to its permalink and a remove button; plus a picker to add stored runs.

import { h, describeConfig, pct, when } from "../format.js";
import { PALETTE } from "../plot_style.js";
import { permalink } from "../api.js";
import { originGroup, pickerRuns } from "../origin.js";

const STORED_OFFERED = 100; // of the dashboard's runs (and re-runs, and runs from before origins)
const STORED_PER_LAB = 50;  // of each lab's

const STATUS_TEXT = { queued: "queued", running: "running", done: "done", stopped: "stopped", diverged: "diverged", error: "error", starting: "starting" };

export class RunList {
  /**
   * root: element to render into. charts: the Charts instance (visibility, removal).
   * onAddStored(runId): called when the user picks a stored run to overlay.
   * onRemove(runId): called after a run is removed from the list.
   */
  constructor(root, charts, { onAddStored = null, onRemove = () => {}, onStop = null, picker = true } = {}) {
    this.root = root;
    this.charts = charts;
    this.onStop = onStop;
    this.onAddStored = onAddStored;
    this.onRemove = onRemove;
    this.entries = [];
    this.counter = 0;
    this.list = h("ul", { class: "run-list", "aria-label": "Runs on the charts" });
    this.empty = h("p", { class: "muted run-empty" }, "No runs yet. Press Train, or add a stored run below.");
    this.root.replaceChildren(this.list, this.empty);
    if (picker && onAddStored) this._picker();
    this._render();
  }

  nextColor() {
    const used = new Set(this.entries.map((e) => e.color));
    return PALETTE.find((c) => !used.has(c)) || PALETTE[this.counter % PALETTE.length];
  }

  get(id) { return this.entries.find((e) => e.id === id); }

  /** entry: {id, config, status, name?, color?} -> the entry with its colour and short name. */
  add(entry) {
    const existing = this.get(entry.id);
    if (existing) return existing;
    this.counter += 1;
    const e = {
      visible: true, status: "starting", meta: "",
      ...entry,
      color: entry.color || this.nextColor(),
      short: entry.short || `#${this.counter}`,
    };
    e.description = entry.description || describeConfig(e.config);
    this.entries.push(e);
    this._render();
    this.list.scrollTop = this.list.scrollHeight; // the newest run is at the bottom: show it
    return e;
  }

  update(id, fields) {
    const e = this.get(id);
    if (!e) return;
    Object.assign(e, fields);
    this._render();
  }

  remove(id) {
    this.entries = this.entries.filter((e) => e.id !== id);
    this.charts.removeRun(id);
    this._render();
    this.onRemove(id);
  }

  _render() {
    this.empty.hidden = this.entries.length > 0;
    this.list.replaceChildren(...this.entries.map((e) => {
      const toggle = h("input", {
        type: "checkbox", class: "run-visible", checked: e.visible,
        "aria-label": `Show run ${e.short} on the charts`, title: "Show or hide this run on the charts",
        onchange: (ev) => { e.visible = ev.target.checked; this.charts.setVisible(e.id, e.visible); li.classList.toggle("hidden-run", !e.visible); },
      });
      const li = h("li", { class: "run-item" + (e.visible ? "" : " hidden-run"), "data-run-id": e.id, "data-status": e.status },
        h("label", { class: "run-toggle" }, toggle,
          h("span", { class: "swatch", style: `--c:${e.color}`, title: "train: solid line, test: dashed line" },
            h("span", { class: "swatch-solid" }), h("span", { class: "swatch-dash" }))),
        h("div", { class: "run-text" },
          h("div", { class: "run-name" }, h("strong", {}, e.short), " ", e.name ? `${e.name} — ` : "", e.description),
          h("div", { class: "run-meta" }, h("span", { class: `badge badge-${e.status}` }, STATUS_TEXT[e.status] || e.status), " ", e.meta || "")),
        h("span", { class: "run-actions" },
          this.onStop && ["starting", "queued", "running"].includes(e.status)
            ? h("button", { type: "button", class: "icon-btn danger", title: "Stop this run", "aria-label": `Stop run ${e.short}`, onclick: () => this.onStop(e.id) }, "■")
            : null,
          e.stored !== false && e.status !== "starting"
            ? h("a", { class: "icon-btn", href: permalink(e.id), title: "Open this run's permalink page", "aria-label": `Permalink of run ${e.short}` }, "↗")
            : null,
          h("button", { type: "button", class: "icon-btn", title: "Remove from the charts (the stored run is kept)", "aria-label": `Remove run ${e.short} from the charts`, onclick: () => this.remove(e.id) }, "✕")));
      return li;
    }));
  }

  _picker() {
    this.select = h("select", { class: "stored-select", "aria-label": "Stored run to add" }, h("option", { value: "" }, "Add a stored run…"));
    this.addBtn = h("button", { type: "button", class: "btn btn-small", disabled: true, onclick: () => this._addPicked() }, "Add");
    this.select.addEventListener("change", () => { this.addBtn.disabled = !this.select.value; });
    this.select.addEventListener("focus", () => this.refreshStored(), { once: true });
    const refresh = h("button", { type: "button", class: "icon-btn", title: "Reload the list of stored runs", "aria-label": "Reload stored runs", onclick: () => this.refreshStored() }, "⟳");
    this.root.append(h("div", { class: "stored-picker" }, this.select, this.addBtn, refresh));
  }

  /** The stored runs, the dashboard's first, then re-runs and older untagged runs, then one group per
   * lab (a lab batch can hold 32 runs, which would bury the dashboard's own; see pickerRuns). */
  async refreshStored() {
    if (!this.select) return;
    let runs;
    try { runs = await pickerRuns({ own: STORED_OFFERED, perLab: STORED_PER_LAB }); } catch (err) {
      const text = err.status === 403 ? "Listing runs is turned off on this server" : "Could not load stored runs";
      this.select.replaceChildren(h("option", { value: "" }, text));
      return;
    }
    const current = this.select.value;
    const groups = new Map();
    for (const r of runs) {
      const group = originGroup(r.origin);
      if (!groups.has(group.key)) groups.set(group.key, { ...group, options: [] });
      const s = r.summary || {};
      const final = s.final || {};
      const acc = final.test_acc !== undefined && final.test_acc !== null ? `, test ${pct(final.test_acc)}` : "";
      const name = r.config && typeof r.config.name === "string" && r.config.name ? `${r.config.name} — ` : "";
      const label = r.origin && r.origin.label ? `${r.origin.label} · ` : "";
      groups.get(group.key).options.push(h("option", { value: r.run_id },
        `${when(r.created_at)} · ${r.status}${acc} · ${name}${label}${describeConfig(r.config)}`));
    }
    const ordered = [...groups.values()].sort((a, b) => a.order - b.order || a.label.localeCompare(b.label));
    this.select.replaceChildren(h("option", { value: "" }, runs.length ? "Add a stored run…" : "No stored runs yet"),
      ...ordered.map((g) => h("optgroup", { label: g.label }, g.options)));
    this.select.value = current;
    this.addBtn.disabled = !this.select.value;
  }

  async _addPicked() {
    const id = this.select.value;
    if (!id || !this.onAddStored) return;
    this.addBtn.disabled = true;
    try { await this.onAddStored(id); } finally {
      this.select.value = "";
    }
  }
}
