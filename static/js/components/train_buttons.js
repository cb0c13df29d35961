// Train on the dashboard: one button above the charts, one at the end of the builder (a phone shows the
// builder below the charts); they are one button: both wait for the server's answer together. A run the
// server refuses has its reasons marked in the builder.

/**
 * buttons: the Train buttons; builder, status (StatusPanel), live (Live); checks: the config check,
 * cancelled by Train; runBar: the bar above the charts, scrolled to when Train is pressed out of its sight.
 */
export function trainButtons(buttons, { builder, status, live, checks, runBar }) {
  const setDisabled = (disabled) => { for (const b of buttons) b.disabled = disabled; };

  /** Train pressed at the end of the builder, below the charts on a phone: show what it did there. */
  function showRunBar(button) {
    if (button.id === "train-end" && runBar && !inView(runBar)) runBar.scrollIntoView({ block: "start" });
  }

  async function train(button) {
    checks.cancel();
    const config = builder.getConfig();
    setDisabled(true);
    status.clear("starting", "Sending the settings to the server…");
    let ack;
    try {
      ack = await live.start(config, { name: config.name, origin: { kind: "dashboard" } });
    } catch (err) {
      status.failed(null, err.message);
      setDisabled(false);
      showRunBar(button);
      return;
    }
    setDisabled(false);
    if (ack.error) {
      const errors = ack.errors && ack.errors.length ? ack.errors : null;
      if (errors) {
        builder.showErrors(errors, "The server did not start this run. Fix the marked settings:");
        status.set("invalid", `Not started: ${errors.length === 1 ? "1 setting needs" : errors.length + " settings need"} fixing (marked in red in the builder).`);
        builder.focusField(errors[0].field);
      } else {
        status.set("error", `Not started: ${ack.error}`);
        showRunBar(button);
      }
      return;
    }
    builder.clearErrors();
    showRunBar(button);
  }

  setDisabled(false);
  for (const button of buttons) button.addEventListener("click", () => train(button));
}

/** The element is wholly inside the window. */
function inView(el) {
  const r = el.getBoundingClientRect();
  return r.top >= 0 && r.bottom <= window.innerHeight;
}
