// Training losses as graph builders, each returning a scalar (rank 0) value, and the host-side sampling
// the diffusion loss needs.

import type { Value } from "../graph/index.js";
import { Tensor } from "../tensor/tensor.js";
import type { NoiseSource } from "../tensor/noise.js";
import { portableExp } from "../tensor/portable-math.js";
import { fail } from "../graph/ops/common.js";
import { add, cast, div, exp, greater, less, mul, neg, sqrt, sub, where } from "../graph/ops/elementwise.js";
import { expandLike } from "../graph/ops/fill.js";
import { reduceMean, reduceSum } from "../graph/ops/linalg.js";
import { gather, unsqueeze } from "../graph/ops/shape.js";

const axesOf = (x: Value, from = 0): number[] => [...Array(x.rank).keys()].slice(from);

/** Mean over all elements as a rank-0 value. */
function meanAll(x: Value): Value {
  return x.rank === 0 ? x : reduceMean(x, axesOf(x), false);
}

function sumAll(x: Value): Value {
  return x.rank === 0 ? x : reduceSum(x, axesOf(x), false);
}

function requireSameShape(op: string, a: Value, b: Value): void {
  if (a.rank !== b.rank || a.shape.some((d, i) => String(d) !== String(b.shape[i]))) {
    fail(op, undefined, `prediction ${a.describe()} and target ${b.describe()} must have the same shape`);
  }
}

/**
 * Mean squared error, mean((pred - target)^2). With a mask (0/1 or weights, bool or float, broadcastable
 * to pred), the mean is over the masked elements: sum(mask (pred - target)^2) / sum(mask), and 0 when the
 * mask is empty.
 */
export function mseLoss(pred: Value, target: Value, mask?: Value): Value {
  requireSameShape("mseLoss", pred, target);
  const d = sub(pred, target);
  const sq = mul(d, d);
  if (!mask) return meanAll(sq);
  const m = mask.dtype === "bool" ? cast(mask, pred.dtype) : mask;
  const count = sumAll(expandLike(m, sq));
  const safeCount = where(greater(count, 0), count, 1);
  return div(sumAll(mul(sq, m)), safeCount);
}

/** Mean absolute error, mean(|pred - target|); the gradient at 0 is taken as +1. */
export function l1Loss(pred: Value, target: Value): Value {
  requireSameShape("l1Loss", pred, target);
  const d = sub(pred, target);
  return meanAll(where(less(d, 0), neg(d), d));
}

/**
 * KL(N(mean, exp(logvar)) || N(0, I)) = 0.5 sum(mean^2 + exp(logvar) - 1 - logvar) over all axes but
 * the first, averaged over the batch (axis 0): the KL term of the Stable Diffusion VAE (Rombach et al.
 * 2022; Kingma & Welling 2014, appendix B). The SD code clamps logvar to [-30, 20] when it builds the
 * distribution; that belongs to the encoder's output, not here.
 */
export function gaussianKL(mean: Value, logvar: Value): Value {
  requireSameShape("gaussianKL", mean, logvar);
  if (mean.rank < 1) fail("gaussianKL", undefined, `needs a batch axis, got ${mean.describe()}`);
  const terms = sub(sub(add(mul(mean, mean), exp(logvar)), 1), logvar);
  const perSample = mean.rank > 1 ? reduceSum(terms, axesOf(terms, 1), false) : terms; // [B]
  return mul(reduceMean(perSample, [0], false), 0.5);
}

export interface DiffusionLossOptions {
  /** alpha_bar_t for t = 0 .. T-1 (schedulers/betas.ts alphasCumprod), float64; rounded to float32 once. */
  alphasCumprod: ArrayLike<number>;
  /** Prefix of the inputs this loss adds: <prefix>.t and <prefix>.eps; default "diffusion". */
  prefix?: string;
}

export interface DiffusionLoss {
  loss: Value;
  /** Timesteps, int64 [B] (input <prefix>.t). */
  t: Value;
  /** The noise added, x0's shape (input <prefix>.eps). */
  eps: Value;
  /** The noised sample fed to the denoiser. */
  xt: Value;
  /** The denoiser's output. */
  epsPred: Value;
}

/**
 * The noise-prediction loss of DDPM (Ho et al. 2020, Algorithm 1): with t ~ U{0..T-1} and eps ~ N(0, I)
 * fed as inputs (sampleDiffusionInputs), x_t = sqrt(alpha_bar_t) x0 + sqrt(1 - alpha_bar_t) eps
 * (eq. 4) and loss = mean((eps - eps_theta(x_t, t))^2) (eq. 14).
 */
export function diffusionLoss(
  x0: Value,
  denoiser: (xt: Value, t: Value) => Value,
  opts: DiffusionLossOptions,
): DiffusionLoss {
  const g = x0.graph;
  const abar = Array.from(opts.alphasCumprod);
  if (abar.length === 0 || abar.some((a) => !(a > 0 && a <= 1))) fail("diffusionLoss", undefined, "alphasCumprod must be a non-empty list of numbers in (0, 1]");
  if (x0.rank < 1) fail("diffusionLoss", undefined, `x0 needs a batch axis, got ${x0.describe()}`);
  const prefix = opts.prefix ?? "diffusion";
  const t = g.input(`${prefix}.t`, "int64", [x0.shape[0]!]);
  const eps = g.input(`${prefix}.eps`, x0.dtype, x0.shape);
  const table = (f: (a: number) => number) => g.constant(new Tensor("float32", Float32Array.from(abar, f), [abar.length]));
  // [B] -> [B, 1, ..., 1], to broadcast over x0's other axes
  const perSample = (v: Value) => unsqueeze(gather(v, t), axesOf(x0, 1));
  const signalScale = perSample(table((a) => Math.sqrt(a)));
  const noiseScale = perSample(table((a) => Math.sqrt(1 - a)));
  const xt = add(mul(cast(signalScale, x0.dtype), x0), mul(cast(noiseScale, x0.dtype), eps));
  const epsPred = denoiser(xt, t);
  return { loss: mseLoss(epsPred, eps), t, eps, xt, epsPred };
}

/**
 * The feeds of diffusionLoss for a batch of `shape` (shape[0] = B) and T timesteps, drawn from `noise`:
 * first 2B normals for the timesteps, then eps. A NoiseSource only gives normals; for two independent
 * standard normals z1, z2, exp(-(z1^2 + z2^2) / 2) is uniform on (0, 1] (z1^2 + z2^2 is chi-square with
 * 2 degrees of freedom, an exponential of mean 2: the Box-Muller transform run backwards), so
 * t = min(T - 1, floor(T u)).
 */
export function sampleDiffusionInputs(
  noise: NoiseSource,
  shape: readonly number[],
  trainTimesteps: number,
  prefix = "diffusion",
): Record<string, Tensor> {
  if (!Number.isInteger(trainTimesteps) || trainTimesteps < 1) throw new RangeError(`trainTimesteps is ${trainTimesteps}; allowed: an integer >= 1`);
  if (shape.length < 1) throw new RangeError(`shape [${shape.join(", ")}] needs a batch axis`);
  const b = shape[0]!;
  const z = noise.randn([b, 2]);
  const t = new BigInt64Array(b);
  for (let i = 0; i < b; i++) {
    const u = portableExp(-0.5 * (z[2 * i]! * z[2 * i]! + z[2 * i + 1]! * z[2 * i + 1]!));
    t[i] = BigInt(Math.min(trainTimesteps - 1, Math.floor(trainTimesteps * u)));
  }
  return {
    [`${prefix}.t`]: new Tensor("int64", t, [b]),
    [`${prefix}.eps`]: new Tensor("float32", noise.randn(shape), shape),
  };
}
