import assert from "node:assert/strict";
import { test } from "node:test";
import { schedulerConfigFromJson } from "../../src/app/scheduler-json.js";
import { createScheduler } from "../../src/schedulers/index.js";

// SD 2.1-base's scheduler/scheduler_config.json fields (a PNDM config: skip_prk_steps is PNDM's).
const SD21_BASE = {
  _class_name: "PNDMScheduler",
  _diffusers_version: "0.8.0",
  beta_end: 0.012,
  beta_schedule: "scaled_linear",
  beta_start: 0.00085,
  clip_sample: false,
  num_train_timesteps: 1000,
  prediction_type: "epsilon",
  set_alpha_to_one: false,
  skip_prk_steps: true,
  steps_offset: 1,
  trained_betas: null,
};

test("SD 2.1-base's scheduler config gives VidRD's DDIM timesteps 981 ... 1 (a class we do not run becomes DDIM, as in the authors' code)", () => {
  const config = schedulerConfigFromJson(SD21_BASE);
  assert.equal(config.name, "ddim");
  const s = createScheduler({ ...config, steps: 50 });
  assert.equal(s.timesteps.length, 50);
  assert.equal(s.timesteps[0], 981);
  assert.equal(s.timesteps[49], 1);
});

test("settings vidrd does not implement are refused by name", () => {
  assert.throws(() => schedulerConfigFromJson({ ...SD21_BASE, clip_sample: true }), /clip_sample is true; allowed: false/);
  assert.throws(() => schedulerConfigFromJson({ ...SD21_BASE, _class_name: 3 }), /_class_name is 3; allowed: a class name/);
  assert.equal(schedulerConfigFromJson({ ...SD21_BASE, _class_name: "EulerDiscreteScheduler" }).name, "euler");
  assert.throws(() => schedulerConfigFromJson({ ...SD21_BASE, beta_schedule: "cosine" }), /cosine/);
  assert.throws(() => schedulerConfigFromJson([]), /expected a JSON object/);
});
