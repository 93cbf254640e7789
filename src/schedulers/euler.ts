// Euler's method on the probability-flow ODE in k-diffusion's sigma parameterisation (Karras et al.
// 2022, "Elucidating the Design Space", algorithm 1 with 1st order steps; diffusers' EulerDiscrete).
//
// Notation (paper -> code):
//   sigma_i = sqrt((1 - alpha_bar_t) / alpha_bar_t)   sigmas[i], interpolated linearly in t between
//                                                    training steps, with sigma_N = 0 appended
//   x = x_VP * sqrt(sigma^2 + 1)                       the sample this sampler carries
//   D(x; sigma)                                       x0, the denoised prediction
//   d = (x - D) / sigma, eq. 4 with s(t) = 1           derivative
//   x_{i+1} = x_i + (sigma_{i+1} - sigma_i) d          step

import type { ResolvedSchedulerConfig } from "./config.js";
import { checkSameLength } from "./prediction.js";
import { checkStepIndex, type Scheduler, type StepArgs, type StepResult } from "./types.js";

/** sigma(t) for fractional t, linear between training steps (numpy.interp over t = 0 .. T-1). */
export function sigmaAt(alphasCumprod: Float64Array, t: number): number {
  const sigma = (k: number) => Math.sqrt((1 - alphasCumprod[k]) / alphasCumprod[k]);
  const last = alphasCumprod.length - 1;
  if (t <= 0) return sigma(0);
  if (t >= last) return sigma(last);
  const j = Math.floor(t);
  const slope = sigma(j + 1) - sigma(j);
  return slope * (t - j) + sigma(j);
}

export function eulerScheduler(config: ResolvedSchedulerConfig, alphasCumprod: Float64Array, timesteps: number[]): Scheduler<null> {
  const sigmas = [...timesteps.map((t) => sigmaAt(alphasCumprod, t)), 0];
  const sigmaMax = sigmas[0];
  // diffusers: the start noise has std sigma_max for linspace/trailing, sqrt(sigma^2 + 1) for leading
  const initNoiseSigma = config.spacing === "leading" ? Math.sqrt(sigmaMax * sigmaMax + 1) : sigmaMax;
  return {
    config,
    alphasCumprod,
    timesteps,
    initNoiseSigma,
    initialState: () => null,
    scaleModelInput(sample, stepIndex) {
      checkStepIndex(stepIndex, timesteps);
      // c_in = 1 / sqrt(sigma^2 + 1): back to the variance-preserving x the network was trained on
      const cIn = 1 / Math.sqrt(sigmas[stepIndex] ** 2 + 1);
      return sample.map((v) => v * cIn);
    },
    step(args: StepArgs<null>): StepResult<null> {
      const i = args.stepIndex;
      checkStepIndex(i, timesteps);
      checkSameLength(args.modelOutput, args.sample);
      const sigma = sigmas[i];
      const dt = sigmas[i + 1] - sigma;
      const x = args.sample;
      const out = args.modelOutput;
      const n = x.length;
      const x0 = new Float64Array(n);
      const prev = new Float32Array(n);
      // 1. D(x; sigma): eps -> x - sigma eps; v -> -sigma/sqrt(sigma^2+1) v + x / (sigma^2 + 1)
      if (config.prediction === "epsilon") for (let k = 0; k < n; k++) x0[k] = x[k] - sigma * out[k];
      else {
        const cOut = -sigma / Math.sqrt(sigma * sigma + 1);
        const cSkip = 1 / (sigma * sigma + 1);
        for (let k = 0; k < n; k++) x0[k] = out[k] * cOut + x[k] * cSkip;
      }
      // 2. d = (x - D) / sigma; 3. x + d dt
      for (let k = 0; k < n; k++) prev[k] = x[k] + ((x[k] - x0[k]) / sigma) * dt;
      return { prevSample: prev, predOriginalSample: Float32Array.from(x0), state: null };
    },
  };
}
