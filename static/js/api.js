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

// ---------------------------------------------------------------- probing a trained network (server/probe.py)

/** A JSON answer, or an Error with .status, .errors (fields at fault) and the server's message. */
async function answer(res, url) {
  let body = null;
  try { body = await res.json(); } catch (err) { /* not JSON */ }
  if (!res.ok) {
    const error = new Error((body && body.error) || `${url} answered ${res.status} ${res.statusText}`);
    error.status = res.status;
    error.errors = body && body.errors;
    throw error;
  }
  return body;
}

/** fetch, then the JSON answer; a busy server (503 with Retry-After) is asked again, up to `retries` times. */
async function send(url, init, retries = 3) {
  let res;
  try { res = await fetch(url, { ...init, headers: { Accept: "application/json", ...(init.headers || {}) } }); } catch (err) {
    throw new Error(`cannot reach the server (${err.message})`);
  }
  const wait = Number(res.headers.get("Retry-After"));
  if (res.status === 503 && retries > 0 && wait > 0) {
    await new Promise((resolve) => setTimeout(resolve, wait * 1000));
    return send(url, init, retries - 1);
  }
  return answer(res, url);
}

const probeUrl = (runId, what = "") => `/api/probe/${encodeURIComponent(runId || "default")}${what ? "/" + what : ""}`;
const query = (settings = {}) => {
  const q = new URLSearchParams();
  for (const [key, value] of Object.entries(settings)) if (value !== undefined && value !== null && value !== "") q.set(key, String(value));
  const text = q.toString();
  return text ? `?${text}` : "";
};
const postJSON = (url, body) => send(url, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });

/** GET /api/runs/<id>/dreams -> {images: 10 x 28x28, probabilities, steps, settings, frames?, own_probability}. */
export const getDreams = (runId, settings) => send(`/api/runs/${encodeURIComponent(runId || "default")}/dreams${query(settings)}`, {});
/** GET /api/probe/<id> -> {model, about, layers, test_images, accuracy, loss, config?}. */
export const getProbeInfo = (runId) => send(probeUrl(runId), {});
/** GET /api/probe/<id>/examples -> {digits: 10 x [{index, image}]}: the network's own test images. */
export const getExamples = (runId, count = 3) => send(probeUrl(runId, "examples") + query({ count }), {});
/** POST /api/probe/<id>/surgery {off, image?, layer?, k?} -> {accuracy, intact_accuracy, off, probabilities?, ...}. */
export const postSurgery = (runId, body) => postJSON(probeUrl(runId, "surgery"), body);
/** GET /api/probe/<id>/rank?layer=i -> {units: [{unit, drop, accuracy, loss}], accuracy, images}. */
export const getRank = (runId, layer) => send(probeUrl(runId, "rank") + query({ layer }), {});
/** GET /api/probe/<id>/robustness -> {noise, blur: [{sigma, accuracy}], images}. */
export const getRobustness = (runId, settings) => send(probeUrl(runId, "robustness") + query(settings), {});
/** POST /api/probe/<id>/morph {a, b, points} -> {s, probabilities, predictions, flips}. */
export const postMorph = (runId, body) => postJSON(probeUrl(runId, "morph"), body);

/** POST a picture (Blob) as multipart `image` with extra form fields to `url`. */
function postPicture(url, blob, fields) {
  const form = new FormData();
  form.append("image", blob, "digit.png");
  for (const [key, value] of Object.entries(fields)) if (value !== undefined && value !== null && value !== "") form.append(key, String(value));
  return send(url, { method: "POST", body: form });
}
/** POST /api/adversarial -> {original: {input, prediction, probabilities}, epsilon, perturbed, prediction, probabilities, curve}. */
export const postAdversarial = (blob, fields) => postPicture("/api/adversarial", blob, fields);
/** POST /api/predict -> {prediction, probabilities, input}; preprocess "none" takes a 28x28 picture as it is. */
export const postPredict = (blob, fields) => postPicture("/api/predict", blob, fields);
