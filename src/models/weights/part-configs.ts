// The config.json a converted part gets when its source had none (a Lightning checkpoint holds weights
// only). UNet: the UNet3D module's own configs; VAE and text encoder: SD 2.1-base's files
// (models-spec.md sections 1.2 and 1.3) in the diffusers / transformers JSON layout their loaders read.

import { MODELSCOPE_T2V_CONFIG, SD21_BASE_VIDRD_CONFIG } from "../unet3d/config.js";
import type { StateDict } from "./state-dict.js";

export const MODEL_PARTS = ["unet", "text_encoder", "vae"] as const;
export type ModelPart = (typeof MODEL_PARTS)[number];

export function isModelPart(x: unknown): x is ModelPart {
  return typeof x === "string" && (MODEL_PARTS as readonly string[]).includes(x);
}

/** SD 2.1-base `vae/config.json` plus the authors' `add_temp_conv` flag. */
const SD21_VAE_JSON = {
  _class_name: "AutoencoderKL",
  act_fn: "silu",
  block_out_channels: [128, 256, 512, 512],
  down_block_types: ["DownEncoderBlock2D", "DownEncoderBlock2D", "DownEncoderBlock2D", "DownEncoderBlock2D"],
  up_block_types: ["UpDecoderBlock2D", "UpDecoderBlock2D", "UpDecoderBlock2D", "UpDecoderBlock2D"],
  in_channels: 3,
  out_channels: 3,
  latent_channels: 4,
  layers_per_block: 2,
  norm_num_groups: 32,
  sample_size: 256,
  scaling_factor: 0.18215,
};

/** SD 2.1-base `text_encoder/config.json` (OpenCLIP ViT-H text tower in transformers' CLIPTextModel). */
const SD21_TEXT_ENCODER_JSON = {
  architectures: ["CLIPTextModel"],
  model_type: "clip_text_model",
  vocab_size: 49408,
  hidden_size: 1024,
  intermediate_size: 4096,
  num_hidden_layers: 23,
  num_attention_heads: 16,
  max_position_embeddings: 77,
  hidden_act: "gelu",
  layer_norm_eps: 1e-5,
  projection_dim: 512,
  bos_token_id: 0,
  eos_token_id: 2,
  pad_token_id: 1,
};

/** The config a part's weights most likely go with, judged from their names. */
export function knownPartConfig(part: ModelPart, weights: StateDict): Record<string, unknown> {
  const names = weights.names();
  switch (part) {
    case "unet":
      return { ...(names.some((n) => n.startsWith("transformer_in.")) ? MODELSCOPE_T2V_CONFIG : SD21_BASE_VIDRD_CONFIG) };
    case "vae":
      return { ...SD21_VAE_JSON, add_temp_conv: names.some((n) => n.includes(".temp_convs.")) };
    case "text_encoder":
      return { ...SD21_TEXT_ENCODER_JSON };
  }
}
