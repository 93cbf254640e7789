// Rendering crops (fractional boxes, area-averaged) and pseudo-videos from stills.

import { test } from "node:test";
import assert from "node:assert/strict";
import { MAX_FOOTPRINT, prescaleForOutput, pseudoVideo, renderCrop, resolveCameraPathOptions } from "../../../src/data/compose/index.js";
import { createFrame, type RgbFrame } from "../../../src/media/index.js";
import { Rng } from "../../../src/tensor/rng.js";

function image(width: number, height: number, f: (x: number, y: number) => [number, number, number]): RgbFrame {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) data.set(f(x, y), (y * width + x) * 3);
  return createFrame(width, height, data);
}

const meanRed = (f: RgbFrame): number => {
  let s = 0;
  for (let i = 0; i < f.data.length; i += 3) s += f.data[i];
  return s / (f.data.length / 3);
};

test("a whole-pixel box at the output size copies the pixels exactly", () => {
  const img = image(40, 30, (x, y) => [(x * 7 + y) & 255, (y * 11) & 255, (x * y) & 255]);
  assert.deepEqual(renderCrop(img, { x: 0, y: 0, width: 40, height: 30 }, 40, 30).data, img.data);
  const part = renderCrop(img, { x: 5, y: 3, width: 16, height: 12 }, 16, 12);
  for (let y = 0; y < 12; y++) for (let x = 0; x < 16; x++) for (let c = 0; c < 3; c++) assert.equal(part.data[(y * 16 + x) * 3 + c], img.data[((y + 3) * 40 + x + 5) * 3 + c]);
});

test("fractional boxes move smoothly: a 0.25-pixel pan over a ramp changes the picture by equal steps", () => {
  const ramp = image(20, 10, (x) => [x * 12, 0, 0]);
  const means = Array.from({ length: 9 }, (_, k) => meanRed(renderCrop(ramp, { x: 4 + k * 0.25, y: 0, width: 8, height: 10 }, 8, 10)));
  const steps = means.slice(1).map((m, k) => m - means[k]);
  // a whole-pixel crop would give steps of 0, 0, 0, 12; here every step is 12 * 0.25
  for (const s of steps) assert.ok(Math.abs(s - 3) < 1e-9, `steps ${steps.map((x) => x.toFixed(3)).join(" ")}`);
});

test("downscaling averages the footprint: a one-pixel checkerboard at half size is flat grey", () => {
  const checker = image(64, 64, (x, y) => ((x + y) % 2 === 0 ? [255, 255, 255] : [0, 0, 0]));
  const out = renderCrop(checker, { x: 0, y: 0, width: 64, height: 64 }, 32, 32);
  for (const v of out.data) assert.ok(Math.abs(v - 127.5) <= 1, `value ${v}`);
});

test("large images are pre-scaled so the full box is at most MAX_FOOTPRINT x the output; small ones are kept", async () => {
  const big = image(1000, 500, (x, y) => [x & 255, y & 255, 0]);
  const scaled = await prescaleForOutput(big, 64, 64);
  assert.equal(Math.min(scaled.width, scaled.height), MAX_FOOTPRINT * 64);
  assert.equal(scaled.width, 256);
  const small = image(100, 80, () => [1, 2, 3]);
  assert.equal(await prescaleForOutput(small, 64, 64), small);
});

test("a pseudo-video has N frames of the output size, the caption (with the motion when asked) and its crops", () => {
  const img = image(128, 96, (x, y) => [x * 2, y * 2, 128]);
  const camera = resolveCameraPathOptions({ kinds: ["zoom"] });
  const plain = pseudoVideo(img, "a gradient", new Rng(1), { width: 32, height: 32, frames: 12, camera });
  const frames = [...plain.frames()];
  assert.equal(frames.length, 12);
  for (const f of frames) assert.deepEqual([f.width, f.height, f.data.length], [32, 32, 32 * 32 * 3]);
  assert.equal(plain.caption, "a gradient");
  const moving = pseudoVideo(img, "a gradient", new Rng(1), { width: 32, height: 32, frames: 12, camera, motionCaption: true });
  assert.match(moving.caption, /^a gradient, camera zooms (in|out)$/);
  assert.ok(moving.startBox.x >= 0 && moving.startBox.x + moving.startBox.width <= 1 + 1e-12);
  // consecutive frames differ a little (a smooth zoom), never by a jump
  const diffs = frames.slice(1).map((f, k) => f.data.reduce((s, v, i) => s + Math.abs(v - frames[k].data[i]), 0) / f.data.length);
  assert.ok(Math.max(...diffs) < 8, `frame differences ${diffs.map((d) => d.toFixed(2)).join(" ")}`);
  assert.ok(Math.max(...diffs) > 0.1);
});
