// AdamW as graph ops: global gradient-norm clipping, the update, and an optional EMA of the weights, so
// one session run is one optimizer step.
//
// Notation (Loshchilov & Hutter 2019, "Decoupled Weight Decay Regularization", Algorithm 2; the
// learning-rate factor eta_t * alpha is our lr, as in PyTorch's torch.optim.AdamW):
//   theta     a trainable parameter            g        its gradient (after clipping)
//   m, v      first and second moments         beta1/2  their decay rates
//   t         the step, 1-based                lambda   weightDecay
//   eps       added to sqrt(v_hat)             d        emaDecay
// Per step:
//   (1) c = min(1, maxNorm / (||g||_2 + 1e-6)), g <- c g       global norm over all parameters
//   (2) theta <- theta - lr lambda theta                        decoupled weight decay (Alg. 2, line 12)
//   (3) m <- beta1 m + (1 - beta1) g                            (line 7)
//   (4) v <- beta2 v + (1 - beta2) g^2                          (line 8)
//   (5) theta <- theta - (lr / bc1) m / (sqrt(v) / sqrt(bc2) + eps),  bc_i = 1 - beta_i^t   (lines 9-12)
//   (6) ema <- d ema + (1 - d) theta                            (after the update)
// Step (5) is (m / bc1) / (sqrt(v / bc2) + eps) grouped as PyTorch groups it. The bias corrections are
// graph inputs computed on the host in float64 (adamwScalars): 1 - beta2^t formed in float32 from a
// float32 beta2 = 0.999 is off by about 1e-5 relative at small t.

import { Tensor } from "../../tensor/tensor.js";
import type { Graph, Value } from "../graph.js";
import { fail } from "../ops/common.js";
import { add, addAll, div, less, mul, sqrt, sub, where } from "../ops/elementwise.js";
import { reduceSum } from "../ops/linalg.js";
import { BIAS_CORRECTION1_INPUT, BIAS_CORRECTION2_INPUT, LR_INPUT, adamM, adamV, emaOf } from "./names.js";

export interface AdamWOptions {
  /** (beta1, beta2); default [0.9, 0.999]. */
  betas?: readonly [number, number];
  /** Default 1e-8. */
  eps?: number;
  /** lambda, decoupled: theta -= lr * lambda * theta; default 0.01 (PyTorch's default). */
  weightDecay?: number;
  /** Clip the global gradient norm to this; default none (the norm is still reported). */
  maxGradNorm?: number;
  /** Keep an EMA of the weights with this decay in (0, 1); default none. */
  emaDecay?: number;
}

export interface ResolvedAdamW {
  betas: readonly [number, number];
  eps: number;
  weightDecay: number;
  maxGradNorm: number | null;
  emaDecay: number | null;
}

/** Validates and fills in defaults; errors name the field (prefix: where the options came from). */
export function resolveAdamW(o: AdamWOptions = {}, where = "adamw"): ResolvedAdamW {
  const betas = o.betas ?? [0.9, 0.999];
  if (!Array.isArray(betas) || betas.length !== 2 || !betas.every((b) => typeof b === "number" && b >= 0 && b < 1)) {
    throw new RangeError(`${where}.betas is ${JSON.stringify(betas)}; allowed: two numbers in [0, 1)`);
  }
  const eps = o.eps ?? 1e-8;
  if (!(typeof eps === "number" && eps > 0 && Number.isFinite(eps))) throw new RangeError(`${where}.eps is ${eps}; allowed: a finite number > 0`);
  const weightDecay = o.weightDecay ?? 0.01;
  if (!(typeof weightDecay === "number" && weightDecay >= 0 && Number.isFinite(weightDecay))) {
    throw new RangeError(`${where}.weightDecay is ${weightDecay}; allowed: a finite number >= 0`);
  }
  const maxGradNorm = o.maxGradNorm ?? null;
  if (maxGradNorm !== null && !(typeof maxGradNorm === "number" && maxGradNorm > 0 && Number.isFinite(maxGradNorm))) {
    throw new RangeError(`${where}.maxGradNorm is ${maxGradNorm}; allowed: a finite number > 0, or leave it out for no clipping`);
  }
  const emaDecay = o.emaDecay ?? null;
  if (emaDecay !== null && !(typeof emaDecay === "number" && emaDecay > 0 && emaDecay < 1)) {
    throw new RangeError(`${where}.emaDecay is ${emaDecay}; allowed: a number in (0, 1), or leave it out for no EMA`);
  }
  return { betas: [betas[0], betas[1]], eps, weightDecay, maxGradNorm, emaDecay };
}

/** The scalar feeds of step t (1-based) at learning rate lr: lr and 1 - beta_i^t, in float64 then rounded once. */
export function adamwScalars(step: number, lr: number, betas: readonly [number, number]): Record<string, Tensor> {
  if (!Number.isInteger(step) || step < 1) throw new RangeError(`step is ${step}; allowed: an integer >= 1 (steps count from 1)`);
  if (!(Number.isFinite(lr) && lr >= 0)) throw new RangeError(`lr is ${lr}; allowed: a finite number >= 0`);
  const scalar = (x: number) => new Tensor("float32", Float32Array.of(x), []);
  return {
    [LR_INPUT]: scalar(lr),
    [BIAS_CORRECTION1_INPUT]: scalar(1 - betas[0] ** step),
    [BIAS_CORRECTION2_INPUT]: scalar(1 - betas[1] ** step),
  };
}

/** sum(x^2) over all elements, as a rank-0 value. */
function sumOfSquares(x: Value): Value {
  const sq = mul(x, x);
  return x.rank === 0 ? sq : reduceSum(sq, [...Array(x.rank).keys()], false);
}

/** ||g||_2 over all gradients together (what clip_grad_norm_ measures). */
export function globalNorm(grads: readonly Value[]): Value {
  if (grads.length === 0) fail("globalNorm", undefined, "needs at least one gradient");
  return sqrt(addAll(grads.map(sumOfSquares)));
}

export interface ParamGrad {
  /** Parameter name (names the state inputs). */
  name: string;
  /** The parameter's current value in the graph. */
  param: Value;
  /** Its gradient, before clipping. */
  grad: Value;
}

export interface AdamWGraph {
  /** The global gradient norm before clipping (rank 0). */
  gradNorm: Value;
  /** New values by the name of the input they replace: each parameter, adam.m.*, adam.v.*, ema.*. */
  updated: Map<string, Value>;
}

/**
 * Adds the clipped AdamW update (+ EMA) of `entries` to `g`: creates the state inputs adam.m.<p>,
 * adam.v.<p> (and ema.<p>) and the scalar inputs optim.lr, optim.bias_correction{1,2}.
 */
export function addAdamWUpdate(g: Graph, entries: readonly ParamGrad[], o: ResolvedAdamW): AdamWGraph {
  const lr = g.input(LR_INPUT, "float32", []);
  const bc1 = g.input(BIAS_CORRECTION1_INPUT, "float32", []);
  const bc2 = g.input(BIAS_CORRECTION2_INPUT, "float32", []);
  const [beta1, beta2] = o.betas;
  const gradNorm = globalNorm(entries.map((e) => e.grad));
  // (1) c = min(1, maxNorm / (norm + 1e-6))
  let clip: Value | null = null;
  if (o.maxGradNorm !== null) {
    const coef = div(o.maxGradNorm, add(gradNorm, 1e-6));
    clip = where(less(coef, 1), coef, 1);
  }
  const decayFactor = o.weightDecay > 0 ? sub(1, mul(lr, o.weightDecay)) : null;
  const stepSize = div(lr, bc1);
  const sqrtBc2 = sqrt(bc2);
  const updated = new Map<string, Value>();
  for (const { name, param, grad } of entries) {
    if (param.dtype !== "float32" || grad.dtype !== "float32") fail("AdamW", name, `trains float32 parameters only, got ${param.describe()}`);
    const shape = param.shape;
    const m = g.input(adamM(name), "float32", shape);
    const v = g.input(adamV(name), "float32", shape);
    const gc = clip ? mul(grad, clip) : grad;
    const decayed = decayFactor ? mul(param, decayFactor) : param; // (2)
    const m1 = add(mul(m, beta1), mul(gc, 1 - beta1)); // (3)
    const v1 = add(mul(v, beta2), mul(mul(gc, gc), 1 - beta2)); // (4)
    const denom = add(div(sqrt(v1), sqrtBc2), o.eps);
    const p1 = sub(decayed, mul(div(m1, denom), stepSize)); // (5)
    updated.set(name, p1);
    updated.set(adamM(name), m1);
    updated.set(adamV(name), v1);
    if (o.emaDecay !== null) {
      const ema = g.input(emaOf(name), "float32", shape);
      updated.set(emaOf(name), add(mul(ema, o.emaDecay), mul(p1, 1 - o.emaDecay))); // (6)
    }
  }
  return { gradNorm, updated };
}
