// FIFO-Diffusion (Kim et al. 2024, "FIFO-Diffusion: Generating Infinite Videos from Text without
// Training"): diagonal denoising over a queue of frames at increasing noise levels.
//
// Notation (paper -> code):
//   f           N = clip.frames, the frames of one model call
//   n           partitions (latent partitioning): the queue holds f * n frames
//   tau_1..tau_fn   the scheduler's T = f * n timesteps; queue position q (0 = head) sits at
//               tau_q = timesteps[T - 1 - q], so levels increase from the clean end (head) to the tail
//   Q           queue length: T, plus N / 2 context positions before the head with lookahead
//
// Each iteration (the paper's "diagonal denoising" with "latent partitioning"): the queue is cut into n partitions of N consecutive
// frames; the model is called once per partition with the frames' own timesteps (the UNet takes [B, F]);
// every frame takes one DDIM step from its own level to the next lower one, so the head becomes clean,
// leaves the queue and is output, everything moves one place towards the head, and a fresh N(0, I) frame
// enters at the tail at the top level. A frame thus visits all T levels, one per iteration.
//
// The paper's "lookahead denoising": N / 2 extra positions before the head hold the frames most
// recently output (at the lowest level's label); the windows start every N / 2 positions (2n calls)
// and each call updates only the later half of its window, so every frame is denoised with N / 2 less
// noisy frames ahead of it as context. The first half of each window is context only.
//
// Queue initialisation (as the authors' code): a base clip of N frames is sampled by plain DDIM with
// the same scheduler (T steps), and queue position q gets base frame max(0, q - (T - N)) re-noised to
// level tau_q by the forward process, x_q = sqrt(abar) x_0 + sqrt(1 - abar) eps (lookahead positions:
// base frame 0 at the lowest level). The first T - N heads (copies of base frame 0 re-noised) are a
// warm-up and not output, so output frame j is base frame j for j < N, then new frames.
//
// Per-frame stepping needs alpha_bar per frame, so FIFO supports DDIM only (any eta, epsilon or v
// prediction); the T = n * N steps must fill the queue exactly. Unless the request says otherwise, the
// sampler is the authors': "linspace" timesteps over [0, 999] and eta 1 (fifoSchedulerConfig).
//
// Prompts: each window is conditioned on the prompt of its own frame range (blended by frame share at a
// transition); the authors' multi-prompt code switches one prompt for the whole queue by the head frame.
//
// Cost: T calls for the base clip, then (L + T - N) iterations of n calls (2n with lookahead), each of
// N frames. Memory: the queue (Q frames) and one chunk of output, whatever the video length.

import { alphaBarAfter } from "../../schedulers/types.js";
import { dataAndNoise } from "../../schedulers/prediction.js";
import { ddimNoiseStd, ddimUpdate } from "../../schedulers/ddim.js";
import type { SchedulerState } from "../../schedulers/create.js";
import type { SchedulerConfig } from "../../schedulers/config.js";
import type { Scheduler } from "../../schedulers/types.js";
import { frameConcat, frameSlice } from "../../tensor/frames.js";
import { Tensor } from "../../tensor/tensor.js";
import { clipLatentShape, denoiseClip, samplingScheduler, startingNoise } from "../text-to-clip.js";
import type { LatentChunk, LongVideoRequest, LongVideoStrategy } from "../types.js";
import { ProgressMeter, checkClipShape, checkOptionNames, integerOption, throwIfAborted } from "./common.js";
import { checkPrediction, outputFrameCount, writeFrames } from "./windows.js";

export interface FifoOptions {
  /**
   * n, partitions of the queue (latent partitioning); default scheduler.steps / N. The queue holds one
   * frame per noise level, so scheduler.steps must equal n * N (the authors force steps = f * n).
   */
  partitions?: number;
  /** Lookahead denoising (windows shifted by N / 2, later half updated); default true, the authors' default. Needs an even N. */
  lookahead?: boolean;
}

const OPTION_NAMES = ["partitions", "lookahead"] as const;

interface FifoPlan {
  scheduler: Scheduler<SchedulerState>;
  /** T = n * N. */
  steps: number;
  partitions: number;
  lookahead: boolean;
  /** Context positions before the head: N / 2 with lookahead, else 0. */
  pad: number;
  /** L, output frames. */
  frames: number;
  /** Model calls per iteration, each on [start, start + N), writing back positions [start + keepFrom, start + N). */
  windows: readonly number[];
  keepFrom: number;
}

/**
 * The authors' sampler settings where the request leaves them open: timesteps spread over the whole
 * range, linspace(0, 999, T) rounded (their DDIM edit), so fresh noise enters the tail at t = 999 and the
 * head leaves from t = 0; and eta 1 (their default), a stochastic step for every frame.
 */
export function fifoSchedulerConfig(config: SchedulerConfig): SchedulerConfig {
  return { ...config, spacing: config.spacing ?? "linspace", eta: config.eta ?? 1 };
}

function fifoPlan(request: LongVideoRequest, options: FifoOptions = {}): FifoPlan {
  checkClipShape(request.clip);
  checkOptionNames("fifo", options, OPTION_NAMES);
  const scheduler = samplingScheduler(fifoSchedulerConfig(request.scheduler));
  if (scheduler.config.name !== "ddim") {
    throw new RangeError(`scheduler.name is "${scheduler.config.name}"; fifo allows: ddim (every frame steps from its own noise level, a per-frame DDIM update)`);
  }
  const N = request.clip.frames;
  const T = scheduler.timesteps.length;
  const lookahead = options.lookahead ?? true;
  if (typeof lookahead !== "boolean") throw new RangeError(`lookahead is ${JSON.stringify(lookahead)}; allowed: true, false`);
  if (lookahead && N % 2 !== 0) {
    throw new RangeError(`lookahead is true with clip.frames ${N}; allowed: lookahead with an even clip.frames (windows shift by N / 2), or lookahead false`);
  }
  let n: number;
  if (options.partitions !== undefined) {
    n = integerOption("partitions", options.partitions, 1, Number.MAX_SAFE_INTEGER);
    if (n * N !== T) {
      throw new RangeError(`scheduler.steps is ${T}; fifo with partitions ${n} and clip.frames ${N} allows: steps = partitions * clip.frames = ${n * N}`);
    }
  } else {
    if (T % N !== 0) {
      const below = Math.floor(T / N) * N;
      const near = below >= N ? `${below} or ${below + N}` : `${N}`;
      throw new RangeError(`scheduler.steps is ${T}; fifo allows: a multiple of clip.frames ${N} (one queue frame per step, n partitions of ${N}), e.g. ${near}`);
    }
    n = T / N;
  }
  const half = N / 2;
  const windows = lookahead ? Array.from({ length: 2 * n }, (_, r) => r * half) : Array.from({ length: n }, (_, r) => r * N);
  return { scheduler, steps: T, partitions: n, lookahead, pad: lookahead ? half : 0, frames: outputFrameCount(request.length, N), windows, keepFrom: lookahead ? half : 0 };
}

/**
 * One DDIM step (Song et al. 2021, eq. 12) per frame, each from its own level: for every window frame j
 * in [from, N) with step index stepIndex[j], x_{t-1} from the window latents and the prediction, written
 * to frame `at + j` of `dst` [B, C, Q, H, W]. `noiseFor(n)` gives the eta noise for n frames, when needed.
 */
export function perFrameDdimStep(args: {
  scheduler: Scheduler<SchedulerState>;
  window: Tensor<"float32">;
  modelOutput: Tensor<"float32">;
  stepIndex: readonly number[];
  from: number;
  dst: Float32Array;
  dstFrames: number;
  at: number;
  noiseFor: (frames: number) => Float32Array;
}): void {
  const { scheduler, window, modelOutput, stepIndex, from, dst, dstFrames, at } = args;
  const { alphasCumprod, timesteps, config } = scheduler;
  const [, , N, H, W] = window.shape;
  const finalAlphaBar = config.setAlphaToOne ? 1 : alphasCumprod[0];
  const noiseStd = stepIndex.map((i) => ddimNoiseStd(config.eta, alphasCumprod[timesteps[i]], alphaBarAfter(alphasCumprod, timesteps, i, finalAlphaBar)));
  // eta > 0: one draw [B, C, N - from, H, W] for the frames this call updates
  const z = noiseStd.slice(from).some((s) => s > 0) ? new Tensor("float32", args.noiseFor(N - from), [window.shape[0], window.shape[1], N - from, H, W]) : undefined;
  for (let j = from; j < N; j++) {
    const i = stepIndex[j];
    // 1. alpha_t of the frame's own level and alpha_{t-1}, the next lower level (or the final one)
    const abarT = alphasCumprod[timesteps[i]];
    const abarPrev = alphaBarAfter(alphasCumprod, timesteps, i, finalAlphaBar);
    // 2. predicted x_0 and eps of frame j alone ([B, C, 1, H, W])
    const { x0, eps } = dataAndNoise(config.prediction, frameSlice(modelOutput, j, j + 1).data, frameSlice(window, j, j + 1).data, abarT);
    // 3-4. sigma_t(eta) (eq. 16) and eq. 12
    const next = ddimUpdate(x0, eps, abarPrev, noiseStd[j], z ? frameSlice(z, j - from, j - from + 1).data : undefined);
    writeFrames(dst, dstFrames, next, 1, at + j, H * W);
  }
}

export const fifoStrategy: LongVideoStrategy<FifoOptions> = {
  name: "fifo",
  validate(request, options) {
    fifoPlan(request, options);
  },
  async *generate(request, options): AsyncGenerator<LatentChunk, void, undefined> {
    const plan = fifoPlan(request, options);
    const { scheduler, steps: T, pad, frames: L, windows, keepFrom } = plan;
    const [B, C, N, H, W] = clipLatentShape(request.clip);
    const plane = H * W;
    const Q = pad + T;
    const queueShape = [B, C, Q, H, W];
    const warmup = T - N;
    const iterations = L + warmup;
    const meter = new ProgressMeter(T + iterations * windows.length, request.onProgress);
    const { alphasCumprod, timesteps } = scheduler;
    /** Step index of queue position p: context positions share the head's (lowest) level. */
    const stepIndexAt = (p: number) => T - 1 - Math.max(0, p - pad);
    /** Output frame held by position p at iteration k, clamped into the video for its prompt. */
    const outputFrameAt = (k: number, p: number) => Math.min(L - 1, Math.max(0, k + p - pad - warmup));

    // Queue initialisation: the base clip (output frames [0, N)), then forward re-noising in one draw.
    throwIfAborted(request.signal);
    const base = await denoiseClip({
      scheduler,
      predictor: request.predictor,
      prompt: request.prompts(0, Math.min(N, L)),
      start: startingNoise(request.noise, [B, C, N, H, W], scheduler.initNoiseSigma),
      noise: request.noise,
      onEvaluated: (i) => meter.evaluated(0, iterations, i + 1, T),
      signal: request.signal,
    });
    const renoise = request.noise.randn(queueShape);
    let queue = new Float32Array(B * C * Q * plane);
    for (let p = 0; p < Q; p++) {
      const abar = alphasCumprod[timesteps[stepIndexAt(p)]];
      const a = Math.sqrt(abar);
      const s = Math.sqrt(1 - abar);
      const frame = Math.max(0, p - pad - warmup);
      for (let bc = 0; bc < B * C; bc++) {
        const to = (bc * Q + p) * plane;
        const from = (bc * N + frame) * plane;
        for (let e = 0; e < plane; e++) queue[to + e] = a * base.data[from + e] + s * renoise[to + e];
      }
    }

    let chunk: Tensor<"float32">[] = [];
    let chunkIndex = 0;
    for (let k = 0; k < iterations; k++) {
      const current = new Tensor("float32", queue, queueShape);
      // every call reads the queue as it was before this iteration (windows' updated ranges are disjoint)
      const next = queue.slice();
      for (let r = 0; r < windows.length; r++) {
        const start = windows[r];
        const stepIndex = Array.from({ length: N }, (_, j) => stepIndexAt(start + j));
        throwIfAborted(request.signal);
        const window = frameSlice(current, start, start + N);
        const prompt = request.prompts(outputFrameAt(k, start), outputFrameAt(k, start + N - 1) + 1);
        const eps = await request.predictor(window, stepIndex.map((i) => timesteps[i]), prompt);
        checkPrediction(eps, window.shape, `for queue positions [${start}, ${start + N}) at iteration ${k}`);
        meter.evaluated(k, iterations, r + 1, windows.length);
        perFrameDdimStep({
          scheduler,
          window,
          modelOutput: eps as Tensor<"float32">,
          stepIndex,
          from: keepFrom,
          dst: next,
          dstFrames: Q,
          at: start,
          noiseFor: (n) => request.noise.randn([B, C, n, H, W]),
        });
      }
      // the head (position pad) is now clean: output it after the warm-up
      if (k >= warmup) chunk.push(frameSlice(new Tensor("float32", next, queueShape), pad, pad + 1));
      if (chunk.length === N || (k === iterations - 1 && chunk.length > 0)) {
        yield { clip: chunkIndex, latents: frameConcat(chunk), emitStart: 0, emitEnd: chunk.length, firstFrame: chunkIndex * N };
        chunkIndex++;
        chunk = [];
      }
      if (k === iterations - 1) break;
      // shift towards the head ([B, C, Q, H, W] frames 1..Q-1 -> 0..Q-2); fresh noise at the tail
      queue = new Float32Array(next.length);
      for (let bc = 0; bc < B * C; bc++) queue.set(next.subarray((bc * Q + 1) * plane, (bc + 1) * Q * plane), bc * Q * plane);
      writeFrames(queue, Q, request.noise.randn([B, C, 1, H, W]), 1, Q - 1, plane);
    }
  },
};
