// A small drawing pad: black ink on white with the mouse, a pen or a finger, as the dashboard's
// recognise panel draws (24 px pen on 280 px: MNIST's stroke for a digit that fills the box).

import { h } from "../../format.js";

const SIZE = 280;
const PEN = 24;

/** drawPad({label, onStroke}) -> {element, blob(), clear(), hasInk()}; onStroke() after each stroke. */
export function drawPad({ label, onStroke }) {
  const canvas = h("canvas", { width: SIZE, height: SIZE, class: "probe-pad", role: "img", "aria-label": label });
  const g = canvas.getContext("2d");
  g.lineCap = "round";
  g.lineJoin = "round";
  g.lineWidth = PEN;
  let drawing = null;
  let ink = false;

  const white = () => { g.fillStyle = "#fff"; g.fillRect(0, 0, SIZE, SIZE); g.fillStyle = "#000"; g.strokeStyle = "#000"; };
  white();
  const at = (ev) => {
    const r = canvas.getBoundingClientRect();
    return { x: (ev.clientX - r.left) * SIZE / r.width, y: (ev.clientY - r.top) * SIZE / r.height };
  };
  canvas.addEventListener("pointerdown", (ev) => {
    if (ev.button > 0) return;
    ev.preventDefault();
    try { canvas.setPointerCapture(ev.pointerId); } catch (err) { /* synthetic events */ }
    drawing = { id: ev.pointerId, last: at(ev) };
    ink = true;
    g.beginPath();
    g.arc(drawing.last.x, drawing.last.y, PEN / 2, 0, Math.PI * 2);
    g.fill();
  });
  canvas.addEventListener("pointermove", (ev) => {
    if (!drawing || ev.pointerId !== drawing.id) return;
    ev.preventDefault();
    const p = at(ev);
    g.beginPath();
    g.moveTo(drawing.last.x, drawing.last.y);
    g.lineTo(p.x, p.y);
    g.stroke();
    drawing.last = p;
  });
  const end = (ev) => {
    if (!drawing || (ev && ev.pointerId !== drawing.id)) return;
    drawing = null;
    if (onStroke) onStroke();
  };
  canvas.addEventListener("pointerup", end);
  canvas.addEventListener("pointercancel", end);
  canvas.addEventListener("lostpointercapture", end);

  return {
    element: canvas,
    hasInk: () => ink,
    clear() { white(); ink = false; },
    blob: () => new Promise((resolve) => canvas.toBlob(resolve, "image/png")),
  };
}
