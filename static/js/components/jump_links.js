// In-page links (a[data-jump], e.g. "Edit network ↓") scroll to their target and move the focus
// there, without touching the address: its #config= part is the builder's state, and a hash change
// would reload the builder from it.

export function installJumpLinks(root = document) {
  root.addEventListener("click", (e) => {
    const link = e.target.closest("a[data-jump]");
    if (!link) return;
    const target = document.getElementById(link.getAttribute("href").slice(1));
    if (!target) return;
    e.preventDefault();
    target.scrollIntoView({ block: "start" });
    if (!target.hasAttribute("tabindex")) target.setAttribute("tabindex", "-1");
    target.focus({ preventScroll: true });
  });
}
