// Classifier-free guidance (Ho & Salimans 2022) as a NoisePredictor built from a Denoiser, with the
// optional guidance rescale of Lin et al. 2023 ("Common Diffusion Noise Schedules and Sample Steps are
// Flawed", section 3.4).
//
// Notation (paper -> code):
//   eps_theta(z, empty / negative prompt)   u        eps_theta(z, prompt)   c
//   guidance weight w (as a scale s = 1 + w) scale   eps_cfg = u + s (c - u)
//   phi, eq. 16                              rescale
//
// The two predictions come from ONE denoiser call on a batch of 2B: [uncond; cond] along the batch,
// in that order (SD's and the authors' pipeline order), so a batched UNet runs once per step.

import { Tensor, numel } from "../tensor/tensor.js";
import type { Conditioning, Denoiser, NoisePredictor, PromptConditioning } from "./types.js";

export interface GuidanceOptions {
  /**
   * s in eps = u + s (c - u). A finite number >= 0: 0 unconditional (eps = u), 1 no guidance (one
   * unbatched call with the prompt), anything else guided. Default 10 (VIDRD.md section 2).
   *
   * Intended difference from the authors' pipeline (and diffusers'): they guide only when the scale is
   * above 1 (`do_classifier_free_guidance = guidance_scale > 1.0`) and otherwise make one prompt-only
   * call, eps = c, for every scale <= 1. Here a scale in (0, 1) is applied as written, interpolating
   * between u and c (weakened guidance), and 0 gives u; only 1 gives the authors' prompt-only call.
   * Above 1 (theirs is 10) the two agree.
   */
  scale?: number;
  /** phi of Lin et al. 2023 eq. 16: how much of the std-rescaled prediction to blend in. In [0, 1]; default 0 (off). */
  rescale?: number;
}

export const DEFAULT_GUIDANCE_SCALE = 10;

export function resolveGuidance(opts: GuidanceOptions = {}): Required<GuidanceOptions> {
  const scale = opts.scale ?? DEFAULT_GUIDANCE_SCALE;
  const rescale = opts.rescale ?? 0;
  if (typeof scale !== "number" || !Number.isFinite(scale) || scale < 0) {
    throw new RangeError(`guidance scale is ${String(scale)}; allowed: a finite number >= 0 (1: no guidance)`);
  }
  if (typeof rescale !== "number" || !(rescale >= 0 && rescale <= 1)) {
    throw new RangeError(`guidance rescale is ${String(rescale)}; allowed: a number in [0, 1] (0: off)`);
  }
  return { scale, rescale };
}

/** Embeddings for a batch of B: [1, L, D] repeated B times along the batch, or [B, L, D] as is. */
export function batchedEmbeddings(embeddings: Tensor, batch: number, what: string): Tensor<"float32"> {
  if (embeddings.dtype !== "float32" || embeddings.rank !== 3) {
    throw new RangeError(`${what} embeddings are ${embeddings.describe()}; allowed: float32 [1, L, D] or [B, L, D]`);
  }
  const [n, L, D] = embeddings.shape;
  if (n === batch) return embeddings as Tensor<"float32">;
  if (n !== 1) throw new RangeError(`${what} embeddings are ${embeddings.describe()} for a batch of ${batch}; allowed: [1, L, D] or [${batch}, L, D]`);
  const row = embeddings.data as Float32Array;
  const out = new Float32Array(batch * L * D);
  for (let b = 0; b < batch; b++) out.set(row, b * L * D);
  return new Tensor("float32", out, [batch, L, D]);
}

/** Tensors joined along axis 0; row-major, so the batch concatenation is the data concatenation. */
function batchConcat(a: Tensor<"float32">, b: Tensor<"float32">): Tensor<"float32"> {
  const out = new Float32Array(a.size + b.size);
  out.set(a.data);
  out.set(b.data, a.size);
  return new Tensor("float32", out, [a.shape[0] + b.shape[0], ...a.shape.slice(1)]);
}

/**
 * Lin et al. 2023 eq. 15-16, per batch element (diffusers' rescale_noise_cfg): the guided prediction is
 * scaled to the std of the conditional one, then blended, eps <- phi (std_c / std_cfg) eps + (1 - phi) eps.
 * std over every axis but the batch, unbiased (n - 1) as torch.std; where std_cfg is 0 the factor is 1.
 * Updates `guided` in place.
 */
export function rescaleGuidance(guided: Float32Array, cond: Float32Array, batch: number, phi: number): void {
  const n = guided.length / batch;
  for (let b = 0; b < batch; b++) {
    const stdCond = sampleStd(cond, b * n, n);
    const stdCfg = sampleStd(guided, b * n, n);
    if (stdCfg === 0 || !Number.isFinite(stdCfg)) continue;
    const factor = phi * (stdCond / stdCfg) + (1 - phi);
    for (let k = b * n; k < (b + 1) * n; k++) guided[k] *= factor;
  }
}

function sampleStd(x: Float32Array, from: number, n: number): number {
  if (n < 2) return 0;
  let s = 0;
  for (let k = from; k < from + n; k++) s += x[k];
  const m = s / n;
  let ss = 0;
  for (let k = from; k < from + n; k++) ss += (x[k] - m) * (x[k] - m);
  return Math.sqrt(ss / (n - 1));
}

function checkPrediction(eps: Tensor, shape: readonly number[], who: string): Float32Array {
  if (eps.dtype !== "float32" || eps.rank !== shape.length || eps.shape.some((d, i) => d !== shape[i])) {
    throw new Error(`the denoiser returned ${eps.describe()} for ${who}; expected float32[${shape.join(", ")}]`);
  }
  return eps.data as Float32Array;
}

/**
 * A NoisePredictor that applies classifier-free guidance to `denoiser`. Per call:
 *   scale 1                 one call on z [B, ...] with the prompt's embeddings: eps = c
 *   scale 0 and no rescale  one call with the negative prompt's embeddings: eps = u
 *   otherwise               one call on [z; z] [2B, ...] with [uncond; cond] [2B, L, D]: eps = u + s (c - u)
 */
export function classifierFreeGuidance(denoiser: Denoiser, opts: GuidanceOptions = {}): NoisePredictor {
  const { scale, rescale } = resolveGuidance(opts);
  return async (z, t, prompt: PromptConditioning) => {
    if (z.dtype !== "float32" || z.rank !== 5) throw new RangeError(`z is ${z.describe()}; allowed: float32 [B, C, F, H, W]`);
    const batch = z.shape[0];
    checkSameEmbeddingShape(prompt);
    if (scale === 1 || (scale === 0 && rescale === 0)) {
      const only = scale === 1 ? "cond" : "uncond";
      const c: Conditioning = { embeddings: batchedEmbeddings(prompt[only], batch, only) };
      const eps = await denoiser(z, t, c);
      checkPrediction(eps, z.shape, `z ${z.describe()}`);
      return eps;
    }
    const zz = batchConcat(z as Tensor<"float32">, z as Tensor<"float32">); // [2B, C, F, H, W]
    const embeddings = batchConcat(batchedEmbeddings(prompt.uncond, batch, "uncond"), batchedEmbeddings(prompt.cond, batch, "cond")); // [2B, L, D]
    const both = checkPrediction(await denoiser(zz, t, { embeddings }), zz.shape, `the guidance batch ${zz.describe()}`);
    const n = numel(z.shape);
    const c = both.subarray(n);
    // eps overwrites u in place (each u[k] is read once, before its write): one fewer clip-sized buffer per step
    const eps = both === zz.data ? new Float32Array(n) : both.subarray(0, n);
    for (let k = 0; k < n; k++) eps[k] = both[k] + scale * (c[k] - both[k]);
    if (rescale > 0) rescaleGuidance(eps, c, batch, rescale);
    return new Tensor("float32", eps, z.shape);
  };
}

function checkSameEmbeddingShape(prompt: PromptConditioning): void {
  const { cond, uncond } = prompt;
  if (cond.rank !== uncond.rank || cond.shape.some((d, i) => d !== uncond.shape[i])) {
    throw new RangeError(`prompt embeddings: cond is ${cond.describe()} but uncond is ${uncond.describe()}; they must have the same shape`);
  }
}
