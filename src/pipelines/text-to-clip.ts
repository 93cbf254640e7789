// One clip of N frames from text: starting noise z_T, then the sampler's loop with a guided noise
// predictor (types.ts in src/schedulers shows the loop). `denoiseClip` is the loop alone, with a hook
// before every step, so strategies that edit latents mid-loop (vidrd's staged guidance, DSG) share it.
//
// A stochastic step (DDPM, DDIM with eta > 0) draws its noise for the clip as one [B, C, F, H, W] tensor
// by default. Pipelines that fold the frames into the batch before the scheduler step (diffusers' image
// schedulers fed [B*F, C, H, W], as the VidRD authors' pipeline does) draw in (b, f, c, h, w) order
// instead; stepNoiseLayout "frame-batch" reproduces that order, so a recording of theirs replays.

import { createScheduler, type SchedulerState } from "../schedulers/create.js";
import type { SchedulerConfig } from "../schedulers/config.js";
import type { Scheduler } from "../schedulers/types.js";
import type { NoiseSource } from "../tensor/noise.js";
import { Tensor, sameShape } from "../tensor/tensor.js";
import { ProgressMeter, checkClipShape, throwIfAborted } from "./long-video/common.js";
import type { ClipShape, NoisePredictor, Progress, PromptConditioning } from "./types.js";

/** [B, C, N, H, W] of a clip. */
export function clipLatentShape(clip: ClipShape): [number, number, number, number, number] {
  return [clip.batch, clip.channels, clip.frames, clip.height, clip.width];
}

/** The scheduler a pipeline samples with: any of createScheduler's but the inversion walk. */
export function samplingScheduler(config: SchedulerConfig): Scheduler<SchedulerState> {
  const scheduler = createScheduler(config);
  if (scheduler.config.name === "ddim_inverse") {
    throw new RangeError(`scheduler.name is "ddim_inverse"; allowed for sampling: ddim, ddpm, dpmsolver++2m, euler (ddim_inverse only inverts, see continuation.ts)`);
  }
  return scheduler;
}

/** Standard normal noise for `shape` in one draw, scaled to the sampler's starting std (initNoiseSigma). */
export function startingNoise(noise: NoiseSource, shape: readonly number[], initNoiseSigma: number): Tensor<"float32"> {
  const z = noise.randn(shape);
  if (initNoiseSigma !== 1) for (let k = 0; k < z.length; k++) z[k] *= initNoiseSigma;
  return new Tensor("float32", z, shape);
}

/**
 * How a stochastic step's noise is drawn: "clip", one draw of the latent shape [B, C, F, H, W]; or
 * "frame-batch", one draw of [B*F, C, H, W] (the frames folded into the batch, frame-major within each
 * batch element) permuted to [B, C, F, H, W]. Both are standard normals; they differ in which drawn value
 * lands on which element, which matters only when reproducing another implementation's run (replayed noise).
 */
export type StepNoiseLayout = "clip" | "frame-batch";
export const STEP_NOISE_LAYOUTS: readonly StepNoiseLayout[] = ["clip", "frame-batch"];

/**
 * A NoiseSource for "frame-batch" step noise: asked for [B, C, F, H, W], it draws [B*F, C, H, W] from
 * `noise` (element (b*F + f, c, h, w)) and returns it as [B, C, F, H, W] (element (b, c, f, h, w)): the
 * torch `x.reshape(B, F, C, H, W).permute(0, 2, 1, 3, 4)` of the draw. Shapes of another rank pass through.
 */
export function frameBatchNoise(noise: NoiseSource): NoiseSource {
  return {
    randn(shape: readonly number[]): Float32Array {
      if (shape.length !== 5) return noise.randn(shape);
      const [B, C, F, H, W] = shape as [number, number, number, number, number];
      const drawn = noise.randn([B * F, C, H, W]);
      const plane = H * W;
      if (drawn.length !== B * C * F * plane) {
        throw new Error(`noise.randn gave ${drawn.length} values for [${B * F}, ${C}, ${H}, ${W}]; expected ${B * C * F * plane}`);
      }
      const out = new Float32Array(drawn.length);
      for (let b = 0; b < B; b++) {
        for (let f = 0; f < F; f++) {
          for (let c = 0; c < C; c++) {
            const from = ((b * F + f) * C + c) * plane;
            out.set(drawn.subarray(from, from + plane), ((b * C + c) * F + f) * plane);
          }
        }
      }
      return out;
    },
  };
}

export interface DenoiseClipArgs {
  scheduler: Scheduler<SchedulerState>;
  predictor: NoisePredictor;
  prompt: PromptConditioning;
  /** z_T, [B, C, N, H, W] float32, already at the sampler's starting scale. Not modified. */
  start: Tensor;
  /** Where stochastic steps (DDPM, DDIM eta > 0) draw; deterministic samplers draw nothing. */
  noise: NoiseSource;
  /** The order stochastic steps draw their noise in (StepNoiseLayout); default "clip". */
  stepNoiseLayout?: StepNoiseLayout;
  /**
   * Called before the model call of step i with the latents z_i about to enter it; what it returns
   * enters instead (same shape). vidrd overwrites overlap frames here and stores hist[i].
   */
  beforeStep?: (stepIndex: number, z: Tensor<"float32">) => Tensor<"float32">;
  /** Called after each denoiser evaluation, with the 0-based step. */
  onEvaluated?: (stepIndex: number) => void;
  signal?: AbortSignal;
}

/** Runs every step of the sampler from `start`; returns z_0, the clean latents [B, C, N, H, W]. */
export async function denoiseClip(args: DenoiseClipArgs): Promise<Tensor<"float32">> {
  const { scheduler, predictor, prompt, noise, signal } = args;
  const shape = args.start.shape;
  if (args.start.dtype !== "float32" || shape.length !== 5) {
    throw new RangeError(`start is ${args.start.describe()}; allowed: float32 [B, C, N, H, W]`);
  }
  const layout = args.stepNoiseLayout ?? "clip";
  if (!STEP_NOISE_LAYOUTS.includes(layout)) throw new RangeError(`stepNoiseLayout is ${JSON.stringify(layout)}; allowed: ${STEP_NOISE_LAYOUTS.join(", ")}`);
  const stepNoise = layout === "frame-batch" ? frameBatchNoise(noise) : noise;
  let z = args.start as Tensor<"float32">;
  let state = scheduler.initialState();
  for (let i = 0; i < scheduler.timesteps.length; i++) {
    throwIfAborted(signal);
    if (args.beforeStep) {
      z = args.beforeStep(i, z);
      if (!sameShape(z.shape, shape)) throw new Error(`beforeStep returned ${z.describe()} at step ${i}; the clip is [${shape.join(", ")}]`);
    }
    const input = new Tensor("float32", scheduler.scaleModelInput(z.data, i), shape);
    const eps = await predictor(input, scheduler.timesteps[i], prompt);
    if (eps.dtype !== "float32" || !sameShape(eps.shape, shape)) {
      throw new Error(`the noise predictor returned ${eps.describe()} at step ${i}; expected float32[${shape.join(", ")}], the shape of z`);
    }
    const out = scheduler.step({ stepIndex: i, modelOutput: eps.data as Float32Array, sample: z.data, state, noise: stepNoise, shape });
    state = out.state;
    z = new Tensor("float32", out.prevSample, shape);
    args.onEvaluated?.(i);
  }
  return z;
}

export interface TextToClipRequest {
  predictor: NoisePredictor;
  prompt: PromptConditioning;
  /** The sampler; default DDIM, 50 steps (VIDRD.md section 2). */
  scheduler?: SchedulerConfig;
  clip: ClipShape;
  noise: NoiseSource;
  onProgress?: (p: Progress) => void;
  signal?: AbortSignal;
}

/**
 * One clip: z_T drawn in one draw of [B, C, N, H, W] (times initNoiseSigma), denoised by the sampler.
 * Returns the clean latents [B, C, N, H, W]. Throws AbortedError between steps once `signal` fires.
 */
export async function textToClip(request: TextToClipRequest): Promise<Tensor<"float32">> {
  checkClipShape(request.clip);
  const scheduler = samplingScheduler(request.scheduler ?? {});
  const steps = scheduler.timesteps.length;
  throwIfAborted(request.signal);
  const meter = new ProgressMeter(steps, request.onProgress);
  return denoiseClip({
    scheduler,
    predictor: request.predictor,
    prompt: request.prompt,
    start: startingNoise(request.noise, clipLatentShape(request.clip), scheduler.initNoiseSigma),
    noise: request.noise,
    onEvaluated: (i) => meter.evaluated(0, 1, i + 1, steps),
    signal: request.signal,
  });
}
