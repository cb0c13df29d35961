// The connection badge in the header (#conn): hidden until something connects, then the Socket.IO state.

const STATE_TEXT = {
  connected: "connected",
  disconnected: "connection lost — reconnecting…",
  error: "cannot reach the server — retrying…",
};

/** el: the badge. -> {show(state)}, state as lazySocket's onConnection hears it. */
export function connectionBadge(el) {
  return {
    show(state) {
      if (!el) return;
      el.hidden = false;
      el.dataset.state = state;
      el.textContent = STATE_TEXT[state] || state;
    },
  };
}
