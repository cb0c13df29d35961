// The server's messages in the builder: each under its input (or at the top of its group: a layer, a
// section), the input marked, and a summary at the top with a link to each.

import { h } from "../../format.js";
import { parents } from "../../config_path.js";

/** The nearest ancestor that scrolls vertically (the desktop sidebar), or null (the page). */
export function scrollParent(el) {
  for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
    const style = getComputedStyle(p);
    if (/(auto|scroll)/.test(style.overflowY) && p.scrollHeight > p.clientHeight) return p;
  }
  return null;
}

/** root: the builder's <form> (with #error-summary). -> {show(errors, title), focus(path), clear(), clearField(path)} */
export function fieldErrors(root) {
  /** Find the input (or the nearest group) for a server field path. */
  function target(path) {
    for (const el of root.querySelectorAll("[data-field]")) if (el.dataset.field === path) return { el, exact: true };
    for (const p of [path, ...parents(path)]) {
      for (const el of root.querySelectorAll("[data-field-group]")) if (el.dataset.fieldGroup === p) return { el, exact: false };
    }
    return null;
  }

  /** errors: [{field, message}] from the server. title: the summary's first line. */
  function show(errors, title) {
    clear();
    if (!errors || !errors.length) return;
    const items = [];
    for (const { field, message } of errors) {
      const found = target(field || "");
      let label = field || "config";
      if (found && found.exact) {
        const input = found.el;
        input.classList.add("invalid");
        input.setAttribute("aria-invalid", "true");
        label = input.dataset.label || field;
        const wrap = input.closest(".field") || input.parentElement;
        if (wrap.hidden) wrap.hidden = false;
        const adv = input.closest("details");
        if (adv) adv.open = true;
        const msg = h("div", { class: "field-error", "data-error-for": field }, message);
        // A layer's type sits in the layer's title row: its message goes on a line of its own below.
        const head = wrap.closest(".layer-head");
        if (head) head.after(msg); else wrap.append(msg);
        input.setAttribute("aria-describedby", (msg.id = "err-" + Math.random().toString(36).slice(2)));
      } else if (found) {
        found.el.classList.add("group-invalid");
        const msg = h("div", { class: "field-error group-error", "data-error-for": field }, `${field}: ${message}`);
        const anchor = found.el.querySelector(":scope > .layer-head, :scope > legend");
        if (anchor) anchor.after(msg); else found.el.prepend(msg);
      }
      items.push(h("li", {},
        h("a", { href: "#", "data-error-link": field, onclick: (e) => { e.preventDefault(); focus(field); } }, label),
        ": ", message));
    }
    const summary = root.querySelector("#error-summary");
    summary.replaceChildren(h("strong", {}, title), h("ul", {}, items));
    summary.hidden = false;
  }

  /**
   * Bring a field into view and focus it. Inside a scrolling sidebar only the sidebar scrolls
   * (never the page); when the error summary and the field both fit, the summary stays visible.
   */
  function focus(path) {
    const found = target(path);
    if (!found) return;
    const el = found.el;
    const box = scrollParent(root);
    if (box) {
      const boxRect = box.getBoundingClientRect();
      const elTop = el.getBoundingClientRect().top - boxRect.top + box.scrollTop;
      const summary = root.querySelector("#error-summary");
      const summaryTop = summary && !summary.hidden ? summary.getBoundingClientRect().top - boxRect.top + box.scrollTop : elTop;
      const fitsWithSummary = elTop + 60 - Math.max(0, summaryTop - 12) < box.clientHeight;
      box.scrollTo({ top: fitsWithSummary ? Math.max(0, summaryTop - 12) : Math.max(0, elTop - box.clientHeight / 2) });
    } else {
      el.scrollIntoView({ block: "center" });
    }
    if (el.focus) el.focus({ preventScroll: true });
  }

  function clear() {
    for (const el of root.querySelectorAll(".field-error")) el.remove();
    for (const el of root.querySelectorAll(".invalid")) { el.classList.remove("invalid"); el.removeAttribute("aria-invalid"); el.removeAttribute("aria-describedby"); }
    for (const el of root.querySelectorAll(".group-invalid")) el.classList.remove("group-invalid");
    const summary = root.querySelector("#error-summary");
    if (summary) { summary.hidden = true; summary.replaceChildren(); }
  }

  function clearField(path) {
    for (const el of root.querySelectorAll(".field-error")) if (el.dataset.errorFor === path) el.remove();
    for (const el of root.querySelectorAll(".invalid")) if (el.dataset.field === path) { el.classList.remove("invalid"); el.removeAttribute("aria-invalid"); }
  }

  return { show, focus, clear, clearField };
}
