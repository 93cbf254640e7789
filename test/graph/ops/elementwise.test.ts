// Element-wise ops, activations, where, cast, comparisons, constants and float16 scalars against the
// reference on random inputs.
//
// Tolerance: rtol 1e-5 (|got - want| <= 1e-5 |want|) for every op, with no absolute slack except where
// a float32 result cannot be relatively accurate. add, sub, mul, div and sqrt are correctly rounded;
// exp, log, tanh, erf, sin and cos measure within 3e-7 relative. The logistic function is computed as
// an approximation with absolute error near 1e-7, so far left, where sigmoid(x) ~ e^x is tiny, its
// relative error grows (2e-5 measured at x = -5.6); silu and gelu (x * sigmoid(x), x * Phi(x), with
// Phi from 1 + erf(x / sqrt 2) cancelling to nearly 0) inherit that. For those three atol 1e-6 applies:
// the absolute error stays below 1e-6 while the outputs are of order 1.

import { test } from "node:test";
import assert from "node:assert/strict";
import { Graph, GraphShapeError, ops, type Value } from "../../../src/graph/index.js";
import { Tensor } from "../../../src/tensor/tensor.js";
import { type NdArray, Rng, assertClose, assertExact, fromTensor, halfBitsToNumber, nd, numberToHalfBits, randomNd, ref, toTensor } from "../../reference/index.js";
import { compile, feeds, runOnce } from "./run-graph.js";

const LOGISTIC = { rtol: 1e-5, atol: 1e-6 };

test("binary ops broadcast like NumPy: [2, 3, 1, 5] with [4, 1], and scalars on either side", async () => {
  const rng = new Rng(1);
  const a = randomNd(rng, [2, 3, 1, 5], 0.1, 2); // positive: a valid base for pow
  const b = randomNd(rng, [4, 1], -2, 2);
  const { sum, diff, prod, quot, power, plusHalf, twoMinus, threeOver, timesTwo, squared } = await runOnce((g) => {
    const av = g.input("a", "float32", a.shape);
    const bv = g.input("b", "float32", b.shape);
    return {
      sum: ops.add(av, bv),
      diff: ops.sub(av, bv),
      prod: ops.mul(av, bv),
      quot: ops.div(bv, av),
      power: ops.pow(av, bv),
      plusHalf: ops.add(av, 0.5),
      twoMinus: ops.sub(2, bv),
      threeOver: ops.div(3, av),
      timesTwo: ops.mul(-2, bv),
      squared: ops.pow(bv, 2),
    };
  }, { a, b });
  const s = (v: number) => nd([], [v]);
  assertClose(sum!, ref.add(a, b), { label: "add" });
  assertClose(diff!, ref.sub(a, b), { label: "sub" });
  assertClose(prod!, ref.mul(a, b), { label: "mul" });
  assertClose(quot!, ref.div(b, a), { label: "div" });
  assertClose(power!, ref.pow(a, b), { label: "pow" });
  assertClose(plusHalf!, ref.add(a, s(0.5)), { label: "add scalar" });
  assertClose(twoMinus!, ref.sub(s(2), b), { label: "scalar sub" });
  assertClose(threeOver!, ref.div(s(3), a), { label: "scalar div" });
  assertClose(timesTwo!, ref.mul(s(-2), b), { label: "scalar mul" });
  assertClose(squared!, ref.pow(b, s(2)), { label: "pow 2" });
  assert.deepEqual(sum!.shape, [2, 3, 4, 5]);
});

test("unary ops and activations", async () => {
  const rng = new Rng(2);
  const x = randomNd(rng, [2, 3, 4, 5], -6, 6); // spans the saturating and the linear regions
  const pos = randomNd(rng, [3, 7], 0.01, 10);
  const got = await runOnce((g) => {
    const xv = g.input("x", "float32", x.shape);
    const pv = g.input("pos", "float32", pos.shape);
    return {
      sqrt: ops.sqrt(pv), log: ops.log(pv), exp: ops.exp(xv), neg: ops.neg(xv), sigmoid: ops.sigmoid(xv),
      tanh: ops.tanh(xv), erf: ops.erf(xv), sin: ops.sin(xv), cos: ops.cos(xv), identity: ops.identity(xv),
      silu: ops.silu(xv), geluExact: ops.gelu(xv), geluTanh: ops.gelu(xv, "tanh"),
    };
  }, { x, pos });
  assertClose(got.sqrt!, ref.unary(pos, Math.sqrt), { label: "sqrt" });
  assertClose(got.neg!, ref.unary(x, (v) => -v), { rtol: 0, label: "neg" });
  assertClose(got.identity!, x, { rtol: 0, label: "identity" });
  const relative: [string, NdArray, (v: number) => number][] = [
    ["log", pos, Math.log], ["exp", x, Math.exp], ["tanh", x, Math.tanh], ["erf", x, ref.erf], ["sin", x, Math.sin], ["cos", x, Math.cos],
  ];
  for (const [name, input, f] of relative) assertClose(got[name]!, ref.unary(input, f), { rtol: 1e-5, label: name });
  const logistic: [string, (v: number) => number][] = [["sigmoid", ref.sigmoid], ["silu", ref.silu], ["geluExact", ref.geluExact], ["geluTanh", ref.geluTanh]];
  for (const [name, f] of logistic) assertClose(got[name]!, ref.unary(x, f), { ...LOGISTIC, label: name });
});

test("activations on large magnitudes keep their asymptotes", async () => {
  const x = nd([8], [-30, -12, -5, -1e-3, 1e-3, 5, 12, 30]);
  const got = await runOnce((g) => {
    const xv = g.input("x", "float32", x.shape);
    return { sigmoid: ops.sigmoid(xv), tanh: ops.tanh(xv), erf: ops.erf(xv), silu: ops.silu(xv), gelu: ops.gelu(xv), geluTanh: ops.gelu(xv, "tanh") };
  }, { x });
  assertClose(got.sigmoid!, ref.unary(x, ref.sigmoid), { ...LOGISTIC, label: "sigmoid" });
  assertClose(got.tanh!, ref.unary(x, Math.tanh), { rtol: 1e-5, label: "tanh" });
  assertClose(got.erf!, ref.unary(x, ref.erf), { rtol: 1e-5, label: "erf" });
  assertClose(got.silu!, ref.unary(x, ref.silu), { ...LOGISTIC, label: "silu" });
  assertClose(got.gelu!, ref.unary(x, ref.geluExact), { ...LOGISTIC, label: "gelu" });
  assertClose(got.geluTanh!, ref.unary(x, ref.geluTanh), { ...LOGISTIC, label: "gelu tanh" });
});

test("comparisons broadcast and give bool; where selects with broadcasting", async () => {
  const rng = new Rng(3);
  const a = randomNd(rng, [2, 1, 4], -1, 1);
  const b = nd([3, 1], [a.data[0]!, 0, a.data[5]!]); // shares values with a so that equal finds matches
  const c = randomNd(rng, [3, 4]);
  const got = await runOnce((g) => {
    const av = g.input("a", "float32", a.shape);
    const bv = g.input("b", "float32", b.shape);
    const cv = g.input("c", "float32", c.shape);
    const lt = ops.less(av, bv);
    return {
      lt, gt: ops.greater(av, bv), eq: ops.equal(av, bv), gtScalar: ops.greater(av, 0),
      picked: ops.where(lt, av, cv), clipped: ops.where(ops.greater(cv, 0.5), 0.5, cv), masked: ops.where(lt, cv, -1e4),
    };
  }, { a, b, c });
  assert.equal(got.lt!.dtype, "bool");
  const lt = ref.less(a, b);
  assertExact(got.lt!, lt, "less");
  assertExact(got.gt!, ref.greater(a, b), "greater");
  assertExact(got.eq!, ref.equal(a, b), "equal");
  assert.ok(fromTensor(got.eq!).data.some((v) => v === 1), "equal found no match to check");
  assertExact(got.gtScalar!, ref.greater(a, nd([], [0])), "greater scalar");
  assertExact(got.picked!, ref.where(lt, a, c), "where");
  assertExact(got.clipped!, ref.where(ref.greater(c, nd([], [0.5])), nd([], [0.5]), c), "where scalar a");
  assertExact(got.masked!, ref.where(lt, c, nd([], [-1e4])), "where scalar b");
});

test("cast: float32 to int32/int64 truncates toward zero, to bool is x != 0, ints and bools back exactly", async () => {
  const x = nd([12], [-2.75, -2.5, -1.5, -0.5, -0, 0, 0.25, 0.5, 1.5, 2.5, 99.9, -100.99].map(Math.fround));
  const got = await runOnce((g) => {
    const xv = g.input("x", "float32", x.shape);
    const i32 = ops.cast(xv, "int32");
    const i64 = ops.cast(xv, "int64");
    const b = ops.cast(xv, "bool");
    return { i32, i64, b, back32: ops.cast(i32, "float32"), back64: ops.cast(i64, "float32"), fromBool: ops.cast(b, "float32"), same: ops.cast(xv, "float32") };
  }, { x });
  assert.equal(got.i32!.dtype, "int32");
  assert.equal(got.i64!.dtype, "int64");
  assert.equal(got.b!.dtype, "bool");
  assertExact(got.i32!, ref.cast(x, "int32"), "int32");
  assertExact(got.i64!, ref.cast(x, "int64"), "int64");
  assertExact(got.b!, ref.cast(x, "bool"), "bool");
  assertExact(got.back32!, ref.cast(x, "int32"), "int32 -> float32");
  assertExact(got.back64!, ref.cast(x, "int64"), "int64 -> float32");
  assertExact(got.fromBool!, ref.cast(x, "bool"), "bool -> float32");
  assertExact(got.same!, x, "float32 -> float32 is the identity");
});

test("cast float32 <-> float16 rounds to nearest even (ties, subnormals, overflow) and widens exactly", async () => {
  const rng = new Rng(4);
  const special = [1 + 2 ** -11, 1 + 3 * 2 ** -11, 2 ** -24, 3 * 2 ** -25, 2 ** -26, 1e-6, -6.1e-5, 65504, 65519, 65520, 1e5, -1e5, 0.1, -1 / 3];
  const x = nd([special.length + 50], [...special.map(Math.fround), ...randomNd(rng, [50], -100, 100).data]);
  const { half } = await runOnce((g) => ({ half: ops.cast(g.input("x", "float32", x.shape), "float16") }), { x });
  assert.equal(half!.dtype, "float16");
  const bits = Array.from(half!.data as Uint16Array);
  bits.forEach((b, i) => assert.equal(b, numberToHalfBits(x.data[i]!), `float16(${x.data[i]}) bits 0x${b.toString(16)}, expected 0x${numberToHalfBits(x.data[i]!).toString(16)}`));
  // Widening: every finite half value converts exactly.
  const all = Uint16Array.from({ length: 0x7c00 }, (_, i) => i); // +0 .. 65504
  const h = new Tensor("float16", all, [all.length]);
  const { wide } = await runOnce((g) => ({ wide: ops.cast(g.input("h", "float16", [all.length]), "float32") }), { h });
  assertExact(wide!, nd([all.length], Array.from(all, halfBitsToNumber)), "float16 -> float32");
});

test("float16 graphs: scalars are rounded once to float16, elementwise ops compute in float16", async () => {
  const rng = new Rng(5);
  const x = randomNd(rng, [4, 3], -4, 4);
  const got = await runOnce((g) => {
    const xv = g.input("x", "float16", x.shape);
    return { y: ops.add(ops.mul(xv, 0.5), 1.25), s: ops.scalar(g, 0.1, "float16"), e: ops.gelu(xv) };
  }, { x: toTensor(x, "float16") });
  assert.equal(got.y!.dtype, "float16");
  const xh = ref.cast(x, "float16");
  // Each float16 op rounds its result to float16: compare with the reference rounded at each step.
  const half = (a: NdArray) => ref.cast(a, "float16");
  assertExact(got.y!, half(ref.add(half(ref.mul(xh, nd([], [0.5]))), nd([], [1.25]))), "x * 0.5 + 1.25 in float16");
  assert.equal((got.s!.data as Uint16Array)[0], numberToHalfBits(0.1));
  assertClose(got.e!, ref.unary(xh, ref.geluExact), { rtol: 4e-3, atol: 1e-3, label: "gelu in float16 (half precision: 2^-10 per op)" });
});

test("float16 scalar constant is the float16 nearest to the number (one rounding, not via float32)", async () => {
  // 1 + 2^-11 + 2^-40 lies just above the midpoint of 1 and 1 + 2^-10: nearest half is 1 + 2^-10.
  // Rounded to float32 first it becomes exactly the midpoint, which then rounds to even: 1.
  const v = 1 + 2 ** -11 + 2 ** -40;
  const { s } = await runOnce((g) => ({ s: ops.scalar(g, v, "float16") }), {});
  assert.equal((s!.data as Uint16Array)[0], numberToHalfBits(v), `got 0x${(s!.data as Uint16Array)[0]!.toString(16)}, expected 0x${numberToHalfBits(v).toString(16)}`);
});

test("constants: baked tensors combine with inputs and can be outputs themselves", async () => {
  const rng = new Rng(6);
  const c = randomNd(rng, [3, 1]);
  const x = randomNd(rng, [2, 3, 4]);
  const idx = Tensor.int64([2, 0, 1], [3]);
  const got = await runOnce((g) => {
    const cv = g.constant(toTensor(c));
    const xv = g.input("x", "float32", x.shape);
    return { y: ops.mul(xv, cv), c: cv, i: g.constant(idx), passthrough: xv };
  }, { x });
  assertExact(got.passthrough!, x, "graph input as output");
  assertClose(got.y!, ref.mul(x, c), { label: "x * constant" });
  assertExact(got.c!, c, "constant output");
  assert.deepEqual(Array.from(got.i!.data as BigInt64Array), [2n, 0n, 1n]);
});

test("elementwise graph on symbolic [B, C, F, H, W] runs at two sizes with one session", async () => {
  const g = new Graph("symbolic_elementwise");
  const x = g.input("x", "float32", ["B", 4, "F", "H", "W"]);
  const scale = g.param("scale", [4, 1, 1, 1]);
  const y: Value = ops.silu(ops.add(ops.mul(x, scale), 0.25));
  assert.deepEqual(y.shape, ["B", 4, "F", "H", "W"]);
  g.output("y", y);
  const rng = new Rng(7);
  const s4 = randomNd(rng, [4, 1, 1, 1]);
  const s = await compile(g, { scale: s4 });
  try {
    for (const shape of [[1, 4, 1, 2, 3], [2, 4, 3, 3, 2]]) {
      const xa = randomNd(rng, shape, -3, 3);
      const { y: got } = await s.run(feeds({ x: xa }));
      const want = ref.unary(ref.add(ref.mul(xa, s4), nd([], [0.25])), ref.silu);
      assertClose(got!, want, { ...LOGISTIC, label: `x [${shape.join(", ")}]` });
    }
  } finally {
    await s.release();
  }
});

test("elementwise build errors: broadcast mismatch names both shapes; dtypes; non-float inputs", () => {
  const g = new Graph("errors");
  const a = g.input("a", "float32", ["B", 3, 4]);
  const b = g.input("b", "float32", [5, 4]);
  assert.throws(() => ops.add(a, b, "resnet.add"), (e: Error) => {
    assert.ok(e instanceof GraphShapeError);
    assert.match(e.message, /Add resnet\.add: shapes \[B, 3, 4\] and \[5, 4\] do not broadcast \(axis -2: 3 vs 5\)/);
    return true;
  });
  assert.throws(() => ops.mul(a, g.input("c", "float32", ["F", 1])), /shapes \[B, 3, 4\] and \[F, 1\] do not broadcast/);
  const i = g.input("i", "int64", [3, 4]);
  assert.throws(() => ops.add(a, i), /Add: dtypes differ: float32\[B, 3, 4\] and int64\[3, 4\]/);
  assert.throws(() => ops.exp(i), /Exp: needs a float tensor, got int64\[3, 4\]/);
  assert.throws(() => ops.where(a, a, a), /Where: condition must be bool, got float32\[B, 3, 4\]/);
  assert.throws(() => ops.less(a, b), /Less: shapes \[B, 3, 4\] and \[5, 4\] do not broadcast/);
});
