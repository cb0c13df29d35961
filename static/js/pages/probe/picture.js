// 28x28 pictures on canvases: a network input (grey, ink bright on black), a signed change (blue
// darker, red brighter), and a picture as the exact PNG a server reads back with preprocess=none.

const SIDE = 28;

/** Grey levels 0..255 of a picture given as 28x28 nested lists or 784 numbers in [0, 1] (or levels). */
export function levels(image, { already = false } = {}) {
  const flat = Array.isArray(image[0]) ? image.flat() : Array.from(image);
  return flat.map((v) => Math.max(0, Math.min(255, Math.round(already ? v : v * 255))));
}

/** Draw a picture into a 28x28 canvas (CSS scales it up, pixelated). */
export function drawPicture(canvas, image, options) {
  const g = canvas.getContext("2d");
  const data = g.createImageData(SIDE, SIDE);
  levels(image, options).forEach((v, i) => data.data.set([v, v, v, 255], i * 4));
  g.putImageData(data, 0, 0);
}

/** A new 28x28 canvas showing `image`; `label` is what a screen reader says. */
export function pictureCanvas(image, label, options) {
  const canvas = document.createElement("canvas");
  canvas.width = SIDE;
  canvas.height = SIDE;
  canvas.className = "probe-picture";
  canvas.setAttribute("role", "img");
  canvas.setAttribute("aria-label", label);
  if (image) drawPicture(canvas, image, options);
  return canvas;
}

/** Draw a change (784 numbers, any sign) scaled so that ±`scale` is full colour: red where the
 * change brightens a pixel, blue where it darkens it, white where it leaves it. */
export function drawChange(canvas, change, scale) {
  const g = canvas.getContext("2d");
  const data = g.createImageData(SIDE, SIDE);
  change.forEach((v, i) => {
    const t = scale > 0 ? Math.max(-1, Math.min(1, v / scale)) : 0;
    const rgb = t >= 0 ? [255 - 63 * t, 255 - 198 * t, 255 - 198 * t] : [255 + 212 * t, 255 + 160 * t, 255 + 75 * t];
    data.data.set([...rgb, 255], i * 4);
  });
  g.putImageData(data, 0, 0);
}

/** The picture as an 8-bit grey PNG (every pixel round(v * 255)): POST /api/predict with
 * preprocess=none reads exactly these numbers back. */
export function pictureBlob(image) {
  const canvas = document.createElement("canvas");
  canvas.width = SIDE;
  canvas.height = SIDE;
  drawPicture(canvas, image);
  return new Promise((resolve) => canvas.toBlob(resolve, "image/png"));
}

/** (1 - s) a + s b, pixel by pixel (784 numbers). */
export function blend(a, b, s) {
  const fa = a.flat(), fb = b.flat();
  return fa.map((v, i) => (1 - s) * v + s * fb[i]);
}
