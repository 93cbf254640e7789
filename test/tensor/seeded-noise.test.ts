import { test } from "node:test";
import assert from "node:assert/strict";
import { SeededNoise } from "../../src/tensor/seeded-noise.js";
import type { NoiseSource } from "../../src/tensor/noise.js";
import { Rng } from "../../src/tensor/rng.js";
import { assertSameBits } from "./helpers.js";

test("randn draws the seed's normal sequence, shaped, continuing across calls", () => {
  const noise: NoiseSource = new SeededNoise(42);
  const a = noise.randn([1, 4, 2, 3, 3]);
  assert.equal(a.length, 72);
  const b = noise.randn([5]);
  const ref = new Rng(42).fillNormal(new Float32Array(77));
  assertSameBits(a, ref.subarray(0, 72));
  assertSameBits(b, ref.subarray(72));
  // the first values are the golden ones from tools/rng_golden.py (seed 42)
  assert.deepEqual(Array.from(new SeededNoise(42).randn([2])), [2.1913673877716064, 0.9544051289558411]);
  assert.equal(noise.randn([0, 3]).length, 0);
});

test("same seed, same bits; different seeds, different noise", () => {
  assertSameBits(new SeededNoise(7).randn([4096]), new SeededNoise(7).randn([4096]));
  const x = new SeededNoise(7).randn([4096]);
  const y = new SeededNoise(8).randn([4096]);
  assert.ok(x.some((v, i) => v !== y[i]));
});

test("state save and restore resume the same noise, also through JSON", () => {
  const noise = new SeededNoise(5);
  noise.randn([1000]);
  const saved = JSON.parse(JSON.stringify(noise.getState()));
  const next = noise.randn([2, 500]);
  assertSameBits(SeededNoise.fromState(saved).randn([2, 500]), next);
  const other = new SeededNoise(99);
  other.setState(saved);
  assertSameBits(other.randn([1000]), next);
});

test("fork gives per-stream noise that depends on seed and id only", () => {
  const noise = new SeededNoise(11);
  const before = noise.fork(2).randn([64]);
  noise.randn([100]);
  assertSameBits(noise.fork(2).randn([64]), before);
  assertSameBits(before, new Rng(11).fork(2).fillNormal(new Float32Array(64)));
  assert.ok(noise.fork(3).randn([64]).some((v, i) => v !== before[i]));
});

test("bad shapes and seeds are rejected with the offending value", () => {
  const noise = new SeededNoise(1);
  assert.throws(() => noise.randn([2, -1]), /shape \[2, -1\]: dimension -1 is not a non-negative integer/);
  assert.throws(() => noise.randn("3" as never), /SeededNoise.randn: shape is 3; allowed: an array of non-negative integers/);
  assert.throws(() => new SeededNoise(-3), /Rng: seed -3 is not allowed/);
});
