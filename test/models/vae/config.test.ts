// Reading and validating a diffusers vae/config.json: SD 2.1's file, defaults for omitted fields, the
// authors' flag, and errors that name the field, the value and what is allowed.

import { test } from "node:test";
import assert from "node:assert/strict";
import {
  SD21_VAE,
  VAE_DEFAULTS,
  VaeConfigError,
  VIDRD_TEMPORAL_VAE,
  temporalConvDepth,
  validateVaeConfig,
  vaeConfigFromJson,
  vaeSpatialFactor,
} from "../../../src/models/vae/index.js";

/** SD 2.1's vae/config.json as diffusers writes it (models-spec.md section 1.2). */
const SD21_FILE = {
  _class_name: "AutoencoderKL",
  _diffusers_version: "0.21.4",
  act_fn: "silu",
  block_out_channels: [128, 256, 512, 512],
  down_block_types: ["DownEncoderBlock2D", "DownEncoderBlock2D", "DownEncoderBlock2D", "DownEncoderBlock2D"],
  in_channels: 3,
  latent_channels: 4,
  layers_per_block: 2,
  norm_num_groups: 32,
  out_channels: 3,
  sample_size: 768,
  up_block_types: ["UpDecoderBlock2D", "UpDecoderBlock2D", "UpDecoderBlock2D", "UpDecoderBlock2D"],
};

test("SD 2.1's config.json reads as SD21_VAE; the authors' flag turns on the temporal decoder", () => {
  assert.deepEqual(vaeConfigFromJson(SD21_FILE), SD21_VAE);
  assert.equal(SD21_VAE.scalingFactor, 0.18215);
  const vidrd = vaeConfigFromJson({ ...SD21_FILE, sample_size: 256, add_temp_conv: true });
  assert.deepEqual(vidrd, VIDRD_TEMPORAL_VAE);
  assert.equal(temporalConvDepth(vidrd), 36); // 4 up blocks x 3 ResNets x 3 Conv3ds
  assert.equal(temporalConvDepth(SD21_VAE), 0);
  assert.equal(vaeSpatialFactor(vidrd), 8);
});

test("omitted fields take diffusers' AutoencoderKL defaults", () => {
  assert.deepEqual(vaeConfigFromJson({}), VAE_DEFAULTS);
  assert.equal(vaeConfigFromJson({ scaling_factor: 0.13025 }).scalingFactor, 0.13025);
  assert.equal(vaeConfigFromJson({ scaling_factor: null }).scalingFactor, 0.18215);
});

test("every problem is reported at once, naming field, value and what is allowed", () => {
  assert.throws(
    () => vaeConfigFromJson({ latent_channels: 0, block_out_channels: [128, "256"], add_temp_conv: "yes", scaling_factor: -1 }),
    (e: Error) =>
      e instanceof VaeConfigError &&
      /latent_channels must be a positive integer, got 0/.test(e.message) &&
      /block_out_channels must be a non-empty list of positive integers, got \[128,"256"\]/.test(e.message) &&
      /add_temp_conv must be true or false, got "yes"/.test(e.message) &&
      /scaling_factor must be a positive number, got -1/.test(e.message),
  );
  assert.throws(() => vaeConfigFromJson({ block_out_channels: [48, 64], norm_num_groups: 32 }), /norm_num_groups 32 must divide every block_out_channels entry; 48 do not divide/);
  assert.throws(
    () => vaeConfigFromJson({ block_out_channels: [16, 32], norm_num_groups: 8, add_temp_conv: true }),
    /temp_norm_num_groups 32 must divide every block_out_channels entry when add_temp_conv is on; 16 do not divide/,
  );
  assert.throws(() => vaeConfigFromJson({ ...SD21_FILE, up_block_types: ["UpDecoderBlock2D"] }), /up_block_types must list "UpDecoderBlock2D" once per block_out_channels entry \(4\)/);
  assert.throws(() => vaeConfigFromJson({ use_quant_conv: false }), /use_quant_conv must be true/);
  assert.throws(() => vaeConfigFromJson({ act_fn: "gelu" }), /act_fn must be "silu", got "gelu"/);
  assert.throws(() => vaeConfigFromJson([1]), /expected a JSON object, got an array/);
  assert.throws(() => validateVaeConfig({ ...SD21_VAE, normNumGroups: 3 }), /VAE config: normNumGroups 3 must divide/);
});
