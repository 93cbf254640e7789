// The references checked against known values and identities that do not use them, so that a test
// of a graph op against a reference is a test against the math.

import { test } from "node:test";
import assert from "node:assert/strict";
import { Rng, absNd, assertClose, assertExact, halfBitsToNumber, nd, numberToHalfBits, randomNd, ref } from "./index.js";
import type { NdArray } from "./index.js";

const dot = (a: NdArray, b: NdArray): number => a.data.reduce((s, v, i) => s + v * b.data[i]!, 0);

test("erf matches tabulated values to 1e-15", () => {
  // erf at these points (A&S table 7.1, and mpmath to 16 digits).
  const known: [number, number][] = [
    [0, 0],
    [0.1, 0.1124629160182849],
    [0.5, 0.5204998778130465],
    [1, 0.8427007929497149],
    [1.5, 0.9661051464753108],
    [2, 0.9953222650189527],
    [3, 0.9999779095030014],
    [4, 0.9999999845827421],
  ];
  for (const [x, e] of known) {
    assert.ok(Math.abs(ref.erf(x) - e) <= 1e-15 * Math.max(1, Math.abs(e)), `erf(${x}) = ${ref.erf(x)}, expected ${e}`);
    assert.equal(ref.erf(-x), -ref.erf(x));
  }
  assert.equal(ref.erf(7), 1);
  assert.equal(ref.geluExact(0), 0);
  assert.ok(Math.abs(ref.geluExact(1) - 0.8413447460685429) < 1e-15); // Phi(1)
});

test("float16 conversion rounds to nearest even, with subnormals and overflow", () => {
  const cases: [number, number][] = [
    [1, 0x3c00], [-2, 0xc000], [65504, 0x7bff], [65519.99, 0x7bff], [65520, 0x7c00], [-Infinity, 0xfc00],
    [2 ** -14, 0x0400], [2 ** -24, 0x0001], [2 ** -25, 0x0000], [3 * 2 ** -25, 0x0002], [1.5 * 2 ** -24 + 1e-30, 0x0002],
    [1 + 2 ** -11, 0x3c00], [1 + 3 * 2 ** -11, 0x3c02], [1 + 2 ** -11 + 2 ** -40, 0x3c01],
    [0.1, 0x2e66], [1 / 3, 0x3555], [-0, 0x8000],
  ];
  for (const [x, bits] of cases) assert.equal(numberToHalfBits(x), bits, `${x} -> 0x${numberToHalfBits(x).toString(16)}, expected 0x${bits.toString(16)}`);
  for (let b = 0; b < 0x10000; b++) {
    const v = halfBitsToNumber(b);
    if (Number.isNaN(v)) assert.ok((b & 0x7c00) === 0x7c00 && (b & 0x3ff) !== 0);
    else assert.equal(numberToHalfBits(v), b, `bits 0x${b.toString(16)} do not round-trip`);
  }
});

test("conv by hand: 1-D sums, padding, stride, dilation, bias", () => {
  const x = nd([1, 1, 4], [1, 2, 3, 4]);
  const w = nd([1, 1, 2], [1, 10]);
  assertExact(ref.conv(x, w, null), nd([1, 1, 3], [21, 32, 43]));
  assertExact(ref.conv(x, w, nd([1], [0.5]), { pads: [1, 0] }), nd([1, 1, 4], [10.5, 21.5, 32.5, 43.5]));
  assertExact(ref.conv(x, w, null, { stride: [2] }), nd([1, 1, 2], [21, 43]));
  assertExact(ref.conv(x, w, null, { dilation: [2] }), nd([1, 1, 2], [31, 42]));
  assertExact(ref.conv(x, w, null, { pads: [0, 2], stride: [3] }), nd([1, 1, 2], [21, 4]));
});

test("conv with groups is the per-group convs side by side", () => {
  const rng = new Rng(1);
  const x = randomNd(rng, [2, 4, 5, 3]);
  const w = randomNd(rng, [6, 2, 3, 2]);
  const both = ref.conv(x, w, null, { groups: 2, pads: [1, 0, 1, 1] });
  const first = ref.conv(ref.slice(x, 1, 0, 2), ref.slice(w, 0, 0, 3), null, { pads: [1, 0, 1, 1] });
  const second = ref.conv(ref.slice(x, 1, 2, 4), ref.slice(w, 0, 3, 6), null, { pads: [1, 0, 1, 1] });
  assertClose(both, ref.concat([first, second], 1), { rtol: 1e-12 });
});

test("conv-transpose is the adjoint of conv: <conv(x), y> = <x, convT(y)>", () => {
  const rng = new Rng(2);
  const cases = [
    { x: [2, 4, 7], w: [6, 2, 3], p: { stride: [2], pads: [1, 2], dilation: [2], groups: 2 } },
    { x: [1, 2, 6, 5], w: [3, 2, 3, 2], p: { stride: [2, 3], pads: [1, 0, 0, 1] } },
    { x: [1, 3, 3, 4, 5], w: [2, 3, 2, 3, 1], p: { stride: [1, 2, 2], pads: [0, 1, 0, 1, 0, 0], dilation: [1, 1, 2] } },
  ];
  for (const { x: xs, w: ws, p } of cases) {
    const x = randomNd(rng, xs);
    const w = randomNd(rng, ws); // conv weight [M, C/g, k]; read as a transposed weight [M, C/g, k] it maps M -> C
    const y = ref.conv(x, w, null, p);
    const yPrime = randomNd(rng, y.shape);
    // The transposed conv may produce fewer positions than x has when stride does not divide evenly;
    // output padding restores them.
    const spatial = xs.length - 2;
    const back0 = ref.convTranspose(yPrime, w, null, p);
    const outputPadding = xs.slice(2).map((d, i) => d - back0.shape[2 + i]!);
    const back = ref.convTranspose(yPrime, w, null, { ...p, outputPadding });
    assert.deepEqual(back.shape, xs);
    assert.equal(outputPadding.length, spatial);
    const lhs = dot(y, yPrime);
    const rhs = dot(x, back);
    assert.ok(Math.abs(lhs - rhs) <= 1e-12 * dot(absNd(y), absNd(yPrime)), `${lhs} vs ${rhs}`);
  }
});

test("matmul by hand, with 1-D operands and broadcast batches", () => {
  const a = nd([2, 3], [1, 2, 3, 4, 5, 6]);
  const b = nd([3, 2], [1, 0, 0, 1, 1, 1]);
  assertExact(ref.matmul(a, b), nd([2, 2], [4, 5, 10, 11]));
  assertExact(ref.matmul(nd([3], [1, 1, 1]), b), nd([2], [2, 2]));
  assertExact(ref.matmul(a, nd([3], [1, 0, -1])), nd([2], [-2, -2]));
  assertExact(ref.matmul(nd([3], [1, 2, 3]), nd([3], [4, 5, 6])), nd([], [32]));
  const batched = ref.matmul(nd([2, 1, 1, 2], [1, 2, 3, 4]), nd([3, 2, 1], [1, 1, 2, 2, 3, 3]));
  assertExact(batched, nd([2, 3, 1, 1], [3, 6, 9, 7, 14, 21]));
  assertExact(ref.linear(a, nd([1, 3], [1, 1, 1]), nd([1], [0.5])), nd([2, 1], [6.5, 15.5]));
});

test("python slice semantics", () => {
  const r = (start?: number, end?: number, step?: number) => ref.pythonSliceIndices(5, start, end, step);
  // Each expected list is Python's list(range(5))[start:end:step].
  assert.deepEqual(r(1, 3), [1, 2]);
  assert.deepEqual(r(-2), [3, 4]);
  assert.deepEqual(r(undefined, undefined, 2), [0, 2, 4]);
  assert.deepEqual(r(undefined, undefined, -1), [4, 3, 2, 1, 0]);
  assert.deepEqual(r(3, 0, -2), [3, 1]);
  assert.deepEqual(r(-1, -4, -1), [4, 3, 2]);
  assert.deepEqual(r(10), []);
  assert.deepEqual(r(-10, undefined, -1), []);
  assert.deepEqual(r(10, undefined, -1), [4, 3, 2, 1, 0]);
  assert.deepEqual(r(-10, 2), [0, 1]);
  assert.deepEqual(r(4, 1), []);
});

test("normalisations and softmax have their defining properties", () => {
  const rng = new Rng(3);
  const x = randomNd(rng, [2, 6, 3, 2], -3, 5);
  const sm = ref.softmax(x, 1);
  assertClose(ref.reduce(sm, [1], false, "sum"), nd([2, 3, 2], new Array(12).fill(1)), { rtol: 1e-14 });
  const ln = ref.layerNorm(x, null, null, 2, 0);
  assertClose(ref.reduce(ln, [-1, -2], false, "mean"), nd([2, 6], new Array(12).fill(0)), { atol: 1e-14 });
  const sq = ref.unary(ln, (v) => v * v);
  assertClose(ref.reduce(sq, [2, 3], false, "mean"), nd([2, 6], new Array(12).fill(1)), { rtol: 1e-13 });
  // Group norm with one channel per group on [N, C, L] is layer norm over L.
  const x3 = ref.reshape(x, [2, 6, 6]);
  assertClose(ref.groupNorm(x3, 6, null, null), ref.layerNorm(x3, null, null, 1), { rtol: 1e-14 });
  // One group over [N, C, L] is layer norm over C and L.
  assertClose(ref.groupNorm(x3, 1, null, null), ref.layerNorm(x3, null, null, 2), { rtol: 1e-14 });
});

test("shape references by hand", () => {
  const x = nd([2, 3], [0, 1, 2, 3, 4, 5]);
  assertExact(ref.transpose(x, [1, 0]), nd([3, 2], [0, 3, 1, 4, 2, 5]));
  assertExact(ref.resizeNearest(nd([1, 2], [7, 8]), [2, 3]), nd([2, 6], [7, 7, 7, 8, 8, 8, 7, 7, 7, 8, 8, 8]));
  assertExact(ref.gather(x, nd([2], [-1, 0]), 1), nd([2, 2], [2, 0, 5, 3]));
  assertExact(ref.gather(x, nd([1, 2], [1, 1]), 0), nd([1, 2, 3], [3, 4, 5, 3, 4, 5]));
  assertExact(ref.concat([x, nd([2, 1], [9, 9])], -1), nd([2, 4], [0, 1, 2, 9, 3, 4, 5, 9]));
  assertExact(ref.expand(nd([3, 1], [1, 2, 3]), [2, 3, 2]), nd([2, 3, 2], [1, 1, 2, 2, 3, 3, 1, 1, 2, 2, 3, 3]));
  assertExact(ref.cast(nd([3], [-1.7, 0.5, 2.9]), "int32"), nd([3], [-1, 0, 2]));
  const v = nd([1, 1, 3], [1, 2, 3]);
  assertClose(ref.attention(nd([1, 2, 4], [1, 0, 0, 0, 0, 1, 0, 0]), nd([1, 1, 4], [5, 5, 5, 5]), v), nd([1, 2, 3], [1, 2, 3, 1, 2, 3]), { rtol: 1e-15 });
});
