// Behaviour of the UNet3D graph beyond parity: per-frame timesteps reduce to one timestep per clip when
// they agree; a graph with a symbolic frame count gates the authors' temporal layers at F = 1 exactly as
// the static F = 1 graph skips them; the whole model is differentiable (autodiff against finite differences).

import { test } from "node:test";
import assert from "node:assert/strict";
import { type Graph as GraphType, Graph } from "../../../src/graph/index.js";
import { buildUNet3D, parseUNet3DConfig, unet3dParamShapes, type UNet3DConfig, type UNet3DVariant } from "../../../src/models/unet3d/index.js";
import { Session } from "../../../src/runtime/index.js";
import { SeededNoise } from "../../../src/tensor/seeded-noise.js";
import { Tensor } from "../../../src/tensor/tensor.js";
import { gradCheck } from "../../graph/grad/gradcheck.js";
import { hashedWeights } from "./hashed-weights.js";

const TINY = {
  block_out_channels: [32, 64],
  layers_per_block: 1,
  cross_attention_dim: 32,
  norm_num_groups: 8,
  down_block_types: ["CrossAttnDownBlock3D", "DownBlock3D"],
  up_block_types: ["UpBlock3D", "CrossAttnUpBlock3D"],
  sample_size: 8,
};
const CONFIGS: Record<UNet3DVariant, UNet3DConfig> = {
  vidrd: parseUNet3DConfig({ ...TINY, attention_head_dim: [2, 4], use_linear_projection: true }, "vidrd"),
  modelscope: parseUNet3DConfig({ ...TINY, attention_head_dim: 16 }, "modelscope"),
};

function randomTensor(shape: number[], seed: number): Tensor<"float32"> {
  return new Tensor("float32", new SeededNoise(seed).randn(shape), shape);
}

function maxAbsDiff(a: Tensor, b: Tensor): number {
  const x = a.data as Float32Array;
  const y = b.data as Float32Array;
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i]! - y[i]!));
  return m;
}

async function session(build: (g: GraphType) => void, weights: Map<string, Tensor>): Promise<Session> {
  const g = new Graph("unet3d");
  build(g);
  return Session.fromGraph(g, { weights, threads: 2 });
}

for (const variant of ["vidrd", "modelscope"] as UNet3DVariant[]) {
  const cfg = CONFIGS[variant];
  const weights = hashedWeights(unet3dParamShapes(cfg), 3);

  test(`${variant}: per-frame timesteps that agree give the per-clip result`, async () => {
    const [perClip, perFrame] = await Promise.all([
      session((g) => buildUNet3D(g, cfg, { height: 8, width: 8 }), weights),
      session((g) => buildUNet3D(g, cfg, { height: 8, width: 8, perFrameTimesteps: true }), weights),
    ]);
    try {
      const feeds = { sample: randomTensor([2, 4, 3, 8, 8], 1), encoder_hidden_states: randomTensor([2, 77, 32], 2) };
      const a = await perClip.run({ ...feeds, timestep: Tensor.float32([400, 900]) });
      const b = await perFrame.run({ ...feeds, timestep: Tensor.float32([400, 400, 400, 900, 900, 900], [2, 3]) });
      assert.ok(maxAbsDiff(a.eps!, b.eps!) < 1e-5);
      // a different noise level on one frame changes the output
      const c = await perFrame.run({ ...feeds, timestep: Tensor.float32([400, 400, 10, 900, 900, 900], [2, 3]) });
      assert.ok(maxAbsDiff(a.eps!, c.eps!) > 1e-3);
    } finally {
      await Promise.all([perClip.release(), perFrame.release()]);
    }
  });

  test(`${variant}: a symbolic frame count at F = 1 matches the graph built for one frame`, async () => {
    const [symbolic, single] = await Promise.all([
      session((g) => buildUNet3D(g, cfg, { height: 8, width: 8 }), weights),
      session((g) => buildUNet3D(g, cfg, { height: 8, width: 8, frames: 1 }), weights),
    ]);
    try {
      const feeds = { sample: randomTensor([1, 4, 1, 8, 8], 4), timestep: Tensor.float32([250]), encoder_hidden_states: randomTensor([1, 77, 32], 5) };
      const a = await symbolic.run(feeds);
      const b = await single.run(feeds);
      assert.ok(maxAbsDiff(a.eps!, b.eps!) < 1e-5);
    } finally {
      await Promise.all([symbolic.release(), single.release()]);
    }
  });

  test(`${variant}: gradients of the whole model match finite differences`, async () => {
    const keys = variant === "vidrd"
      ? ["mid_block.attentions.0.transformer_blocks.0.temp_attn.to_q.weight", "up_blocks.1.temp_convs.0.convs.15.weight"]
      : ["mid_block.temp_attentions.0.transformer_blocks.0.attn2.to_v.weight", "transformer_in.proj_in.weight"];
    await gradCheck((g) => {
      const { sample } = buildUNet3D(g, cfg, { batch: 1, frames: 3, height: 8, width: 8 });
      const feeds: Record<string, Tensor> = {
        sample: randomTensor([1, 4, 3, 8, 8], 6),
        timestep: Tensor.float32([300]),
        encoder_hidden_states: randomTensor([1, 77, 32], 7),
      };
      for (const [k, t] of weights) feeds[k] = t;
      const output = g.outputs.find((o) => o.name === "eps")!.value;
      return { output, feeds, wrt: [sample, ...keys.map((k) => g.params.get(k)!.value)] };
    }, { rtol: 1e-2, maxElements: 4 });
  });
}
