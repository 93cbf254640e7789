// Continuing an existing video with vidrd: its last N latent frames are DDIM-inverted (Song et al. 2021,
// section 4.3, run upwards) to recover the noise path z_0 .. z_{T-1} a sampler would have walked to them,
// and that path, reversed along F, becomes the history hist[i] = flip_F(z_i) vidrd continues from: the
// new clip starts (FNR, PNS) and is guided (DSG) as if the given video had been the previous clip.
//
// Step bookkeeping: the sampler visits t_0 > t_1 > ... > t_{T-1} ([981, ..., 1] by default); z_i is the
// latent entering sampling step i, at level t_i. The inverse scheduler visits the same timesteps upwards,
// and its step j lifts the latent to level t_{T-1-j}; so hist[T-1-j] = flip_F(output of inverse step j).

import { createScheduler, type SchedulerState } from "../schedulers/create.js";
import type { Scheduler } from "../schedulers/types.js";
import { resolveSchedulerConfig, type SchedulerConfig } from "../schedulers/config.js";
import { frameSlice, framesReversed } from "../tensor/frames.js";
import { Tensor } from "../tensor/tensor.js";
import { ProgressMeter, checkClipShape, throwIfAborted } from "./long-video/common.js";
import { type VidrdOptions, vidrdStrategy } from "./long-video/vidrd.js";
import type { ClipShape, LatentChunk, LongVideoRequest, NoisePredictor, Progress, PromptConditioning } from "./types.js";

/** The DDIM inversion of a sampling config; only DDIM sampling has one. */
export function inverseScheduler(sampling: SchedulerConfig = {}): Scheduler<SchedulerState> {
  const config = resolveSchedulerConfig(sampling);
  if (config.name !== "ddim") {
    throw new RangeError(`scheduler.name is "${config.name}"; continuation allows only "ddim": its inversion (ddim_inverse) recovers the noise path of DDIM sampling alone`);
  }
  return createScheduler({ ...config, name: "ddim_inverse" });
}

export interface InversionRequest {
  /** The clean clip to invert, [B, C, N, H, W] float32. */
  latents: Tensor;
  predictor: NoisePredictor;
  prompt: PromptConditioning;
  /** The sampling config the history is for (DDIM); inversion walks its timesteps backwards. */
  scheduler?: SchedulerConfig;
  onProgress?: (p: Progress) => void;
  signal?: AbortSignal;
}

/**
 * DDIM inversion of a clean clip; returns hist[0 .. T-1], hist[i] = flip_F(z_i) in sampling order
 * (hist[0] is the reversed recovered starting noise). T + 1 clip-sized tensors live at the peak.
 */
export async function invertToHistory(request: InversionRequest): Promise<Tensor<"float32">[]> {
  const inverse = inverseScheduler(request.scheduler);
  const latents = request.latents;
  if (latents.dtype !== "float32" || latents.rank !== 5) throw new RangeError(`latents are ${latents.describe()}; allowed: float32 [B, C, N, H, W]`);
  const shape = latents.shape;
  const T = inverse.timesteps.length;
  const meter = new ProgressMeter(T, request.onProgress);
  const history: Tensor<"float32">[] = new Array(T);
  let z = latents.data as Float32Array;
  for (let j = 0; j < T; j++) {
    throwIfAborted(request.signal, "inversion");
    // the model reads the less noisy sample at the higher timestep, as diffusers' DDIMInverseScheduler
    const eps = await request.predictor(new Tensor("float32", z, shape), inverse.timesteps[j], request.prompt);
    if (eps.dtype !== "float32" || eps.shape.some((d, a) => d !== shape[a])) {
      throw new Error(`the noise predictor returned ${eps.describe()} at inversion step ${j}; expected float32[${shape.join(", ")}]`);
    }
    z = inverse.step({ stepIndex: j, modelOutput: eps.data as Float32Array, sample: z, state: null }).prevSample;
    history[T - 1 - j] = framesReversed(new Tensor("float32", z, shape));
    meter.evaluated(0, 1, j + 1, T);
  }
  return history;
}

export interface ContinuationOptions extends Omit<VidrdOptions, "initialHistory"> {
  /** The noise predictor for the inversion; default the request's. One without guidance (scale 1) inverts most faithfully. */
  inversionPredictor?: NoisePredictor;
  /** The prompt the given video is inverted under; default the request's prompt at frame 0. */
  inversionPrompt?: PromptConditioning;
  onInversionProgress?: (p: Progress) => void;
}

/** The last N frames of a video [B, C, F, H, W], F >= N, checked against the clip geometry. */
export function lastClipOf(video: Tensor, clip: ClipShape): Tensor<"float32"> {
  checkClipShape(clip);
  if (video.dtype !== "float32" || video.rank !== 5) throw new RangeError(`video is ${video.describe()}; allowed: float32 [B, C, F, H, W]`);
  const [B, C, F, H, W] = video.shape;
  if (B !== clip.batch || C !== clip.channels || H !== clip.height || W !== clip.width || F < clip.frames) {
    throw new RangeError(
      `video is ${video.describe()}; allowed: [${clip.batch}, ${clip.channels}, F, ${clip.height}, ${clip.width}] with F >= ${clip.frames} (the clip length N)`,
    );
  }
  return frameSlice(video, F - clip.frames, F); // [B, C, N, H, W]
}

/**
 * Continues `video` (latents [B, C, F, H, W], its last N frames used) with vidrd: inversion, then vidrd
 * with the recovered history, so even the first clip is a continuation clip. `request.length` counts the
 * new output frames only; output frame 0 is the first frame after the given video.
 */
export async function* continueVideo(
  video: Tensor,
  request: LongVideoRequest,
  options: ContinuationOptions = {},
): AsyncGenerator<LatentChunk, void, undefined> {
  const { inversionPredictor, inversionPrompt, onInversionProgress, ...vidrd } = options;
  const last = lastClipOf(video, request.clip);
  const steps = inverseScheduler(request.scheduler).timesteps.length;
  // everything but the history is checked before the (T-evaluation) inversion runs
  vidrdStrategy.validate(request, { ...vidrd, initialHistory: Array.from({ length: steps }, () => last) });
  const initialHistory = await invertToHistory({
    latents: last,
    predictor: inversionPredictor ?? request.predictor,
    prompt: inversionPrompt ?? request.prompts(0, 1),
    scheduler: request.scheduler,
    onProgress: onInversionProgress,
    signal: request.signal,
  });
  yield* vidrdStrategy.generate(request, { ...vidrd, initialHistory });
}
