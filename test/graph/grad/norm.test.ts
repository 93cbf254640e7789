import { test } from "node:test";
import assert from "node:assert/strict";
import { Graph, ops, type Value } from "../../../src/graph/index.js";
import { gradients } from "../../../src/graph/autodiff.js";
import { Session } from "../../../src/runtime/index.js";
import { Tensor } from "../../../src/tensor/tensor.js";
import { backwardNodes, gradCheck, randomTensor } from "./gradcheck.js";

interface LayerNormCase {
  name: string;
  shape: number[];
  axes: number;
  weight: boolean;
  bias: boolean;
}

const layerNormCases: LayerNormCase[] = [
  { name: "1 normalised axis, weight and bias", shape: [2, 3, 5], axes: 1, weight: true, bias: true },
  { name: "2 normalised axes, weight and bias", shape: [2, 3, 4], axes: 2, weight: true, bias: true },
  { name: "1 normalised axis, no weight or bias", shape: [3, 6], axes: 1, weight: false, bias: false },
  { name: "2 normalised axes, weight only", shape: [2, 3, 4], axes: 2, weight: true, bias: false },
  { name: "every axis normalised", shape: [3, 4], axes: 2, weight: true, bias: true },
];

for (const c of layerNormCases) {
  test(`gradient of layerNorm (${c.name}) matches finite differences`, async () => {
    await gradCheck((g) => {
      const normShape = c.shape.slice(c.shape.length - c.axes);
      const x = g.input("x", "float32", c.shape);
      const weight = c.weight ? g.param("norm.weight", normShape) : null;
      const bias = c.bias ? g.param("norm.bias", normShape) : null;
      const feeds: Record<string, Tensor> = { x: randomTensor(c.shape, 101, -2, 2) };
      if (weight) feeds["norm.weight"] = randomTensor(normShape, 102, 0.5, 1.5);
      if (bias) feeds["norm.bias"] = randomTensor(normShape, 103);
      return { output: ops.layerNorm(x, weight, bias, { axes: c.axes }), feeds, wrt: [x, ...[weight, bias].filter((p): p is Value => p !== null)] };
    });
  });
}

/** Values 2^-10 apart around `mean`: exactly representable there, so x and x + shift hold the same deviations. */
function narrowAround(shape: number[], seed: number, mean: number): Tensor<"float32"> {
  const step = 2 ** -10;
  const u = randomTensor(shape, seed, -64, 64).data;
  return new Tensor("float32", Float32Array.from(u, (e) => mean + Math.round(e) * step), shape);
}

test("gradient of layerNorm on an input with a mean of 10 and a deviation of 0.04 matches finite differences", async () => {
  await gradCheck((g) => {
    const x = g.input("x", "float32", [3, 8]);
    const weight = g.param("norm.weight", [8]);
    return {
      output: ops.layerNorm(x, weight, null),
      feeds: { x: narrowAround([3, 8], 111, 10), "norm.weight": randomTensor([8], 112, 0.5, 1.5) },
      wrt: [x, weight],
    };
  }, { h: 1e-4 }); // a step of 1e-3: the finite difference stays within the input's small spread
});

test("layerNorm gradients do not change when a mean of 1000 is added to the input", async () => {
  // y, and so dL/dx and dL/dweight, are invariant to shifting x along the normalised axes; a backward
  // pass that took the variance as E[x^2] - E[x]^2 would lose it to cancellation at this mean.
  const g = new Graph("shift");
  const x = g.input("x", "float32", [3, 8]);
  const weight = g.param("norm.weight", [8]);
  const r = g.input("r", "float32", [3, 8]);
  const loss = ops.reduceSum(ops.mul(ops.layerNorm(x, weight, null), r), [0, 1], false);
  const grads = gradients(loss, [x, weight]);
  g.output("dx", grads.get(x)!);
  g.output("dweight", grads.get(weight)!);
  const session = await Session.fromGraph(g, { paramsAsInputs: "all", threads: 1 });
  try {
    const feeds = { "norm.weight": randomTensor([8], 122, 0.5, 1.5), r: randomTensor([3, 8], 123) };
    const near = await session.run({ ...feeds, x: narrowAround([3, 8], 121, 0) });
    const far = await session.run({ ...feeds, x: narrowAround([3, 8], 121, 1000) });
    for (const name of ["dx", "dweight"]) {
      const [a, b] = [near[name]!.data as Float32Array, far[name]!.data as Float32Array];
      const scale = Math.max(...Array.from(a, Math.abs));
      const err = Math.max(...Array.from(a, (e, i) => Math.abs(e - b[i]!)));
      assert.ok(err / scale < 1e-3, `${name}: relative change ${(err / scale).toExponential(2)} under a shift of 1000`);
    }
  } finally {
    await session.release();
  }
});

test("gradient of InstanceNormalization with scale and bias as parameters matches finite differences", async () => {
  await gradCheck((g) => {
    const x = g.input("x", "float32", [2, 3, 2, 3]);
    const scale = g.param("norm.weight", [3]);
    const bias = g.param("norm.bias", [3]);
    const y = g.addNode("InstanceNormalization", [x, scale, bias], { epsilon: { type: "float", value: 1e-5 } }, [{ dtype: "float32", shape: x.shape }])[0]!;
    return {
      output: y,
      feeds: { x: randomTensor([2, 3, 2, 3], 131, -2, 2), "norm.weight": randomTensor([3], 132, 0.5, 1.5), "norm.bias": randomTensor([3], 133) },
      wrt: [x, scale, bias],
    };
  });
});

const groupNormCases: [string, number[], number][] = [
  ["4-D [N, C, H, W]", [2, 4, 3, 3], 2],
  ["5-D [B, C, F, H, W]", [2, 4, 3, 2, 2], 2],
  ["5-D with F = 1", [2, 6, 1, 3, 2], 3],
];

for (const [name, shape, groups] of groupNormCases) {
  test(`gradient of groupNorm on ${name} with affine parameters matches finite differences`, async () => {
    await gradCheck((g) => {
      const c = shape[1]!;
      const x = g.input("x", "float32", shape);
      const weight = g.param("norm.weight", [c]);
      const bias = g.param("norm.bias", [c]);
      return {
        output: ops.groupNorm(x, groups, weight, bias),
        feeds: { x: randomTensor(shape, 141, -2, 2), "norm.weight": randomTensor([c], 142, 0.5, 1.5), "norm.bias": randomTensor([c], 143) },
        wrt: [x, weight, bias],
      };
    });
  });
}

test("layerNorm builds only the gradients asked for", () => {
  const build = (which: "x" | "weight" | "bias") => backwardNodes((g) => {
    const x = g.input("x", "float32", [2, 3, 4]);
    const weight = g.param("norm.weight", [4]);
    const bias = g.param("norm.bias", [4]);
    return { y: ops.layerNorm(x, weight, bias), wrt: [{ x, weight, bias }[which]] };
  }).nodes;
  const count = (nodes: { op: string }[], op: string) => nodes.filter((n) => n.op === op).length;
  // bias alone: a sum of gy over the leading axes, no statistics
  const biasOnly = build("bias");
  assert.equal(count(biasOnly, "ReduceMean"), 0);
  assert.equal(count(biasOnly, "ReduceSum"), 1);
  // weight alone: mean and variance for xhat, no mean(dxhat) or mean(dxhat * xhat)
  assert.equal(count(build("weight"), "ReduceMean"), 2);
  // x alone: the statistics and the two means of dx, no parameter sums
  const xOnly = build("x");
  assert.equal(count(xOnly, "ReduceMean"), 4);
  assert.equal(count(xOnly, "ReduceSum"), 0);
});

test("groupNorm's constant unit scale costs no multiply in the backward pass", () => {
  let scale!: Value;
  let bias!: Value;
  const nodes = backwardNodes((g) => {
    const x = g.input("x", "float32", [2, 4, 3, 3]);
    const y = ops.groupNorm(x, 2, null, null);
    const instanceNorm = g.nodes.find((n) => n.op === "InstanceNormalization")!;
    [scale, bias] = [instanceNorm.inputs[1]!, instanceNorm.inputs[2]!];
    return { y, wrt: [x] };
  }).nodes;
  assert.ok(!nodes.some((n) => n.inputs.includes(scale) || n.inputs.includes(bias)), "the ones / zeros constants are not read");
  assert.equal(nodes.filter((n) => n.op === "ReduceSum").length, 0, "no scale or bias gradient is summed");
});

test("with an identity affine the forward output is xhat: the backward reads it and recomputes only rstd", () => {
  let normalized!: Value;
  const nodes = backwardNodes((g) => {
    const x = g.input("x", "float32", [2, 4, 3, 3]);
    const y = ops.groupNorm(x, 2, null, null);
    normalized = g.nodes.find((n) => n.op === "InstanceNormalization")!.outputs[0]!;
    return { y, wrt: [x] };
  }).nodes;
  assert.ok(nodes.some((n) => n.inputs.includes(normalized)), "xhat is the InstanceNormalization output");
  const rstd = nodes.find((n) => n.op === "Div")!.outputs[0]!; // 1 / sqrt(var + eps)
  assert.deepEqual(nodes.filter((n) => n.inputs.includes(rstd)).map((n) => n.op), ["Mul"], "rstd scales dx alone, no (x - mu) rstd");
});

test("gradient of InstanceNormalization with unit scale and a non-zero bias matches finite differences", async () => {
  await gradCheck((g) => {
    const x = g.input("x", "float32", [2, 3, 4]);
    const ones = g.constant(new Tensor("float32", new Float32Array(3).fill(1), [3]));
    const bias = g.param("norm.bias", [3]);
    const y = g.addNode("InstanceNormalization", [x, ones, bias], { epsilon: { type: "float", value: 1e-5 } }, [{ dtype: "float32", shape: x.shape }])[0]!;
    return { output: ops.mul(y, y), feeds: { x: randomTensor([2, 3, 4], 161, -2, 2), "norm.bias": randomTensor([3], 162) }, wrt: [x, bias] };
  });
});

test("normalisation gradients with symbolic dims equal those of the same graph with static dims", async () => {
  const shape = [2, 4, 3, 2, 8];
  const run = async (dims: (number | string)[]) => {
    const g = new Graph("norms");
    const x = g.input("x", "float32", dims);
    const r = g.input("r", "float32", dims);
    const weight = g.param("norm.weight", [4]);
    const y = ops.layerNorm(ops.groupNorm(x, 2, weight, null), null, null, { axes: 1 });
    const loss = ops.reduceSum(ops.mul(y, r), [0, 1, 2, 3, 4], false);
    const grads = gradients(loss, [x, weight]);
    assert.deepEqual(grads.get(x)!.shape, dims);
    g.output("dx", grads.get(x)!);
    g.output("dweight", grads.get(weight)!);
    const session = await Session.fromGraph(g, { paramsAsInputs: "all", threads: 1 });
    try {
      return await session.run({ x: randomTensor(shape, 151, -2, 2), r: randomTensor(shape, 152), "norm.weight": randomTensor([4], 153, 0.5, 1.5) });
    } finally {
      await session.release();
    }
  };
  const symbolic = await run(["B", 4, "F", "H", 8]);
  const fixed = await run(shape);
  for (const name of ["dx", "dweight"]) {
    assert.deepEqual(symbolic[name]!.shape, fixed[name]!.shape);
    const [a, b] = [symbolic[name]!.data as Float32Array, fixed[name]!.data as Float32Array];
    a.forEach((e, i) => assert.ok(Math.abs(e - b[i]!) <= 1e-5 * (1 + Math.abs(b[i]!)), `${name}[${i}]: ${e} vs ${b[i]}`));
  }
});
