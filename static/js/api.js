// The HTTP side of the server (docs/internals.md, "server"): the one place the pages call fetch.
// A refusal throws an Error with the server's message and .status (and .errors, .body when it sent
// them); a server that cannot be reached throws one with .network set.

async function send(url, init = {}) {
  try {
    return await fetch(url, init);
  } catch (err) {
    if (err.name === "AbortError") throw err;
    const error = new Error(`cannot reach the server (${err.message})`);
    error.network = true;
    throw error;
  }
}

async function bodyOf(res) {
  try { return await res.json(); } catch (err) { return null; }   // not JSON
}

/** The JSON answer of a request; a 4xx or 5xx throws (message: the server's `error`, else `fallback`). */
async function json(url, init, fallback = (res) => `${url} answered ${res.status}`) {
  const res = await send(url, { ...init, headers: { Accept: "application/json", ...(init && init.headers) } });
  const body = await bodyOf(res);
  if (!res.ok) {
    const error = new Error((body && body.error) || fallback(res));
    error.status = res.status;
    error.errors = body && body.errors;
    error.body = body;
    throw error;
  }
  return body;
}

export const getJSON = (url) => json(url);
export const postJSON = (url, body) => json(url, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });

export const getSchema = () => getJSON("/api/schema");

/** GET /api/runs with filters {origin, status, q, batch, source, limit, offset, facets} (empty ones left out)
 * -> {runs, total, limit, offset, facets?}. */
export function listRuns(params = {}) {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") query.set(key, String(value));
  }
  const text = query.toString();
  return getJSON(text ? `/api/runs?${text}` : "/api/runs");
}
export const getRun = (runId) => getJSON(`/api/runs/${encodeURIComponent(runId)}`);
export const weightsUrl = (runId) => `/api/runs/${encodeURIComponent(runId)}/weights.npz`;
export const permalink = (runId) => `/runs/${encodeURIComponent(runId)}`;
export const insideLink = (runId) => `/labs/inside/${encodeURIComponent(runId)}`;

/** DELETE /api/runs/<id>: resolves when it is gone; throws an Error with .status (404, 409, ...) otherwise. */
export async function deleteRun(runId) {
  const res = await send(`/api/runs/${encodeURIComponent(runId)}`, { method: "DELETE", headers: { Accept: "application/json" } });
  if (res.status === 204) return;
  const body = await bodyOf(res);
  const error = new Error((body && body.error) || `deleting run ${runId}: the server answered ${res.status}`);
  error.status = res.status;
  throw error;
}

/** HEAD of a run's weights: whether the server keeps them (done and stopped runs that trained). */
export async function hasWeights(runId) {
  const res = await send(weightsUrl(runId), { method: "HEAD" });
  return res.ok;
}

/** POST /api/validate -> {ok: true, config} or {ok: false, error, errors}. Network trouble throws. */
export async function validate(config, { signal } = {}) {
  const res = await send("/api/validate", {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: JSON.stringify(config),
    signal,
  });
  const body = (await bodyOf(res)) || {};
  if (res.ok) return { ok: true, ...body };
  if (res.status === 400 || res.status === 422) return { ok: false, error: body.error || "invalid config", errors: body.errors || [] };
  throw new Error(body.error || `/api/validate answered ${res.status}`);
}

/** POST /api/predict with a picture (a Blob) and optionally a run's weights ->
 * {prediction, probabilities: [10], input: 28x28, model}. A refusal says why ("the server answered 413"
 * when it sent no reason). */
export async function predictDigit(image, filename, runId = null) {
  const form = new FormData();
  form.append("image", image, filename);
  if (runId) form.append("run_id", runId);
  const body = await json("/api/predict", { method: "POST", body: form }, (res) => `the server answered ${res.status}`);
  if (!body || body.error) throw new Error((body && body.error) || "the server sent no prediction");
  return body;
}

/** GET /api/predict/default-model -> {accuracy: {heldout_mnist, ...}, ...}. */
export const defaultModel = () => getJSON("/api/predict/default-model");
