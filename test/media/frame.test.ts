// RgbFrame checks and the conversions between frames and the model's float tensors [B, 3, F, H, W].

import { test } from "node:test";
import assert from "node:assert/strict";
import { Tensor } from "../../src/tensor/tensor.js";
import { createFrame, framesToTensor, tensorToFrames } from "../../src/media/index.js";

test("tensorToFrames maps [-1, 1] to 0..255 per channel and frame, clamping outside values", () => {
  // [B=2, 3, F=2, H=1, W=2]; batch 1 holds the values checked.
  const data = new Float32Array(2 * 3 * 2 * 1 * 2);
  const at = (b: number, c: number, f: number, x: number): number => ((b * 3 + c) * 2 + f) * 2 + x;
  data[at(1, 0, 0, 0)] = -1; // R of pixel 0, frame 0
  data[at(1, 1, 0, 0)] = 1; // G
  data[at(1, 2, 0, 0)] = 0; // B: 127.5 rounds to 128
  data[at(1, 0, 1, 1)] = 3; // clamped to 255
  data[at(1, 1, 1, 1)] = -2; // clamped to 0
  data[at(1, 2, 1, 1)] = 0.5; // 191.25 -> 191
  const frames = [...tensorToFrames(new Tensor("float32", data, [2, 3, 2, 1, 2]), 1)];
  assert.equal(frames.length, 2);
  assert.deepEqual([...frames[0].data], [0, 255, 128, 128, 128, 128]);
  assert.deepEqual([...frames[1].data], [128, 128, 128, 255, 0, 191]);
  assert.deepEqual([frames[0].width, frames[0].height], [2, 1]);
});

test("framesToTensor inverts tensorToFrames up to 8-bit rounding", () => {
  const a = createFrame(3, 2, Uint8Array.from({ length: 18 }, (_, i) => i * 14));
  const b = createFrame(3, 2, Uint8Array.from({ length: 18 }, (_, i) => 255 - i * 13));
  const t = framesToTensor([a, b]);
  assert.deepEqual(t.shape, [1, 3, 2, 2, 3]);
  assert.equal(t.data[0], a.data[0] / 127.5 - 1);
  const back = [...tensorToFrames(t)];
  assert.deepEqual([...back[0].data], [...a.data]);
  assert.deepEqual([...back[1].data], [...b.data]);
});

test("bad tensors, batches and frames are refused with what is allowed", () => {
  assert.throws(() => [...tensorToFrames(new Tensor("float32", new Float32Array(8), [1, 4, 1, 1, 2]))], /float32 \[1, 4, 1, 1, 2\]; allowed: float32 \[B, 3, F, H, W\]/);
  assert.throws(() => [...tensorToFrames(new Tensor("float32", new Float32Array(6), [1, 3, 1, 1, 2]), 1)], /batch is 1; allowed: an integer from 0 to 0/);
  assert.throws(() => createFrame(2, 2, new Uint8Array(11)), /data has 11 bytes but a 2x2 RGB frame needs 12/);
  assert.throws(() => createFrame(0, 2), /width is 0; allowed: an integer from 1 to 16384/);
  assert.throws(() => framesToTensor([createFrame(2, 2), createFrame(2, 3)]), /frame 1 is 2x3; this stream is 2x2/);
  assert.throws(() => framesToTensor([]), /no frames; allowed: at least 1 frame/);
});
