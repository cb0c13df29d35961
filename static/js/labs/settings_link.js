// A lab's settings in its address: #s=<base64url JSON> (hash.js's encoding), beside other hash parts
// such as #config=, so that the page is its own share link.

import { encodeConfig, decodeConfig } from "../hash.js";

const PART = "s=";

/** The settings object of the address (#s=...), merged over `defaults`: {settings, error?}.
 * `absent`: what a key missing from a link means (a setting added later: the link keeps its numbers). */
export function readSettings(defaults, hash = location.hash, { absent = {} } = {}) {
  const text = (hash.startsWith("#") ? hash.slice(1) : hash).split("&").find((p) => p.startsWith(PART));
  const base = structuredClone(defaults);
  if (!text) return { settings: base };
  try {
    const value = decodeConfig(decodeURIComponent(text.slice(PART.length)));
    const settings = { ...base, ...absent };
    for (const key of Object.keys(base)) if (key in value) settings[key] = value[key];
    return { settings };
  } catch (err) {
    return { settings: base, error: err.message };
  }
}

/** Put the settings into the address (keeping other hash parts such as #config=). */
export function writeSettings(settings) {
  const parts = location.hash.replace(/^#/, "").split("&").filter((p) => p && !p.startsWith(PART));
  parts.unshift(PART + encodeConfig(settings));
  const hash = "#" + parts.join("&");
  if (location.hash !== hash) history.replaceState(history.state, "", location.pathname + location.search + hash);
}
