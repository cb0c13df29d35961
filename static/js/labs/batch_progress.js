// The "Train all" bar of a lab (templates/labs/_batch_progress.html, the search's own): a progress bar
// and a line of text.

/** el: the .lab-progress section -> {set(fraction, text, state)}; state: running, done, stopped, error. */
export function batchProgress(el) {
  const fill = el.querySelector(".progress-fill");
  const text = el.querySelector(".lab-progress-text");
  const bar = el.querySelector(".progress");
  return {
    set(fraction, line, state = "running") {
      fill.style.width = `${Math.max(0, Math.min(1, fraction)) * 100}%`;
      bar.dataset.state = state;
      bar.setAttribute("aria-valuenow", String(Math.round(fraction * 100)));
      text.textContent = line;
    },
  };
}
