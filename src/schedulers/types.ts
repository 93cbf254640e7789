// The interface every sampler presents to a pipeline. A pipeline's loop is the same for all of them:
//
//   let state = scheduler.initialState();
//   let x = noise scaled by scheduler.initNoiseSigma;
//   for (let i = 0; i < scheduler.timesteps.length; i++) {
//     const out = model(scheduler.scaleModelInput(x, i), scheduler.timesteps[i]);
//     ({ prevSample: x, state } = scheduler.step({ stepIndex: i, modelOutput: out, sample: x, state, noise }));
//   }
//
// Steps are pure: they read their arguments and return new arrays; multistep memory (DPM-Solver++'s
// previous x_0) travels in `state`, never inside the scheduler object.

import type { NoiseSource } from "../tensor/noise.js";
import type { ResolvedSchedulerConfig } from "./config.js";

export interface StepArgs<S> {
  /** i, the position in `timesteps` of the model evaluation that produced modelOutput. */
  stepIndex: number;
  /** The network's prediction (eps or v, per config.prediction); any shape, flattened. */
  modelOutput: Float32Array;
  /** x at timesteps[stepIndex] (for "ddim_inverse": at the level before it). */
  sample: Float32Array;
  /** What the previous step returned (initialState() for i = 0). */
  state: S;
  /** Where a stochastic step (DDIM eta > 0, DDPM) draws its noise. */
  noise?: NoiseSource;
  /** The latent's shape, passed to noise.randn; default [sample.length]. */
  shape?: readonly number[];
}

export interface StepResult<S> {
  /** x at the next level of the walk. */
  prevSample: Float32Array;
  /** The x_0 this step predicted. */
  predOriginalSample: Float32Array;
  state: S;
}

export interface Scheduler<S = unknown> {
  readonly config: ResolvedSchedulerConfig;
  /** alpha_bar_t, t = 0 .. T-1, float64. */
  readonly alphasCumprod: Float64Array;
  /** The timesteps the model is evaluated at, in the order they are visited. */
  readonly timesteps: readonly number[];
  /** Standard deviation of the starting noise (1 for variance-preserving samplers). */
  readonly initNoiseSigma: number;
  initialState(): S;
  /** What the model is fed at step i (Euler divides by sqrt(sigma^2 + 1); the others: the sample). */
  scaleModelInput(sample: Float32Array, stepIndex: number): Float32Array;
  step(args: StepArgs<S>): StepResult<S>;
}

export function checkStepIndex(stepIndex: number, timesteps: readonly number[]): void {
  if (!Number.isInteger(stepIndex) || stepIndex < 0 || stepIndex >= timesteps.length) {
    throw new RangeError(`stepIndex is ${stepIndex}; allowed: an integer in [0, ${timesteps.length - 1}]`);
  }
}

/** alpha_bar of the timestep after step i in the list, or `final` past the last step. */
export function alphaBarAfter(alphasCumprod: Float64Array, timesteps: readonly number[], i: number, final: number): number {
  return i + 1 < timesteps.length ? alphasCumprod[timesteps[i + 1]!]! : final;
}

/** Standard normal noise for a step, its length checked against the sample. */
export function drawNoise(args: StepArgs<unknown>, who: string): Float32Array {
  if (!args.noise) throw new Error(`${who} draws noise: pass a NoiseSource as step({ noise })`);
  const z = args.noise.randn(args.shape ?? [args.sample.length]);
  if (z.length !== args.sample.length) {
    throw new Error(`noise.randn gave ${z.length} values for a sample of ${args.sample.length} elements`);
  }
  return z;
}

/**
 * A variance-preserving scheduler (start noise std 1, model fed the sample as is) from its step; the
 * step index is checked before `step` runs.
 */
export function variancePreservingScheduler<S>(parts: {
  config: ResolvedSchedulerConfig;
  alphasCumprod: Float64Array;
  timesteps: readonly number[];
  initialState: () => S;
  step: (args: StepArgs<S>) => StepResult<S>;
}): Scheduler<S> {
  const { config, alphasCumprod, timesteps, initialState, step } = parts;
  return {
    config,
    alphasCumprod,
    timesteps,
    initNoiseSigma: 1,
    initialState,
    scaleModelInput(sample, stepIndex) {
      checkStepIndex(stepIndex, timesteps);
      return sample;
    },
    step(args) {
      checkStepIndex(args.stepIndex, timesteps);
      return step(args);
    },
  };
}
