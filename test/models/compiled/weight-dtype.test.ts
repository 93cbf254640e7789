// Models built with float16 weights (declared float16, cast to float32 for compute) on the tiny UNet3D
// and VAE: the parameters are float16, the emitted model carries half the weight bytes, the output equals
// the float32 model's fed the same rounded weights, and stays within float16 rounding of the float32 model.

import { test } from "node:test";
import assert from "node:assert/strict";
import { Graph } from "../../../src/graph/index.js";
import { emitOnnx } from "../../../src/graph/onnx/emit.js";
import { buildUNet3D, parseUNet3DConfig, unet3dParamShapes, type UNet3DVariant } from "../../../src/models/unet3d/index.js";
import { buildVaeDecoderGraph, buildVaeEncoderGraph } from "../../../src/models/vae/index.js";
import { weightScope } from "../../../src/models/compiled/index.js";
import { Session } from "../../../src/runtime/index.js";
import { float16ToFloat32Array, float32ToFloat16Array } from "../../../src/tensor/float16.js";
import { SeededNoise } from "../../../src/tensor/seeded-noise.js";
import { Tensor } from "../../../src/tensor/tensor.js";
import { hashedWeights } from "../unet3d/hashed-weights.js";
import { tinyFixture } from "../vae/helpers.js";
import { relativeError } from "../relative-error.js";

const TINY = {
  block_out_channels: [32, 64], layers_per_block: 1, cross_attention_dim: 32, norm_num_groups: 8,
  down_block_types: ["CrossAttnDownBlock3D", "DownBlock3D"], up_block_types: ["UpBlock3D", "CrossAttnUpBlock3D"], sample_size: 8,
};

const randn = (shape: number[], seed: number) => new Tensor("float32", new SeededNoise(seed).randn(shape), shape);

/** float32 weights -> float16 (rounded) and the same rounded values back in float32. */
function rounded(weights: ReadonlyMap<string, Tensor>): { half: Map<string, Tensor>; roundTrip: Map<string, Tensor> } {
  const half = new Map<string, Tensor>();
  const roundTrip = new Map<string, Tensor>();
  for (const [k, t] of weights) {
    const h = float32ToFloat16Array(t.data as Float32Array);
    half.set(k, new Tensor("float16", h, t.shape));
    roundTrip.set(k, new Tensor("float32", float16ToFloat32Array(h), t.shape));
  }
  return { half, roundTrip };
}

/** Runs the float32 graph with exact and rounded weights and the float16 graph; checks the three agree as they should. */
async function compare(label: string, build: (dtype: "float32" | "float16") => Graph, weights: Map<string, Tensor>, feeds: Record<string, Tensor>, output: string): Promise<void> {
  const { half, roundTrip } = rounded(weights);
  const g16 = build("float16");
  for (const [name, spec] of g16.params) assert.equal(spec.value.dtype, "float16", `${label}: ${name} declared float16`);
  const g32 = build("float32");
  const bytes32 = emitOnnx(g32, { weights }).bytes.byteLength;
  const bytes16 = emitOnnx(g16, { weights: half }).bytes.byteLength;
  assert.ok(bytes16 < 0.6 * bytes32, `${label}: float16 model ${bytes16} bytes vs float32 ${bytes32}`);
  const [exact, viaRounded, fp16] = await Promise.all([
    Session.fromGraph(g32, { weights, threads: 1 }),
    Session.fromGraph(build("float32"), { weights: roundTrip, threads: 1 }),
    Session.fromGraph(g16, { weights: half, threads: 1 }),
  ]);
  try {
    const want = (await exact.run(feeds))[output]!;
    const sameRounding = (await viaRounded.run(feeds))[output]!;
    const got = (await fp16.run(feeds))[output]!;
    assert.equal(got.dtype, "float32", `${label}: compute and output stay float32`);
    assert.ok(relativeError(got, sameRounding) < 1e-5, `${label}: float16 weights vs the same values in float32: ${relativeError(got, sameRounding)}`);
    const err = relativeError(got, want);
    assert.ok(err > 0 && err < 5e-3, `${label}: float16 vs float32 weights, relative error ${err} (expected within float16 rounding)`);
  } finally {
    await Promise.all([exact.release(), viaRounded.release(), fp16.release()]);
  }
}

for (const variant of ["vidrd", "modelscope"] as UNet3DVariant[]) {
  test(`UNet3D ${variant} with float16 weights matches float32 within float16 tolerance`, async () => {
    const cfg = parseUNet3DConfig(variant === "vidrd" ? { ...TINY, attention_head_dim: [2, 4], use_linear_projection: true } : { ...TINY, attention_head_dim: 16 }, variant);
    const feeds = { sample: randn([1, 4, 3, 8, 8], 1), timestep: Tensor.float32([400]), encoder_hidden_states: randn([1, 77, 32], 2) };
    await compare(`unet3d ${variant}`, (dtype) => {
      const g = new Graph(`unet_${dtype}`);
      buildUNet3D(g, cfg, { height: "H", width: "W", dtype });
      return g;
    }, hashedWeights(unet3dParamShapes(cfg), 3), feeds, "eps");
  });
}

test("VAE encoder and decoder with float16 weights match float32 within float16 tolerance", async () => {
  const fx = tinyFixture();
  const frames = randn([1, fx.config.inChannels, 2, 8, 8], 4);
  const encoderWeights = new Map([...fx.weights].filter(([k]) => k.startsWith("encoder.") || k.startsWith("quant_conv.")));
  await compare("vae encoder", (dtype) => buildVaeEncoderGraph(fx.config, { dtype }), encoderWeights, { frames }, "mean");
  const latents = randn([1, fx.config.latentChannels, 3, 4, 4], 5);
  const decoderWeights = new Map([...fx.weights].filter(([k]) => k.startsWith("decoder.") || k.startsWith("post_quant_conv.")));
  await compare("vae decoder", (dtype) => buildVaeDecoderGraph(fx.config, { temporalDecoder: "clip", dtype }), decoderWeights, { latents }, "frames");
});

test("weightScope refuses dtypes other than float32 and float16", () => {
  assert.throws(() => weightScope(new Graph("x"), "int8" as never), /dtype must be one of float32, float16, got "int8"/);
});
