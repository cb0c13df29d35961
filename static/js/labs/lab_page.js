// The frame every lab page shares (templates/labs/_lab.html): its settings read from the address and
// written back on every change, the settings form, "Copy link", "Book settings", the page's notice,
// the connection badge and the page's one Socket.IO connection (opened on first use).

import { lazySocket } from "../socket.js";
import { connectionBadge } from "../components/connection_badge.js";
import { hideNotice, showNotice } from "../components/notice.js";
import { readSettings, writeSettings } from "./settings_link.js";
import { settingsForm } from "./settings_form.js";

const COPIED_MS = 1500;
const unreadable = (error) => `The settings in this link could not be read (${error}); the book's settings are shown.`;

/**
 * book: the lab's settings (the book's experiment); absent: what a key missing from a link means
 * (settings_link.js); readNotice(error): the warning for a link that cannot be read (null: none).
 * -> {settings, error, info: {slug, maxPerClient, workers, searchWorkers, runId}, socket(), save(),
 *     notice(text, kind = "error") (text null: hidden), form(fields, onChange, opts), onReset(fn)}
 */
export function labPage({ book, absent = {}, readNotice = unreadable }) {
  const root = document.getElementById("lab");
  const noticeEl = document.getElementById("page-notice");
  const { settings, error } = readSettings(book, location.hash, { absent });
  let form = null;
  const notice = (text, kind = "error") => (text ? showNotice(noticeEl, text, { kind }) : hideNotice(noticeEl));
  if (error && readNotice) notice(readNotice(error), "warning");
  copyLink(document.getElementById("copy-link"));

  return {
    settings,
    error,
    info: {
      slug: root.dataset.slug || "",
      maxPerClient: Math.max(1, Number(root.dataset.maxPerClient || 4)),
      workers: Number(root.dataset.workers || 1),
      searchWorkers: Number(root.dataset.searchWorkers || 1),
      runId: root.dataset.runId || "",
    },
    socket: lazySocket({ onConnection: connectionBadge(document.getElementById("conn")).show }),
    save: () => writeSettings(settings),
    notice,
    /** The settings form in #fields (settings_form.js): onChange(key) after each accepted edit. */
    form(fields, onChange, options) {
      form = settingsForm(document.getElementById("fields"), fields, settings, onChange, options);
      return form;
    },
    /** "Book settings": the settings back to `book`, the form showing them, then fn(); fn may first
     * refuse by returning false from `allow` (a batch still training). */
    onReset(fn, { allow = () => true } = {}) {
      document.getElementById("reset").addEventListener("click", () => {
        if (!allow()) return;
        Object.assign(settings, structuredClone(book));
        if (form) form.sync();
        fn();
      });
    },
  };
}

function copyLink(button) {
  if (!button) return;
  button.addEventListener("click", async () => {
    const url = location.href;
    let ok = false;
    try { await navigator.clipboard.writeText(url); ok = true; } catch (err) { ok = false; }
    if (!ok) { window.prompt("Copy this link:", url); return; }
    const old = button.textContent;
    button.textContent = "✓ Link copied";
    setTimeout(() => { button.textContent = old; }, COPIED_MS);
  });
}
