// Config <-> page address: `#config=<base64url(JSON)>` (design.md: share links).
// Pure functions, no DOM besides `location`/`history`, so they are easy to test in the console.

const PREFIX = "config=";

/** UTF-8 JSON -> base64url without padding. */
export function encodeConfig(config) {
  const bytes = new TextEncoder().encode(JSON.stringify(config));
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** base64url -> object. Throws an Error with a readable message on anything malformed. */
export function decodeConfig(text) {
  if (!text) throw new Error("the link has an empty #config= part");
  if (!/^[A-Za-z0-9_-]+$/.test(text)) throw new Error("the #config= part contains characters that base64url never uses");
  if (text.length % 4 === 1) throw new Error("the #config= part is truncated");
  let b64 = text.replace(/-/g, "+").replace(/_/g, "/");
  while (b64.length % 4) b64 += "=";
  let json;
  try {
    const binary = atob(b64);
    const bytes = Uint8Array.from(binary, (c) => c.charCodeAt(0));
    json = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch (err) {
    throw new Error("the #config= part is not valid base64url text");
  }
  let value;
  try {
    value = JSON.parse(json);
  } catch (err) {
    throw new Error("the #config= part is damaged or truncated (its JSON does not parse)");
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new Error("the #config= part does not describe a configuration object");
  }
  return value;
}

/** The `#config=` payload of a hash string ("" when absent), e.g. readHash("#config=eyJ9") -> "eyJ9". */
export function configPart(hash = location.hash) {
  const h = hash.startsWith("#") ? hash.slice(1) : hash;
  for (const part of h.split("&")) {
    if (part.startsWith(PREFIX)) return part.slice(PREFIX.length);
  }
  return null;
}

/**
 * Read the config from the address.
 * Returns {config} when present and readable, {error} when present but damaged, {} when absent.
 */
export function readConfigFromHash(hash = location.hash) {
  const part = configPart(hash);
  if (part === null) return {};
  try {
    return { config: decodeConfig(decodeURIComponent(part)) };
  } catch (err) {
    return { error: err.message };
  }
}

export function configHash(config) {
  return "#" + PREFIX + encodeConfig(config);
}

/** Keep the address in step with the builder without adding history entries. */
export function writeConfigToHash(config) {
  const hash = configHash(config);
  if (location.hash !== hash) {
    history.replaceState(history.state, "", location.pathname + location.search + hash);
  }
}

/** Link to the dashboard with this config loaded into the builder. */
export function builderLink(config) {
  return "/" + configHash(config);
}
