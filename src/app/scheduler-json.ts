// diffusers' scheduler/scheduler_config.json -> our SchedulerConfig. Only fields that change sampling are
// read; a setting we do not implement (clip_sample, thresholding) is refused by name rather than silently
// ignored, because it would change the video. The sampler: a class we implement is kept; any other
// (SD 2.1-base ships PNDMScheduler) becomes DDIM over the same betas, which is what the authors do
// (DDIMScheduler.from_pretrained on SD's scheduler folder ignores its class).

import { resolveSchedulerConfig, type SchedulerConfig, type SchedulerName } from "../schedulers/config.js";

const CLASS_NAMES: Readonly<Record<string, SchedulerName>> = {
  DDIMScheduler: "ddim",
  DDPMScheduler: "ddpm",
  DPMSolverMultistepScheduler: "dpmsolver++2m",
  EulerDiscreteScheduler: "euler",
};

/** Fields read from the JSON (diffusers name -> ours). */
const FIELDS: ReadonlyArray<readonly [string, keyof SchedulerConfig]> = [
  ["num_train_timesteps", "trainTimesteps"],
  ["beta_start", "betaStart"],
  ["beta_end", "betaEnd"],
  ["beta_schedule", "betaSchedule"],
  ["timestep_spacing", "spacing"],
  ["steps_offset", "stepsOffset"],
  ["prediction_type", "prediction"],
  ["set_alpha_to_one", "setAlphaToOne"],
];

/** Settings that must be off: the value diffusers uses for "off". */
const MUST_BE: ReadonlyArray<readonly [string, unknown]> = [
  ["clip_sample", false],
  ["thresholding", false],
  ["rescale_betas_zero_snr", false],
  ["use_karras_sigmas", false],
];

export function schedulerConfigFromJson(json: unknown): SchedulerConfig {
  if (typeof json !== "object" || json === null || Array.isArray(json)) throw new RangeError("expected a JSON object");
  const j = json as Record<string, unknown>;
  const config: Record<string, unknown> = {};
  const cls = j._class_name;
  if (cls !== undefined && typeof cls !== "string") throw new RangeError(`_class_name is ${JSON.stringify(cls)}; allowed: a class name`);
  config.name = (typeof cls === "string" ? CLASS_NAMES[cls] : undefined) ?? "ddim";
  for (const [field, off] of MUST_BE) {
    if (j[field] !== undefined && j[field] !== off) throw new RangeError(`${field} is ${JSON.stringify(j[field])}; allowed: ${JSON.stringify(off)} (vidrd does not implement it)`);
  }
  for (const [from, to] of FIELDS) if (j[from] !== undefined && j[from] !== null) config[to] = j[from];
  if (j.trained_betas !== undefined && j.trained_betas !== null) throw new RangeError("trained_betas is set; allowed: null (vidrd computes betas from beta_schedule)");
  const result = config as SchedulerConfig;
  resolveSchedulerConfig(result); // every value checked here, with its field named
  return result;
}
