// Inflating a 2-D UNet state dict into the VidRD UNet3D (the authors' from_pretrained_2d): 2-D keys by
// name, temporal layers initialised as PyTorch would with the zero-initialised ones at zero, so that with
// the frame embedding off the 3-D model is the 2-D model on every frame, as long as the ResNet GroupNorms
// see the same statistics (identical frames). With distinct frames it is not: those GroupNorms normalise
// over the whole clip (models-spec.md section 10, correction 1), which this test also pins down.

import { test } from "node:test";
import assert from "node:assert/strict";
import { Graph } from "../../../src/graph/index.js";
import {
  InflateError,
  buildUNet3D,
  inflateFrom2D,
  isTemporalKey,
  parseUNet3DConfig,
  unet3dParamShapes,
} from "../../../src/models/unet3d/index.js";
import { Session } from "../../../src/runtime/index.js";
import { SeededNoise } from "../../../src/tensor/seeded-noise.js";
import { frameConcat, frameSlice } from "../../../src/tensor/frames.js";
import { Tensor } from "../../../src/tensor/tensor.js";
import { hashedWeights } from "./hashed-weights.js";

const TINY = {
  variant: "vidrd",
  block_out_channels: [32, 64],
  layers_per_block: 1,
  attention_head_dim: [2, 4],
  cross_attention_dim: 32,
  use_linear_projection: true,
  norm_num_groups: 8,
  down_block_types: ["CrossAttnDownBlock3D", "DownBlock3D"],
  up_block_types: ["UpBlock3D", "CrossAttnUpBlock3D"],
  sample_size: 8,
  add_temp_embed: false,
};
const cfg = parseUNet3DConfig(TINY);
const shapes = unet3dParamShapes(cfg);
const weights2d = new Map([...hashedWeights(shapes, 11)].filter(([k]) => !isTemporalKey(k)));

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

function randomTensor(shape: number[], seed: number): Tensor<"float32"> {
  return new Tensor("float32", new SeededNoise(seed).randn(shape), shape);
}

test("temporal layers start as PyTorch initialises them: zero where the authors zero, 1/0 norms, U(+-1/sqrt(fan_in))", () => {
  const w = inflateFrom2D(cfg, weights2d, new SeededNoise(3));
  assert.equal(w.size, shapes.size);
  for (const [k, t] of weights2d) assert.equal(w.get(k), t, `${k} is loaded unchanged`);
  const data = (k: string) => w.get(k)!.data as Float32Array;
  const last = "down_blocks.0.temp_convs.0.convs.15";
  assert.ok(data(`${last}.weight`).every((v) => v === 0) && data(`${last}.bias`).every((v) => v === 0));
  const toOut = "down_blocks.0.attentions.0.transformer_blocks.0.temp_attn.to_out.0";
  assert.ok(data(`${toOut}.weight`).every((v) => v === 0) && data(`${toOut}.bias`).every((v) => v === 0));
  assert.ok(data("down_blocks.0.temp_convs.0.convs.0.weight").every((v) => v === 1));
  assert.ok(data("down_blocks.0.temp_convs.0.convs.0.bias").every((v) => v === 0));
  assert.ok(data("down_blocks.0.attentions.0.transformer_blocks.0.temp_norm.weight").every((v) => v === 1));
  // Conv3d [32, 32, 3, 1, 1]: fan_in 96; a uniform on +-bound has mean |w| = bound / 2
  const conv = data("down_blocks.0.temp_convs.0.convs.3.weight");
  const bound = 1 / Math.sqrt(96);
  assert.ok(conv.every((v) => Math.abs(v) <= bound));
  const meanAbs = conv.reduce((s, v) => s + Math.abs(v), 0) / conv.length;
  assert.ok(Math.abs(meanAbs / bound - 0.5) < 0.03, `mean |w| / bound = ${meanAbs / bound}`);
  const q = data("down_blocks.0.attentions.0.transformer_blocks.0.temp_attn.to_q.weight");
  assert.ok(q.every((v) => Math.abs(v) <= 1 / Math.sqrt(32)) && q.some((v) => v !== 0));
  // the same seed gives the same weights
  const again = inflateFrom2D(cfg, weights2d, new SeededNoise(3));
  assert.deepEqual(again.get("down_blocks.0.temp_convs.0.convs.3.weight")!.data, conv);
});

test("the inflated model is the 2-D model frame by frame on identical frames; distinct frames share ResNet statistics", async () => {
  const weights = inflateFrom2D(cfg, weights2d, new SeededNoise(5));
  const g3 = new Graph("unet3d");
  buildUNet3D(g3, cfg);
  const g2 = new Graph("unet2d");
  buildUNet3D(g2, cfg, { frames: 1 }); // F = 1: the temporal layers drop out
  assert.ok([...g2.params.keys()].every((k) => !isTemporalKey(k)));
  const [s3, s2] = await Promise.all([Session.fromGraph(g3, { weights, threads: 2 }), Session.fromGraph(g2, { weights, threads: 2 })]);
  try {
    const timestep = Tensor.float32([700]);
    const context = randomTensor([1, 77, 32], 1);
    const frame = randomTensor([1, 4, 1, 8, 8], 2);
    const { eps: single } = await s2.run({ sample: frame, timestep, encoder_hidden_states: context });
    const { eps: video } = await s3.run({ sample: frameConcat([frame, frame, frame, frame]), timestep, encoder_hidden_states: context });
    for (let f = 0; f < 4; f++) {
      const d = maxAbsDiff(frameSlice(video!, f, f + 1).data, single!.data as Float32Array);
      assert.ok(d < 1e-5, `frame ${f}: max |3-D - 2-D| = ${d}`);
    }
    const other = randomTensor([1, 4, 1, 8, 8], 3);
    const { eps: mixed } = await s3.run({ sample: frameConcat([frame, other]), timestep, encoder_hidden_states: context });
    const d = maxAbsDiff(frameSlice(mixed!, 0, 1).data, single!.data as Float32Array);
    assert.ok(d > 1e-3, `distinct frames change frame 0 only through the clip-wide GroupNorm: ${d}`);
  } finally {
    await Promise.all([s3.release(), s2.release()]);
  }
});

test("inflateFrom2D names missing, mis-shaped and unexpected 2-D keys", () => {
  const broken = new Map(weights2d);
  broken.delete("conv_in.weight");
  broken.set("conv_out.bias", Tensor.float32([1, 2, 3]));
  broken.set("class_embedding.weight", Tensor.float32([1]));
  assert.throws(() => inflateFrom2D(cfg, broken, new SeededNoise(0)), (e: unknown) =>
    e instanceof InflateError &&
    /missing conv_in\.weight \[32, 4, 3, 3\]/.test(e.message) &&
    /conv_out\.bias: shape \[3\], expected \[4\]/.test(e.message) &&
    /unexpected class_embedding\.weight/.test(e.message));
});
