// A composite video block built from the graph IR's primitives, checked against PyTorch running the same
// block (test/fixtures/graph/composite.safetensors, written by tools/fixtures/composite_fixture.py, which
// documents the block). Covers the op composition a video UNet relies on: frames folded into the batch,
// group norm, SiLU, a temporal Conv3d and multi-head attention over frames, with static and symbolic dims.

import { test } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { Graph, type Dim, type Value, dimMul, dimProduct, ops } from "../../src/graph/index.js";
import { readSafetensors } from "../../src/io/index.js";
import { Session } from "../../src/runtime/index.js";
import type { Tensor } from "../../src/tensor/tensor.js";

const FIXTURE = fileURLToPath(new URL("../fixtures/graph/composite.safetensors", import.meta.url));
const CHANNELS = 16;
const GROUPS = 4;
const HEADS = 2;
const HEAD_DIM = CHANNELS / HEADS;
/** Norm-wise relative error allowed against the float64 reference (float32 accumulation is about 2e-7). */
const TOLERANCE = 1e-5;

/** The block of composite_fixture.py on x [B, 8, F, H, W]; parameter names are the fixture's keys. */
function compositeBlock(g: Graph, x: Value): Value {
  const [b, c, f, h, w] = x.shape as [Dim, Dim, Dim, Dim, Dim];
  const param = (name: string, shape: number[]) => g.param(name, shape);

  let y = ops.reshape(ops.transpose(x, [0, 2, 1, 3, 4]), [dimMul(b, f), c, h, w]); // [B*F, C, H, W]
  y = ops.conv(y, param("conv.weight", [CHANNELS, 8, 3, 3]), param("conv.bias", [CHANNELS]), { padding: 1 }); // [B*F, 16, H, W]
  y = ops.silu(ops.groupNorm(y, GROUPS, param("norm.weight", [CHANNELS]), param("norm.bias", [CHANNELS]), { eps: 1e-5 }));
  y = ops.transpose(ops.reshape(y, [b, f, CHANNELS, h, w]), [0, 2, 1, 3, 4]); // [B, 16, F, H, W]
  const hidden = ops.conv(y, param("temporal.weight", [CHANNELS, CHANNELS, 3, 1, 1]), param("temporal.bias", [CHANNELS]), {
    padding: [1, 0, 0],
  }); // [B, 16, F, H, W]

  // Self-attention over frames, one sequence per pixel.
  const pixels = dimProduct([b, h, w]);
  const sequences = ops.reshape(ops.transpose(hidden, [0, 3, 4, 2, 1]), [pixels, f, CHANNELS]); // [B*H*W, F, 16]
  const project = (name: string) => ops.linear(sequences, param(`attn.${name}.weight`, [CHANNELS, CHANNELS]), param(`attn.${name}.bias`, [CHANNELS]));
  const splitHeads = (t: Value) => ops.transpose(ops.reshape(t, [pixels, f, HEADS, HEAD_DIM]), [0, 2, 1, 3]); // [B*H*W, heads, F, d]
  const attended = ops.scaledDotProductAttention(splitHeads(project("to_q")), splitHeads(project("to_k")), splitHeads(project("to_v"))); // [B*H*W, heads, F, d]
  const merged = ops.reshape(ops.transpose(attended, [0, 2, 1, 3]), [pixels, f, CHANNELS]); // [B*H*W, F, 16]
  const out = ops.linear(merged, param("attn.to_out.weight", [CHANNELS, CHANNELS]), param("attn.to_out.bias", [CHANNELS]));
  const temporal = ops.transpose(ops.reshape(out, [b, h, w, f, CHANNELS]), [0, 4, 3, 1, 2]); // [B, 16, F, H, W]
  return ops.add(hidden, temporal);
}

interface Comparison {
  relativeError: number;
  worst: { index: number[]; ours: number; reference: number; absError: number };
}

/** ||ours - reference|| / ||reference|| (2-norms) and the element with the largest absolute error. */
function compare(ours: Tensor, reference: Tensor): Comparison {
  assert.deepEqual(ours.shape, reference.shape);
  const a = ours.data as Float32Array;
  const r = reference.data as Float32Array;
  let diff2 = 0;
  let ref2 = 0;
  let worstAt = 0;
  for (let i = 0; i < r.length; i++) {
    const d = a[i]! - r[i]!;
    diff2 += d * d;
    ref2 += r[i]! * r[i]!;
    if (!(Math.abs(d) <= Math.abs(a[worstAt]! - r[worstAt]!))) worstAt = i; // NaN counts as worst
  }
  const index: number[] = [];
  let rest = worstAt;
  for (let axis = reference.rank - 1; axis >= 0; axis--) {
    index.unshift(rest % reference.shape[axis]!);
    rest = Math.floor(rest / reference.shape[axis]!);
  }
  return {
    relativeError: Math.sqrt(diff2 / ref2),
    worst: { index, ours: a[worstAt]!, reference: r[worstAt]!, absError: Math.abs(a[worstAt]! - r[worstAt]!) },
  };
}

const fixture = readSafetensors(FIXTURE);
const input = fixture.get("input")!;
const expected = fixture.get("output")!;

for (const [label, inputShape] of [
  ["static shapes", input.shape],
  ["symbolic B, F, H, W", ["B", 8, "F", "H", "W"]],
] as const) {
  test(`composite block (${label}) matches PyTorch within ${TOLERANCE} norm-wise`, async (t) => {
    const g = new Graph("composite");
    const y = compositeBlock(g, g.input("x", "float32", inputShape));
    // Shape inference must carry the symbols through every reshape and transpose.
    assert.deepEqual(y.shape, [inputShape[0], CHANNELS, inputShape[2], inputShape[3], inputShape[4]]);
    g.output("y", y);
    const session = await Session.fromGraph(g, { weights: fixture, threads: 1 });
    try {
      const { y: ours } = await session.run({ x: input });
      const { relativeError, worst } = compare(ours!, expected);
      const report = `relative error ${relativeError.toExponential(2)}; worst element y[${worst.index.join(", ")}] = ${worst.ours}, PyTorch ${worst.reference} (|diff| ${worst.absError.toExponential(2)})`;
      t.diagnostic(report);
      assert.ok(relativeError <= TOLERANCE, report);
    } finally {
      await session.release();
    }
  });
}
