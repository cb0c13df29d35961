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

// ---------------------------------------------------------------- probing a trained network (server/probe.py)

/** `json`, but a busy server (503 with Retry-After: all its probe slots taken) is asked again, up to
 * `retries` times, after the pause it asks for. */
async function probeJSON(url, init = {}, retries = 3) {
  try {
    return await json(url, init);
  } catch (err) {
    if (err.status !== 503 || retries <= 0) throw err;
    await new Promise((resolve) => setTimeout(resolve, 1000));
    return probeJSON(url, init, retries - 1);
  }
}

const probeUrl = (runId, what = "") => `/api/probe/${encodeURIComponent(runId || "default")}${what ? "/" + what : ""}`;
const query = (settings = {}) => {
  const q = new URLSearchParams();
  for (const [key, value] of Object.entries(settings)) if (value !== undefined && value !== null && value !== "") q.set(key, String(value));
  const text = q.toString();
  return text ? `?${text}` : "";
};
const probePost = (url, body) => probeJSON(url, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });

/** GET /api/runs/<id>/dreams -> {images: 10 x 28x28, probabilities, steps, settings, frames?, own_probability}. */
export const getDreams = (runId, settings) => probeJSON(`/api/runs/${encodeURIComponent(runId || "default")}/dreams${query(settings)}`);
/** GET /api/probe/<id> -> {model, about, layers, test_images, accuracy, loss, config?}. */
export const getProbeInfo = (runId) => probeJSON(probeUrl(runId));
/** GET /api/probe/<id>/examples -> {digits: 10 x [{index, image}]}: the network's own test images. */
export const getExamples = (runId, count = 3) => probeJSON(probeUrl(runId, "examples") + query({ count }));
/** POST /api/probe/<id>/surgery {off, image?, layer?, k?} -> {accuracy, intact_accuracy, off, probabilities?, ...}. */
export const postSurgery = (runId, body) => probePost(probeUrl(runId, "surgery"), body);
/** GET /api/probe/<id>/rank?layer=i -> {units: [{unit, drop, accuracy, loss}], accuracy, images}. */
export const getRank = (runId, layer) => probeJSON(probeUrl(runId, "rank") + query({ layer }));
/** GET /api/probe/<id>/robustness -> {noise, blur: [{sigma, accuracy, example}], images}. */
export const getRobustness = (runId, settings) => probeJSON(probeUrl(runId, "robustness") + query(settings));
/** POST /api/probe/<id>/morph {a, b, points} -> {s, probabilities, predictions, flips}. */
export const postMorph = (runId, body) => probePost(probeUrl(runId, "morph"), body);

/** POST a picture (Blob) as multipart `image` with extra form fields to `url`. */
function postPicture(url, blob, fields) {
  const form = new FormData();
  form.append("image", blob, "digit.png");
  for (const [key, value] of Object.entries(fields)) if (value !== undefined && value !== null && value !== "") form.append(key, String(value));
  return probeJSON(url, { method: "POST", body: form });
}
/** POST /api/adversarial -> {original: {input, prediction, probabilities}, epsilon, perturbed, prediction, probabilities, curve}. */
export const postAdversarial = (blob, fields) => postPicture("/api/adversarial", blob, fields);
/** POST /api/predict with form fields ({run_id, preprocess: "none" for a 28x28 picture taken as it is}) ->
 * {prediction, probabilities, input}. */
export const postPredict = (blob, fields) => postPicture("/api/predict", blob, fields);
