// What the peer long-video strategies (VIDRD.md section 6) share: their output length, the checks of
// their options, and temporal co-denoising of one long latent by overlapping windows of the model's clip
// length, fused per frame with weights (Gen-L-Video: equal weights; FreeNoise: triangular weights).
//
// Notation:
//   N   clip.frames, the clip length the model was trained on
//   L   frames of the whole video latent
//   W   window, frames per denoiser call (<= N);  S  stride between window starts
//   w_j weight of the j-th frame of a window (j = 0 .. W-1)

import { Tensor } from "../../tensor/tensor.js";
import { frameSlice } from "../../tensor/frames.js";
import { clipLatentShape, samplingScheduler } from "../text-to-clip.js";
import type { LatentChunk, LongVideoRequest, VideoLength } from "../types.js";
import { ProgressMeter, checkClipShape, checkOptionNames, integerOption, throwIfAborted } from "./common.js";

/**
 * Output frames of a peer strategy. `{ clips: K }` means K * N frames, the length K independent clips
 * have, so every peer produces the same length for the same request; `{ frames }` is taken as is.
 */
export function outputFrameCount(length: VideoLength, clipFrames: number): number {
  if ("clips" in length) return integerOption("clips", length.clips, 1, Number.MAX_SAFE_INTEGER) * clipFrames;
  return integerOption("frames", length.frames, 1, Number.MAX_SAFE_INTEGER);
}

/** Where the windows of a co-denoised latent start: every S frames, the last aligned to the end. */
export interface WindowLayout {
  /** L. */
  frames: number;
  /** W. */
  window: number;
  /** S. */
  stride: number;
  /** 0, S, 2S, ... while the window fits, then L - W if frames at the end were left uncovered. */
  starts: readonly number[];
}

export function windowLayout(frames: number, window: number, stride: number): WindowLayout {
  if (!(Number.isInteger(window) && Number.isInteger(stride) && window >= 1 && stride >= 1 && stride <= window && frames >= window)) {
    throw new RangeError(`window layout needs 1 <= stride <= window <= frames; got frames ${frames}, window ${window}, stride ${stride}`);
  }
  const starts: number[] = [];
  for (let s = 0; s + window <= frames; s += stride) starts.push(s);
  // One window flush with the end when the stride leaves a remainder, so every frame is covered (stride <=
  // window leaves no gap between consecutive windows). Ours: the authors' Gen-L-Video leaves such tail
  // frames undenoised and their FreeNoise needs (L - W) % S = 0; at the defaults (L = K N, S = N/2 or N/4)
  // no remainder arises and the layouts agree.
  if (starts[starts.length - 1] + window < frames) starts.push(frames - window);
  return { frames, window, stride, starts };
}

/** The options of a co-denoising strategy (Gen-L-Video, FreeNoise). */
export interface WindowOptions {
  /** W, frames per window (per denoiser call); default N = clip.frames. An integer in [1, N]. */
  window?: number;
  /** S, frames between window starts; default: the strategy's. An integer in [1, W]. */
  stride?: number;
}

/**
 * Checks a co-denoising request and its options, and lays the windows over the video. W is at most N:
 * co-denoising exists so that no call is longer than the clip the model was trained on (its temporal
 * layers would extrapolate); S is at most W, or frames between windows would never be denoised.
 */
export function resolveWindowLayout(
  strategy: string,
  request: LongVideoRequest,
  options: WindowOptions,
  defaultStride: (window: number) => number,
): WindowLayout {
  checkClipShape(request.clip);
  checkOptionNames(strategy, options ?? {}, ["window", "stride"]);
  samplingScheduler(request.scheduler);
  const N = request.clip.frames;
  const window =
    options?.window === undefined
      ? N
      : integerOption("window", options.window, 1, N, `at most clip.frames = ${N}, the clip length the model was trained on`);
  const stride =
    options?.stride === undefined
      ? defaultStride(window)
      : integerOption("stride", options.stride, 1, window, `at most window = ${window}, or frames between windows are never denoised`);
  const frames = outputFrameCount(request.length, N);
  if (frames < window) throw new RangeError(`frames is ${frames}; allowed: at least window = ${window} (one whole window)`);
  return windowLayout(frames, window, stride);
}

/** Gen-L-Video averages overlapping windows: every frame of a window weighs 1. */
export function uniformWeights(window: number): Float64Array {
  return new Float64Array(window).fill(1);
}

/**
 * FreeNoise's triangular ("pyramid") weights: 1, 2, ..., rising to the window centre and falling back
 * to 1, so a frame counts most in the window it is central to and no frame ever weighs 0 (a frame
 * covered only by window ends still gets a value). W = 4: [1, 2, 2, 1]; W = 5: [1, 2, 3, 2, 1].
 */
export function triangularWeights(window: number): Float64Array {
  const w = new Float64Array(window);
  for (let j = 0; j < window; j++) w[j] = Math.min(j + 1, window - j);
  return w;
}

/**
 * Copies `src` [B, C, n, H, W] into frames [at, at + n) of `dst` [B, C, F, H, W] (both row-major data of
 * those shapes): per (b, c) a contiguous run of n * H * W values.
 */
export function writeFrames(dst: Float32Array, dstFrames: number, src: Float32Array, srcFrames: number, at: number, plane: number): void {
  const bc = src.length / (srcFrames * plane);
  for (let k = 0; k < bc; k++) {
    dst.set(src.subarray(k * srcFrames * plane, (k + 1) * srcFrames * plane), (k * dstFrames + at) * plane);
  }
}

/** Throws unless the predictor gave float32 of the input's shape. */
export function checkPrediction(eps: Tensor, shape: readonly number[], where: string): Float32Array {
  if (eps.dtype !== "float32" || eps.shape.length !== shape.length || eps.shape.some((d, i) => d !== shape[i])) {
    throw new Error(`the noise predictor returned ${eps.describe()} ${where}; expected float32[${shape.join(", ")}], the shape of z`);
  }
  return eps.data as Float32Array;
}

/**
 * The finished latent as chunks in output order, one per window: each carries its whole window as
 * context for a temporal decoder, and marks as new only the frames no earlier chunk emitted.
 */
export function* windowChunks(latents: Tensor, layout: WindowLayout): Generator<LatentChunk, void, undefined> {
  let emitted = 0;
  for (let k = 0; k < layout.starts.length; k++) {
    const start = layout.starts[k];
    const end = start + layout.window;
    if (end <= emitted) continue;
    yield { clip: k, latents: frameSlice(latents, start, end), emitStart: Math.max(0, emitted - start), emitEnd: layout.window, firstFrame: emitted };
    emitted = end;
  }
}

/**
 * Temporal co-denoising (Gen-L-Video's "temporal co-denoising"; FreeNoise's window fusion, here done on
 * the model's output rather than inside temporal attention): one latent z of L frames; at every step
 * i each window z[s, s+W) is denoised under the prompt of its own frame range, and the step is taken
 * once on the whole latent with the per-frame fusion of the windows' predictions:
 *
 *   eps_fused[f] = sum_k w_{f - s_k} eps_k[f - s_k] / sum_k w_{f - s_k}   over windows k that hold f
 *
 * Gen-L-Video averages the windows' x_{t-1}; for DDIM (and every deterministic sampler here) x_{t-1} is
 * affine in eps with coefficients shared by all frames, so fusing eps with normalised weights gives
 * the fused x_{t-1} (up to rounding; for the multistep DPM-Solver++ too, since its update is affine in
 * the current and previous x_0 predictions and the same windows hold a frame at every step). Fusing
 * eps also keeps a stochastic step's noise drawn once per frame (averaging separately noised x_{t-1}
 * would shrink its variance in overlaps) and one multistep state for the whole latent. The whole latent stays in memory: memory grows with L by the nature of
 * the method (every frame is live until the last step), unlike vidrd's clip-by-clip loop.
 *
 * `start` is z_T [B, C, L, H, W] at unit scale (the sampler's initNoiseSigma is applied here).
 */
export async function* coDenoise(
  request: LongVideoRequest,
  layout: WindowLayout,
  weights: Float64Array,
  start: Float32Array,
): AsyncGenerator<LatentChunk, void, undefined> {
  const scheduler = samplingScheduler(request.scheduler);
  const [B, C, , H, Wd] = clipLatentShape(request.clip);
  const { frames: L, window: W, starts } = layout;
  const plane = H * Wd;
  const shape = [B, C, L, H, Wd];
  const windowShape = [B, C, W, H, Wd];
  const T = scheduler.timesteps.length;

  // sum of weights per frame: the normaliser of the fusion, the same at every step
  const weightSum = new Float64Array(L);
  for (const s of starts) for (let j = 0; j < W; j++) weightSum[s + j] += weights[j];

  const sigma = scheduler.initNoiseSigma;
  let z = sigma === 1 ? start : start.map((v) => v * sigma);
  let state = scheduler.initialState();
  const meter = new ProgressMeter(T * starts.length, request.onProgress);
  const fusedSum = new Float64Array(z.length);
  for (let i = 0; i < T; i++) {
    const input = new Tensor("float32", scheduler.scaleModelInput(z, i), shape);
    fusedSum.fill(0);
    for (let k = 0; k < starts.length; k++) {
      const s = starts[k];
      throwIfAborted(request.signal);
      const eps = await request.predictor(frameSlice(input, s, s + W), scheduler.timesteps[i], request.prompts(s, s + W));
      const e = checkPrediction(eps, windowShape, `for window [${s}, ${s + W}) at step ${i}`);
      meter.evaluated(k, starts.length, i + 1, T);
      // [B, C, W, H, W'] window frame j lands on frame s + j of [B, C, L, H, W']
      for (let bc = 0; bc < B * C; bc++) {
        for (let j = 0; j < W; j++) {
          const wj = weights[j];
          const from = (bc * W + j) * plane;
          const to = (bc * L + s + j) * plane;
          for (let p = 0; p < plane; p++) fusedSum[to + p] += wj * e[from + p];
        }
      }
    }
    const fused = new Float32Array(z.length);
    for (let bc = 0; bc < B * C; bc++) {
      for (let f = 0; f < L; f++) {
        const base = (bc * L + f) * plane;
        for (let p = 0; p < plane; p++) fused[base + p] = fusedSum[base + p] / weightSum[f];
      }
    }
    const out = scheduler.step({ stepIndex: i, modelOutput: fused, sample: z, state, noise: request.noise, shape });
    z = out.prevSample;
    state = out.state;
  }
  yield* windowChunks(new Tensor("float32", z, shape), layout);
}
