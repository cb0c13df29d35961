// Paths into a config as the server names its fields in error messages: "model.hidden_layers[2].units".

/** "model.hidden_layers[2].units" -> ["model", "hidden_layers", 2, "units"] */
export function parsePath(path) {
  const keys = [];
  for (const part of path.split(".")) {
    const m = part.match(/^([^[\]]*)((?:\[\d+\])*)$/);
    if (!m) { keys.push(part); continue; }
    if (m[1]) keys.push(m[1]);
    for (const idx of m[2].matchAll(/\[(\d+)\]/g)) keys.push(Number(idx[1]));
  }
  return keys;
}

export function getPath(obj, path) {
  let cur = obj;
  for (const key of parsePath(path)) {
    if (cur === null || typeof cur !== "object") return undefined;
    cur = cur[key];
  }
  return cur;
}

export function setPath(obj, path, value) {
  const keys = parsePath(path);
  let cur = obj;
  keys.slice(0, -1).forEach((key, i) => {
    if (cur[key] === null || typeof cur[key] !== "object") cur[key] = typeof keys[i + 1] === "number" ? [] : {};
    cur = cur[key];
  });
  cur[keys[keys.length - 1]] = value;
}

/** Parent paths, nearest first: "a.b[2].c" -> ["a.b[2]", "a.b", "a"]. */
export function parents(path) {
  const out = [];
  let p = path;
  for (;;) {
    const cut = Math.max(p.lastIndexOf("."), p.lastIndexOf("["));
    if (cut <= 0) break;
    p = p.slice(0, cut);
    out.push(p);
  }
  return out;
}
