// DDIM (Song et al. 2021, "Denoising Diffusion Implicit Models"), and its deterministic inversion.
//
// Notation (paper -> code):
//   alpha_t (the paper's, = alpha_bar_t of DDPM)   abarT = alphasCumprod[t]
//   alpha_{t-1}                                    abarPrev, the next timestep in the list, or after
//                                                  the last step 1 (setAlphaToOne) or alpha_bar_0
//   sigma_t(eta), eq. 16                           noiseStd
//   x_0 "predicted x_0", eps_theta                  x0, eps (prediction.ts)
//
// "previous" is the next entry of `timesteps` (diffusers computes t - T // N, the same for leading and
// trailing spacing when N divides T, and off by rounding for linspace).

import type { ResolvedSchedulerConfig } from "./config.js";
import { dataAndNoise } from "./prediction.js";
import { alphaBarAfter, drawNoise, variancePreservingScheduler, type Scheduler, type StepArgs, type StepResult } from "./types.js";

/** eq. 12: x_{t-1} = sqrt(a_{t-1}) x_0 + sqrt(1 - a_{t-1} - sigma_t^2) eps + sigma_t z, rounded to float32. */
export function ddimUpdate(x0: Float64Array, eps: Float64Array, abarPrev: number, noiseStd: number, z?: Float32Array): Float32Array {
  const a = Math.sqrt(abarPrev);
  const dir = Math.sqrt(Math.max(0, 1 - abarPrev - noiseStd * noiseStd)); // "direction pointing to x_t"
  const out = new Float32Array(x0.length);
  if (z && noiseStd > 0) for (let i = 0; i < out.length; i++) out[i] = a * x0[i] + dir * eps[i] + noiseStd * z[i];
  else for (let i = 0; i < out.length; i++) out[i] = a * x0[i] + dir * eps[i];
  return out;
}

/** eq. 16: sigma_t(eta) = eta sqrt((1 - a_{t-1}) / (1 - a_t)) sqrt(1 - a_t / a_{t-1}). */
export function ddimNoiseStd(eta: number, abarT: number, abarPrev: number): number {
  return eta * Math.sqrt(((1 - abarPrev) / (1 - abarT)) * (1 - abarT / abarPrev));
}

export function ddimScheduler(config: ResolvedSchedulerConfig, alphasCumprod: Float64Array, timesteps: number[]): Scheduler<null> {
  const finalAlphaBar = config.setAlphaToOne ? 1 : alphasCumprod[0];
  return variancePreservingScheduler({
    config,
    alphasCumprod,
    timesteps,
    initialState: () => null,
    step(args: StepArgs<null>): StepResult<null> {
      const i = args.stepIndex;
      // 1. alpha_t and alpha_{t-1}
      const abarT = alphasCumprod[timesteps[i]];
      const abarPrev = alphaBarAfter(alphasCumprod, timesteps, i, finalAlphaBar);
      // 2. "predicted x_0" and eps_theta (eq. 12, first term's fraction)
      const { x0, eps } = dataAndNoise(config.prediction, args.modelOutput, args.sample, abarT);
      // 3. sigma_t(eta), eq. 16
      const noiseStd = ddimNoiseStd(config.eta, abarT, abarPrev);
      // 4. eq. 12
      const z = noiseStd > 0 ? drawNoise(args, `ddim with eta ${config.eta}`) : undefined;
      return { prevSample: ddimUpdate(x0, eps, abarPrev, noiseStd, z), predOriginalSample: Float32Array.from(x0), state: null };
    },
  });
}

/**
 * DDIM inversion: eq. 12 with eta = 0 run upwards, from the level before timesteps[i] to timesteps[i]
 * (the ODE view of section 4.3), to recover the noise path of a clean latent. `timesteps` are the
 * sampling timesteps reversed; the model is evaluated at timesteps[i] on the less noisy sample, as
 * diffusers' DDIMInverseScheduler does.
 */
export function ddimInverseScheduler(config: ResolvedSchedulerConfig, alphasCumprod: Float64Array, samplingTimesteps: number[]): Scheduler<null> {
  const timesteps = [...samplingTimesteps].reverse();
  const initialAlphaBar = config.setAlphaToOne ? 1 : alphasCumprod[0];
  return variancePreservingScheduler({
    config,
    alphasCumprod,
    timesteps,
    initialState: () => null,
    step(args: StepArgs<null>): StepResult<null> {
      const i = args.stepIndex;
      // 1. the level the sample is at, and the one it is lifted to
      const abarFrom = i > 0 ? alphasCumprod[timesteps[i - 1]] : initialAlphaBar;
      const abarTo = alphasCumprod[timesteps[i]];
      // 2. x_0 and eps at the lower level; 3. eq. 12 with sigma = 0 towards the higher level
      const { x0, eps } = dataAndNoise(config.prediction, args.modelOutput, args.sample, abarFrom);
      return { prevSample: ddimUpdate(x0, eps, abarTo, 0), predOriginalSample: Float32Array.from(x0), state: null };
    },
  });
}
