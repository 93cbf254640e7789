// Gradients of a whole VidRD block (ResNet block with time embedding, temporal conv, temporal attention)
// from the autodiff pass, checked against PyTorch's autograd on the same block and weights
// (test/fixtures/grad/composite.safetensors, written by tools/fixtures/grad_composite_fixture.py, which
// documents the block). One session computes the loss and the gradient of every parameter and input.

import { test } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { Graph, type Dim, type Value, dimMul, dimProduct, ops } from "../../../src/graph/index.js";
import { gradients } from "../../../src/graph/autodiff.js";
import { readSafetensors } from "../../../src/io/index.js";
import { Session } from "../../../src/runtime/index.js";
import { Tensor } from "../../../src/tensor/tensor.js";

const FIXTURE = fileURLToPath(new URL("../../fixtures/grad/composite.safetensors", import.meta.url));
const C = 8;
const TEMB = 16;
const GROUPS = 4;
const HEADS = 2;
const TEMP_CONV_REPEATS = 4;
/**
 * Norm-wise relative error allowed per tensor against the float64 reference. Float32 accumulation over
 * this block stays near 1e-6; a wrong rule (a missing term, a transposed kernel) gives errors near 1.
 */
const TOLERANCE = 1e-4;

/** pe[f, 2i] = sin(f / 10000^(2i/C)), pe[f, 2i+1] = cos(f / 10000^(2i/C)): the frame embedding [F, C]. */
function frameEmbedding(frames: number, channels: number): Tensor<"float32"> {
  const pe = new Float32Array(frames * channels);
  for (let f = 0; f < frames; f++) {
    for (let i = 0; 2 * i < channels; i++) {
      const angle = f / 10000 ** ((2 * i) / channels);
      pe[f * channels + 2 * i] = Math.sin(angle);
      if (2 * i + 1 < channels) pe[f * channels + 2 * i + 1] = Math.cos(angle);
    }
  }
  return new Tensor("float32", pe, [frames, channels]);
}

/** The block of grad_composite_fixture.py: x [B, C, F, H, W], temb [B, 16] -> [B, C, F, H, W]. */
function videoBlock(g: Graph, x: Value, temb: Value): Value {
  const [b, , f, h, w] = x.shape as [Dim, Dim, number, Dim, Dim];
  const param = (name: string, shape: number[]) => g.param(name, shape);
  const norm = (prefix: string, v: Value) => ops.groupNorm(v, GROUPS, param(`${prefix}.weight`, [C]), param(`${prefix}.bias`, [C]), { eps: 1e-5 });
  const conv = (prefix: string, v: Value, kernel: number[], padding: number[]) =>
    ops.conv(v, param(`${prefix}.weight`, [C, C, ...kernel]), param(`${prefix}.bias`, [C]), { padding });

  // ResNet block, frames folded into the batch.
  const frames = ops.reshape(ops.transpose(x, [0, 2, 1, 3, 4]), [dimMul(b, f), C, h, w]); // [B*F, C, H, W]
  let hidden = conv("resnet.conv1", ops.silu(norm("resnet.norm1", frames)), [3, 3], [1, 1]);
  const shift = ops.linear(ops.silu(temb), param("resnet.time_emb_proj.weight", [C, TEMB]), param("resnet.time_emb_proj.bias", [C])); // [B, C]
  // The time embedding repeated per frame is a broadcast over F.
  const perFrame = ops.add(ops.reshape(hidden, [b, f, C, h, w]), ops.reshape(shift, [b, 1, C, 1, 1])); // [B, F, C, H, W]
  hidden = ops.reshape(perFrame, [dimMul(b, f), C, h, w]); // [B*F, C, H, W]
  hidden = conv("resnet.conv2", ops.silu(norm("resnet.norm2", hidden)), [3, 3], [1, 1]); // Dropout(0) is the identity
  const resnet = ops.transpose(ops.reshape(ops.add(frames, hidden), [b, f, C, h, w]), [0, 2, 1, 3, 4]); // [B, C, F, H, W]

  // Temporal conv: GroupNorm -> SiLU -> Conv3d (3, 1, 1), four times, residual.
  let temporal = resnet;
  for (let k = 0; k < TEMP_CONV_REPEATS; k++) {
    temporal = conv(`temp_conv.convs.${4 * k + 3}`, ops.silu(norm(`temp_conv.convs.${4 * k}`, temporal)), [3, 1, 1], [1, 0, 0]);
  }
  const video = ops.add(resnet, temporal); // [B, C, F, H, W]

  // Temporal attention over frames, one sequence per pixel; the frame embedding stays in the residual.
  const pixels = dimProduct([b, h, w]);
  const sequences = ops.add(ops.reshape(ops.transpose(video, [0, 3, 4, 2, 1]), [pixels, f, C]), g.constant(frameEmbedding(f, C))); // [B*H*W, F, C]
  const normed = ops.layerNorm(sequences, param("temp_attn.norm.weight", [C]), param("temp_attn.norm.bias", [C]), { eps: 1e-5 });
  const heads = (name: string) =>
    ops.transpose(ops.reshape(ops.linear(normed, param(`temp_attn.${name}.weight`, [C, C])), [pixels, f, HEADS, C / HEADS]), [0, 2, 1, 3]); // [B*H*W, heads, F, d]
  const attended = ops.scaledDotProductAttention(heads("to_q"), heads("to_k"), heads("to_v")); // [B*H*W, heads, F, d]
  const merged = ops.reshape(ops.transpose(attended, [0, 2, 1, 3]), [pixels, f, C]); // [B*H*W, F, C]
  const out = ops.add(sequences, ops.linear(merged, param("temp_attn.to_out.0.weight", [C, C]), param("temp_attn.to_out.0.bias", [C])));
  return ops.transpose(ops.reshape(out, [b, h, w, f, C]), [0, 4, 3, 1, 2]); // [B, C, F, H, W]
}

/** ||ours - reference||_2 / ||reference||_2; NaN anywhere gives NaN, which no tolerance accepts. */
function relativeError(ours: Tensor, reference: Tensor): number {
  assert.deepEqual(ours.shape, reference.shape);
  const a = ours.data as Float32Array;
  const r = reference.data as Float32Array;
  let diff2 = 0;
  let ref2 = 0;
  for (let i = 0; i < r.length; i++) {
    diff2 += (a[i]! - r[i]!) ** 2;
    ref2 += r[i]! ** 2;
  }
  return Math.sqrt(diff2 / ref2);
}

const withinTolerance = (err: number): boolean => err <= TOLERANCE; // false for NaN

const fixture = readSafetensors(FIXTURE);
const tensor = (key: string): Tensor => {
  const t = fixture.get(key);
  assert.ok(t, `fixture ${FIXTURE} has no tensor ${key}`);
  return t;
};
const x = tensor("x");
const temb = tensor("temb");
const r = tensor("r");

for (const [label, xShape, tembShape] of [
  ["static shapes", x.shape, temb.shape],
  ["symbolic B, H, W", ["B", C, x.shape[2]!, "H", "W"], ["B", TEMB]],
] as const) {
  test(`gradients of a VidRD block (${label}) match PyTorch autograd within ${TOLERANCE} norm-wise`, async (t) => {
    const g = new Graph("grad_composite");
    const xv = g.input("x", "float32", xShape);
    const tembv = g.input("temb", "float32", tembShape);
    const out = videoBlock(g, xv, tembv);
    const loss = ops.reduceSum(ops.mul(out, g.input("r", "float32", xShape)), [0, 1, 2, 3, 4], false); // L = sum(out * r)
    const wrt = new Map<string, Value>([["x", xv], ["temb", tembv], ...g.paramList().map((p) => [p.value.name, p.value] as const)]);
    // Every gradient the fixture holds is one of ours, and the reverse.
    const fixtureGrads = [...fixture.keys()].filter((k) => k.startsWith("grad.")).map((k) => k.slice("grad.".length)).sort();
    assert.deepEqual([...wrt.keys()].sort(), fixtureGrads);

    const grads = gradients(loss, [...wrt.values()]);
    g.output("loss", loss);
    for (const [name, v] of wrt) g.output(`grad.${name}`, grads.get(v)!);
    const session = await Session.fromGraph(g, { weights: fixture, threads: 1 });
    try {
      const result = await session.run({ x, temb, r });
      const lossOurs = (result.loss!.data as Float32Array)[0]!;
      const lossRef = (tensor("loss").data as Float32Array)[0]!;
      const lossError = Math.abs(lossOurs - lossRef) / Math.abs(lossRef);
      const errors = [...wrt.keys()].map((name) => ({ name, error: relativeError(result[`grad.${name}`]!, tensor(`grad.${name}`)) }));
      errors.sort((p, q) => (Number.isNaN(p.error) ? -1 : Number.isNaN(q.error) ? 1 : q.error - p.error));
      const worst = errors[0]!;
      t.diagnostic(`loss ${lossOurs} vs PyTorch ${lossRef} (relative error ${lossError.toExponential(2)})`);
      t.diagnostic(`worst gradient: ${worst.name}, relative error ${worst.error.toExponential(2)}`);
      assert.ok(withinTolerance(lossError), `loss ${lossOurs}, PyTorch ${lossRef}`);
      const failing = errors.filter((e) => !withinTolerance(e.error));
      assert.deepEqual(failing.map((e) => `${e.name}: ${e.error.toExponential(2)}`), [], `gradients beyond ${TOLERANCE}`);
    } finally {
      await session.release();
    }
  });
}

test("the gradient comparison can fail: reference gradients are non-trivial and the tolerance is tight", () => {
  for (const key of [...fixture.keys()].filter((k) => k.startsWith("grad."))) {
    const ref = tensor(key);
    const data = ref.data as Float32Array;
    // Zeros (a rule that drops its term) and NaN fail.
    assert.equal(relativeError(new Tensor("float32", new Float32Array(data.length), ref.shape), ref), 1, key);
    assert.ok(!withinTolerance(relativeError(new Tensor("float32", new Float32Array(data.length).fill(NaN), ref.shape), ref)), key);
    // A gradient 0.1% off in scale (a wrong eps or mean count) fails too.
    assert.ok(!withinTolerance(relativeError(new Tensor("float32", data.map((v) => v * 1.001), ref.shape), ref)), key);
    // A gradient with its elements in another order (a transposed kernel or a swapped axis) fails.
    if (data.length > 1) {
      const reversed = new Tensor("float32", Float32Array.from(data).reverse(), ref.shape);
      assert.ok(!withinTolerance(relativeError(reversed, ref)), `${key}: reversing it should change it`);
    }
  }
});
