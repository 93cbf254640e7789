import { test } from "node:test";
import assert from "node:assert/strict";
import { ops } from "../../../src/graph/index.js";
import { gradients } from "../../../src/graph/autodiff.js";
import { Graph, type Value } from "../../../src/graph/index.js";
import { Session } from "../../../src/runtime/index.js";
import { backwardNodes, gradCheck, randomTensor } from "./gradcheck.js";

const unaryCases: [string, (x: any) => any, number, number][] = [
  ["sqrt", ops.sqrt, 0.5, 2],
  ["exp", ops.exp, -1, 1],
  ["log", ops.log, 0.5, 2],
  ["neg", ops.neg, -1, 1],
  ["sigmoid", ops.sigmoid, -3, 3],
  ["tanh", ops.tanh, -2, 2],
  ["erf", ops.erf, -2, 2],
  ["sin", ops.sin, -3, 3],
  ["cos", ops.cos, -3, 3],
  ["silu", ops.silu, -3, 3],
  ["gelu exact", (x) => ops.gelu(x, "exact"), -3, 3],
  ["gelu tanh", (x) => ops.gelu(x, "tanh"), -3, 3],
  ["identity", ops.identity, -1, 1],
];

for (const [name, f, lo, hi] of unaryCases) {
  test(`gradient of ${name} matches finite differences`, async () => {
    await gradCheck((g) => {
      const x = g.input("x", "float32", [2, 3, 5]);
      return { output: f(x), feeds: { x: randomTensor([2, 3, 5], 3, lo, hi) }, wrt: [x] };
    });
  });
}

const binaryCases: [string, (a: any, b: any) => any, [number, number], [number, number]][] = [
  ["add", ops.add, [-1, 1], [-1, 1]],
  ["sub", ops.sub, [-1, 1], [-1, 1]],
  ["mul", ops.mul, [-1, 1], [-1, 1]],
  ["div", ops.div, [-1, 1], [0.5, 2]],
  ["pow", ops.pow, [0.5, 2], [-1.5, 1.5]],
];

for (const [name, f, ra, rb] of binaryCases) {
  test(`gradient of ${name} with broadcasting (both operands) matches finite differences`, async () => {
    await gradCheck((g) => {
      const a = g.input("a", "float32", [2, 3, 4]);
      const b = g.input("b", "float32", [3, 1]); // broadcast over the batch and the last axis
      return {
        output: f(a, b),
        feeds: { a: randomTensor([2, 3, 4], 11, ...ra), b: randomTensor([3, 1], 12, ...rb) },
        wrt: [a, b],
      };
    });
  });
}

test("gradient of where routes to the chosen branch, both broadcast", async () => {
  await gradCheck((g) => {
    const a = g.input("a", "float32", [3, 4]);
    const b = g.input("b", "float32", [4]);
    const c = g.input("c", "float32", [3, 4]);
    return {
      output: ops.where(ops.greater(c, 0), ops.mul(a, a), b),
      feeds: { a: randomTensor([3, 4], 21), b: randomTensor([4], 22), c: randomTensor([3, 4], 23) },
      wrt: [a, b],
    };
  });
});

test("a value used several times accumulates its gradient; float16 casts carry it", async () => {
  await gradCheck((g) => {
    const x = g.input("x", "float32", [6]);
    const h = ops.cast(ops.mul(x, 0.5), "float16");
    const y = ops.add(ops.mul(ops.exp(x), x), ops.cast(ops.mul(h, h), "float32"));
    return { output: y, feeds: { x: randomTensor([6], 31) }, wrt: [x] };
  }, { rtol: 3e-3 }); // the float16 square is rounded to ~1e-3
});

test("silu whose sigmoid output is also read elsewhere, either operand order, matches finite differences", async () => {
  await gradCheck((g) => {
    const x = g.input("x", "float32", [2, 3, 4]);
    const s = ops.sigmoid(x);
    const reversed = ops.mul(s, x); // the fused rule's other operand order, but s has a second reader
    const alone = ops.silu(ops.mul(x, 0.7)); // s read by its Mul alone: the fused rule
    return { output: ops.add(ops.add(reversed, ops.mul(s, 3)), alone), feeds: { x: randomTensor([2, 3, 4], 41, -3, 3) }, wrt: [x] };
  });
});

test("silu's backward is four passes, and its sigmoid output still gets its own gradient when asked for", async () => {
  const shape = [2, 5];
  let input!: Value;
  const silu = backwardNodes((g) => {
    input = g.input("x", "float32", shape);
    return { y: ops.silu(input), wrt: [input] };
  });
  // dx = gy (s + y - y s): Add, Mul, Sub, Mul on the tensor (the marked gy x for s is built, then never read)
  const backward = new Set(silu.nodes);
  const reached: string[] = [];
  const visit = (v: Value | null) => {
    const n = v?.producer;
    if (!n || !backward.has(n)) return;
    backward.delete(n);
    if (["Add", "Sub", "Mul", "Div", "Sigmoid"].includes(n.op)) reached.push(n.op);
    n.inputs.forEach(visit);
  };
  visit(silu.grads.get(input)!);
  assert.deepEqual(reached.sort(), ["Add", "Mul", "Mul", "Sub"]);

  const g = new Graph("silu-wrt-sigmoid");
  const x = g.input("x", "float32", shape);
  const r = g.input("r", "float32", shape);
  const s = ops.sigmoid(x);
  const loss = ops.reduceSum(ops.mul(ops.mul(x, s), r), [0, 1], false);
  const grads = gradients(loss, [x, s]);
  g.output("dx", grads.get(x)!);
  g.output("ds", grads.get(s)!);
  const session = await Session.fromGraph(g, { threads: 1 });
  try {
    const [xt, rt] = [randomTensor(shape, 51, -3, 3), randomTensor(shape, 52)];
    const out = await session.run({ x: xt, r: rt });
    xt.data.forEach((xi, i) => {
      const si = 1 / (1 + Math.exp(-xi));
      const ri = rt.data[i]!;
      assert.ok(Math.abs((out.ds!.data as Float32Array)[i]! - ri * xi) < 1e-6, `ds[${i}] = r x`);
      assert.ok(Math.abs((out.dx!.data as Float32Array)[i]! - ri * (si + xi * si * (1 - si))) < 1e-6, `dx[${i}] = r (s + x s (1 - s))`);
    });
  } finally {
    await session.release();
  }
});

test("frozen inputs get no backward work; unrelated wrt values get zeros", () => {
  const g = new Graph("frozen");
  const x = g.input("x", "float32", [4, 8]);
  const frozen = g.param("frozen.weight", [8, 8], "float32", false);
  const trained = g.param("trained.weight", [8, 8]);
  const unused = g.param("unused.weight", [3]);
  // frozen layer first: its forward is needed, its backward is not
  const h = ops.tanh(ops.linear(x, frozen));
  const loss = ops.reduceSum(ops.linear(h, trained), [0, 1], false);
  const before = g.nodes.length;
  const grads = gradients(loss, [trained, unused]);
  const backward = g.nodes.slice(before);
  assert.ok(!backward.some((n) => n.op === "Tanh" || n.inputs.includes(frozen)), "no gradient flows into the frozen layer");
  assert.equal(grads.get(unused)!.producer!.op, "ConstantOfShape");
  assert.deepEqual(grads.get(trained)!.shape, [8, 8]);
});

test("the loss must be a float scalar", () => {
  const g = new Graph("bad");
  const x = g.input("x", "float32", [3]);
  assert.throws(() => gradients(ops.exp(x), [x]), /loss must be a scalar \(one element\), got float32\[3\]/);
});
