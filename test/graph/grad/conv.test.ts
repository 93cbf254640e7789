// Backward rules of Conv and ConvTranspose against central finite differences (gradcheck.ts), on shapes
// that reach every branch: strides that drop trailing rows, asymmetric pads, dilation, groups, depthwise,
// output padding, the temporal (3, 1, 1) kernel, the stride-1 data gradient as a Conv (and pads past the
// kernel's span, which keep the ConvTranspose), the im2col of x or of dy (fewer output channels); plus
// the pruning of unneeded work, the ops each formulation emits, and symbolic sizes.

import { test } from "node:test";
import assert from "node:assert/strict";
import { Graph, ops, type Value } from "../../../src/graph/index.js";
import type { ConvTransposeOptions } from "../../../src/graph/ops/conv.js";
import { im2colLimit } from "../../../src/graph/grad/conv.js";
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
  { what: "2-D, stride 1, fewer output than input channels (im2col of dy)", x: [2, 5, 4, 5], w: [2, 5, 3, 3], bias: true, opts: { padding: 1 } },
  { what: "2-D, stride 1, groups 2, dilation 2, asymmetric pads, fewer outputs per group", x: [2, 6, 6, 5], w: [4, 3, 3, 2], opts: { groups: 2, dilation: 2, padding: [3, 0, 1, 2] } },
  { what: "temporal (3, 1, 1), fewer output channels, F = 4", x: [2, 4, 4, 3, 2], w: [2, 4, 3, 1, 1], bias: true, opts: { padding: [1, 0, 0] } },
  { what: "2-D, stride 1, padding 2 past a 1x1 kernel (data gradient by ConvTranspose)", x: [1, 3, 3, 4], w: [2, 3, 1, 1], bias: true, opts: { padding: 2 } },
  { what: "2-D, stride 1, kernel 2, no padding, 1 batch", x: [1, 2, 4, 3], w: [3, 2, 2, 2], opts: {} },
  { what: "2-D, stride 1, depthwise with multiplier 1, padding 1", x: [2, 3, 5, 4], w: [3, 1, 3, 3], bias: true, opts: { groups: 3, padding: 1 } },
  { what: "2-D, stride 1, one output channel", x: [2, 3, 4, 4], w: [1, 3, 3, 3], opts: { padding: 1 } },
];

const convTransposeCases: ConvCase[] = [
  { what: "1-D, stride 2, padding 1, output padding 1, bias", x: [2, 3, 4], w: [3, 2, 3], bias: true, opts: { stride: 2, padding: 1, outputPadding: 1 } },
  { what: "2-D, 2x upsample (kernel 4, stride 2, padding 1), bias", x: [2, 3, 3, 4], w: [3, 2, 4, 4], bias: true, opts: { stride: 2, padding: 1 } },
  { what: "2-D, groups 2, dilation 2, stride 3, output padding [2, 1]", x: [2, 4, 3, 2], w: [4, 1, 3, 2], bias: true, opts: { groups: 2, dilation: 2, stride: 3, outputPadding: [2, 1] } },
  { what: "2-D, groups 2, asymmetric padding, stride 2, output padding 1", x: [1, 4, 3, 3], w: [4, 3, 3, 3], opts: { groups: 2, stride: 2, padding: [1, 0, 0, 1], outputPadding: 1 } },
  { what: "3-D, stride (1, 2, 2), padding (1, 1, 1), output padding (0, 1, 1)", x: [1, 2, 3, 3, 2], w: [2, 2, 3, 3, 3], bias: true, opts: { stride: [1, 2, 2], padding: 1, outputPadding: [0, 1, 1] } },
  { what: "2-D, stride 1, padding 1, more output than input channels (im2col of x)", x: [2, 2, 3, 4], w: [2, 4, 3, 3], bias: true, opts: { padding: 1 } },
  { what: "2-D, stride 1, groups 2, padding [1, 0, 0, 1], fewer outputs per group", x: [1, 6, 3, 3], w: [6, 1, 2, 3], opts: { groups: 2, padding: [1, 0, 0, 1] } },
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
  // The weight gradients come out of the im2col products in the weights' layout, whatever the sizes:
  // the im2col has the forward's windows (H/2 at stride 2), so no extra kernel rows need slicing. Its
  // input has the batch as a leading spatial axis: [1, channels * taps, B, windows...].
  const declared = (name: string) => g.nodes.find((n) => n.name === name)!.outputs[0]!.shape;
  assert.deepEqual(declared("down.grad_weight"), [6, 2, 3, 3]);
  assert.deepEqual(declared("up.grad_weight"), [6, 4, 4, 4]);
  assert.deepEqual(declared("down.im2col"), [1, 36, "B", "H/2", "W/2"]);
  assert.deepEqual(declared("up.im2col"), [1, 64, "B", "H/2", "W/2"]);
});

/** Whether v is computed from constants and parameters alone (no activation reaches it). */
function isStaticKernel(v: Value): boolean {
  if (v.kind === "constant" || v.kind === "param") return true;
  if (v.kind === "input") return false;
  return v.producer!.inputs.every((i) => i === null || isStaticKernel(i));
}

/** The backward of sum(conv(x, w)^2) with respect to x and w: its nodes, by op. */
function backwardOf(xShape: number[], wShape: number[], opts: ConvTransposeOptions, transposed = false) {
  const g = new Graph("formulation");
  const x = g.input("x", "float32", xShape);
  const w = g.param("layer.weight", wShape);
  const y = transposed ? ops.convTranspose(x, w, null, opts) : ops.conv(x, w, null, opts);
  const loss = ops.reduceSum(ops.mul(y, y), [...y.shape.keys()], false);
  const before = g.nodes.length;
  gradients(loss, [x, w]);
  const nodes = g.nodes.slice(before);
  return { x, y, nodes, count: (op: string) => nodes.filter((n) => n.op === op).length };
}

test("every backward conv has a kernel made of weights or constants, never of activations", () => {
  const cases: [number[], number[], ConvTransposeOptions, boolean][] = [
    [[2, 4, 6, 6], [6, 2, 3, 3], { stride: 2, padding: 1, groups: 2 }, false],
    [[2, 4, 6, 6], [2, 4, 3, 3], { padding: 1 }, false],
    [[1, 3, 4, 5, 5], [3, 3, 3, 1, 1], { padding: [1, 0, 0] }, false],
    [[2, 4, 3, 3], [4, 6, 4, 4], { stride: 2, padding: 1 }, true],
  ];
  for (const [xs, ws, opts, transposed] of cases) {
    const { nodes } = backwardOf(xs, ws, opts, transposed);
    for (const n of nodes.filter((n) => n.op === "Conv" || n.op === "ConvTranspose")) {
      assert.ok(isStaticKernel(n.inputs[1]!), `${n.op} ${n.name} of the backward of ${transposed ? "convTranspose" : "conv"} x [${xs}], w [${ws}] has an activation as its kernel`);
    }
  }
});

test("at stride 1 the data gradient is a Conv with the flipped kernel; with a stride, or a pad past the kernel, a ConvTranspose", () => {
  const stride1 = backwardOf([2, 4, 6, 6], [6, 4, 3, 3], { padding: 1 });
  assert.equal(stride1.count("ConvTranspose"), 0);
  const dataGrad = stride1.nodes.find((n) => n.name === "layer.grad_input")!;
  assert.equal(dataGrad.op, "Conv");
  const kernelOps: string[] = [];
  for (let v: Value | undefined = dataGrad.inputs[1]!; v?.producer; v = v.producer.inputs[0]!) kernelOps.push(v.producer.op);
  assert.deepEqual(kernelOps, ["Reshape", "Slice", "Transpose", "Reshape"], "w: taps flattened, channel axes swapped, taps reversed, back to a kernel");
  assert.equal(backwardOf([2, 4, 6, 6], [6, 4, 3, 3], { padding: 1, stride: 2 }).count("ConvTranspose"), 1);
  assert.equal(backwardOf([2, 4, 6, 6], [6, 4, 1, 1], { padding: 1 }).count("ConvTranspose"), 1);
});

test("the weight gradient's im2col is of the tensor with fewer channels at stride 1, of x otherwise", () => {
  /** The tensor the im2col windows, before the batch moves to a spatial axis (Transpose, Unsqueeze). */
  const im2colSource = (b: ReturnType<typeof backwardOf>): Value => {
    assert.equal(b.count("MatMul"), 1);
    let v = b.nodes.find((n) => n.name === "layer.im2col")!.inputs[0]!;
    while (v.producer && ["Transpose", "Unsqueeze"].includes(v.producer.op)) v = v.producer.inputs[0]!;
    return v;
  };
  const moreOut = backwardOf([2, 3, 6, 6], [8, 3, 3, 3], { padding: 1 });
  assert.equal(im2colSource(moreOut), moreOut.x);
  const fewerOut = backwardOf([2, 8, 6, 6], [3, 8, 3, 3], { padding: 1 });
  const source = im2colSource(fewerOut);
  assert.notEqual(source, fewerOut.x, "the im2col of fewer output channels reads dy, not the input x");
  assert.deepEqual(source.shape, [2, 3, 6, 6]);
  // With a stride dy cannot be windowed at stride 1, so the im2col reads x whatever the channels.
  const strided = backwardOf([2, 8, 6, 6], [3, 8, 3, 3], { padding: 1, stride: 2 });
  assert.equal(im2colSource(strided), strided.x);
  // Three spatial axes leave no room for the batch: the im2col reads x itself, a MatMul per sample.
  const video = backwardOf([2, 3, 4, 5, 5], [8, 3, 3, 1, 1], { padding: [1, 0, 0] });
  assert.equal(video.nodes.find((n) => n.name === "layer.im2col")!.inputs[0], video.x);
});

test("past the im2col limit the batch is split and the products summed; gradients are unchanged", async () => {
  const saved = im2colLimit.elements;
  im2colLimit.elements = 200; // 2-D: x [3, 2, 4, 4] windows 9 taps, 864 elements; 3-D: [3, 2, 3, 2, 2] 3 taps, 216
  try {
    const image = backwardOf([3, 2, 4, 4], [3, 2, 3, 3], { padding: 1 });
    assert.equal(image.nodes.filter((n) => n.name === "layer.im2col").length, 3, "one im2col per sample (ceil(864 / 200) > 3)");
    const video = backwardOf([3, 2, 3, 2, 2], [3, 2, 3, 1, 1], { padding: [1, 0, 0] });
    assert.equal(video.nodes.filter((n) => n.name === "layer.im2col").length, 2, "ceil(216 / 200) = 2 chunks of 2 and 1 samples");
    for (const [x, w, opts, seed] of [[[3, 2, 4, 4], [3, 2, 3, 3], { padding: 1 }, 71], [[3, 2, 3, 2, 2], [3, 2, 3, 1, 1], { padding: [1, 0, 0] }, 72], [[3, 4, 4, 4], [2, 4, 3, 3], { padding: 1 }, 73]] as const) {
      await checkCase({ what: "chunked", x: [...x], w: [...w], bias: true, opts }, false, seed);
    }
  } finally {
    im2colLimit.elements = saved;
  }
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
