// Tooltips for elements with `data-tip`: one fixed-position bubble on hover or keyboard focus,
// so it is never clipped by the scrolling sidebar. Tapping a "?" on a phone focuses it.

/** Show the data-tip of any element under `root` in one bubble appended to the body. */
export function installTooltips(root = document) {
  let bubble = null;
  let current = null;

  function show(el) {
    if (!bubble) {
      bubble = document.createElement("div");
      bubble.id = "tooltip";
      bubble.setAttribute("role", "tooltip");
      document.body.append(bubble);
    }
    current = el;
    bubble.textContent = el.dataset.tip;
    bubble.hidden = false;
    const r = el.getBoundingClientRect();
    const b = bubble.getBoundingClientRect();
    const margin = 8;
    let left = r.left + r.width / 2 - b.width / 2;
    left = Math.max(margin, Math.min(left, window.innerWidth - b.width - margin));
    let top = r.bottom + 6;
    if (top + b.height > window.innerHeight - margin) top = r.top - b.height - 6;
    bubble.style.left = `${left}px`;
    bubble.style.top = `${Math.max(margin, top)}px`;
  }

  function hide(el) {
    if (bubble && (!el || el === current)) { bubble.hidden = true; current = null; }
  }

  const tipOf = (e) => e.target.closest("[data-tip]");
  root.addEventListener("mouseover", (e) => { const el = tipOf(e); if (el) show(el); });
  root.addEventListener("mouseout", (e) => { const el = tipOf(e); if (el) hide(el); });
  root.addEventListener("focusin", (e) => { const el = tipOf(e); if (el) show(el); });
  root.addEventListener("focusout", (e) => { const el = tipOf(e); if (el) hide(el); });
  root.addEventListener("click", (e) => { if (tipOf(e)) e.preventDefault(); }); // a "?" inside a <label> must not toggle its checkbox
  window.addEventListener("scroll", () => hide(), true);
  document.addEventListener("keydown", (e) => { if (e.key === "Escape") hide(); });
}
