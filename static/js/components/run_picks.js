// The ticked runs of /runs (kept across pages and filters): "Compare N on the dashboard" (at most 10),
// "Delete N ticked", and "Tick this page".

const MAX_COMPARE = 10;

/**
 * el: {compare (the link), remove (the button), pickPage (the checkbox), boxes() (the tick boxes shown)};
 * onDelete([[id, name]]): "Delete N ticked".
 * -> {has(id), set(id, name, ticked), forget(ids), pickAll(runs, on), show({total})}
 */
export function runPicks(el, { onDelete, nameOf }) {
  const picked = new Map();   // run id -> its name
  let total = 0;

  function show() {
    const ids = [...picked.keys()];
    el.compare.hidden = total === 0 && !ids.length;
    const usable = ids.length > 0 && ids.length <= MAX_COMPARE;
    el.compare.href = usable ? `/?compare=${ids.map(encodeURIComponent).join(",")}` : "/";
    el.compare.setAttribute("aria-disabled", String(!usable));
    el.compare.classList.toggle("disabled", !usable);
    el.compare.textContent = !ids.length ? "Tick runs to compare them"
      : ids.length > MAX_COMPARE ? `Compare at most ${MAX_COMPARE} (${ids.length} ticked)` : `Compare ${ids.length} on the dashboard`;
    el.remove.hidden = !ids.length;
    el.remove.textContent = `Delete ${ids.length} ticked`;
    const boxes = el.boxes();
    const ticked = boxes.filter((b) => b.checked).length;
    el.pickPage.checked = boxes.length > 0 && ticked === boxes.length;
    el.pickPage.indeterminate = ticked > 0 && ticked < boxes.length;
    el.pickPage.disabled = boxes.length === 0;
  }

  el.compare.addEventListener("click", (e) => { if (!picked.size || picked.size > MAX_COMPARE) e.preventDefault(); });
  el.remove.addEventListener("click", () => onDelete([...picked.entries()]));

  return {
    has: (id) => picked.has(id),
    set(id, name, ticked) {
      if (ticked) picked.set(id, name); else picked.delete(id);
      show();
    },
    forget(ids) { for (const id of ids) picked.delete(id); },
    /** Tick (or untick) every run of the page shown. */
    pickAll(runs, on) {
      for (const r of runs) {
        if (on) picked.set(r.run_id, nameOf(r)); else picked.delete(r.run_id);
      }
      for (const box of el.boxes()) box.checked = on;
      show();
    },
    show({ total: matching }) {
      total = matching;
      show();
    },
  };
}
