// Rendering one crop box of an image at the output size, with fractional boxes.
//
// Why our own sampler rather than sharp's extract + resize: extract takes whole-pixel boxes, so a camera
// moving 0.4 px a frame would stand still for two frames and jump on the third, and a slow zoom would
// "breathe" as the box size rounds; a model trained on that learns camera shake. Here a box is real-valued
// and each output pixel averages kx * ky bilinear taps spread over its footprint in the source (kx =
// ceil(box width / output width)), which is a box filter when downscaling (no aliasing) and plain bilinear
// when upscaling. The caller keeps footprints small (pseudo-video.ts pre-scales large images with sharp's
// lanczos), so kx, ky are at most 2 or 3.
//
// Pixel (i, j) covers [i, i + 1) x [j, j + 1) with its centre at (i + 0.5, j + 0.5); a tap at continuous
// (u, v) interpolates the four pixel centres around it, clamped at the image border.

import { type RgbFrame, createFrame } from "../../media/frame.js";
import type { CropBox } from "./camera-path.js";

interface AxisTaps {
  /** Per output index and tap: the lower source index, the upper one, and the upper's weight. */
  lower: Int32Array;
  upper: Int32Array;
  weight: Float32Array;
  taps: number;
}

function axisTaps(start: number, length: number, outSize: number, sourceSize: number): AxisTaps {
  const step = length / outSize; // source pixels per output pixel
  const taps = Math.max(1, Math.ceil(step - 1e-9));
  const n = outSize * taps;
  const lower = new Int32Array(n);
  const upper = new Int32Array(n);
  const weight = new Float32Array(n);
  for (let i = 0; i < outSize; i++) {
    for (let a = 0; a < taps; a++) {
      const u = start + (i + (a + 0.5) / taps) * step - 0.5; // in pixel-centre coordinates
      const clamped = Math.min(sourceSize - 1, Math.max(0, u));
      const lo = Math.min(sourceSize - 1, Math.floor(clamped));
      const k = i * taps + a;
      lower[k] = lo;
      upper[k] = Math.min(sourceSize - 1, lo + 1);
      weight[k] = clamped - lo;
    }
  }
  return { lower, upper, weight, taps };
}

/** The crop `box` of `image` resampled to `width` x `height` (an area-averaged bilinear sampler). */
export function renderCrop(image: RgbFrame, box: CropBox, width: number, height: number): RgbFrame {
  const xs = axisTaps(box.x, box.width, width, image.width);
  const ys = axisTaps(box.y, box.height, height, image.height);
  const src = image.data;
  const rowBytes = image.width * 3;
  const out = new Uint8Array(width * height * 3);
  const acc = new Float32Array(width * 3);
  const norm = 1 / (xs.taps * ys.taps);
  for (let j = 0; j < height; j++) {
    acc.fill(0);
    for (let b = 0; b < ys.taps; b++) {
      const k = j * ys.taps + b;
      const row0 = ys.lower[k] * rowBytes;
      const row1 = ys.upper[k] * rowBytes;
      const wy = ys.weight[k];
      for (let i = 0; i < width; i++) {
        for (let a = 0; a < xs.taps; a++) {
          const t = i * xs.taps + a;
          const x0 = xs.lower[t] * 3;
          const x1 = xs.upper[t] * 3;
          const wx = xs.weight[t];
          for (let c = 0; c < 3; c++) {
            const top = src[row0 + x0 + c] + wx * (src[row0 + x1 + c] - src[row0 + x0 + c]);
            const bottom = src[row1 + x0 + c] + wx * (src[row1 + x1 + c] - src[row1 + x0 + c]);
            acc[i * 3 + c] += top + wy * (bottom - top);
          }
        }
      }
    }
    const o = j * width * 3;
    for (let q = 0; q < width * 3; q++) out[o + q] = Math.round(acc[q] * norm);
  }
  return createFrame(width, height, out);
}
