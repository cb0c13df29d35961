// The player of the optimizer-paths lab: ▶ Play / ❚❚ Pause, a step slider with ‹ and ›, and "step k / n".

/**
 * el: {play, back, forward, slider, label}; onStep(k): show step k; rate(): steps per second.
 * -> {load(steps), play(fromStart), pause(), step, playing}: load(n) sets the last step (n) of a new replay.
 */
export function stepPlayer(el, { onStep, rate }) {
  let steps = null;    // the last step of the replay loaded, null before one is
  let step = 0;
  let timer = null;

  function set(k) {
    if (steps === null) return;
    step = k;
    el.slider.value = String(k);
    el.label.textContent = `step ${k} / ${steps}`;
    onStep(k);
  }
  function pause() {
    clearInterval(timer);
    timer = null;
    el.play.textContent = "▶ Play";
  }
  function play(fromStart = false) {
    pause();
    if (steps === null) return;
    if (fromStart) set(0);
    el.play.textContent = "❚❚ Pause";
    timer = setInterval(() => {
      if (step >= steps) { pause(); return; }
      set(step + 1);
    }, 1000 / Math.max(1, rate()));
  }

  el.slider.addEventListener("input", () => { pause(); set(Number(el.slider.value)); });
  el.play.addEventListener("click", () => (timer ? pause() : play(step >= steps)));
  el.back.addEventListener("click", () => { pause(); set(Math.max(0, step - 1)); });
  el.forward.addEventListener("click", () => { pause(); set(Math.min(steps, step + 1)); });

  return {
    load(n) {
      steps = n;
      el.slider.max = String(n);
    },
    play,
    pause,
    /** Show step k again (the charts were redrawn). */
    redraw: () => set(step),
    get playing() { return timer !== null; },
  };
}
