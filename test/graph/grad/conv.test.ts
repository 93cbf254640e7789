// Backward rules of Conv and ConvTranspose against central finite differences (gradcheck.ts), on shapes
// that reach every branch: strides that drop trailing rows, asymmetric pads, dilation, groups, depthwise,
// output padding, the temporal (3, 1, 1) kernel; plus the pruning of unneeded work and symbolic sizes.

import { test } from "node:test";
import assert from "node:assert/strict";
import { Graph, ops, type Value } from "../../../src/graph/index.js";
import type { ConvTransposeOptions } from "../../../src/graph/ops/conv.js";
import { gradients } from "../../../src/graph/autodiff.js";
import { Session } from "../../../src/runtime/index.js";
import { Tensor } from "../../../src/tensor/tensor.js";
import { gradCheck, randomTensor, uniform } from "./gradcheck.js";

interface ConvCase {
  what: string;
  x: number[];
  /** Conv [M, C/groups, k...]; ConvTranspose [C, M/groups, k...]. */
  w: number[];
  bias?: boolean;
  opts: ConvTransposeOptions;
}

const convCases: ConvCase[] = [
  { what: "1-D, stride 1, padding 1, bias", x: [2, 3, 7], w: [4, 3, 3], bias: true, opts: { padding: 1 } },
  { what: "1-D, stride 2, asymmetric padding [2, 0]", x: [2, 2, 8], w: [3, 2, 3], bias: true, opts: { stride: 2, padding: [2, 0] } },
  { what: "1-D, stride 2 on odd length 7, kernel 2: last row dropped", x: [1, 2, 7], w: [3, 2, 2], opts: { stride: 2 } },
  { what: "1-D, dilation 2, stride 3: two unread rows, one extra weight-gradient row", x: [1, 2, 7], w: [2, 2, 3], opts: { stride: 3, dilation: 2 } },
  { what: "2-D, stride 1, padding 1, bias", x: [2, 3, 5, 6], w: [4, 3, 3, 3], bias: true, opts: { padding: 1 } },
  { what: "2-D, stride 2, padding 1 on even sizes (one unread row each)", x: [2, 2, 6, 4], w: [3, 2, 3, 3], bias: true, opts: { stride: 2, padding: 1 } },
  { what: "2-D, stride 2 on odd sizes 7x5, kernel 2 (rows dropped)", x: [1, 2, 7, 5], w: [3, 2, 2, 2], opts: { stride: 2 } },
  { what: "2-D, asymmetric padding, stride [2, 1]", x: [1, 2, 5, 6], w: [3, 2, 3, 2], opts: { stride: [2, 1], padding: [1, 0, 2, 1] } },
  { what: "2-D, dilation 2, padding 2, stride 2", x: [1, 2, 7, 6], w: [2, 2, 3, 3], bias: true, opts: { dilation: 2, padding: 2, stride: 2 } },
  { what: "2-D, groups 2, stride 2, padding 1", x: [2, 4, 5, 5], w: [6, 2, 3, 3], bias: true, opts: { groups: 2, stride: 2, padding: 1 } },
  { what: "2-D, depthwise (groups = channels, multiplier 2)", x: [2, 3, 6, 5], w: [6, 1, 3, 3], bias: true, opts: { groups: 3, padding: 1 } },
  { what: "2-D, depthwise, stride 2 on odd sizes", x: [1, 3, 7, 5], w: [3, 1, 2, 2], opts: { groups: 3, stride: 2 } },
  { what: "3-D, stride 2, padding 1, bias", x: [1, 2, 4, 5, 4], w: [3, 2, 3, 3, 3], bias: true, opts: { stride: 2, padding: 1 } },
  { what: "3-D, groups 2, dilation [2, 1, 1], asymmetric padding", x: [1, 4, 5, 3, 4], w: [2, 2, 2, 3, 1], opts: { groups: 2, dilation: [2, 1, 1], padding: [1, 1, 0, 0, 1, 2] } },
  { what: "temporal (3, 1, 1), padding (1, 0, 0), F = 1", x: [2, 3, 1, 4, 4], w: [3, 3, 3, 1, 1], bias: true, opts: { padding: [1, 0, 0] } },
  { what: "temporal (3, 1, 1), padding (1, 0, 0), F = 3", x: [2, 3, 3, 4, 4], w: [3, 3, 3, 1, 1], bias: true, opts: { padding: [1, 0, 0] } },
];

const convTransposeCases: ConvCase[] = [
  { what: "1-D, stride 2, padding 1, output padding 1, bias", x: [2, 3, 4], w: [3, 2, 3], bias: true, opts: { stride: 2, padding: 1, outputPadding: 1 } },
  { what: "2-D, 2x upsample (kernel 4, stride 2, padding 1), bias", x: [2, 3, 3, 4], w: [3, 2, 4, 4], bias: true, opts: { stride: 2, padding: 1 } },
  { what: "2-D, groups 2, dilation 2, stride 3, output padding [2, 1]", x: [2, 4, 3, 2], w: [4, 1, 3, 2], bias: true, opts: { groups: 2, dilation: 2, stride: 3, outputPadding: [2, 1] } },
  { what: "2-D, groups 2, asymmetric padding, stride 2, output padding 1", x: [1, 4, 3, 3], w: [4, 3, 3, 3], opts: { groups: 2, stride: 2, padding: [1, 0, 0, 1], outputPadding: 1 } },
  { what: "3-D, stride (1, 2, 2), padding (1, 1, 1), output padding (0, 1, 1)", x: [1, 2, 3, 3, 2], w: [2, 2, 3, 3, 3], bias: true, opts: { stride: [1, 2, 2], padding: 1, outputPadding: [0, 1, 1] } },
];

function checkCase(c: ConvCase, transposed: boolean, seed: number): Promise<Record<string, number>> {
  return gradCheck((g) => {
    const x = g.input("x", "float32", c.x);
    const w = g.param("layer.weight", c.w);
    const outChannels = transposed ? c.w[1]! * (c.opts.groups ?? 1) : c.w[0]!;
    const b = c.bias ? g.param("layer.bias", [outChannels]) : null;
    const y = transposed ? ops.convTranspose(x, w, b, c.opts) : ops.conv(x, w, b, c.opts);
    const feeds: Record<string, Tensor> = { x: randomTensor(c.x, seed), "layer.weight": randomTensor(c.w, seed + 1) };
    if (b) feeds["layer.bias"] = randomTensor([outChannels], seed + 2);
    return { output: y, feeds, wrt: b ? [x, w, b] : [x, w] };
  }, { seed });
}

for (const [transposed, cases] of [[false, convCases], [true, convTransposeCases]] as const) {
  cases.forEach((c, i) => {
    test(`${transposed ? "convTranspose" : "conv"} gradients (input, weight${c.bias ? ", bias" : ""}): ${c.what}`, async () => {
      await checkCase(c, transposed, 100 + 10 * i + (transposed ? 500 : 0));
    });
  });
}

/** Builds conv -> sum, differentiates with respect to `wrt` and returns the backward nodes. */
function backwardOps(wrtOf: (x: Value, w: Value) => Value[]): string[] {
  const g = new Graph("pruning");
  const x = g.input("x", "float32", [1, 2, 6, 6]);
  const w = g.param("layer.weight", [3, 2, 3, 3], "float32", false);
  const y = ops.conv(x, w, null, { stride: 2, padding: 1 });
  const loss = ops.reduceSum(ops.mul(y, y), [0, 1, 2, 3], false);
  const before = g.nodes.length;
  gradients(loss, wrtOf(x, w));
  return g.nodes.slice(before).map((n) => n.op);
}

test("a frozen conv weight gets no weight-gradient work: only the data gradient's ConvTranspose", () => {
  const backward = backwardOps((x) => [x]);
  assert.equal(backward.filter((op) => op === "ConvTranspose").length, 1);
  assert.ok(!backward.includes("Conv"), `no weight-gradient conv, got ${backward.join(", ")}`);
  assert.ok(!backward.includes("Transpose") && !backward.includes("Slice"), `no weight-gradient reshaping, got ${backward.join(", ")}`);
});

test("a conv input that needs no gradient gets no data-gradient ConvTranspose", () => {
  const backward = backwardOps((_x, w) => [w]);
  assert.ok(!backward.includes("ConvTranspose"), `no data gradient, got ${backward.join(", ")}`);
  assert.equal(backward.filter((op) => op === "Conv").length, 1);
});

test("gradients keep the inputs' symbolic dims", () => {
  const g = new Graph("symbolic-shapes");
  const x = g.input("x", "float32", ["B", 4, "H", "W"]);
  const downWeight = g.param("down.weight", [6, 2, 3, 3]);
  const upWeight = g.param("up.weight", [6, 4, 4, 4]);
  const down = ops.conv(x, downWeight, null, { stride: 2, padding: 1, groups: 2 });
  const up = ops.convTranspose(down, upWeight, null, { stride: 2, padding: 1 });
  const loss = ops.reduceSum(ops.mul(up, up), [0, 1, 2, 3], false);
  const grads = gradients(loss, [x, down, downWeight, upWeight]);
  assert.deepEqual(grads.get(x)!.shape, ["B", 4, "H", "W"]);
  assert.deepEqual(grads.get(down)!.shape, ["B", 6, "H/2", "W/2"]);
  assert.deepEqual(grads.get(downWeight)!.shape, [6, 2, 3, 3]);
  assert.deepEqual(grads.get(upWeight)!.shape, [6, 4, 4, 4]);
  // The weight-gradient convs have activations as kernels: [C/G, M, k'], k' = k + 1 for the row a
  // stride-2, padding-1 window leaves unread at even sizes, k' = k for the transposed conv.
  const declared = (name: string) => g.nodes.find((n) => n.name === name)!.outputs[0]!.shape;
  assert.deepEqual(declared("down.grad_weight"), [2, 6, 4, 4]);
  assert.deepEqual(declared("up.grad_weight"), [4, 6, 4, 4]);
});

/** Central differences of L = sum(y * r) in float64 on the host, for the listed elements of one feed. */
async function finiteDifferences(session: Session, feeds: Record<string, Tensor>, name: string, picks: number[], r: Float32Array): Promise<number[]> {
  const loss = async (data: Float32Array): Promise<number> => {
    const y = (await session.run({ ...feeds, [name]: new Tensor("float32", data, feeds[name]!.shape) }, ["y"])).y!.data as Float32Array;
    let s = 0;
    for (let i = 0; i < y.length; i++) s += y[i]! * r[i]!;
    return s;
  };
  const out: number[] = [];
  for (const k of picks) {
    const data = (feeds[name]!.data as Float32Array).slice();
    const x0 = data[k]!;
    const h = 1e-2 * Math.max(1, Math.abs(x0));
    const [xp, xm] = [Math.fround(x0 + h), Math.fround(x0 - h)];
    data[k] = xp;
    const lp = await loss(data);
    data[k] = xm;
    const lm = await loss(data);
    out.push((lp - lm) / (xp - xm));
  }
  return out;
}

test("conv and convTranspose gradients on symbolic [B, C, H, W] run at two sizes with one session and match finite differences", async () => {
  const g = new Graph("symbolic-conv-grad");
  const x = g.input("x", "float32", ["B", 4, "H", "W"]);
  const w1 = g.param("down.weight", [6, 4, 3, 3]);
  const b1 = g.param("down.bias", [6]);
  const w2 = g.param("mix.weight", [6, 3, 3, 3]);
  const w3 = g.param("up.weight", [6, 2, 4, 4]);
  const b3 = g.param("up.bias", [4]);
  const h = ops.tanh(ops.conv(x, w1, b1, { stride: 2, padding: 1 })); // [B, 6, H/2, W/2]
  const mixed = ops.conv(h, w2, null, { padding: 1, groups: 2 }); // [B, 6, H/2, W/2]
  const y = ops.convTranspose(mixed, w3, b3, { stride: 2, padding: 1, groups: 2 }); // [B, 4, H, W]
  assert.deepEqual(y.shape, ["B", 4, "H", "W"]);
  const r = g.input("r", "float32", y.shape);
  const loss = ops.reduceSum(ops.mul(y, r), [0, 1, 2, 3], false);
  const wrt = [x, w1, b1, w2, w3, b3];
  const grads = gradients(loss, wrt);
  g.output("y", y);
  wrt.forEach((v, i) => g.output(`grad${i}`, grads.get(v)!));
  const session = await Session.fromGraph(g, { paramsAsInputs: "all", threads: 1 });
  try {
    for (const [batch, height, width] of [[1, 6, 4], [2, 4, 8]] as const) {
      const rt = randomTensor([batch, 4, height, width], 3 * height + width);
      const feeds: Record<string, Tensor> = {
        x: randomTensor([batch, 4, height, width], height),
        r: rt,
        "down.weight": randomTensor([6, 4, 3, 3], 41, -0.5, 0.5),
        "down.bias": randomTensor([6], 42),
        "mix.weight": randomTensor([6, 3, 3, 3], 43),
        "up.weight": randomTensor([6, 2, 4, 4], 44),
        "up.bias": randomTensor([4], 45),
      };
      const ad = await session.run(feeds);
      for (const [i, v] of wrt.entries()) {
        const fed = feeds[v.name]!;
        const got = ad[`grad${i}`]!;
        assert.deepEqual(got.shape, fed.shape, `gradient of ${v.name} at H=${height}, W=${width} has its shape`);
        const picks = [...new Set(Array.from(uniform(12, 60 + i, 0, fed.size), Math.floor))];
        const fd = await finiteDifferences(session, feeds, v.name, picks, rt.data);
        const scale = Math.max(...fd.map(Math.abs), 1e-6);
        picks.forEach((k, j) => {
          const err = Math.abs((got.data as Float32Array)[k]! - fd[j]!) / scale;
          assert.ok(err <= 1e-3, `${v.name}[${k}] at B=${batch}, H=${height}, W=${width}: autodiff ${(got.data as Float32Array)[k]}, finite difference ${fd[j]}`);
        });
      }
    }
  } finally {
    await session.release();
  }
});
