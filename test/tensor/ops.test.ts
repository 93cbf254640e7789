import { test } from "node:test";
import assert from "node:assert/strict";
import { add, axpy, lerp, mean, scale, std, sub, variance } from "../../src/tensor/ops.js";
import { Tensor } from "../../src/tensor/tensor.js";
import { float32Bits } from "./helpers.js";

const f32 = (xs: number[], shape: number[] = [xs.length]) => Tensor.float32(xs, shape);
const values = (t: Tensor) => Array.from(t.data as Float32Array);

test("elementwise ops on hand-computed cases", () => {
  const a = f32([1, 2, -3, 0.5], [1, 1, 2, 1, 2]);
  const b = f32([4, -1, 0.25, 8], [1, 1, 2, 1, 2]);
  assert.deepEqual(values(scale(a, -2)), [-2, -4, 6, -1]);
  assert.deepEqual(values(add(a, b)), [5, 1, -2.75, 8.5]);
  assert.deepEqual(values(sub(a, b)), [-3, 3, -3.25, -7.5]);
  assert.deepEqual(values(axpy(0.5, a, b)), [4.5, 0, -1.25, 8.25]);
  assert.deepEqual(values(lerp(a, b, 0.25)), [1.75, 1.25, -2.1875, 2.375]);
  assert.deepEqual(values(lerp(a, b, 0.75)), [3.25, -0.25, -0.5625, 6.125]);
  assert.deepEqual(add(a, b).shape, [1, 1, 2, 1, 2]);
});

test("results are rounded to float32 once, from float64 arithmetic", () => {
  // 1 + 2^-24 is a tie in float32 (rounds to 1), but 1 + 2^-24 + 2^-30 is above it: computing
  // alpha * x + y in float64 and rounding once keeps the 2^-30 that float32 steps would lose
  const x = f32([2 ** -24]);
  const y = f32([1]);
  assert.equal(float32Bits(axpy(1 + 2 ** -6, x, y).data[0]), float32Bits(1 + 2 ** -23));
  assert.equal(axpy(1, x, y).data[0], 1);
});

test("lerp returns the ends bit for bit at w = 0 and w = 1", () => {
  // values chosen so that a + 1 * (b - a) != b in float32
  const a = f32([0.1, 1e-7, -3.3, 123456.789]);
  const b = f32([0.7, 5e7, 2.2e-5, -0.3]);
  assert.deepEqual(values(lerp(a, b, 0)), values(a));
  assert.deepEqual(values(lerp(a, b, 1)), values(b));
});

test("inputs are never mutated; out receives the result and may alias an input", () => {
  const a = f32([1, 2, 3]);
  const b = f32([10, 20, 30]);
  const before = [values(a), values(b)];
  scale(a, 3);
  add(a, b);
  sub(a, b);
  axpy(2, a, b);
  lerp(a, b, 0.3);
  assert.deepEqual([values(a), values(b)], before);

  const out = Tensor.zeros("float32", [3]);
  assert.equal(add(a, b, out), out);
  assert.deepEqual(values(out), [11, 22, 33]);
  // in place, the way a sampler updates latents: y <- 2 x + y
  const y = f32([10, 20, 30]);
  assert.equal(axpy(2, a, y, y), y);
  assert.deepEqual(values(y), [12, 24, 36]);
  const z = f32([1, 2, 3]);
  scale(z, 0.5, z);
  assert.deepEqual(values(z), [0.5, 1, 1.5]);
});

test("errors name the op, both shapes or the dtype, and what is allowed", () => {
  const a = Tensor.zeros("float32", [1, 4, 8, 32, 32]);
  const b = Tensor.zeros("float32", [1, 4, 7, 32, 32]);
  assert.throws(() => add(a, b), { message: "add: shapes [1, 4, 8, 32, 32] and [1, 4, 7, 32, 32] differ (a and b); add needs equal shapes (no broadcasting)" });
  assert.throws(() => sub(a, b), /^Error: sub: shapes \[1, 4, 8, 32, 32\] and \[1, 4, 7, 32, 32\] differ/);
  assert.throws(() => axpy(1, a, b), /axpy: shapes .* differ \(x and y\)/);
  assert.throws(() => lerp(a, b, 0.5), /lerp: shapes/);
  const h = Tensor.zeros("float16", [2]);
  const f = Tensor.zeros("float32", [2]);
  assert.throws(() => add(f, h), { message: "add: b is float16[2]; allowed dtype: float32" });
  assert.throws(() => scale(h, 2), /scale: t is float16\[2\]; allowed dtype: float32/);
  assert.throws(() => mean(Tensor.int32([1, 2])), /mean: t is int32\[2\]; allowed dtype: float32/);
  assert.throws(() => scale(f, NaN), /scale: s is NaN; allowed: a finite number/);
  assert.throws(() => lerp(f, f, Infinity), /lerp: w is Infinity; allowed: a finite number/);
  assert.throws(() => add(f, f, Tensor.zeros("float32", [3])), { message: "add: out has shape [3] but the result has [2]; they must be equal" });
  assert.throws(() => add(f, f, h), /add: out is float16\[2\]; allowed dtype: float32/);
});

test("mean, variance and std on a textbook case", () => {
  // 2, 4, 4, 4, 5, 5, 7, 9: mean 5, sum of squared deviations 32
  const t = f32([2, 4, 4, 4, 5, 5, 7, 9], [1, 2, 2, 1, 2]);
  assert.equal(mean(t), 5);
  assert.equal(variance(t, "population"), 4);
  assert.equal(std(t, "population"), 2);
  assert.equal(variance(t, "sample"), 32 / 7);
  assert.equal(std(t, "sample"), Math.sqrt(32 / 7));
});

test("mean and variance accumulate in float64", () => {
  // a float32 accumulator gives 1e8 + 1 = 1e8 and ends at 0.25 instead of 0.5
  assert.equal(mean(f32([1e8, 1, -1e8, 1])), 0.5);
  // a one-pass E[x^2] - E[x]^2 would cancel catastrophically at this offset; the exact answer is 2/3
  assert.ok(Math.abs(variance(f32([1e4 + 0, 1e4 + 1, 1e4 + 2]), "population") - 2 / 3) < 1e-12);
  const big = new Float32Array(1 << 20).fill(0.1);
  // every element is float32(0.1) exactly, so the float64 mean is that value to ~1e-16 relative
  assert.ok(Math.abs(mean(new Tensor("float32", big, [big.length])) - Math.fround(0.1)) < 1e-14);
});

test("reductions reject empty tensors, too few elements for a sample variance, and unknown kinds", () => {
  assert.throws(() => mean(Tensor.zeros("float32", [0])), /mean: tensor float32\[0\] is empty; allowed: at least 1 element/);
  assert.throws(() => std(f32([1]), "sample"), /std: tensor float32\[1\] has 1 elements; the sample variance needs at least 2/);
  assert.equal(std(f32([3]), "population"), 0);
  assert.throws(() => std(f32([1, 2]), "unbiased" as never), /std: kind "unbiased" is not allowed; allowed: "population", "sample"/);
});
