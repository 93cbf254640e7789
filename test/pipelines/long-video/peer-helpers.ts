// Tiny requests, instrumented test predictors and a hand-written DDIM step for the peer strategies'
// tests (independent, gen-l-video, freenoise, fifo).

import { Tensor } from "../../../src/tensor/tensor.js";
import { SeededNoise } from "../../../src/tensor/seeded-noise.js";
import type { NoiseSource } from "../../../src/tensor/noise.js";
import type { SchedulerConfig } from "../../../src/schedulers/config.js";
import type { LatentChunk, LongVideoRequest, NoisePredictor, Progress, PromptConditioning, Timesteps, VideoLength } from "../../../src/pipelines/types.js";

export const B = 1;
export const C = 2;
export const H = 2;
export const W = 2;
export const PLANE = H * W;

/** A NoiseSource that keeps a copy of every draw with its shape. */
export class RecordedNoise implements NoiseSource {
  readonly draws: { shape: number[]; values: Float32Array }[] = [];
  private readonly inner: NoiseSource;
  constructor(seed: number) {
    this.inner = new SeededNoise(seed);
  }
  randn(shape: readonly number[]): Float32Array {
    const values = this.inner.randn(shape);
    this.draws.push({ shape: [...shape], values: values.slice() });
    return values;
  }
}

/** Conditioning whose embeddings encode the frame range, so a predictor's output depends on the prompt. */
export function rangePrompt(start: number, end: number): PromptConditioning {
  return { cond: Tensor.float32([start, end], [1, 1, 2]), uncond: Tensor.float32([0, 0], [1, 1, 2]) };
}

export interface Call {
  z: Tensor<"float32">;
  t: Timesteps;
  prompt: [number, number];
  eps: Tensor<"float32">;
}

/**
 * A test predictor that mixes frames, so a window's context matters: per (b, c, h, w) and frame j of F,
 *   eps_j = 0.3 z_j + 0.2 mean_f z_f + 0.01 (j + 1) + 0.002 prompt.start + 1e-5 t_j.
 * Every call is recorded.
 */
export function mixingPredictor(calls: Call[]): NoisePredictor {
  return async (z, t, prompt) => {
    const [b, c, F, h, w] = z.shape;
    const plane = h * w;
    const x = z.data as Float32Array;
    const out = new Float32Array(x.length);
    const start = (prompt.cond.data as Float32Array)[0];
    for (let bc = 0; bc < b * c; bc++) {
      for (let p = 0; p < plane; p++) {
        let mean = 0;
        for (let f = 0; f < F; f++) mean += x[(bc * F + f) * plane + p];
        mean /= F;
        for (let f = 0; f < F; f++) {
          const tf = typeof t === "number" ? t : t[f];
          const k = (bc * F + f) * plane + p;
          out[k] = 0.3 * x[k] + 0.2 * mean + 0.01 * (f + 1) + 0.002 * start + 1e-5 * tf;
        }
      }
    }
    const eps = new Tensor("float32", out, z.shape);
    const cond = prompt.cond.data as Float32Array;
    calls.push({ z: z.clone() as Tensor<"float32">, t: typeof t === "number" ? t : [...t], prompt: [cond[0], cond[1]], eps });
    return eps;
  };
}

export function tinyRequest(opts: {
  frames: number;
  steps: number;
  length: VideoLength;
  predictor: NoisePredictor;
  noise?: NoiseSource;
  scheduler?: SchedulerConfig;
  onProgress?: (p: Progress) => void;
  signal?: AbortSignal;
}): LongVideoRequest {
  return {
    predictor: opts.predictor,
    prompts: rangePrompt,
    scheduler: { steps: opts.steps, ...opts.scheduler },
    clip: { batch: B, channels: C, frames: opts.frames, height: H, width: W },
    length: opts.length,
    noise: opts.noise ?? new SeededNoise(7),
    onProgress: opts.onProgress,
    signal: opts.signal,
  };
}

export async function collect(gen: AsyncGenerator<LatentChunk, void, undefined>): Promise<LatentChunk[]> {
  const chunks: LatentChunk[] = [];
  for await (const c of gen) chunks.push(c);
  return chunks;
}

/** Frame f of a [B, C, F, H, W] latent as a flat [B, C, 1, H, W] array. */
export function frameOf(t: Tensor, f: number): Float64Array {
  const [b, c, F, h, w] = t.shape;
  const plane = h * w;
  const out = new Float64Array(b * c * plane);
  const d = t.data as Float32Array;
  for (let bc = 0; bc < b * c; bc++) for (let p = 0; p < plane; p++) out[bc * plane + p] = d[(bc * F + f) * plane + p];
  return out;
}

/** The video's output frames, in order, from the chunks' new frames. */
export function outputFrames(chunks: readonly LatentChunk[]): Float64Array[] {
  const frames: Float64Array[] = [];
  for (const c of chunks) {
    if (c.firstFrame !== frames.length) throw new Error(`chunk ${c.clip} starts at output frame ${c.firstFrame}, expected ${frames.length}`);
    for (let f = c.emitStart; f < c.emitEnd; f++) frames.push(frameOf(c.latents, f));
  }
  return frames;
}

/** All chunk bytes, for determinism checks. */
export function chunkBytes(chunks: readonly LatentChunk[]): Buffer {
  return Buffer.concat(chunks.map((c) => Buffer.from((c.latents.data as Float32Array).buffer.slice(0))));
}

/** DDIM, eta 0, epsilon prediction (Song et al. 2021, eq. 12), written out for the tests. */
export function ddimByHand(x: ArrayLike<number>, eps: ArrayLike<number>, abarT: number, abarPrev: number): Float64Array {
  const out = new Float64Array(x.length);
  for (let k = 0; k < x.length; k++) {
    const x0 = (x[k] - Math.sqrt(1 - abarT) * eps[k]) / Math.sqrt(abarT);
    out[k] = Math.sqrt(abarPrev) * x0 + Math.sqrt(1 - abarPrev) * eps[k];
  }
  return out;
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`lengths ${a.length} and ${b.length} differ`);
  let m = 0;
  for (let k = 0; k < a.length; k++) m = Math.max(m, Math.abs(a[k] - b[k]));
  return m;
}

/** Runs a generation, aborting once `after` evaluations were reported; returns the error it threw. */
export async function abortAfter(run: (signal: AbortSignal, onProgress: (p: Progress) => void) => AsyncGenerator<LatentChunk, void, undefined>, after: number): Promise<unknown> {
  const controller = new AbortController();
  try {
    await collect(run(controller.signal, (p) => { if (p.evaluations >= after) controller.abort(); }));
  } catch (e) {
    return e;
  }
  return undefined;
}
