// Sinusoidal embeddings: of diffusion timesteps (Ho et al. 2020 / diffusers get_timestep_embedding) and
// of frame positions (the authors' temporal attention, VIDRD.md section 1).

import { Tensor } from "../tensor/tensor.js";
import type { Dim } from "../graph/dim.js";
import type { Value } from "../graph/graph.js";
import * as ops from "../graph/ops/index.js";
import { linear } from "./linear.js";
import type { Scope } from "./scope.js";

export interface TimestepProjection {
  /** Output channels (even). */
  dim: number;
  /** Put cos first (Stable Diffusion: true). */
  flipSinToCos: boolean;
  /** freq_i = exp(-ln(10000) i / (dim/2 - freqShift)); Stable Diffusion: 0. */
  freqShift: number;
}

/** t [...] (float) -> [..., dim]: [sin(t f_i), cos(t f_i)] (or cos first), f_i as above. */
export function timestepProjection(t: Value, p: TimestepProjection): Value {
  const half = p.dim / 2;
  const freqs = Float32Array.from({ length: half }, (_, i) => Math.exp((-Math.log(10000) * i) / (half - p.freqShift)));
  const g = t.graph;
  const args = ops.mul(ops.unsqueeze(t, [t.rank]), g.constant(new Tensor("float32", freqs, [half]))); // [..., half]
  const parts = p.flipSinToCos ? [ops.cos(args), ops.sin(args)] : [ops.sin(args), ops.cos(args)];
  return ops.concat(parts, -1); // [..., dim]
}

/** diffusers TimestepEmbedding: linear_1 -> SiLU -> linear_2. */
export function timestepEmbedding(s: Scope, x: Value, inDim: number, outDim: number): Value {
  return linear(s.child("linear_2"), ops.silu(linear(s.child("linear_1"), x, inDim, outDim)), outDim, outDim);
}

/**
 * pe[f, 2i] = sin(f / 10000^(2i/C)), pe[f, 2i+1] = cos(f / 10000^(2i/C)) for f in 0..frames-1 -> [frames, C].
 * A static frame count gives a constant; a symbolic one is computed from the input that carries it.
 */
export function framePositionEmbedding(g: Value["graph"], frames: Dim, channels: number): Value {
  const half = channels / 2;
  const div = Float32Array.from({ length: half }, (_, i) => Math.exp(2 * i * (-Math.log(10000) / channels)));
  if (typeof frames === "number") {
    const pe = new Float32Array(frames * channels);
    for (let f = 0; f < frames; f++) {
      for (let i = 0; i < half; i++) {
        // computed in float32 as the reference does: f * div_i, then sin/cos
        const a = Math.fround(f * div[i]!);
        pe[f * channels + 2 * i] = Math.sin(a);
        pe[f * channels + 2 * i + 1] = Math.cos(a);
      }
    }
    return g.constant(new Tensor("float32", pe, [frames, channels]));
  }
  const f = ops.arange(g, frames); // [F]
  const args = ops.mul(ops.unsqueeze(f, [1]), g.constant(new Tensor("float32", div, [half]))); // [F, C/2]
  const pairs = ops.concat([ops.unsqueeze(ops.sin(args), [2]), ops.unsqueeze(ops.cos(args), [2])], 2); // [F, C/2, 2]
  return ops.reshape(pairs, [frames, channels]); // [F, C] with sin at even, cos at odd channels
}
