// The one typed options object of every scheduler, with its defaults (VidRD's, DESIGN section 2) and
// its validation at the boundary: each error names the field, the value and what is allowed.

import { BETA_SCHEDULES, type BetaScheduleName } from "./betas.js";
import { PREDICTION_TYPES, type PredictionType } from "./prediction.js";
import { TIMESTEP_SPACINGS, type TimestepSpacing } from "./timesteps.js";

export type SchedulerName = "ddim" | "ddim_inverse" | "ddpm" | "dpmsolver++2m" | "euler";
export const SCHEDULER_NAMES: readonly SchedulerName[] = ["ddim", "ddim_inverse", "ddpm", "dpmsolver++2m", "euler"];

export type FinalSigmas = "zero" | "sigma_min";
export const FINAL_SIGMAS: readonly FinalSigmas[] = ["zero", "sigma_min"];

export interface SchedulerConfig {
  /** Default "ddim" (VidRD). "ddim_inverse" walks the DDIM timesteps backwards, clean to noisy. */
  name?: SchedulerName;
  /** N, sampling steps; default 50. An integer in [1, trainTimesteps]. */
  steps?: number;
  /** T; default 1000. */
  trainTimesteps?: number;
  /** Default "scaled_linear" (SD / VidRD). */
  betaSchedule?: BetaScheduleName;
  /** Default 0.00085. */
  betaStart?: number;
  /** Default 0.012. */
  betaEnd?: number;
  /** Default "leading" (VidRD). */
  spacing?: TimestepSpacing;
  /** Added to "leading" timesteps; default 1 (SD / VidRD). */
  stepsOffset?: number;
  /** Default "epsilon". */
  prediction?: PredictionType;
  /** DDIM's eta (Song et al. 2021, eq. 16): 0 deterministic, 1 DDPM-like; default 0. Read by "ddim" only. */
  eta?: number;
  /** alpha_bar after the last DDIM step: 1 if true, else alpha_bar_0; default false (SD / VidRD). */
  setAlphaToOne?: boolean;
  /** DPM-Solver++: the last step lands on sigma = 0 ("zero", default) or on alpha_bar_0 ("sigma_min"). */
  finalSigmas?: FinalSigmas;
  /** DPM-Solver++: with "sigma_min", take the final step first-order when steps < 15; default true. */
  lowerOrderFinal?: boolean;
}

export type ResolvedSchedulerConfig = Required<SchedulerConfig>;

function oneOf<T extends string>(field: string, value: unknown, allowed: readonly T[]): T {
  if (!allowed.includes(value as T)) throw new RangeError(`${field} is ${JSON.stringify(value)}; allowed: ${allowed.join(", ")}`);
  return value as T;
}

function integerIn(field: string, value: number, lo: number, hi: number): number {
  if (!Number.isInteger(value) || value < lo || value > hi) {
    throw new RangeError(`${field} is ${value}; allowed: an integer in [${lo}, ${hi}]`);
  }
  return value;
}

export function resolveSchedulerConfig(config: SchedulerConfig = {}): ResolvedSchedulerConfig {
  const r: ResolvedSchedulerConfig = {
    name: config.name ?? "ddim",
    steps: config.steps ?? 50,
    trainTimesteps: config.trainTimesteps ?? 1000,
    betaSchedule: config.betaSchedule ?? "scaled_linear",
    betaStart: config.betaStart ?? 0.00085,
    betaEnd: config.betaEnd ?? 0.012,
    spacing: config.spacing ?? "leading",
    stepsOffset: config.stepsOffset ?? 1,
    prediction: config.prediction ?? "epsilon",
    eta: config.eta ?? 0,
    setAlphaToOne: config.setAlphaToOne ?? false,
    finalSigmas: config.finalSigmas ?? "zero",
    lowerOrderFinal: config.lowerOrderFinal ?? true,
  };
  oneOf("name", r.name, SCHEDULER_NAMES);
  oneOf("betaSchedule", r.betaSchedule, BETA_SCHEDULES);
  oneOf("spacing", r.spacing, TIMESTEP_SPACINGS);
  oneOf("prediction", r.prediction, PREDICTION_TYPES);
  oneOf("finalSigmas", r.finalSigmas, FINAL_SIGMAS);
  integerIn("trainTimesteps", r.trainTimesteps, 1, Number.MAX_SAFE_INTEGER);
  integerIn("steps", r.steps, 1, r.trainTimesteps);
  integerIn("stepsOffset", r.stepsOffset, 0, r.trainTimesteps - 1);
  if (!(Number.isFinite(r.eta) && r.eta >= 0)) throw new RangeError(`eta is ${r.eta}; allowed: a finite number >= 0`);
  for (const key of ["setAlphaToOne", "lowerOrderFinal"] as const) {
    if (typeof r[key] !== "boolean") throw new TypeError(`${key} is ${JSON.stringify(r[key])}; allowed: true, false`);
  }
  return r;
}
