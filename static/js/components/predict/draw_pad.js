// The picture of the predict panel: a 280x280 canvas to draw on, or an uploaded file.
//
// - Drawing: pointer events (mouse, pen, touch), black ink on a transparent background (exported as PNG
//   with alpha, which the server flattens onto white). The pen is 24 px wide: about MNIST's stroke
//   relative to a digit that fills most of the box. A stroke that ends is a new picture.
// - Upload: any PNG/JPEG (also GIF/BMP/WebP) file is sent as is, unless it is over the 2 MB upload cap
//   (a phone photo): then it is shrunk to 1024 px in the browser first. A preview is drawn into the canvas.

const PEN = 24;                              // canvas px: about MNIST's stroke (0.12-0.14 of the digit height) for a 180-200 px digit
const UPLOAD_LIMIT_BYTES = 2 * 1024 * 1024;  // the server's MAX_CONTENT_LENGTH
const SHRINK_TO_PX = 1024;

/**
 * canvas: the drawing area; fileInput: the upload <input type=file>.
 * onUpload(): a file was picked (the picture shown is about to change); onPicture(): a new picture is
 * ready to be recognised (a stroke ended, an upload was read).
 * -> {hasInk, picture() -> Promise<{blob, filename}>, uploadNote, clear()}
 */
export function drawPad(canvas, fileInput, { onUpload = () => {}, onPicture = () => {} } = {}) {
  const g = canvas.getContext("2d");
  let drawing = null;     // {id, last} while a pointer is down
  let hasInk = false;
  let uploaded = null;    // the uploaded File while it is what the canvas shows (no strokes on top)
  let uploadNote = "";    // what was done to the upload before sending it

  g.lineCap = "round";
  g.lineJoin = "round";
  g.lineWidth = PEN;
  g.strokeStyle = "#000";
  g.fillStyle = "#000";

  const toCanvas = (ev) => {
    const r = canvas.getBoundingClientRect();
    return { x: (ev.clientX - r.left) * canvas.width / r.width, y: (ev.clientY - r.top) * canvas.height / r.height };
  };

  canvas.addEventListener("pointerdown", (ev) => {
    if (ev.button !== undefined && ev.button > 0) return;
    ev.preventDefault();
    try { canvas.setPointerCapture(ev.pointerId); } catch (_) { /* synthetic events */ }
    const p = toCanvas(ev);
    drawing = { id: ev.pointerId, last: p };
    uploaded = null;            // strokes on top of an uploaded picture: send the canvas from now on
    hasInk = true;
    g.beginPath();
    g.arc(p.x, p.y, PEN / 2, 0, Math.PI * 2);
    g.fill();
  });

  canvas.addEventListener("pointermove", (ev) => {
    if (!drawing || ev.pointerId !== drawing.id) return;
    ev.preventDefault();
    const events = typeof ev.getCoalescedEvents === "function" ? ev.getCoalescedEvents() : [];
    for (const e of (events.length ? events : [ev])) {
      const p = toCanvas(e);
      g.beginPath();
      g.moveTo(drawing.last.x, drawing.last.y);
      g.lineTo(p.x, p.y);
      g.stroke();
      drawing.last = p;
    }
  });

  function endStroke(ev) {
    if (!drawing || (ev && ev.pointerId !== drawing.id)) return;
    drawing = null;
    onPicture();
  }
  canvas.addEventListener("pointerup", endStroke);
  canvas.addEventListener("pointercancel", endStroke);
  canvas.addEventListener("lostpointercapture", endStroke);

  fileInput.addEventListener("change", async () => {
    const file = fileInput.files && fileInput.files[0];
    if (!file) return;
    uploaded = file;
    uploadNote = "";
    hasInk = true;
    onUpload();
    g.clearRect(0, 0, canvas.width, canvas.height);
    let bmp = null;
    if (window.createImageBitmap) {
      try {
        bmp = await createImageBitmap(file);
        const s = Math.min(canvas.width / bmp.width, canvas.height / bmp.height);
        const w = bmp.width * s, h = bmp.height * s;
        g.drawImage(bmp, (canvas.width - w) / 2, (canvas.height - h) / 2, w, h);
      } catch (_) { /* not an image the browser reads: the server will say what is wrong with it */ }
    }
    if (bmp && file.size > UPLOAD_LIMIT_BYTES) {
      // A phone photo is often 3-5 MB, over the server's 2 MB cap; 28x28 needs far fewer pixels.
      const smaller = await shrunk(bmp);
      if (smaller && uploaded === file) {
        uploaded = new File([smaller], file.name.replace(/\.[^.]*$/, "") + "-shrunk.jpg", { type: "image/jpeg" });
        uploadNote = `Your ${bmp.width}×${bmp.height} picture (${(file.size / 1048576).toFixed(1)} MB) was ` +
          `shrunk to at most ${SHRINK_TO_PX} px before sending (uploads are capped at 2 MB).`;
      }
    }
    onPicture();
  });

  return {
    get hasInk() { return hasInk; },
    /** What an answer is about: the note on the upload, "" for a drawing. */
    get uploadNote() { return uploaded ? uploadNote : ""; },
    async picture() {
      if (uploaded) return { blob: uploaded, filename: uploaded.name };
      return { blob: await new Promise((resolve) => canvas.toBlob(resolve, "image/png")), filename: "drawing.png" };
    },
    clear() {
      g.clearRect(0, 0, canvas.width, canvas.height);
      hasInk = false;
      uploaded = null;
      fileInput.value = "";
    },
  };
}

/** The picture at most SHRINK_TO_PX on its longer side, flattened onto white (as the server would),
 * as a JPEG blob; null if the browser cannot encode it. */
function shrunk(bmp) {
  const s = Math.min(1, SHRINK_TO_PX / Math.max(bmp.width, bmp.height));
  const out = document.createElement("canvas");
  out.width = Math.max(1, Math.round(bmp.width * s));
  out.height = Math.max(1, Math.round(bmp.height * s));
  const og = out.getContext("2d");
  og.fillStyle = "#fff";
  og.fillRect(0, 0, out.width, out.height);
  og.imageSmoothingQuality = "high";
  og.drawImage(bmp, 0, 0, out.width, out.height);
  return new Promise((resolve) => out.toBlob(resolve, "image/jpeg", 0.92));
}
