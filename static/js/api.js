// HTTP side of the server (docs/internals.md, "server"): small fetch wrappers returning JSON.

async function getJSON(url) {
  const res = await fetch(url, { headers: { Accept: "application/json" } });
  let body = null;
  try { body = await res.json(); } catch (err) { /* not JSON */ }
  if (!res.ok) {
    const error = new Error((body && body.error) || `${url} answered ${res.status} ${res.statusText}`);
    error.status = res.status;
    error.body = body;
    throw error;
  }
  return body;
}

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

/** DELETE /api/runs/<id>: resolves when it is gone; throws an Error with .status (404, 409, ...) otherwise. */
export async function deleteRun(runId) {
  const res = await fetch(`/api/runs/${encodeURIComponent(runId)}`, { method: "DELETE", headers: { Accept: "application/json" } });
  if (res.status === 204) return;
  let body = null;
  try { body = await res.json(); } catch (err) { /* not JSON */ }
  const error = new Error((body && body.error) || `deleting run ${runId}: the server answered ${res.status}`);
  error.status = res.status;
  throw error;
}

/** POST /api/validate -> {ok: true, config} or {ok: false, error, errors}. Network trouble throws. */
export async function validate(config, { signal } = {}) {
  const res = await fetch("/api/validate", {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: JSON.stringify(config),
    signal,
  });
  let body = {};
  try { body = await res.json(); } catch (err) { /* not JSON */ }
  if (res.ok) return { ok: true, ...body };
  if (res.status === 400 || res.status === 422) return { ok: false, error: body.error || "invalid config", errors: body.errors || [] };
  throw new Error(body.error || `/api/validate answered ${res.status}`);
}
