// UNet3D config validation: the two readings of attention_head_dim, block-type names from SD's 2-D config,
// and errors that name the field, the value and what is allowed.

import { test } from "node:test";
import assert from "node:assert/strict";
import { MODELSCOPE_T2V_CONFIG, SD21_BASE_VIDRD_CONFIG, UNet3DConfigError, parseUNet3DConfig } from "../../../src/models/unet3d/index.js";

/** SD 2.1-base's unet/config.json as diffusers saves it (models-spec.md 1.1). */
const SD21_UNET_JSON = {
  _class_name: "UNet2DConditionModel",
  _diffusers_version: "0.21.4",
  act_fn: "silu",
  attention_head_dim: [5, 10, 20, 20],
  block_out_channels: [320, 640, 1280, 1280],
  center_input_sample: false,
  cross_attention_dim: 1024,
  down_block_types: ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"],
  downsample_padding: 1,
  dual_cross_attention: false,
  flip_sin_to_cos: true,
  freq_shift: 0,
  in_channels: 4,
  layers_per_block: 2,
  mid_block_scale_factor: 1,
  norm_eps: 1e-5,
  norm_num_groups: 32,
  num_attention_heads: null,
  num_class_embeds: null,
  only_cross_attention: false,
  out_channels: 4,
  sample_size: 64,
  up_block_types: ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"],
  upcast_attention: false,
  use_linear_projection: true,
};

test("SD 2.1's attention_head_dim [5, 10, 20, 20] is heads (64 channels each); ModelScope's 64 is the head size", () => {
  const vidrd = parseUNet3DConfig(SD21_BASE_VIDRD_CONFIG);
  assert.deepEqual(vidrd.heads, [5, 10, 20, 20]);
  assert.deepEqual(vidrd.headDims, [64, 64, 64, 64]);
  assert.equal(vidrd.frameEmbedding, true);
  const ms = parseUNet3DConfig(MODELSCOPE_T2V_CONFIG);
  assert.deepEqual(ms.heads, [5, 10, 20, 20]);
  assert.deepEqual(ms.headDims, [64, 64, 64, 64]);
  assert.equal(ms.frameEmbedding, false);
  assert.equal(ms.transformerInHeads, 8);
});

test("SD's own 2-D config.json reads as the released VidRD model (2-D block names, num_attention_heads null)", () => {
  const cfg = parseUNet3DConfig(SD21_UNET_JSON, "vidrd");
  assert.deepEqual(cfg.downBlockTypes, ["CrossAttnDownBlock3D", "CrossAttnDownBlock3D", "CrossAttnDownBlock3D", "DownBlock3D"]);
  assert.deepEqual(cfg.upBlockTypes, ["UpBlock3D", "CrossAttnUpBlock3D", "CrossAttnUpBlock3D", "CrossAttnUpBlock3D"]);
  assert.deepEqual(cfg.heads, [5, 10, 20, 20]);
  assert.equal(cfg.crossAttentionDim, 1024);
  assert.equal(cfg.frameEmbedding, true);
  assert.equal(cfg.temporalConv, true);
  assert.equal(cfg.temporalAttention, "all");
  const off = parseUNet3DConfig({ ...SD21_UNET_JSON, add_temp_embed: false, add_temp_attn_only_on_upblocks: true }, "vidrd");
  assert.equal(off.frameEmbedding, false);
  assert.equal(off.temporalAttention, "up");
});

test("num_attention_heads, when given, is the number of heads in both variants", () => {
  const cfg = parseUNet3DConfig({ ...MODELSCOPE_T2V_CONFIG, num_attention_heads: [4, 8, 16, 16] });
  assert.deepEqual(cfg.heads, [4, 8, 16, 16]);
  assert.deepEqual(cfg.headDims, [80, 80, 80, 80]);
});

function rejects(json: unknown, field: RegExp, variant?: "vidrd" | "modelscope"): void {
  assert.throws(() => parseUNet3DConfig(json, variant), (e: unknown) => e instanceof UNet3DConfigError && field.test(e.message), `expected an error matching ${field}`);
}

test("invalid configs fail with the field, the value and what is allowed", () => {
  rejects({ ...SD21_UNET_JSON }, /variant is undefined; allowed: vidrd, modelscope/);
  rejects({ ...SD21_BASE_VIDRD_CONFIG, attention_head_dim: [5, 10, 20] }, /attention_head_dim .*a list of 4 positive integers/);
  rejects({ ...SD21_BASE_VIDRD_CONFIG, attention_head_dim: [3, 10, 20, 20] }, /attention_head_dim .*divide block_out_channels/);
  rejects({ ...MODELSCOPE_T2V_CONFIG, attention_head_dim: [64, 64, 64, 64] }, /attention_head_dim .*for variant modelscope/);
  rejects({ ...SD21_BASE_VIDRD_CONFIG, down_block_types: ["SimpleCrossAttnDownBlock2D", "DownBlock2D", "DownBlock2D", "DownBlock2D"] }, /down_block_types\[0\] is "SimpleCrossAttnDownBlock2D"; allowed: CrossAttnDownBlock3D/);
  rejects({ ...SD21_BASE_VIDRD_CONFIG, act_fn: "gelu" }, /act_fn is "gelu"; allowed: "silu"/);
  rejects({ ...SD21_BASE_VIDRD_CONFIG, norm_num_groups: 48 }, /block_out_channels\[0\] is 320; allowed: a multiple of norm_num_groups \(48\)/);
  rejects({ ...SD21_BASE_VIDRD_CONFIG, block_out_channels: [48, 96, 96, 96], norm_num_groups: 16, attention_head_dim: 3 }, /block_out_channels\[0\] is 48; allowed: a multiple of 32/);
  rejects({ ...SD21_BASE_VIDRD_CONFIG, prepend_first_frame: true }, /prepend_first_frame is true; allowed: false/);
  rejects({ ...SD21_BASE_VIDRD_CONFIG, layers_per_block: 0 }, /layers_per_block is 0; allowed: a positive integer/);
  rejects({ ...MODELSCOPE_T2V_CONFIG, use_linear_projection: false }, /use_linear_projection is false/);
  rejects([1, 2], /\(config\) is \[1,2\]; allowed: a JSON object/, "vidrd");
});
