// A notice box of a page (#page-notice, #hash-notice, ...): a line of text that shows or hides.

/** Show `text` in `el`; kind ("error", "warning", "info", "success") sets its colours, else they stay. */
export function showNotice(el, text, { kind } = {}) {
  if (!el) return;
  if (kind) el.className = `notice notice-${kind}`;
  el.textContent = text;
  el.hidden = false;
}

export function hideNotice(el) {
  if (el) el.hidden = true;
}
