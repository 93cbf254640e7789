import { test } from "node:test";
import assert from "node:assert/strict";
import { Tensor } from "../../src/tensor/tensor.js";
import { classifierFreeGuidance, resolveGuidance } from "../../src/pipelines/guidance.js";
import type { Conditioning, Denoiser, Timesteps } from "../../src/pipelines/types.js";

interface Seen {
  z: Tensor;
  t: Timesteps;
  c: Conditioning;
}

/** eps_b = z_b * (first embedding value of row b): which rows went where shows in the result. */
function scalingDenoiser(seen: Seen[]): Denoiser {
  return async (z, t, c) => {
    seen.push({ z, t, c });
    const B = z.shape[0]!;
    const n = z.size / B;
    const rowSize = c.embeddings.size / c.embeddings.shape[0]!;
    const e = c.embeddings.data as Float32Array;
    const x = z.data as Float32Array;
    return new Tensor("float32", x.map((v, k) => v * e[Math.floor(k / n) * rowSize]!), z.shape);
  };
}

const z = new Tensor("float32", Float32Array.from({ length: 2 * 2 * 3 }, (_, k) => k + 1), [2, 2, 3, 1, 1]); // B = 2
const rows = (v: number) => new Tensor("float32", new Float32Array(4).fill(v), [1, 2, 2]); // [1, L, D]
const prompt = { cond: rows(3), uncond: rows(0.5) };

test("one batched call on [z; z] with [uncond; cond], combined as u + s (c - u)", async () => {
  const seen: Seen[] = [];
  const eps = await classifierFreeGuidance(scalingDenoiser(seen), { scale: 7.5 })(z, 981, prompt);
  assert.equal(seen.length, 1);
  assert.deepEqual(seen[0]!.z.shape, [4, 2, 3, 1, 1]);
  assert.deepEqual([...seen[0]!.z.data], [...z.data, ...z.data]);
  assert.deepEqual(seen[0]!.c.embeddings.shape, [4, 2, 2]);
  assert.deepEqual([...seen[0]!.c.embeddings.data].filter((_, k) => k % 4 === 0), [0.5, 0.5, 3, 3], "rows: uncond, uncond, cond, cond");
  assert.equal(seen[0]!.t, 981);
  // u = 0.5 z, c = 3 z: eps = 0.5 z + 7.5 * 2.5 z = 19.25 z
  assert.deepEqual([...eps.data], [...z.data].map((v) => 19.25 * v));
  assert.deepEqual(eps.shape, z.shape);
});

test("per-batch embeddings [B, L, D] are used as they are; per-frame timesteps pass through", async () => {
  const seen: Seen[] = [];
  const cond = new Tensor("float32", Float32Array.of(1, 1, 1, 1, 2, 2, 2, 2), [2, 2, 2]);
  const uncond = new Tensor("float32", new Float32Array(8), [2, 2, 2]);
  const eps = await classifierFreeGuidance(scalingDenoiser(seen), { scale: 2 })(z, [5, 6, 7], { cond, uncond });
  assert.deepEqual(seen[0]!.t, [5, 6, 7]);
  // batch 0: c = z, u = 0 -> 2 z; batch 1: c = 2 z -> 4 z
  assert.deepEqual([...eps.data], [...z.data].map((v, k) => (k < 6 ? 2 : 4) * v));
});

test("scale 1 is one unbatched call with the prompt alone; scale 0 one call with the negative", async () => {
  const seen: Seen[] = [];
  const one = await classifierFreeGuidance(scalingDenoiser(seen), { scale: 1 })(z, 1, prompt);
  assert.equal(seen.length, 1);
  assert.deepEqual(seen[0]!.z.shape, [2, 2, 3, 1, 1]);
  assert.deepEqual([...one.data], [...z.data].map((v) => 3 * v));
  const zero = await classifierFreeGuidance(scalingDenoiser(seen), { scale: 0 })(z, 1, prompt);
  assert.equal(seen.length, 2);
  assert.deepEqual(seen[1]!.z.shape, [2, 2, 3, 1, 1]);
  assert.deepEqual([...zero.data], [...z.data].map((v) => 0.5 * v));
});

test("guidance rescale (Lin et al. 2023 eq. 15-16) against a hand computation", async () => {
  // the denoiser ignores z: u = [1, 2, 3, 4], c = [2, 2, 2, 6] over one batch element of 4 values
  const fixed: Denoiser = async (x) => new Tensor("float32", Float32Array.of(1, 2, 3, 4, 2, 2, 2, 6), x.shape);
  const z1 = new Tensor("float32", new Float32Array(4), [1, 1, 1, 2, 2]);
  const p = { cond: rows(1), uncond: rows(0) };
  // cfg = u + 2 (c - u) = [3, 2, 1, 8]; std(c) = sqrt(12 / 3) = 2; std(cfg) = sqrt(29 / 3) (torch.std, n - 1)
  const cfg = [3, 2, 1, 8];
  const phi = 0.7;
  const factor = phi * (2 / Math.sqrt(29 / 3)) + (1 - phi);
  const got = (await classifierFreeGuidance(fixed, { scale: 2, rescale: phi })(z1, 1, p)).data as Float32Array;
  cfg.forEach((v, k) => assert.ok(Math.abs(got[k]! - v * factor) < 1e-6, `element ${k}: ${got[k]} vs ${v * factor}`));
  // phi = 1: the result has exactly the conditional prediction's std
  const full = [...((await classifierFreeGuidance(fixed, { scale: 2, rescale: 1 })(z1, 1, p)).data as Float32Array)];
  const m = full.reduce((a, b) => a + b, 0) / 4;
  const std = Math.sqrt(full.reduce((a, b) => a + (b - m) ** 2, 0) / 3);
  assert.ok(Math.abs(std - 2) < 1e-6, `std ${std}`);
  // phi = 0: plain guidance
  assert.deepEqual([...(await classifierFreeGuidance(fixed, { scale: 2, rescale: 0 })(z1, 1, p)).data], cfg);
});

test("bad scale or rescale, mismatched embeddings and a wrong denoiser output fail clearly", async () => {
  assert.deepEqual(resolveGuidance(), { scale: 10, rescale: 0 });
  for (const scale of [-1, NaN, Infinity]) assert.throws(() => resolveGuidance({ scale }), new RegExp(`guidance scale is ${scale}; allowed: a finite number >= 0`));
  for (const rescale of [1.5, -0.1, NaN]) assert.throws(() => resolveGuidance({ rescale }), new RegExp(`guidance rescale is ${rescale}; allowed: a number in \\[0, 1\\]`));
  const cfg = classifierFreeGuidance(scalingDenoiser([]), { scale: 3 });
  const wide = new Tensor("float32", new Float32Array(6), [1, 2, 3]);
  await assert.rejects(cfg(z, 1, { cond: wide, uncond: rows(0) }), /cond is float32\[1, 2, 3\] but uncond is float32\[1, 2, 2\]; they must have the same shape/);
  const three = new Tensor("float32", new Float32Array(12), [3, 2, 2]);
  await assert.rejects(cfg(z, 1, { cond: three, uncond: three }), /uncond embeddings are float32\[3, 2, 2\] for a batch of 2; allowed: \[1, L, D\] or \[2, L, D\]/);
  const short: Denoiser = async () => new Tensor("float32", new Float32Array(3), [3]);
  await assert.rejects(classifierFreeGuidance(short, { scale: 3 })(z, 1, prompt), /the denoiser returned float32\[3\] for the guidance batch float32\[4, 2, 3, 1, 1\]; expected float32\[4, 2, 3, 1, 1\]/);
});
