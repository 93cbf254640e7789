import { test } from "node:test";
import assert from "node:assert/strict";
import { frameConcat, frameSlice, framesReversed } from "../../src/tensor/frames.js";
import { Tensor } from "../../src/tensor/tensor.js";

const values = (t: Tensor) => Array.from(t.data as Float32Array);

/** A latent whose every element encodes its own index, so expectations follow from index arithmetic alone. */
function indexed(B: number, C: number, F: number, H: number, W: number, tag = 0): Tensor<"float32"> {
  const d = new Float32Array(B * C * F * H * W);
  let k = 0;
  for (let b = 0; b < B; b++)
    for (let c = 0; c < C; c++)
      for (let f = 0; f < F; f++)
        for (let h = 0; h < H; h++) for (let w = 0; w < W; w++) d[k++] = code(b, c, f, h, w, tag);
  return new Tensor("float32", d, [B, C, F, H, W]);
}
function code(b: number, c: number, f: number, h: number, w: number, tag: number): number {
  return tag * 1e6 + b * 1e5 + c * 1e4 + f * 100 + h * 10 + w; // exact in float32 for these sizes
}
function at(t: Tensor, b: number, c: number, f: number, h: number, w: number): number {
  const [, C, F, H, W] = t.shape;
  return (t.data as Float32Array)[(((b * C + c) * F + f) * H + h) * W + w];
}
function forEachIndex(t: Tensor, fn: (b: number, c: number, f: number, h: number, w: number) => void): void {
  const [B, C, F, H, W] = t.shape;
  for (let b = 0; b < B; b++) for (let c = 0; c < C; c++) for (let f = 0; f < F; f++) for (let h = 0; h < H; h++) for (let w = 0; w < W; w++) fn(b, c, f, h, w);
}

test("frame ops on tiny hand-written latents", () => {
  // [1, 1, 3, 1, 2]: frames (1, 2), (3, 4), (5, 6)
  const t = Tensor.float32([1, 2, 3, 4, 5, 6], [1, 1, 3, 1, 2]);
  assert.deepEqual(values(framesReversed(t)), [5, 6, 3, 4, 1, 2]);
  assert.deepEqual(values(frameSlice(t, 1, 3)), [3, 4, 5, 6]);
  assert.deepEqual(frameSlice(t, 1, 3).shape, [1, 1, 2, 1, 2]);
  assert.deepEqual(values(frameConcat([t, Tensor.float32([7, 8], [1, 1, 1, 1, 2])])), [1, 2, 3, 4, 5, 6, 7, 8]);
  // B = 2, F = 2, one pixel: batch items stay apart
  const u = Tensor.float32([1, 2, 3, 4], [2, 1, 2, 1, 1]);
  assert.deepEqual(values(framesReversed(u)), [2, 1, 4, 3]);
  assert.deepEqual(values(frameConcat([u, Tensor.float32([9, 10], [2, 1, 1, 1, 1])])), [1, 2, 9, 3, 4, 10]);
  assert.deepEqual(values(frameSlice(u, 1, 2)), [2, 4]);
});

// both copy paths: small frames (H * W < 64, copied by loop) and large ones (block copies)
for (const [H, W] of [[2, 3], [9, 11]]) {
  test(`framesReversed / frameSlice / frameConcat follow index arithmetic (B > 1, H*W = ${H * W})`, () => {
    const t = indexed(2, 3, 5, H, W);
    const r = framesReversed(t);
    assert.deepEqual(r.shape, [2, 3, 5, H, W]);
    forEachIndex(r, (b, c, f, h, w) => assert.equal(at(r, b, c, f, h, w), code(b, c, 4 - f, h, w, 0)));
    assert.deepEqual(values(framesReversed(r)), values(t));

    const s = frameSlice(t, 1, 4);
    assert.deepEqual(s.shape, [2, 3, 3, H, W]);
    forEachIndex(s, (b, c, f, h, w) => assert.equal(at(s, b, c, f, h, w), code(b, c, f + 1, h, w, 0)));
    assert.deepEqual(frameSlice(t, 2, 2).shape, [2, 3, 0, H, W]);
    assert.deepEqual(values(frameSlice(t, 0, 5)), values(t));

    const u = indexed(2, 3, 2, H, W, 1);
    const one = indexed(2, 3, 1, H, W, 2);
    const cat = frameConcat([t, u, one]);
    assert.deepEqual(cat.shape, [2, 3, 8, H, W]);
    forEachIndex(cat, (b, c, f, h, w) => {
      const want = f < 5 ? code(b, c, f, h, w, 0) : f < 7 ? code(b, c, f - 5, h, w, 1) : code(b, c, 0, h, w, 2);
      assert.equal(at(cat, b, c, f, h, w), want);
    });
  });
}

test("F = 1 works for every frame op", () => {
  const t = indexed(3, 2, 1, 4, 4);
  assert.deepEqual(values(framesReversed(t)), values(t));
  assert.deepEqual(values(frameSlice(t, 0, 1)), values(t));
  const two = frameConcat([t, t]);
  assert.deepEqual(two.shape, [3, 2, 2, 4, 4]);
  forEachIndex(two, (b, c, f, h, w) => assert.equal(at(two, b, c, f, h, w), code(b, c, 0, h, w, 0)));
});

test("frame ops return new tensors and leave inputs alone", () => {
  const t = indexed(1, 2, 3, 2, 2);
  const before = values(t);
  const r = framesReversed(t);
  const s = frameSlice(t, 0, 3);
  const c = frameConcat([t]);
  for (const out of [r, s, c]) assert.notEqual(out.data, t.data);
  (s.data as Float32Array)[0] = -1;
  assert.deepEqual(values(t), before);
});

test("frame op errors name the op, the shapes and what is allowed", () => {
  const t = indexed(1, 4, 8, 2, 2);
  assert.throws(() => framesReversed(Tensor.zeros("float32", [1, 2, 3, 4])), {
    message: "framesReversed: t has shape [1, 2, 3, 4] (rank 4); allowed: rank 5, [B, C, F, H, W]",
  });
  assert.throws(() => frameSlice(t, 3, 9), { message: "frameSlice: range [3, 9) does not fit t of shape [1, 4, 8, 2, 2]; allowed: integers 0 <= start <= end <= F = 8" });
  assert.throws(() => frameSlice(t, -1, 2), /frameSlice: range \[-1, 2\)/);
  assert.throws(() => frameSlice(t, 3, 2), /frameSlice: range \[3, 2\)/);
  assert.throws(() => frameSlice(t, 0.5, 2), /frameSlice: range \[0.5, 2\)/);
  assert.throws(() => frameConcat([t, indexed(1, 4, 7, 2, 3)]), {
    message: "frameConcat: tensor 1 has shape [1, 4, 7, 2, 3] but tensor 0 has [1, 4, 8, 2, 2]; all must match except F (axis 2)",
  });
  assert.throws(() => frameConcat([]), /frameConcat: the list is empty; allowed: at least 1 tensor/);
  assert.throws(() => frameConcat([t, Tensor.zeros("float16", [1, 4, 8, 2, 2])]), /frameConcat: tensor 1 is float16\[1, 4, 8, 2, 2\]; allowed dtype: float32/);
});
