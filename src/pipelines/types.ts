// The contract between models and sampling loops (DESIGN.md, "Interfaces that hold the layers together").
//
//   Denoiser          the raw network: eps for latents z at timestep(s) t under text embeddings
//   NoisePredictor    a Denoiser under classifier-free guidance (guidance.ts): one batched call
//   PromptSource      which prompt conditioning holds for a range of output frames (prompt-schedule.ts)
//   LongVideoStrategy a loop that owns the denoising of a long video and yields latents clip by clip
//
// Pipelines are model-agnostic: a UNet session, an ONNX file a user brings, or a test function all fit.

import type { Tensor } from "../tensor/tensor.js";
import type { NoiseSource } from "../tensor/noise.js";
import type { SchedulerConfig } from "../schedulers/config.js";

/** Text conditioning for one denoiser call: encoder hidden states, one row per batch element of z. */
export interface Conditioning {
  /** [B, L, D] float32 (L = 77 tokens for CLIP). */
  embeddings: Tensor;
}

/**
 * The diffusion timestep of a call: one for every frame, or one per frame (length F, frame order) for
 * diagonal denoising (FIFO), which the UNet supports as timestep [B, F].
 */
export type Timesteps = number | readonly number[];

/** eps prediction for latents z [B, C, F, H, W] at timestep t under conditioning c; same shape as z. */
export type Denoiser = (z: Tensor, t: Timesteps, c: Conditioning) => Promise<Tensor>;

/** A prompt and its negative, encoded: what classifier-free guidance needs. */
export interface PromptConditioning {
  /** Embeddings of the prompt, [1, L, D] (expanded over the batch) or [B, L, D]. */
  cond: Tensor;
  /** Embeddings of the negative (or empty) prompt, same shape as cond. */
  uncond: Tensor;
}

/** eps under guidance for latents z [B, C, F, H, W] (guidance.ts builds one from a Denoiser). */
export type NoisePredictor = (z: Tensor, t: Timesteps, prompt: PromptConditioning) => Promise<Tensor>;

/** Which prompt conditioning holds for output frames [start, end) (absolute indices in the video). */
export type PromptSource = (start: number, end: number) => PromptConditioning;

/** Latent geometry of one clip: what the model was trained on (N frames of C x H x W latents). */
export interface ClipShape {
  batch: number;
  channels: number;
  /** N, the clip length in latent frames. */
  frames: number;
  height: number;
  width: number;
}

/** How long the video is: a number of clips K, or a number of output frames. */
export type VideoLength = { clips: number } | { frames: number };

export interface Progress {
  /** 0-based clip (or window / queue position for strategies without clips) and how many there are. */
  clip: number;
  clips: number;
  /** 1-based denoising step within the clip, and the steps per clip. */
  step: number;
  steps: number;
  /** Denoiser calls made so far in the whole run (a guided call counts once). */
  evaluations: number;
  /** Estimated seconds left, from the measured time per evaluation; undefined before the first. */
  etaSeconds?: number;
}

/** What every long-video strategy receives besides its own options. */
export interface LongVideoRequest {
  predictor: NoisePredictor;
  prompts: PromptSource;
  /** The sampler; its `steps` is T, the denoising steps per clip (default 50). */
  scheduler: SchedulerConfig;
  clip: ClipShape;
  length: VideoLength;
  noise: NoiseSource;
  onProgress?: (p: Progress) => void;
  signal?: AbortSignal;
}

/**
 * A piece of the video in latent space, as a strategy finishes it. `latents` may carry context frames
 * (e.g. vidrd's overlap) so a temporal decoder sees the whole clip; only frames [emitStart, emitEnd) of
 * it are new output, and they are output frames firstFrame .. firstFrame + (emitEnd - emitStart) - 1.
 */
export interface LatentChunk {
  /** 0-based index of the clip (window, or queue head) this chunk came from. */
  clip: number;
  /** [B, C, n, H, W] float32. */
  latents: Tensor;
  emitStart: number;
  emitEnd: number;
  firstFrame: number;
}

export interface LongVideoStrategy<Options> {
  readonly name: string;
  /** Checks the options against the request; throws a RangeError naming the option and what is allowed. */
  validate(request: LongVideoRequest, options: Options): void;
  /** Denoises the video, yielding chunks in output order; memory must not grow with the number of clips. */
  generate(request: LongVideoRequest, options: Options): AsyncGenerator<LatentChunk, void, undefined>;
}
