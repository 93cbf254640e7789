// Deterministic test weights, a pure function of (seed, key, index): the TypeScript twin of
// hashed_weights() in tools/fixtures/unet3d_fixture.py (which documents the rule), so the parity
// fixtures need not store the weights.

import { Tensor, numel } from "../../../src/tensor/tensor.js";

function fnv1a32(s: string): number {
  let h = 0x811c9dc5;
  for (const b of new TextEncoder().encode(s)) h = Math.imul(h ^ b, 0x01000193) >>> 0;
  return h;
}

/** u_i in (-1, 1): MurmurHash3's fmix32 of (hash(key) ^ seed) + i * 0x9E3779B9, mod 2^32. */
function hashedUniform(key: string, n: number, seed: number): Float64Array {
  const base = (fnv1a32(key) ^ seed) >>> 0;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let x = (base + Math.imul(i, 0x9e3779b9)) >>> 0;
    x ^= x >>> 16;
    x = Math.imul(x, 0x85ebca6b) >>> 0;
    x ^= x >>> 13;
    x = Math.imul(x, 0xc2b2ae35) >>> 0;
    x ^= x >>> 16;
    out[i] = ((x >>> 0) + 0.5) / 2 ** 32 * 2 - 1;
  }
  return out;
}

/** Weights for every key of `shapes`: sqrt(3 / fan_in) u for rank >= 2, 0.1 u for biases, 1 + 0.25 u for norm weights. */
export function hashedWeights(shapes: ReadonlyMap<string, readonly number[]>, seed: number): Map<string, Tensor> {
  const out = new Map<string, Tensor>();
  for (const [key, shape] of shapes) {
    const n = numel(shape);
    const u = hashedUniform(key, n, seed);
    const data = new Float32Array(n);
    if (shape.length >= 2) {
      const scale = Math.sqrt(3 / (n / shape[0]!));
      for (let i = 0; i < n; i++) data[i] = scale * u[i]!;
    } else if (key.endsWith(".bias")) for (let i = 0; i < n; i++) data[i] = 0.1 * u[i]!;
    else for (let i = 0; i < n; i++) data[i] = 1 + 0.25 * u[i]!;
    out.set(key, new Tensor("float32", data, shape));
  }
  return out;
}
