// A tiny but complete model folder (UNet3D, temporal VAE, CLIP text encoder, tokenizer) with seeded
// random weights, for tests that run the real loading, compiling and generation code end to end.

import { fileURLToPath } from "node:url";
import { writeModelFolder } from "../../src/app/model-folder-writer.js";
import { Graph } from "../../src/graph/graph.js";
import { clipTextParamShapes, clipTextConfigFromJson } from "../../src/models/clip/index.js";
import { parseUNet3DConfig, unet3dParamShapes } from "../../src/models/unet3d/index.js";
import { buildVaeDecoderGraph, buildVaeEncoderGraph, vaeConfigFromJson } from "../../src/models/vae/index.js";
import { hashedWeights } from "../models/unet3d/hashed-weights.js";

const FIXTURES = fileURLToPath(new URL("../fixtures/", import.meta.url));

export const TINY_UNET = {
  variant: "vidrd",
  in_channels: 4,
  out_channels: 4,
  block_out_channels: [32, 64],
  layers_per_block: 1,
  cross_attention_dim: 32,
  use_linear_projection: true,
  norm_num_groups: 8,
  norm_eps: 1e-5,
  down_block_types: ["CrossAttnDownBlock3D", "DownBlock3D"],
  up_block_types: ["UpBlock3D", "CrossAttnUpBlock3D"],
  sample_size: 4,
  attention_head_dim: [2, 4],
  add_temp_embed: true,
  add_temp_conv: true,
};

export const TINY_VAE = {
  _class_name: "AutoencoderKL",
  in_channels: 3,
  out_channels: 3,
  latent_channels: 4,
  block_out_channels: [8, 16],
  down_block_types: ["DownEncoderBlock2D", "DownEncoderBlock2D"],
  up_block_types: ["UpDecoderBlock2D", "UpDecoderBlock2D"],
  layers_per_block: 1,
  norm_num_groups: 4,
  act_fn: "silu",
  sample_size: 8,
  scaling_factor: 0.18215,
  add_temp_conv: true,
  temp_norm_num_groups: 4,
};

export const TINY_TEXT_ENCODER = {
  architectures: ["CLIPTextModel"],
  hidden_act: "gelu",
  hidden_size: 32,
  intermediate_size: 64,
  layer_norm_eps: 1e-5,
  max_position_embeddings: 77,
  num_attention_heads: 2,
  num_hidden_layers: 2,
  vocab_size: 1000,
};

function graphShapes(build: (g: Graph) => void): Map<string, readonly number[]> {
  const g = new Graph("shapes");
  build(g);
  return new Map(g.paramList().map(({ value }) => [value.name, value.shape as number[]]));
}

/** Writes the tiny model to `dir` (latents 4 x 4 x 4 per frame, frames 8 x 8 pixels, N = 4 frames). */
export function writeTinyModel(dir: string, seed = 7): void {
  const vae = vaeConfigFromJson(TINY_VAE);
  const vaeShapes = new Map([
    ...graphShapes((g) => buildVaeEncoderGraph(vae, {}, g)),
    ...graphShapes((g) => buildVaeDecoderGraph(vae, { temporalDecoder: "clip" }, g)),
  ]);
  writeModelFolder(
    dir,
    {
      unet: { config: TINY_UNET, weights: hashedWeights(unet3dParamShapes(parseUNet3DConfig(TINY_UNET)), seed) },
      vae: { config: TINY_VAE, weights: hashedWeights(vaeShapes, seed + 1) },
      text_encoder: { config: TINY_TEXT_ENCODER, weights: hashedWeights(clipTextParamShapes(clipTextConfigFromJson(TINY_TEXT_ENCODER)), seed + 2) },
      tokenizerDir: `${FIXTURES}clip/tokenizer-json`,
      index: { clip_frames: 4, fps: 4 },
    },
    { overwrite: true },
  );
}
