import { test } from "node:test";
import assert from "node:assert/strict";
import { Graph, ops, type Value } from "../../../src/graph/index.js";
import { gradients } from "../../../src/graph/autodiff.js";
import { Session } from "../../../src/runtime/index.js";
import { backwardNodes, gradCheck, randomTensor } from "./gradcheck.js";

const matmulCases: [string, number[], number[]][] = [
  ["2-D", [3, 4], [4, 5]],
  ["batched 3-D", [2, 3, 4], [2, 4, 5]],
  ["4-D, batch dims broadcast both ways", [2, 1, 3, 4], [3, 4, 5]],
  ["4-D against 2-D (b broadcast over the batch)", [2, 2, 3, 4], [4, 5]],
  ["2-D against 3-D (a broadcast over the batch)", [3, 4], [2, 4, 5]],
  ["1-D @ 2-D", [4], [4, 5]],
  ["2-D @ 1-D", [3, 4], [4]],
  ["1-D @ 3-D", [4], [2, 4, 5]],
  ["3-D @ 1-D", [2, 3, 4], [4]],
  ["1-D @ 1-D", [4], [4]],
];

for (const [name, as, bs] of matmulCases) {
  test(`gradient of matmul ${name} ${JSON.stringify(as)} @ ${JSON.stringify(bs)} matches finite differences`, async () => {
    await gradCheck((g) => {
      const a = g.input("a", "float32", as);
      const b = g.input("b", "float32", bs);
      const y = ops.matmul(a, b);
      const feeds = { a: randomTensor(as, 41), b: randomTensor(bs, 42) };
      if (y.rank > 0) return { output: y, feeds, wrt: [a, b] };
      // gradCheck sums over the output's axes, so the rank-0 product of 1-D @ 1-D is lifted to [1]
      const lift = g.input("lift", "float32", [1]);
      return { output: ops.add(y, lift), feeds: { ...feeds, lift: randomTensor([1], 43) }, wrt: [a, b] };
    });
  });
}

test("gradient of linear (weight and bias as parameters) matches finite differences", async () => {
  await gradCheck((g) => {
    const x = g.input("x", "float32", [2, 3, 4]);
    const weight = g.param("proj.weight", [5, 4]);
    const bias = g.param("proj.bias", [5]);
    return {
      output: ops.linear(x, weight, bias),
      feeds: { x: randomTensor([2, 3, 4], 51), "proj.weight": randomTensor([5, 4], 52), "proj.bias": randomTensor([5], 53) },
      wrt: [x, weight, bias],
    };
  });
});

for (const axis of [-1, 1]) {
  test(`gradient of softmax along axis ${axis} of a [2, 3, 4] input matches finite differences`, async () => {
    await gradCheck((g) => {
      const x = g.input("x", "float32", [2, 3, 4]);
      return { output: ops.softmax(x, axis), feeds: { x: randomTensor([2, 3, 4], 61, -2, 2) }, wrt: [x] };
    });
  });
}

test("gradient of scaled dot-product attention with respect to q, k and v matches finite differences", async () => {
  await gradCheck((g) => {
    const q = g.input("q", "float32", [2, 3, 4]);
    const k = g.input("k", "float32", [2, 5, 4]);
    const v = g.input("v", "float32", [2, 5, 6]);
    return {
      output: ops.scaledDotProductAttention(q, k, v),
      feeds: { q: randomTensor([2, 3, 4], 71, -2, 2), k: randomTensor([2, 5, 4], 72, -2, 2), v: randomTensor([2, 5, 6], 73) },
      wrt: [q, k, v],
    };
  });
});

test("gradient of masked attention flows to q, k and v, not to the additive mask", async () => {
  await gradCheck((g) => {
    const q = g.input("q", "float32", [2, 2, 3, 4]); // [B, heads, Lq, D]
    const k = g.input("k", "float32", [2, 2, 5, 4]);
    const v = g.input("v", "float32", [2, 2, 5, 4]);
    const mask = g.input("mask", "float32", [3, 5]); // broadcast over batch and heads
    const maskData = randomTensor([3, 5], 84, -1, 1);
    maskData.data[4] = -1e4; // one key masked out for query 0
    return {
      output: ops.scaledDotProductAttention(q, k, v, { mask }),
      feeds: { q: randomTensor([2, 2, 3, 4], 81, -2, 2), k: randomTensor([2, 2, 5, 4], 82, -2, 2), v: randomTensor([2, 2, 5, 4], 83), mask: maskData },
      wrt: [q, k, v],
    };
  });
});

test("matmul builds only the gradients asked for", () => {
  // only b: db = a^T @ gy; gy @ b^T is never built
  {
    let b!: Value;
    const { nodes, grads } = backwardNodes((g) => {
      const a = g.input("a", "float32", [2, 3, 4]);
      b = g.param("b", [2, 4, 5]);
      return { y: ops.matmul(a, b), wrt: [b] };
    });
    assert.equal(nodes.filter((n) => n.op === "MatMul").length, 1);
    assert.ok(!nodes.some((n) => n.inputs.includes(b)), "no backward node reads b");
    assert.deepEqual(grads.get(b)!.shape, [2, 4, 5]);
  }
  // only a: da = gy @ b^T; a is never transposed
  {
    let a!: Value;
    const { nodes, grads } = backwardNodes((g) => {
      a = g.param("a", [3, 4]);
      const b = g.input("b", "float32", [4, 5]);
      return { y: ops.matmul(a, b), wrt: [a] };
    });
    assert.equal(nodes.filter((n) => n.op === "MatMul").length, 1);
    assert.ok(!nodes.some((n) => n.inputs.includes(a)), "no backward node reads a");
    assert.deepEqual(grads.get(a)!.shape, [3, 4]);
  }
});

test("a linear layer's weight gradient is one flattened product, with no batch of [in, out] partials", () => {
  let w!: Value;
  const { nodes, grads } = backwardNodes((g) => {
    const x = g.input("x", "float32", [2, 3, 4]);
    w = g.param("proj.weight", [5, 4]);
    return { y: ops.linear(x, w), wrt: [w] };
  });
  const products = nodes.filter((n) => n.op === "MatMul");
  assert.equal(products.length, 1);
  assert.deepEqual(products[0]!.outputs[0]!.shape, [4, 5]); // x^T [in, B*T] @ gy [B*T, out]
  assert.ok(!nodes.some((n) => n.op === "ReduceSum"), "the batch is summed inside the product");
  assert.deepEqual(grads.get(w)!.shape, [5, 4]);
});

test("matmul gradients keep symbolic batch dims and run at any batch size", async () => {
  const g = new Graph("symbolic");
  const x = g.input("x", "float32", ["B", "T", 4]);
  const w = g.param("proj.weight", [5, 4]);
  const loss = ops.reduceSum(ops.linear(x, w), [0, 1, 2], false);
  const grads = gradients(loss, [x, w]);
  assert.deepEqual(grads.get(x)!.shape, ["B", "T", 4]);
  assert.deepEqual(grads.get(w)!.shape, [5, 4]);
  g.output("dx", grads.get(x)!);
  g.output("dw", grads.get(w)!);
  const session = await Session.fromGraph(g, { paramsAsInputs: "all", threads: 1 });
  try {
    const wData = randomTensor([5, 4], 92);
    for (const [b, t] of [[2, 3], [1, 5]] as const) {
      const xData = randomTensor([b, t, 4], 91);
      const out = await session.run({ x: xData, "proj.weight": wData });
      // L = sum(x W^T): dL/dW[o, i] = sum over b, t of x[b, t, i]; dL/dx[b, t, i] = sum over o of W[o, i]
      const dwRef = Array.from({ length: 20 }, (_, j) => {
        let s = 0;
        for (let r = 0; r < b * t; r++) s += xData.data[r * 4 + (j % 4)]!;
        return s;
      });
      const dxRef = Array.from({ length: b * t * 4 }, (_, j) => [0, 1, 2, 3, 4].reduce((s, o) => s + wData.data[o * 4 + (j % 4)]!, 0));
      assert.deepEqual(out.dw!.shape, [5, 4]);
      assert.deepEqual(out.dx!.shape, [b, t, 4]);
      (out.dw!.data as Float32Array).forEach((e, j) => assert.ok(Math.abs(e - dwRef[j]!) < 1e-5, `dw[${j}] at B=${b}, T=${t}`));
      (out.dx!.data as Float32Array).forEach((e, j) => assert.ok(Math.abs(e - dxRef[j]!) < 1e-5, `dx[${j}] at B=${b}, T=${t}`));
    }
  } finally {
    await session.release();
  }
});
