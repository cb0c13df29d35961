// The socket side of a hyperparameter search (server/labs.py): search:start {config, trials, lr,
// weight_decay} (ack {search_id, trials, workers} | {error}), search:stop {search_id}; the server emits
// search:trial, search:done and search:error to the connection that started it. A search belongs to
// that connection: the server stops it when the connection goes away.

const ACK_TIMEOUT_MS = 20000;

/**
 * socket(): the page's RunSocket (lazySocket). hooks: onTrial(p), onDone(p), onError(p) for the search
 * running, onLost() when the connection dropped while one ran.
 * -> {start(payload) -> ack, stop() -> ack, running}
 */
export function searchClient(socket, { onTrial, onDone, onError, onLost }) {
  let searchId = null;   // the search this page runs, null when none
  let wired = false;

  function io() {
    const { io: client } = socket();
    if (!wired) {
      wired = true;
      // each search has its own room; events of another search are not this page's
      client.on("search:trial", (p) => { if (p.search_id === searchId) onTrial(p); });
      client.on("search:done", (p) => {
        if (p.search_id !== searchId) return;
        searchId = null;
        onDone(p);
      });
      client.on("search:error", (p) => { if (p.search_id === searchId) onError(p); });
      client.on("disconnect", () => {
        if (!searchId) return;
        searchId = null;
        onLost();
      });
    }
    return client;
  }

  function emit(event, payload) {
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve({ error: `the server did not answer ${event}` }), ACK_TIMEOUT_MS);
      io().emit(event, payload, (ack) => { clearTimeout(timer); resolve(ack || {}); });
    });
  }

  io();   // listen from the start: a search's first trials can come right after its ack
  return {
    async start(payload) {
      const ack = await emit("search:start", payload);
      if (!ack.error) searchId = ack.search_id;
      return ack;
    },
    stop: () => (searchId ? emit("search:stop", { search_id: searchId }) : Promise.resolve({})),
    get running() { return searchId !== null; },
  };
}
