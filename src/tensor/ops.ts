// Elementwise host ops and reductions over float32 tensors, for samplers working on latents
// [B, C, F, H, W] between denoiser calls. Elementwise ops accept any shape, but both operands must have
// the same one (no broadcasting: a latent never meets a differently shaped latent by intent).
//
// Arithmetic is done in float64 and rounded to float32 once on store. Results are new tensors unless
// `out` is given; `out` may be one of the inputs (each element is read before it is written), which is
// how a sampler updates latents in place.

import { Tensor } from "./tensor.js";
import { checkFinite, checkSameShape, float32Data, outputLike } from "./validate.js";

function result(like: Tensor, data: Float32Array, out: Tensor | undefined): Tensor<"float32"> {
  return (out as Tensor<"float32"> | undefined) ?? new Tensor("float32", data, like.shape);
}

/** s * t */
export function scale(t: Tensor, s: number, out?: Tensor): Tensor<"float32"> {
  const x = float32Data("scale", "t", t);
  checkFinite("scale", "s", s);
  const o = outputLike("scale", t, out);
  for (let i = 0; i < x.length; i++) o[i] = s * x[i];
  return result(t, o, out);
}

/** a + b */
export function add(a: Tensor, b: Tensor, out?: Tensor): Tensor<"float32"> {
  const x = float32Data("add", "a", a);
  const y = float32Data("add", "b", b);
  checkSameShape("add", a, b);
  const o = outputLike("add", a, out);
  for (let i = 0; i < x.length; i++) o[i] = x[i] + y[i];
  return result(a, o, out);
}

/** a - b */
export function sub(a: Tensor, b: Tensor, out?: Tensor): Tensor<"float32"> {
  const x = float32Data("sub", "a", a);
  const y = float32Data("sub", "b", b);
  checkSameShape("sub", a, b);
  const o = outputLike("sub", a, out);
  for (let i = 0; i < x.length; i++) o[i] = x[i] - y[i];
  return result(a, o, out);
}

/** alpha * x + y (BLAS axpy; the usual shape of a scheduler update such as z' = sqrt(a) x0 + sigma eps). */
export function axpy(alpha: number, x: Tensor, y: Tensor, out?: Tensor): Tensor<"float32"> {
  const xd = float32Data("axpy", "x", x);
  const yd = float32Data("axpy", "y", y);
  checkFinite("axpy", "alpha", alpha);
  checkSameShape("axpy", x, y, "x", "y");
  const o = outputLike("axpy", x, out);
  for (let i = 0; i < xd.length; i++) o[i] = alpha * xd[i] + yd[i];
  return result(x, o, out);
}

/**
 * (1 - w) a + w b. Exact at both ends: w = 0 gives a and w = 1 gives b bit for bit, because each half
 * of the range is computed from its own end (a + w (b - a) below 1/2, b - (1 - w)(b - a) above).
 * Any finite w is allowed (w outside [0, 1] extrapolates).
 */
export function lerp(a: Tensor, b: Tensor, w: number, out?: Tensor): Tensor<"float32"> {
  const x = float32Data("lerp", "a", a);
  const y = float32Data("lerp", "b", b);
  checkFinite("lerp", "w", w);
  checkSameShape("lerp", a, b);
  const o = outputLike("lerp", a, out);
  if (w < 0.5) {
    for (let i = 0; i < x.length; i++) o[i] = x[i] + w * (y[i] - x[i]);
  } else {
    const v = 1 - w;
    for (let i = 0; i < x.length; i++) o[i] = y[i] - v * (y[i] - x[i]);
  }
  return result(a, o, out);
}

/** Mean of all elements, accumulated in float64. */
export function mean(t: Tensor): number {
  const x = float32Data("mean", "t", t);
  if (x.length === 0) throw new Error(`mean: tensor ${t.describe()} is empty; allowed: at least 1 element`);
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i];
  return s / x.length;
}

/**
 * Which variance: "population" divides by n (numpy's default, ddof = 0); "sample" divides by n - 1
 * (the unbiased estimator, torch's default). No default, so a call site always says which it means.
 */
export type VarianceKind = "population" | "sample";

/** Variance of all elements; two passes (mean, then squared deviations) in float64. */
export function variance(t: Tensor, kind: VarianceKind): number {
  return varianceOf("variance", t, kind);
}

/** Standard deviation of all elements: sqrt(variance(t, kind)). */
export function std(t: Tensor, kind: VarianceKind): number {
  return Math.sqrt(varianceOf("std", t, kind));
}

function varianceOf(op: string, t: Tensor, kind: VarianceKind): number {
  const x = float32Data(op, "t", t);
  if (kind !== "population" && kind !== "sample") throw new Error(`${op}: kind ${JSON.stringify(kind)} is not allowed; allowed: "population", "sample"`);
  const n = x.length;
  const minimum = kind === "sample" ? 2 : 1;
  if (n < minimum) throw new Error(`${op}: tensor ${t.describe()} has ${n} elements; the ${kind} variance needs at least ${minimum}`);
  let s = 0;
  for (let i = 0; i < n; i++) s += x[i];
  const m = s / n;
  // two-pass: summing squares of deviations avoids the cancellation of E[x^2] - E[x]^2
  let ss = 0;
  for (let i = 0; i < n; i++) {
    const d = x[i] - m;
    ss += d * d;
  }
  return ss / (kind === "sample" ? n - 1 : n);
}
