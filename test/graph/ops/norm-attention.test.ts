// layerNorm, groupNorm and scaledDotProductAttention against the reference on random inputs.
//
// Tolerance: a normalised value z = (x - mean) / sqrt(var + eps) computed in float32 carries a relative
// error of a few ulps plus an absolute one of order ulp(1) in units of the standard deviation (from
// the mean), so y = z * w + b must satisfy |got - want| <= 1e-5 * max(|want|, |w| (|z| + 1) + |b|),
// with ||got - want|| <= 1e-5 ||want|| as a whole. Inputs have a mean offset (2) to exercise that, and
// one case per op has a variance near eps (std 0.003, eps 1e-5), where eps inside the square root
// (PyTorch) and eps added to the standard deviation differ by far more than the tolerance.
// Attention output sum_j p_ij v_j: its error scales with sum_j p_ij |v_j| (the attention of |v|),
// the magnitude used there.

import { test } from "node:test";
import assert from "node:assert/strict";
import { Graph, GraphShapeError, ops, type Value } from "../../../src/graph/index.js";
import { type NdArray, Rng, absNd, assertClose, nd, randnNd, randomNd, ref, toTensor } from "../../reference/index.js";
import { compile, feeds, runOnce } from "./run-graph.js";

/** |w| (|z| + 1) + |b| for z the standardised input (see the header). */
function normMagnitude(z: NdArray, w: NdArray | null, b: NdArray | null, channelAxis: number | null): NdArray {
  const one = nd([], [1]);
  const zero = nd([], [0]);
  // Per-channel parameters broadcast over the axes after the channel axis.
  const shaped = (p: NdArray | null, dflt: NdArray) => {
    if (!p) return dflt;
    if (channelAxis === null) return p;
    return ref.reshape(p, [p.shape[0]!, ...new Array<number>(z.shape.length - channelAxis - 1).fill(1)]);
  };
  const scaled = ref.mul(absNd(shaped(w, one)), ref.unary(z, (v) => Math.abs(v) + 1));
  return ref.add(scaled, absNd(shaped(b, zero)));
}

test("layerNorm over the last 1, 2 and 3 axes, with and without weight and bias", async () => {
  const rng = new Rng(1);
  const x = randnNd(rng, [2, 3, 4, 5], 1, 2);
  const quiet = randnNd(rng, [2, 3, 4, 5], 0.003, 0.001); // variance ~ eps
  const cases: { axes: number; weight: boolean; bias: boolean; eps?: number; quiet?: boolean }[] = [
    { axes: 1, weight: true, bias: true },
    { axes: 1, weight: false, bias: false },
    { axes: 2, weight: true, bias: false, eps: 1e-6 },
    { axes: 3, weight: false, bias: true },
    { axes: 2, weight: true, bias: true },
    { axes: 1, weight: true, bias: true, quiet: true },
  ];
  const params = cases.map(({ axes, weight, bias }) => {
    const shape = x.shape.slice(x.shape.length - axes);
    return { w: weight ? randomNd(rng, shape, 0.5, 1.5) : null, b: bias ? randomNd(rng, shape) : null };
  });
  const weights: Record<string, NdArray> = {};
  params.forEach(({ w, b }, i) => {
    if (w) weights[`ln${i}.weight`] = w;
    if (b) weights[`ln${i}.bias`] = b;
  });
  const got = await runOnce((g) => {
    const xv = g.input("x", "float32", x.shape);
    const quietV = g.input("quiet", "float32", quiet.shape);
    const out: Record<string, Value> = {};
    cases.forEach(({ axes, eps, quiet: q }, i) => {
      const { w, b } = params[i]!;
      const wv = w ? g.param(`ln${i}.weight`, w.shape as number[]) : null;
      const bv = b ? g.param(`ln${i}.bias`, b.shape as number[]) : null;
      out[`y${i}`] = ops.layerNorm(q ? quietV : xv, wv, bv, { axes, eps, name: `ln${i}` });
    });
    return out;
  }, { x, quiet }, weights);
  cases.forEach(({ axes, eps, quiet: q }, i) => {
    const { w, b } = params[i]!;
    const input = q ? quiet : x;
    const z = ref.layerNorm(input, null, null, axes, eps);
    const want = ref.layerNorm(input, w, b, axes, eps);
    assertClose(got[`y${i}`]!, want, { magnitude: normMagnitude(z, w, b, null), normRtol: 1e-5, label: `layerNorm axes ${axes} weight ${!!w} bias ${!!b}` });
  });
});

test("groupNorm on 4-D and 5-D inputs (one frame, batch 2), with and without the affine", async () => {
  const rng = new Rng(2);
  const cases: { shape: number[]; groups: number; weight: boolean; bias: boolean; eps?: number; quiet?: boolean }[] = [
    { shape: [2, 8, 3, 5], groups: 4, weight: true, bias: true },
    { shape: [2, 8, 1, 3, 4], groups: 2, weight: false, bias: false }, // [B, C, F = 1, H, W]
    { shape: [1, 6, 3, 2, 5], groups: 3, weight: true, bias: true, eps: 1e-6 },
    { shape: [2, 4, 5, 3], groups: 1, weight: true, bias: false },
    { shape: [1, 4, 2, 3, 3], groups: 4, weight: false, bias: true },
    { shape: [2, 4, 1, 2, 3], groups: 2, weight: true, bias: true, quiet: true },
  ];
  const data = cases.map(({ shape, weight, bias, quiet }) => ({
    x: quiet ? randnNd(rng, shape, 0.003, 0.001) : randnNd(rng, shape, 1, 2),
    w: weight ? randomNd(rng, [shape[1]!], 0.5, 1.5) : null,
    b: bias ? randomNd(rng, [shape[1]!]) : null,
  }));
  const inputs: Record<string, NdArray> = {};
  const weights: Record<string, NdArray> = {};
  data.forEach(({ x, w, b }, i) => {
    inputs[`x${i}`] = x;
    if (w) weights[`gn${i}.weight`] = w;
    if (b) weights[`gn${i}.bias`] = b;
  });
  const got = await runOnce((g) => {
    const out: Record<string, Value> = {};
    cases.forEach(({ shape, groups, eps }, i) => {
      const { w, b } = data[i]!;
      const wv = w ? g.param(`gn${i}.weight`, [shape[1]!]) : null;
      const bv = b ? g.param(`gn${i}.bias`, [shape[1]!]) : null;
      out[`y${i}`] = ops.groupNorm(g.input(`x${i}`, "float32", shape), groups, wv, bv, { eps, name: `gn${i}` });
    });
    return out;
  }, inputs, weights);
  cases.forEach(({ shape, groups, eps }, i) => {
    const { x, w, b } = data[i]!;
    const z = ref.groupNorm(x, groups, null, null, eps);
    const want = ref.groupNorm(x, groups, w, b, eps);
    assertClose(got[`y${i}`]!, want, { magnitude: normMagnitude(z, w, b, 1), normRtol: 1e-5, label: `groupNorm [${shape}] groups ${groups}` });
  });
});

test("groupNorm and layerNorm on symbolic [B, C, F, H, W] run at two sizes with one session", async () => {
  const g = new Graph("symbolic_norm");
  const x = g.input("x", "float32", ["B", 4, "F", "H", "W"]);
  const gn = ops.groupNorm(x, 2, g.param("norm.weight", [4]), g.param("norm.bias", [4]));
  assert.deepEqual(gn.shape, ["B", 4, "F", "H", "W"]);
  g.output("gn", gn);
  const tokens = g.input("tokens", "float32", ["B", "L", 6]);
  g.output("ln", ops.layerNorm(tokens, g.param("ln.weight", [6]), g.param("ln.bias", [6])));
  const rng = new Rng(3);
  const w = randomNd(rng, [4], 0.5, 1.5);
  const b = randomNd(rng, [4]);
  const lw = randomNd(rng, [6], 0.5, 1.5);
  const lb = randomNd(rng, [6]);
  const s = await compile(g, { "norm.weight": w, "norm.bias": b, "ln.weight": lw, "ln.bias": lb });
  try {
    for (const [shape, L] of [[[1, 4, 1, 3, 2], 1], [[2, 4, 3, 2, 5], 7]] as const) {
      const xa = randnNd(rng, shape, 1, 2);
      const ta = randnNd(rng, [shape[0], L, 6], 1, 2);
      const got = await s.run(feeds({ x: xa, tokens: ta }));
      const label = `x [${shape.join(", ")}], L ${L}`;
      assertClose(got.gn!, ref.groupNorm(xa, 2, w, b), { magnitude: normMagnitude(ref.groupNorm(xa, 2, null, null), w, b, 1), normRtol: 1e-5, label });
      assertClose(got.ln!, ref.layerNorm(ta, lw, lb), { magnitude: normMagnitude(ref.layerNorm(ta, null, null), lw, lb, null), normRtol: 1e-5, label });
    }
  } finally {
    await s.release();
  }
});

test("float16 layerNorm and groupNorm without affine (their unit scale made as float16 constants)", async () => {
  // Half precision: each float16 result carries a rounding of up to 2^-11 relative, so here the bar is
  // rtol 2e-3 with atol 2e-3 (outputs are of order 1), not the float32 1e-5.
  const rng = new Rng(6);
  const x = ref.cast(randnNd(rng, [2, 4, 1, 3, 5], 1, 0.5), "float16");
  const got = await runOnce((g) => {
    const xv = g.input("x", "float16", x.shape);
    return { ln: ops.layerNorm(xv, null, null, { axes: 2 }), gn: ops.groupNorm(xv, 2, null, null) };
  }, { x: toTensor(x, "float16") });
  assert.equal(got.ln!.dtype, "float16");
  assertClose(got.ln!, ref.layerNorm(x, null, null, 2), { rtol: 2e-3, atol: 2e-3, label: "layerNorm float16" });
  assertClose(got.gn!, ref.groupNorm(x, 2, null, null), { rtol: 2e-3, atol: 2e-3, label: "groupNorm float16" });
});

/** Expected attention output and its magnitude (attention of |v|). */
function attentionWant(q: NdArray, k: NdArray, v: NdArray, mask: NdArray | null, scale?: number) {
  return { want: ref.attention(q, k, v, mask, scale), magnitude: ref.attention(q, k, absNd(v), mask, scale) };
}

test("scaledDotProductAttention with and without a mask, default and given scale", async () => {
  const rng = new Rng(4);
  const q = randomNd(rng, [2, 3, 5, 8]); // [B, heads, Lq, D]
  const k = randomNd(rng, [2, 3, 7, 8]);
  const v = randomNd(rng, [2, 3, 7, 4]);
  // A causal-like additive mask [Lq, Lk] broadcast over batch and heads, and a per-batch one.
  const causal = nd([5, 7], Array.from({ length: 35 }, (_, i) => (i % 7 <= Math.floor(i / 7) + 2 ? 0 : -1e4)));
  const perBatch = randomNd(rng, [2, 1, 5, 7], -3, 0);
  const q3 = randomNd(rng, [4, 6, 8]); // rank 3: [B*heads, L, D], self-attention
  const got = await runOnce((g) => {
    const [qv, kv, vv] = [g.input("q", "float32", q.shape), g.input("k", "float32", k.shape), g.input("v", "float32", v.shape)];
    const q3v = g.input("q3", "float32", q3.shape);
    return {
      plain: ops.scaledDotProductAttention(qv, kv, vv),
      causal: ops.scaledDotProductAttention(qv, kv, vv, { mask: g.constant(toTensor(causal)) }),
      perBatch: ops.scaledDotProductAttention(qv, kv, vv, { mask: g.input("m", "float32", perBatch.shape), scale: 0.7 }),
      self: ops.scaledDotProductAttention(q3v, q3v, q3v, { name: "attn1" }),
    };
  }, { q, k, v, m: perBatch, q3 });
  const checks: [string, ReturnType<typeof attentionWant>][] = [
    ["plain", attentionWant(q, k, v, null)],
    ["causal", attentionWant(q, k, v, causal)],
    ["perBatch", attentionWant(q, k, v, perBatch, 0.7)],
    ["self", attentionWant(q3, q3, q3, null)],
  ];
  for (const [name, { want, magnitude }] of checks) assertClose(got[name]!, want, { magnitude, normRtol: 1e-5, label: name });
  assert.deepEqual(got.plain!.shape, [2, 3, 5, 4]);
});

test("scaledDotProductAttention over symbolic lengths runs at two sizes with one session", async () => {
  const g = new Graph("symbolic_attention");
  const x = g.input("x", "float32", ["B", "L", 8]); // tokens
  const ctx = g.input("ctx", "float32", ["B", "S", 8]); // context (cross-attention)
  const y = ops.scaledDotProductAttention(x, ctx, ctx);
  assert.deepEqual(y.shape, ["B", "L", 8]);
  g.output("y", y);
  const rng = new Rng(5);
  const s = await compile(g);
  try {
    for (const [B, L, S] of [[1, 1, 3], [2, 5, 4]] as const) {
      const xa = randomNd(rng, [B, L, 8]);
      const ca = randomNd(rng, [B, S, 8]);
      const got = await s.run(feeds({ x: xa, ctx: ca }));
      const { want, magnitude } = attentionWant(xa, ca, ca, null);
      assertClose(got.y!, want, { magnitude, normRtol: 1e-5, label: `B ${B} L ${L} S ${S}` });
    }
  } finally {
    await s.release();
  }
});

test("normalisation and attention build errors", () => {
  const g = new Graph("errors");
  const x = g.input("x", "float32", ["B", 6, "F", "H", "W"]);
  assert.throws(() => ops.groupNorm(x, 4, null, null, { name: "norm1" }), (e: Error) => {
    assert.ok(e instanceof GraphShapeError);
    assert.match(e.message, /group-norm norm1: 6 channels do not divide into 4 groups/);
    return true;
  });
  assert.throws(() => ops.groupNorm(x, 3, g.param("norm2.weight", [4]), null), /group-norm norm2: weight float32\[4\] must be \[6\]/);
  assert.throws(() => ops.groupNorm(g.input("c", "float32", ["B", "C", 4]), 2, null, null), /channel dimension must be static/);
  const t = g.input("t", "float32", ["B", "L", 8]);
  assert.throws(() => ops.layerNorm(t, g.param("ln.weight", [6]), null), /layer-norm ln: weight float32\[6\] must have shape \[8\] \(input float32\[B, L, 8\]\)/);
  assert.throws(() => ops.layerNorm(t, null, null, { axes: 4 }), /layer-norm: axes must be 1\.\.3, got 4/);
  assert.throws(() => ops.layerNorm(t, null, null, { axes: 2 }), /needs a weight when the normalised axes \[L, 8\] are symbolic/);
  const k = g.input("k", "float32", ["B", "S", 4]);
  assert.throws(() => ops.scaledDotProductAttention(t, k, k), /attention: q float32\[B, L, 8\] and k float32\[B, S, 4\] differ in head dim/);
  assert.throws(() => ops.scaledDotProductAttention(t, t, g.input("v", "float32", ["B", "S", 8])), /k float32\[B, L, 8\] and v float32\[B, S, 8\] differ in length/);
  const h = g.input("h", "float32", ["B", "L", "D"]);
  assert.throws(() => ops.scaledDotProductAttention(h, h, h), /attention: head dim D is symbolic: give a scale/);
});
