// conv and convTranspose (1-3 spatial axes) against the reference, on random inputs.
//
// Tolerance: a conv output is a dot product of K = C/groups * prod(kernel) float32 terms, whose rounding
// error scales with sum |x w|, not with the (possibly cancelling) result. Each element must satisfy
// |got - want| <= 1e-5 * max(|want|, sum |x w| + |b|), the magnitude given by the reference run on
// absolute values, and the whole output ||got - want|| <= 1e-5 ||want||.

import { test } from "node:test";
import assert from "node:assert/strict";
import { Graph, GraphShapeError, ops } from "../../../src/graph/index.js";
import { type ConvTransposeParams, type NdArray, Rng, absNd, assertClose, randomNd, ref } from "../../reference/index.js";
import { compile, feeds, runOnce } from "./run-graph.js";

interface ConvCase {
  what: string;
  x: number[];
  w: number[];
  bias?: boolean;
  /** Options for the graph op (its own padding forms). */
  opts: ops.ConvTransposeOptions;
  /** The same in the reference's terms (ONNX pads order). */
  params: ConvTransposeParams;
}

const convCases: ConvCase[] = [
  { what: "1-D, stride 2, padding 1, bias, batch 2", x: [2, 3, 7], w: [4, 3, 3], bias: true, opts: { stride: 2, padding: 1 }, params: { stride: [2], pads: [1, 1] } },
  { what: "1-D, asymmetric padding, dilation 2", x: [1, 2, 6], w: [3, 2, 3], opts: { padding: [2, 0], dilation: 2 }, params: { pads: [2, 0], dilation: [2] } },
  { what: "2-D 3x3, padding 1, non-square, bias", x: [1, 4, 5, 7], w: [6, 4, 3, 3], bias: true, opts: { padding: 1 }, params: { pads: [1, 1, 1, 1] } },
  { what: "2-D stride 2 with diffusers' (0, 1, 0, 1) downsample padding", x: [2, 3, 6, 5], w: [2, 3, 3, 3], opts: { stride: 2, padding: [0, 0, 1, 1] }, params: { stride: [2, 2], pads: [0, 0, 1, 1] } },
  { what: "2-D groups 2, dilation [2, 1], stride [1, 2]", x: [1, 4, 7, 6], w: [6, 2, 3, 2], bias: true, opts: { groups: 2, dilation: [2, 1], stride: [1, 2], padding: [1, 0] }, params: { groups: 2, dilation: [2, 1], stride: [1, 2], pads: [1, 0, 1, 0] } },
  { what: "2-D depthwise (groups = channels, multiplier 2)", x: [2, 3, 4, 5], w: [6, 1, 3, 3], opts: { groups: 3, padding: 1 }, params: { groups: 3, pads: [1, 1, 1, 1] } },
  { what: "2-D 1x1 projection", x: [1, 5, 3, 2], w: [4, 5, 1, 1], bias: true, opts: {}, params: {} },
  { what: "3-D temporal [3, 1, 1] kernel, one frame, batch 2", x: [2, 4, 1, 3, 5], w: [8, 4, 3, 1, 1], bias: true, opts: { padding: [1, 0, 0] }, params: { pads: [1, 0, 0, 1, 0, 0] } },
  { what: "3-D 3x3x3, stride [1, 2, 2], padding 1", x: [2, 3, 3, 5, 6], w: [4, 3, 3, 3, 3], bias: true, opts: { stride: [1, 2, 2], padding: 1 }, params: { stride: [1, 2, 2], pads: [1, 1, 1, 1, 1, 1] } },
  { what: "3-D groups 2, dilation [2, 1, 1], asymmetric padding", x: [1, 4, 5, 3, 4], w: [2, 2, 2, 3, 1], opts: { groups: 2, dilation: [2, 1, 1], padding: [1, 1, 0, 0, 1, 2] }, params: { groups: 2, dilation: [2, 1, 1], pads: [1, 1, 0, 0, 1, 2] } },
];

const convTransposeCases: ConvCase[] = [
  { what: "1-D stride 2, padding 1, output padding 1", x: [2, 3, 5], w: [3, 2, 3], bias: true, opts: { stride: 2, padding: 1, outputPadding: 1 }, params: { stride: [2], pads: [1, 1], outputPadding: [1] } },
  { what: "2-D kernel 4, stride 2, padding 1 (2x upsample), non-square", x: [1, 4, 3, 5], w: [4, 3, 4, 4], bias: true, opts: { stride: 2, padding: 1 }, params: { stride: [2, 2], pads: [1, 1, 1, 1] } },
  { what: "2-D groups 2, dilation 2, stride 3, output padding 2", x: [2, 4, 3, 2], w: [4, 1, 3, 2], opts: { groups: 2, dilation: 2, stride: 3, outputPadding: [2, 1] }, params: { groups: 2, dilation: [2, 2], stride: [3, 3], outputPadding: [2, 1] } },
  { what: "2-D asymmetric padding", x: [1, 2, 4, 3], w: [2, 3, 3, 3], opts: { stride: 2, padding: [1, 0, 0, 2] }, params: { stride: [2, 2], pads: [1, 0, 0, 2] } },
  { what: "3-D stride [1, 2, 2], one frame, batch 2", x: [2, 3, 1, 2, 3], w: [3, 2, 3, 3, 3], bias: true, opts: { stride: [1, 2, 2], padding: 1, outputPadding: [0, 1, 1] }, params: { stride: [1, 2, 2], pads: [1, 1, 1, 1, 1, 1], outputPadding: [0, 1, 1] } },
];

/** Expected output and its dot-product magnitude (the op on |x|, |w|, |b|). */
function expected(transposed: boolean, x: NdArray, w: NdArray, b: NdArray | null, p: ConvTransposeParams): { want: NdArray; magnitude: NdArray } {
  const f = transposed ? ref.convTranspose : ref.conv;
  return { want: f(x, w, b, p), magnitude: f(absNd(x), absNd(w), b && absNd(b), p) };
}

for (const [transposed, cases] of [[false, convCases], [true, convTransposeCases]] as const) {
  for (const [i, c] of cases.entries()) {
    test(`${transposed ? "convTranspose" : "conv"}: ${c.what}`, async () => {
      const rng = new Rng(100 + i + (transposed ? 50 : 0));
      const x = randomNd(rng, c.x);
      const w = randomNd(rng, c.w);
      const b = c.bias ? randomNd(rng, [transposed ? c.w[1]! * (c.opts.groups ?? 1) : c.w[0]!]) : null;
      const weights: Record<string, NdArray> = { "layer.weight": w, ...(b ? { "layer.bias": b } : {}) };
      const { y } = await runOnce((g) => {
        const xv = g.input("x", "float32", c.x);
        const wv = g.param("layer.weight", c.w);
        const bv = b ? g.param("layer.bias", b.shape as number[]) : null;
        return { y: transposed ? ops.convTranspose(xv, wv, bv, c.opts) : ops.conv(xv, wv, bv, c.opts) };
      }, { x }, weights);
      const { want, magnitude } = expected(transposed, x, w, b, c.params);
      assertClose(y!, want, { rtol: 1e-5, magnitude, normRtol: 1e-5 });
    });
  }
}

test("conv graph on [B, C, F, H, W] with symbolic dims runs at two sizes with one session", async () => {
  // A 3x3x3 conv then a temporal [3, 1, 1] conv, the pattern of a pseudo-3D ResNet block.
  const g = new Graph("symbolic_conv");
  const x = g.input("x", "float32", ["B", 3, "F", "H", "W"]);
  const spatial = ops.conv(x, g.param("conv1.weight", [4, 3, 3, 3, 3]), g.param("conv1.bias", [4]), { padding: 1 });
  const temporal = ops.conv(spatial, g.param("temp.weight", [2, 4, 3, 1, 1]), null, { padding: [1, 0, 0] });
  assert.deepEqual(temporal.shape, ["B", 2, "F", "H", "W"]);
  g.output("y", temporal);
  const rng = new Rng(7);
  const w1 = randomNd(rng, [4, 3, 3, 3, 3]);
  const b1 = randomNd(rng, [4]);
  const w2 = randomNd(rng, [2, 4, 3, 1, 1]);
  const s = await compile(g, { "conv1.weight": w1, "conv1.bias": b1, "temp.weight": w2 });
  try {
    for (const shape of [[1, 3, 1, 4, 6], [2, 3, 3, 5, 3]]) {
      const xa = randomNd(rng, shape);
      const { y } = await s.run(feeds({ x: xa }));
      const p1 = { pads: [1, 1, 1, 1, 1, 1] };
      const p2 = { pads: [1, 0, 0, 1, 0, 0] };
      const want = ref.conv(ref.conv(xa, w1, b1, p1), w2, null, p2);
      const magnitude = ref.conv(ref.conv(absNd(xa), absNd(w1), absNd(b1), p1), absNd(w2), null, p2);
      assertClose(y!, want, { rtol: 1e-5, magnitude, normRtol: 1e-5, label: `x [${shape.join(", ")}]` });
    }
  } finally {
    await s.release();
  }
});

test("stride-2 conv on symbolic even sizes: output H/2, W/2, flattened afterwards", async () => {
  const g = new Graph("symbolic_down");
  const x = g.input("x", "float32", ["B", 4, "H", "W"]);
  const y = ops.conv(x, g.param("down.weight", [2, 4, 3, 3]), null, { stride: 2, padding: 1 });
  assert.deepEqual(y.shape, ["B", 2, "H/2", "W/2"]);
  g.output("y", ops.reshape(y, ["B", -1])); // [B, 2 * H/2 * W/2] = [B, H*W/2]
  const rng = new Rng(8);
  const w = randomNd(rng, [2, 4, 3, 3]);
  const s = await compile(g, { "down.weight": w });
  try {
    for (const shape of [[1, 4, 4, 6], [3, 4, 2, 8]]) {
      const xa = randomNd(rng, shape);
      const { y: got } = await s.run(feeds({ x: xa }));
      const p = { stride: [2, 2], pads: [1, 1, 1, 1] };
      const want = ref.conv(xa, w, null, p);
      const flat = [shape[0]!, want.data.length / shape[0]!];
      assertClose(got!, ref.reshape(want, flat), { magnitude: ref.reshape(ref.conv(absNd(xa), absNd(w), null, p), flat), normRtol: 1e-5 });
    }
  } finally {
    await s.release();
  }
});

test("convTranspose 2x upsample on symbolic [B, C, H, W] runs at two sizes with one session", async () => {
  const g = new Graph("symbolic_up");
  const x = g.input("x", "float32", ["B", 3, "H", "W"]);
  g.output("y", ops.convTranspose(x, g.param("up.weight", [3, 2, 4, 4]), g.param("up.bias", [2]), { stride: 2, padding: 1 }));
  const rng = new Rng(9);
  const w = randomNd(rng, [3, 2, 4, 4]);
  const b = randomNd(rng, [2]);
  const s = await compile(g, { "up.weight": w, "up.bias": b });
  try {
    for (const shape of [[1, 3, 1, 3], [2, 3, 3, 2]]) {
      const xa = randomNd(rng, shape);
      const { y } = await s.run(feeds({ x: xa }));
      const { want, magnitude } = expected(true, xa, w, b, { stride: [2, 2], pads: [1, 1, 1, 1] });
      assertClose(y!, want, { magnitude, normRtol: 1e-5, label: `x [${shape.join(", ")}]` });
    }
  } finally {
    await s.release();
  }
});

test("convTranspose output dims on symbolic axes stay symbols: 2x upsample gives 2*H, stride 1 gives H", () => {
  // The decoder adds an upsampled feature map to a [B, C, 2*H, 2*W] skip; an opaque dim cannot broadcast.
  const g = new Graph("symbolic_up_dims");
  const x = g.input("x", "float32", ["B", 3, "H", "W"]);
  const up = ops.convTranspose(x, g.param("up.weight", [3, 2, 4, 4]), null, { stride: 2, padding: 1 });
  assert.deepEqual(up.shape, ["B", 2, "2*H", "2*W"]);
  const same = ops.convTranspose(x, g.param("same.weight", [3, 2, 3, 3]), null, { padding: 1 });
  assert.deepEqual(same.shape, ["B", 2, "H", "W"]);
});

test("stride-2 conv with 3 output channels can be flattened on symbolic dims", () => {
  // [B, 3, H/2, W/2] has 3*B*H*W/4 elements: a rational coefficient (3/4) that dim.ts must keep.
  const g = new Graph("odd_channels");
  const x = g.input("x", "float32", ["B", 2, "H", "W"]);
  const y = ops.conv(x, g.param("down.weight", [3, 2, 3, 3]), null, { stride: 2, padding: 1 });
  const flat = ops.reshape(y, ["B", -1]);
  assert.equal(flat.shape[0], "B");
});

test("conv shape errors name the layer, the channels and the weight", () => {
  const g = new Graph("errors");
  const x = g.input("x", "float32", ["B", 64, "H", "W"]);
  const w = g.param("down_blocks.0.resnets.0.conv1.weight", [32, 32, 3, 3]);
  assert.throws(() => ops.conv(x, w, null, { padding: 1 }), (e: Error) => {
    assert.ok(e instanceof GraphShapeError);
    assert.match(e.message, /conv down_blocks\.0\.resnets\.0\.conv1: input has 64 channels, weight expects 32/);
    assert.match(e.message, /float32\[32, 32, 3, 3\]/);
    return true;
  });
  const w5 = g.param("temp.weight", [8, 64, 3, 1, 1]);
  assert.throws(() => ops.conv(x, w5), /conv temp: input float32\[B, 64, H, W\] must have rank 5/);
  const small = g.input("small", "float32", [1, 64, 2, 2]);
  assert.throws(() => ops.conv(small, g.param("big.weight", [4, 64, 5, 5])), /conv big: input float32\[1, 64, 2, 2\] is too small for kernel \[5, 5\]/);
  const w3 = g.param("c3.weight", [8, 64, 3, 3]);
  assert.throws(() => ops.conv(x, w3, g.param("c3.bias", [4])), /conv c3: bias float32\[4\] must be \[8\]/);
  assert.throws(() => ops.conv(x, w3, null, { stride: [1, 2, 3] }), /stride must be a non-negative integer or 2 of them/);
  assert.throws(() => ops.conv(x, w3, null, { groups: 3 }), /input has 64 channels, weight expects 192/);
  const up = g.param("up.weight", [32, 16, 4, 4]);
  assert.throws(() => ops.convTranspose(x, up), /conv-transpose up: input has 64 channels, weight expects 32/);
  const up64 = g.param("up64.weight", [64, 16, 4, 4]);
  assert.throws(() => ops.convTranspose(x, up64, null, { stride: 2, outputPadding: 2 }), /outputPadding 2 must be below the stride 2 on axis 0/);
});

test("conv-transpose rejects input channels that do not divide into groups at build time", () => {
  const g = new Graph("groups");
  const x = g.input("x", "float32", [1, 3, 4]);
  const w = g.param("up.weight", [3, 2, 3]); // [C_in, M/groups, k]: C_in = 3 cannot split into 2 groups
  assert.throws(() => ops.convTranspose(x, w, null, { groups: 2 }), GraphShapeError);
});
