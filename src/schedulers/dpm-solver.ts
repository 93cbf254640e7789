// DPM-Solver++(2M) (Lu et al. 2022, "DPM-Solver++", algorithm 2): a second-order multistep solver of
// the diffusion ODE in its data-prediction form, in log-SNR time.
//
// Notation (paper -> code):
//   alpha_t, sigma_t              sqrt(alpha_bar_t), sqrt(1 - alpha_bar_t)
//   lambda_t = log(alpha_t / sigma_t)   lambda
//   x_theta(x_t, t)               x0 (data prediction, prediction.ts)
//   h_i = lambda_{t_i} - lambda_{t_{i-1}}, r_i = h_{i-1} / h_i
//   D_i = (1 + 1/(2 r_i)) x0_i - 1/(2 r_i) x0_{i-1}   written as x0_i + 0.5 D1, D1 = (x0_i - x0_{i-1}) / r_i
//
// Multistep memory (the previous x_0 and its lambda) is the explicit `DpmSolverState` value.
// The first step is first order (algorithm 2, line 3). The last step is first order when it lands on
// sigma = 0 ("zero": lambda = infinity, r = 0), or, landing on alpha_bar_0 ("sigma_min"), when N < 15
// and lowerOrderFinal (diffusers' stabiliser for few steps).

import type { ResolvedSchedulerConfig } from "./config.js";
import { dataAndNoise } from "./prediction.js";
import { variancePreservingScheduler, type Scheduler, type StepArgs, type StepResult } from "./types.js";

export interface DpmSolverState {
  /** x_theta at the previous step (float64), or null before the first step. */
  previousX0: Float64Array | null;
  /** lambda at the previous step. */
  previousLambda: number;
}

function logSnrHalf(alphaBar: number): number {
  return 0.5 * Math.log(alphaBar) - 0.5 * Math.log(1 - alphaBar);
}

export function dpmSolverScheduler(config: ResolvedSchedulerConfig, alphasCumprod: Float64Array, timesteps: number[]): Scheduler<DpmSolverState> {
  const N = timesteps.length;
  return variancePreservingScheduler({
    config,
    alphasCumprod,
    timesteps,
    initialState: () => ({ previousX0: null, previousLambda: NaN }),
    step(args: StepArgs<DpmSolverState>): StepResult<DpmSolverState> {
      const i = args.stepIndex;
      const { previousX0, previousLambda } = args.state;
      const isFinal = i === N - 1;
      // 1. the current level s and the target level t
      const abarS = alphasCumprod[timesteps[i]];
      const sigmaS = Math.sqrt(1 - abarS);
      const lambdaS = logSnrHalf(abarS);
      const landsOnZero = isFinal && config.finalSigmas === "zero";
      const abarT = landsOnZero ? 1 : alphasCumprod[isFinal ? 0 : timesteps[i + 1]];
      // 2. data prediction x_theta(x_s, s)
      const { x0 } = dataAndNoise(config.prediction, args.modelOutput, args.sample, abarS);
      const state: DpmSolverState = { previousX0: x0, previousLambda: lambdaS };
      if (landsOnZero) {
        // sigma_t = 0: exp(-h) = 0, the update is x_theta itself
        return { prevSample: Float32Array.from(x0), predOriginalSample: Float32Array.from(x0), state };
      }
      const alphaT = Math.sqrt(abarT);
      const sigmaT = Math.sqrt(1 - abarT);
      const h = logSnrHalf(abarT) - lambdaS;
      const phi = -Math.expm1(-h); // 1 - e^{-h}
      const firstOrder = previousX0 === null || (isFinal && config.lowerOrderFinal && N < 15);
      const x = args.sample;
      const out = new Float32Array(x.length);
      const ratio = sigmaT / sigmaS;
      if (firstOrder) {
        // 3a. DPM-Solver++(1), algorithm 2 line 3: x_t = (sigma_t / sigma_s) x_s + alpha_t (1 - e^{-h}) x_theta
        for (let k = 0; k < out.length; k++) out[k] = ratio * x[k] + alphaT * phi * x0[k];
      } else {
        // 3b. algorithm 2 lines 5-7: r = h_{i-1} / h_i, D = x0 + 0.5 (x0 - x0_prev) / r
        const r = (lambdaS - previousLambda) / h;
        for (let k = 0; k < out.length; k++) {
          const d1 = (x0[k] - previousX0![k]) / r;
          out[k] = ratio * x[k] + alphaT * phi * x0[k] + 0.5 * alphaT * phi * d1;
        }
      }
      return { prevSample: out, predOriginalSample: Float32Array.from(x0), state };
    },
  });
}
