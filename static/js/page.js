// Bits every page uses: notices and the connection badge in the header.

export function showNotice(el, text, { kind } = {}) {
  if (!el) return;
  if (kind) el.className = `notice notice-${kind}`;
  el.textContent = text;
  el.hidden = false;
}

const CONN_TEXT = {
  connected: "connected",
  disconnected: "connection lost — reconnecting…",
  error: "cannot reach the server — retrying…",
};

/** Show the Socket.IO connection state in the header (only once something connects). */
export function watchConnection() {
  const badge = document.getElementById("conn");
  if (!badge) return;
  document.addEventListener("playground:connection", (e) => {
    const state = e.detail.state;
    badge.hidden = false;
    badge.dataset.state = state;
    badge.textContent = CONN_TEXT[state] || state;
  });
}
