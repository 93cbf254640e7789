// DDPM ancestral sampling (Ho et al. 2020, "Denoising Diffusion Probabilistic Models").
//
// Notation (paper -> code), for a step from t to the previous listed timestep s (s = t - 1 when N = T):
//   alpha_bar_t, alpha_bar_s     abarT, abarPrev (1 after the last step)
//   alpha_t, beta_t of the jump  alphaT = abarT / abarPrev, betaT = 1 - alphaT
//   mu~_t(x_t, x_0), eq. 7       coefX0 x0 + coefXt x_t
//   beta~_t, eq. 7               variance ("fixed_small"; clamped at 1e-20 as diffusers does)

import type { ResolvedSchedulerConfig } from "./config.js";
import { dataAndNoise } from "./prediction.js";
import { alphaBarAfter, drawNoise, variancePreservingScheduler, type Scheduler, type StepArgs, type StepResult } from "./types.js";

export function ddpmScheduler(config: ResolvedSchedulerConfig, alphasCumprod: Float64Array, timesteps: number[]): Scheduler<null> {
  return variancePreservingScheduler({
    config,
    alphasCumprod,
    timesteps,
    initialState: () => null,
    step(args: StepArgs<null>): StepResult<null> {
      const i = args.stepIndex;
      const t = timesteps[i];
      // 1. alpha_bar at both ends, and the single-jump alpha_t, beta_t
      const abarT = alphasCumprod[t];
      const abarPrev = alphaBarAfter(alphasCumprod, timesteps, i, 1);
      const alphaT = abarT / abarPrev;
      const betaT = 1 - alphaT;
      // 2. x_0 from the model (eq. 15)
      const { x0 } = dataAndNoise(config.prediction, args.modelOutput, args.sample, abarT);
      // 3. posterior mean mu~_t, eq. 7
      const coefX0 = (Math.sqrt(abarPrev) * betaT) / (1 - abarT);
      const coefXt = (Math.sqrt(alphaT) * (1 - abarPrev)) / (1 - abarT);
      // 4. posterior variance beta~_t, eq. 7; no noise is added at t = 0
      const std = Math.sqrt(Math.max(((1 - abarPrev) / (1 - abarT)) * betaT, 1e-20));
      const z = t > 0 ? drawNoise(args, "ddpm") : undefined;
      const x = args.sample;
      const out = new Float32Array(x.length);
      for (let k = 0; k < out.length; k++) out[k] = coefX0 * x0[k] + coefXt * x[k] + (z ? std * z[k] : 0);
      return { prevSample: out, predOriginalSample: Float32Array.from(x0), state: null };
    },
  });
}
