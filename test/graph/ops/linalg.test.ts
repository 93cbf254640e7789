// matmul, linear, reductions and softmax against the reference on random inputs.
//
// Tolerance: matmul, linear and reduceSum/reduceMean outputs are float32 sums; each element must satisfy
// |got - want| <= 1e-5 * max(|want|, magnitude) with magnitude the same sum over absolute values
// (sum_k |a_ik b_kj|, the scale of the rounding error, see test/reference/assert-close.ts), and the
// output as a whole ||got - want|| <= 1e-5 ||want||. Softmax outputs are positive and relatively
// accurate: rtol 1e-5 elementwise, no absolute slack.

import { test } from "node:test";
import assert from "node:assert/strict";
import { Graph, GraphShapeError, ops, type Value } from "../../../src/graph/index.js";
import { type NdArray, Rng, absNd, assertClose, randomNd, ref } from "../../reference/index.js";
import { compile, feeds, runOnce } from "./run-graph.js";

function checkMatmul(got: Parameters<typeof assertClose>[0], a: NdArray, b: NdArray, label: string): void {
  assertClose(got, ref.matmul(a, b), { magnitude: ref.matmul(absNd(a), absNd(b)), normRtol: 1e-5, label });
}

test("matmul: batches broadcast, 1-D operands on either side", async () => {
  const rng = new Rng(1);
  const shapes: [number[], number[]][] = [
    [[2, 3, 4], [4, 5]], // batch on the left only
    [[2, 1, 3, 4], [3, 4, 2]], // batch [2, 1] with [3] -> [2, 3]
    [[4], [2, 4, 3]], // 1-D left: a row, dropped from the result
    [[2, 3, 4], [4]], // 1-D right: a column, dropped
    [[6], [6]], // dot product: a scalar
    [[1, 7], [7, 1]],
  ];
  const arrays = shapes.map(([sa, sb]) => [randomNd(rng, sa), randomNd(rng, sb)] as const);
  const inputs: Record<string, NdArray> = {};
  arrays.forEach(([a, b], i) => Object.assign(inputs, { [`a${i}`]: a, [`b${i}`]: b }));
  const got = await runOnce((g) => {
    const out: Record<string, Value> = {};
    arrays.forEach(([a, b], i) => (out[`y${i}`] = ops.matmul(g.input(`a${i}`, "float32", a.shape), g.input(`b${i}`, "float32", b.shape))));
    return out;
  }, inputs);
  arrays.forEach(([a, b], i) => checkMatmul(got[`y${i}`]!, a, b, `[${a.shape}] @ [${b.shape}]`));
  assert.deepEqual(got.y1!.shape, [2, 3, 3, 2]);
  assert.deepEqual(got.y4!.shape, []);
});

test("matmul and linear on symbolic batch and length run at two sizes with one session", async () => {
  const g = new Graph("symbolic_linear");
  const x = g.input("x", "float32", ["B", "L", 8]);
  const y = ops.linear(x, g.param("proj.weight", [5, 8]), g.param("proj.bias", [5]));
  assert.deepEqual(y.shape, ["B", "L", 5]);
  g.output("y", y);
  g.output("noBias", ops.linear(x, g.param("k.weight", [3, 8])));
  g.output("gram", ops.matmul(x, ops.transpose(x, [0, 2, 1]))); // [B, L, L]
  const rng = new Rng(2);
  const w = randomNd(rng, [5, 8]);
  const b = randomNd(rng, [5]);
  const wk = randomNd(rng, [3, 8]);
  const s = await compile(g, { "proj.weight": w, "proj.bias": b, "k.weight": wk });
  try {
    for (const shape of [[1, 1, 8], [3, 4, 8]]) {
      const xa = randomNd(rng, shape);
      const got = await s.run(feeds({ x: xa }));
      assertClose(got.y!, ref.linear(xa, w, b), { magnitude: ref.linear(absNd(xa), absNd(w), absNd(b)), normRtol: 1e-5, label: "linear" });
      assertClose(got.noBias!, ref.linear(xa, wk, null), { magnitude: ref.linear(absNd(xa), absNd(wk), null), normRtol: 1e-5, label: "linear no bias" });
      checkMatmul(got.gram!, xa, ref.transpose(xa, [0, 2, 1]), "x x^T");
    }
  } finally {
    await s.release();
  }
});

test("reduceMean and reduceSum: axes in any order, negative, with and without keepDims", async () => {
  const rng = new Rng(3);
  const x = randomNd(rng, [2, 3, 4, 5]);
  const cases: { axes: number[]; keep: boolean }[] = [
    { axes: [1], keep: true },
    { axes: [-1, 0], keep: false },
    { axes: [2, 3], keep: true },
    { axes: [0, 1, 2, 3], keep: false },
    { axes: [3, -3], keep: false },
  ];
  const got = await runOnce((g) => {
    const xv = g.input("x", "float32", x.shape);
    const out: Record<string, Value> = {};
    cases.forEach(({ axes, keep }, i) => {
      out[`mean${i}`] = ops.reduceMean(xv, axes, keep);
      out[`sum${i}`] = ops.reduceSum(xv, axes, keep);
    });
    return out;
  }, { x });
  cases.forEach(({ axes, keep }, i) => {
    for (const kind of ["mean", "sum"] as const) {
      const label = `${kind} axes [${axes}] keepDims ${keep}`;
      assertClose(got[`${kind}${i}`]!, ref.reduce(x, axes, keep, kind), { magnitude: ref.reduce(absNd(x), axes, keep, kind), normRtol: 1e-5, label });
    }
  });
});

test("reduce with an empty axis list is rejected or runs with the shape it declares", async () => {
  // ONNX reads empty axes as "all axes" (noop_with_empty_axes = 0), NumPy's axis=() as none: either
  // reading is defensible, a build-time error is too, but a declared shape the runtime does not
  // produce is not.
  const rng = new Rng(4);
  const x = randomNd(rng, [2, 3]);
  const g = new Graph("empty_axes");
  const xv = g.input("x", "float32", x.shape);
  let mean: Value;
  let sum: Value;
  try {
    mean = ops.reduceMean(xv, [], true);
    sum = ops.reduceSum(xv, [], false);
  } catch (e) {
    assert.ok(e instanceof GraphShapeError, String(e));
    return;
  }
  g.output("mean", mean);
  g.output("sum", sum);
  const s = await compile(g);
  try {
    const got = await s.run(feeds({ x }));
    assert.deepEqual(got.mean!.shape, mean.shape, `reduceMean(x, []) declared ${JSON.stringify(mean.shape)}, ran as [${got.mean!.shape}]`);
    assert.deepEqual(got.sum!.shape, sum.shape, `reduceSum(x, [], false) declared ${JSON.stringify(sum.shape)}, ran as [${got.sum!.shape}]`);
  } finally {
    await s.release();
  }
});

test("reduce and softmax on symbolic [B, C, F, H, W] run at two sizes with one session", async () => {
  const g = new Graph("symbolic_reduce");
  const x = g.input("x", "float32", ["B", 3, "F", "H", "W"]);
  const m = ops.reduceMean(x, [2, 3, 4]);
  assert.deepEqual(m.shape, ["B", 3, 1, 1, 1]);
  g.output("mean", m);
  g.output("sum", ops.reduceSum(x, [1], false));
  g.output("sm", ops.softmax(x, 2)); // over frames
  const rng = new Rng(5);
  const s = await compile(g);
  try {
    for (const shape of [[1, 3, 1, 2, 5], [2, 3, 4, 3, 2]]) {
      const xa = randomNd(rng, shape, -2, 2);
      const got = await s.run(feeds({ x: xa }));
      assertClose(got.mean!, ref.reduce(xa, [2, 3, 4], true, "mean"), { magnitude: ref.reduce(absNd(xa), [2, 3, 4], true, "mean"), normRtol: 1e-5 });
      assertClose(got.sum!, ref.reduce(xa, [1], false, "sum"), { magnitude: ref.reduce(absNd(xa), [1], false, "sum"), normRtol: 1e-5 });
      assertClose(got.sm!, ref.softmax(xa, 2), { rtol: 1e-5, label: `softmax x [${shape.join(", ")}]` });
    }
  } finally {
    await s.release();
  }
});

test("softmax on any axis, with large logits (shift invariance)", async () => {
  const rng = new Rng(6);
  const x = randomNd(rng, [2, 5, 3], -40, 40);
  const got = await runOnce((g) => {
    const xv = g.input("x", "float32", x.shape);
    return { last: ops.softmax(xv), first: ops.softmax(xv, 0), middle: ops.softmax(xv, -2) };
  }, { x });
  assertClose(got.last!, ref.softmax(x, -1), { label: "axis -1" });
  assertClose(got.first!, ref.softmax(x, 0), { label: "axis 0" });
  assertClose(got.middle!, ref.softmax(x, 1), { label: "axis -2" });
});

test("matmul, linear, reduce and softmax build errors", () => {
  const g = new Graph("errors");
  const a = g.input("a", "float32", ["B", 3, 4]);
  assert.throws(() => ops.matmul(a, g.input("b", "float32", [5, 2]), "attn.qk"), (e: Error) => {
    assert.ok(e instanceof GraphShapeError);
    assert.match(e.message, /MatMul attn\.qk: inner dimensions differ: float32\[B, 3, 4\] @ float32\[5, 2\] \(4 vs 5\)/);
    return true;
  });
  assert.throws(() => ops.matmul(a, g.input("c", "float32", [2, 4, 6])), /MatMul: shapes \[B\] and \[2\] do not broadcast/);
  assert.throws(() => ops.linear(a, g.param("to_q.weight", [8, 6])), /linear to_q: input has 4 features, weight expects 6 \(input float32\[B, 3, 4\], weight float32\[8, 6\]\)/);
  assert.throws(() => ops.linear(a, g.param("p.weight", [8, 4]), g.param("p.bias", [4])), /linear p: bias float32\[4\] must be \[8\]/);
  assert.throws(() => ops.reduceMean(a, [3]), /ReduceMean: axis 3 is out of range for rank 3 \(allowed -3\.\.2\)/);
  assert.throws(() => ops.reduceSum(a, [-4]), /ReduceSum: axis -4 is out of range for rank 3/);
  assert.throws(() => ops.softmax(a, 3), /Softmax: axis 3 is out of range for rank 3/);
  assert.throws(() => ops.softmax(a, 1.5), /Softmax: axis 1.5 is out of range/);
  // an axis named twice is a mistake (as in NumPy and PyTorch), not a silent de-duplication
  assert.throws(() => ops.reduceSum(a, [1, 1]), (e: unknown) => e instanceof GraphShapeError && /ReduceSum: axes \[1, 1\] name axis 1 more than once \(rank 3\)/.test(e.message));
  assert.throws(() => ops.reduceMean(a, [2, -1], true, "stats"), /ReduceMean stats: axes \[2, -1\] name axis 2 more than once/);
});
