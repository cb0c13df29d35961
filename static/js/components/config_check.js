// Checks the builder's config with the server while the user edits (POST /api/validate), a quarter of
// a second after the last finished edit, and marks what the server refuses in the builder.

import { validate } from "../api.js";

const WAIT_MS = 250;

/** builder: the Builder; onValid(): the server accepts the config shown.
 * -> {schedule(config) (after an edit), check(config) (now), cancel() (Train takes over)} */
export function configCheck(builder, { onValid = () => {} } = {}) {
  let timer = null;
  let seq = 0;          // a newer edit is being checked: older answers are dropped

  async function check(config) {
    const mine = ++seq;
    let result;
    try { result = await validate(config); } catch (err) { return; }   // Train will say what is wrong
    if (mine !== seq) return;
    if (result.ok) {
      builder.clearErrors();
      onValid();
    } else {
      builder.showErrors(result.errors && result.errors.length ? result.errors : [{ field: "config", message: result.error }],
        "Some settings are not valid yet:");
    }
  }

  return {
    check,
    schedule(config) {
      clearTimeout(timer);
      timer = setTimeout(() => check(config), WAIT_MS);
    },
    cancel() {
      clearTimeout(timer);
      seq++;
    },
  };
}
