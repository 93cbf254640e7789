// The tiny VidRD UNet3D the cache tests compile, shared with the child processes of the concurrency test.

import { buildUNet3D, parseUNet3DConfig, unet3dParamShapes } from "../../../src/models/unet3d/index.js";
import type { CompiledModelSpec } from "../../../src/models/compiled/index.js";
import { SeededNoise } from "../../../src/tensor/seeded-noise.js";
import { Tensor } from "../../../src/tensor/tensor.js";
import type { Graph } from "../../../src/graph/index.js";
import { hashedWeights } from "../unet3d/hashed-weights.js";

export const CONFIG = parseUNet3DConfig({
  block_out_channels: [32, 64], layers_per_block: 1, cross_attention_dim: 32, norm_num_groups: 8, attention_head_dim: [2, 4],
  use_linear_projection: true, down_block_types: ["CrossAttnDownBlock3D", "DownBlock3D"], up_block_types: ["UpBlock3D", "CrossAttnUpBlock3D"], sample_size: 8,
}, "vidrd");
export const WEIGHTS = hashedWeights(unet3dParamShapes(CONFIG), 3);
export const FEEDS = {
  sample: new Tensor("float32", new SeededNoise(1).randn([1, 4, 2, 8, 12]), [1, 4, 2, 8, 12]),
  timestep: Tensor.float32([300]),
  encoder_hidden_states: new Tensor("float32", new SeededNoise(2).randn([1, 77, 32]), [1, 77, 32]),
};

export const spec = (options = { height: "H", width: "W" }, dtype: "float32" | "float16" = "float32"): CompiledModelSpec => ({ kind: "unet3d", config: CONFIG, options, dtype });

/** A counting builder for the spec's options. */
export function builder(options: { height: string; width: string }) {
  const calls = { n: 0 };
  return { calls, build: (g: Graph) => (calls.n++, void buildUNet3D(g, CONFIG, options)) };
}
