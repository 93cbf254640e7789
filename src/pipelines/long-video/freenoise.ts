// FreeNoise (Qiu et al. 2023, "FreeNoise: Tuning-Free Longer Video Diffusion via Noise Rescheduling"),
// training-free, in two parts:
//
// 1. Noise rescheduling: only the first window's W noise frames are drawn fresh; every later block of S
//    frames [i, i + S) reuses the noise frames [i - W, i - W + S) in a shuffled order (the authors'
//    rule, as diffusers' FreeNoise port has it: noise_type "shuffle_context"). Every window of W frames at a multiple of S then holds the
//    first window's noise frames in another order (when S divides W), so distant frames share noise and
//    the long video keeps the content of a short one instead of drifting.
// 2. Window fusion: overlapping windows (stride S) are denoised and frames held by several windows are
//    fused with triangular weights (windows.ts, triangularWeights). The paper fuses the outputs of the
//    windows' temporal attention inside every temporal layer; we fuse the windows' predictions in the
//    pipeline instead, so the method works with any Denoiser (STYLE.md: long-video logic never inside
//    models). This is a deviation: the spatial layers and every other layer also see only their window,
//    and fusion happens once per step rather than once per temporal layer.
//
// Motion injection (the paper's multi-prompt mechanism) is not done here: each window is conditioned on
// request.prompts over its own frame range, as in Gen-L-Video.
//
// Cost: T * (number of windows) denoiser calls of W frames, ceil((L - W) / S) + 1 windows; memory holds
// the whole latent (L frames) until the last step, by the nature of the method.

import type { NoiseSource } from "../../tensor/noise.js";
import { clipLatentShape } from "../text-to-clip.js";
import type { LatentChunk, LongVideoRequest, LongVideoStrategy } from "../types.js";
import { throwIfAborted } from "./common.js";
import { coDenoise, resolveWindowLayout, triangularWeights, writeFrames, type WindowLayout, type WindowOptions } from "./windows.js";

/**
 * window: W, frames per window and of fresh noise; default N = clip.frames (the paper uses the model's
 * training length); an integer in [1, N].
 * stride: S, frames between window starts and per rescheduled noise block; default floor(W / 4) (at
 * least 1), as the authors' 16-frame window with stride 4; an integer in [1, W].
 */
export type FreeNoiseOptions = WindowOptions;

/** The window layout over the whole video, after checking the request and options. */
export function freeNoiseLayout(request: LongVideoRequest, options: FreeNoiseOptions = {}): WindowLayout {
  return resolveWindowLayout("freenoise", request, options, (window) => Math.max(1, Math.floor(window / 4)));
}

/**
 * A uniformly random order of 0 .. n-1 from the NoiseSource: one draw of n standard normals, sorted
 * ascending (ties, which a continuous draw never has but a replay file could, by index). The order of
 * i.i.d. continuous values is uniform over permutations, and a replayed draw reproduces it exactly.
 */
export function shuffledOrder(noise: NoiseSource, n: number): number[] {
  const keys = noise.randn([n]);
  if (keys.length !== n) throw new Error(`noise.randn([${n}]) gave ${keys.length} values`);
  return Array.from({ length: n }, (_, j) => j).sort((a, b) => keys[a] - keys[b] || a - b);
}

/**
 * z_T [B, C, L, H, W] by noise rescheduling. Draws, in order: the first window's noise (one draw of
 * [B, C, W, H, W']), then for each later block starting at i = W, W + S, ... the shuffle of `shuffledOrder`
 * (one draw of [S]); block frame i + j takes noise frame i - W + order[j]. A last block shorter than S
 * takes the first frames of its shuffle, as diffusers' port does.
 */
export function rescheduledNoise(noise: NoiseSource, shape: readonly number[], window: number, stride: number): Float32Array {
  const [B, C, L, H, W] = shape;
  const plane = H * W;
  const z = new Float32Array(B * C * L * plane);
  writeFrames(z, L, noise.randn([B, C, window, H, W]), window, 0, plane);
  for (let i = window; i < L; i += stride) {
    const order = shuffledOrder(noise, stride);
    const n = Math.min(stride, L - i);
    // frame i - W + order[j] < i, so it is final before it is copied
    for (let bc = 0; bc < B * C; bc++) {
      const run = bc * L * plane;
      for (let j = 0; j < n; j++) z.copyWithin(run + (i + j) * plane, run + (i - window + order[j]) * plane, run + (i - window + order[j] + 1) * plane);
    }
  }
  return z;
}

export const freeNoiseStrategy: LongVideoStrategy<FreeNoiseOptions> = {
  name: "freenoise",
  validate(request, options) {
    freeNoiseLayout(request, options);
  },
  async *generate(request, options): AsyncGenerator<LatentChunk, void, undefined> {
    const layout = freeNoiseLayout(request, options);
    throwIfAborted(request.signal);
    const [B, C, , H, W] = clipLatentShape(request.clip);
    const start = rescheduledNoise(request.noise, [B, C, layout.frames, H, W], layout.window, layout.stride);
    yield* coDenoise(request, layout, triangularWeights(layout.window), start);
  },
};
