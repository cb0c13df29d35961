// The look-inside lab's images of a network's first layer.

import { h } from "../format.js";

/**
 * The first layer's weights drawn as small images (GET /api/labs/inside's first_layer): a dense unit's
 * 784 input weights as 28×28, a conv filter's k×k kernel, a maxout unit's k pieces side by side; red for
 * positive, blue for negative, white for 0. box: where they go; key: the colour key's text.
 */
export function showFirstLayer(box, key, first) {
  box.classList.toggle("maxout-units", first.kind === "maxout");
  key.textContent = first.kind === "maxout" ? "each unit's pieces scaled together to their largest weight"
    : "each image scaled to its own largest weight";
  if (!first.images.length) { box.replaceChildren(h("p", { class: "muted" }, "The first layer does not take 28×28 images.")); return; }
  // a dense unit's 784 input weights as 28×28, or a conv filter's k×k kernel
  const [height, width] = first.image_shape || [28, 28];
  const name = first.kind === "conv" ? "filter" : "unit";
  box.setAttribute("aria-label", first.kind === "conv" ? `The first conv layer's kernels, drawn as ${height} by ${width} images`
    : first.kind === "maxout" ? `The first maxout layer's ${first.pieces} pieces of each unit, each drawn as a 28 by 28 image`
    : "The first layer's weights into each unit, drawn as 28 by 28 images");
  if (first.kind === "maxout") {
    // k images per unit, one after another on the server's side: a framed group per unit
    const k = first.pieces;
    box.style.setProperty("--pieces", k);
    const groups = [];
    for (let unit = 0; unit * k < first.images.length; unit++) {
      const pieces = first.images.slice(unit * k, (unit + 1) * k)
        .map((img, j) => image(img, width, height, `unit ${unit + 1}, piece ${j + 1} of ${k}`));
      groups.push(h("span", { class: "maxout-unit", title: `unit ${unit + 1}: the max of these ${k} pieces` }, ...pieces));
    }
    box.replaceChildren(...groups);
    return;
  }
  box.replaceChildren(...first.images.map((img, unit) => image(img, width, height, `${name} ${unit + 1}`)));
}

/** One weight image on a canvas: red for positive, blue for negative, white for 0 (v in -127..127). */
function image(img, width, height, title) {
  const canvas = h("canvas", { width, height, title });
  const ctx = canvas.getContext("2d");
  const data = ctx.createImageData(width, height);
  img.forEach((v, i) => {
    const t = v / 127;   // -1 .. 1
    const [r, g, b] = t >= 0 ? [255 - 63 * t, 255 - 198 * t, 255 - 198 * t] : [255 + 212 * t, 255 + 160 * t, 255 + 75 * t];
    data.data.set([r, g, b, 255], i * 4);
  });
  ctx.putImageData(data, 0, 0);
  return canvas;
}
