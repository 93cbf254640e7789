// Test denoisers and noise sources for the pipeline tests: small, deterministic, and observable.

import { createScheduler } from "../../src/schedulers/create.js";
import type { NoiseSource } from "../../src/tensor/noise.js";
import { SeededNoise } from "../../src/tensor/seeded-noise.js";
import { Tensor } from "../../src/tensor/tensor.js";
import type { ClipShape, LatentChunk, NoisePredictor, PromptConditioning, Timesteps } from "../../src/pipelines/types.js";

/** One denoiser call as the test saw it: a copy of z, the timestep(s), and the conditioning. */
export interface Call {
  z: Tensor<"float32">;
  t: Timesteps;
  prompt: PromptConditioning;
}

/**
 * eps for frame f = a z[f] + b z[(f + 1) mod F] + 0.001 t: the neighbour term mixes frames, so a frame's
 * result depends on which frame sits next to it (frame order matters). With b = 0 it is frame-wise.
 */
export function mixingPredictor(calls: Call[] = [], a = 0.1, b = 0.05): NoisePredictor {
  return async (z, t, prompt) => {
    const [B, C, F, H, W] = z.shape;
    const x = z.data as Float32Array;
    calls.push({ z: new Tensor("float32", x.slice(), z.shape), t, prompt });
    const plane = H * W;
    const out = new Float32Array(x.length);
    const tv = typeof t === "number" ? t : t[0]!;
    for (let bc = 0; bc < B * C; bc++) {
      for (let f = 0; f < F; f++) {
        const at = (bc * F + f) * plane;
        const nb = (bc * F + ((f + 1) % F)) * plane;
        for (let p = 0; p < plane; p++) out[at + p] = a * x[at + p] + b * x[nb + p] + 0.001 * tv;
      }
    }
    return new Tensor("float32", out, z.shape);
  };
}

/**
 * The exact eps of data x_0 ~ N(0, s^2) per element, E[eps | x_t] = c_t x_t with
 * c_t = sqrt(1 - abar_t) / (abar_t s^2 + 1 - abar_t): linear and frame-wise, so DDIM inversion then DDIM
 * sampling returns the input up to the first-order error of the steps (test/schedulers/ddim-inversion).
 */
export function gaussianPredictor(s2 = 0.25, calls: Call[] = []): NoisePredictor {
  const abar = createScheduler().alphasCumprod;
  return async (z, t, prompt) => {
    calls.push({ z: new Tensor("float32", (z.data as Float32Array).slice(), z.shape), t, prompt });
    const ab = abar[t as number]!;
    const c = Math.sqrt(1 - ab) / (ab * s2 + 1 - ab);
    return new Tensor("float32", (z.data as Float32Array).map((v) => c * v), z.shape);
  };
}

/** A NoiseSource that records the shape of every draw (and a copy of its values). */
export class ShapeRecorder implements NoiseSource {
  readonly shapes: number[][] = [];
  readonly draws: Float32Array[] = [];
  constructor(private readonly inner: NoiseSource = new SeededNoise(1)) {}
  randn(shape: readonly number[]): Float32Array {
    this.shapes.push([...shape]);
    const v = this.inner.randn(shape);
    this.draws.push(v.slice());
    return v;
  }
}

export const TINY_CLIP: ClipShape = { batch: 1, channels: 2, frames: 8, height: 2, width: 3 };

export function promptOf(value: number, shape: readonly number[] = [1, 2, 3]): PromptConditioning {
  const n = shape.reduce((a, b) => a * b, 1);
  return { cond: new Tensor("float32", new Float32Array(n).fill(value), shape), uncond: new Tensor("float32", new Float32Array(n).fill(-value), shape) };
}

/** Frame f of a [B, C, F, H, W] latent for batch 0, channel c, as a plain array. */
export function frameValues(t: Tensor, f: number, c = 0): number[] {
  const [, , F, H, W] = t.shape;
  const plane = H * W;
  const at = (c * F + f) * plane;
  return Array.from((t.data as Float32Array).subarray(at, at + plane));
}

/** Every (channel, frame) plane of frame f of a latent with B = 1, concatenated. */
export function frameAll(t: Tensor, f: number): number[] {
  const C = t.shape[1]!;
  return Array.from({ length: C }, (_, c) => frameValues(t, f, c)).flat();
}

export async function collect(gen: AsyncGenerator<LatentChunk, void, undefined>): Promise<LatentChunk[]> {
  const out: LatentChunk[] = [];
  for await (const c of gen) out.push(c);
  return out;
}

/** The output video's frames (each as frameAll values) assembled from chunks by their emit ranges. */
export function assembleFrames(chunks: readonly LatentChunk[]): number[][] {
  const frames: number[][] = [];
  for (const c of chunks) {
    for (let j = c.emitStart; j < c.emitEnd; j++) frames[c.firstFrame + j - c.emitStart] = frameAll(c.latents, j);
  }
  return frames;
}
