// Learning rate per step: linear warmup, then constant or a half-cosine from peak to floor
// (Loshchilov & Hutter 2017, SGDR, eq. 5, one cycle without restarts).

import type { LrScheduleConfig } from "./config.js";

/** The learning rate of optimizer step `step` (1-based). */
export function learningRate(step: number, c: LrScheduleConfig): number {
  if (!Number.isInteger(step) || step < 1) throw new RangeError(`step is ${step}; allowed: an integer >= 1`);
  // warmup: peak * step / warmupSteps, so the first step already moves the weights
  if (step <= c.warmupSteps) return (c.peak * step) / c.warmupSteps;
  if (c.schedule === "constant") return c.peak;
  // eta_t = floor + (peak - floor) (1 + cos(pi T_cur / T)) / 2, T_cur counted from the end of warmup
  const span = Math.max(1, c.decaySteps - c.warmupSteps);
  const progress = Math.min(1, (step - c.warmupSteps) / span);
  return c.floor + (c.peak - c.floor) * 0.5 * (1 + Math.cos(Math.PI * progress));
}
