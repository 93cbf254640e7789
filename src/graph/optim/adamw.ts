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
//
// Every step is element-wise, so parameters are updated in groups rather than one by one: those whose
// shapes agree past the first axis are concatenated along it (as PyTorch's foreach AdamW batches
// tensors), updated together, and split back into pieces already in each parameter's shape. A dozen ops
// per group replace a dozen per parameter (ONNX Runtime's cost per node dominates for small tensors).
// Scalars enter a group's ops with the group's rank, [1, ..., 1]: ONNX Runtime broadcasts a rank-0
// operand slowly onto shapes with trailing 1s, such as a temporal conv's [C, C, 3, 1, 1] weight.

import { Tensor } from "../../tensor/tensor.js";
import { shapeToString } from "../dim.js";
import type { Graph, Value } from "../graph.js";
import { fail } from "../ops/common.js";
import { add, addAll, div, less, mul, sqrt, sub, where } from "../ops/elementwise.js";
import { reduceSum } from "../ops/linalg.js";
import { concat, reshape, split } from "../ops/shape.js";
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

/** Parameters whose shapes agree past the first axis, in first-seen order; each rank-0 one alone. */
function groupByTrailingShape(entries: readonly ParamGrad[]): ParamGrad[][] {
  const groups = new Map<string, ParamGrad[]>();
  entries.forEach((e, i) => {
    const key = e.param.rank === 0 ? `scalar ${i}` : shapeToString(e.param.shape.slice(1));
    groups.set(key, [...(groups.get(key) ?? []), e]);
  });
  return [...groups.values()];
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
  for (const { name, param, grad } of entries) {
    if (param.dtype !== "float32" || grad.dtype !== "float32") fail("AdamW", name, `trains float32 parameters only, got ${param.describe()}`);
  }
  // Each group's tensors joined along axis 0 (see the header)
  const groups = groupByTrailingShape(entries);
  const joined = (vs: readonly Value[]): Value => (vs.length === 1 ? vs[0]! : concat(vs, 0));
  const stateOf = (group: readonly ParamGrad[], input: (name: string) => string) =>
    joined(group.map((e) => g.input(input(e.name), "float32", e.param.shape)));
  const grads = groups.map((group) => joined(group.map((e) => e.grad)));
  const gradNorm = globalNorm(grads);
  // (1) c = min(1, maxNorm / (norm + 1e-6))
  let clip: Value | null = null;
  if (o.maxGradNorm !== null) {
    const coef = div(o.maxGradNorm, add(gradNorm, 1e-6));
    clip = where(less(1, coef), 1, coef); // min(1, c) that keeps a NaN c: less(NaN, 1) is false
  }
  const decayFactor = o.weightDecay > 0 ? sub(1, mul(lr, o.weightDecay)) : null;
  const [stepSize, sqrtBc2] = [div(lr, bc1), sqrt(bc2)];
  const scalarsOfRank = new Map<number, Map<Value | number, Value>>();
  /** A rank-0 value or a number as a [1, ..., 1] operand of `rank` (see the header). */
  const asRank = (s: Value | number, rank: number): Value => {
    const ofRank = scalarsOfRank.get(rank) ?? scalarsOfRank.set(rank, new Map()).get(rank)!;
    let v = ofRank.get(s);
    if (!v) {
      const ones = Array<number>(rank).fill(1);
      v = typeof s === "number" ? g.constant(new Tensor("float32", Float32Array.of(s), ones)) : reshape(s, ones);
      ofRank.set(s, v);
    }
    return v;
  };

  const updated = new Map<string, Value>();
  groups.forEach((group, i) => {
    const theta = joined(group.map((e) => e.param));
    const r = theta.rank;
    const k = (s: Value | number) => asRank(s, r);
    const gc = clip ? mul(grads[i]!, k(clip)) : grads[i]!;
    const decayed = decayFactor ? mul(theta, k(decayFactor)) : theta; // (2)
    const m1 = add(mul(stateOf(group, adamM), k(beta1)), mul(gc, k(1 - beta1))); // (3)
    const v1 = add(mul(stateOf(group, adamV), k(beta2)), mul(mul(gc, gc), k(1 - beta2))); // (4)
    const denom = add(div(sqrt(v1), k(sqrtBc2)), k(o.eps));
    const theta1 = sub(decayed, mul(div(m1, denom), k(stepSize))); // (5)
    const ema1 = o.emaDecay === null ? null : add(mul(stateOf(group, emaOf), k(o.emaDecay)), mul(theta1, k(1 - o.emaDecay))); // (6)
    // Back to one tensor per parameter: pieces along axis 0 are in the parameters' shapes
    const sizes = group.map((e) => e.param.shape[0] as number);
    const outputs: [(name: string) => string, Value | null][] = [[(n) => n, theta1], [adamM, m1], [adamV, v1], [emaOf, ema1]];
    for (const [nameOf, value] of outputs) {
      if (!value) continue;
      const pieces = group.length === 1 ? [value] : split(value, 0, sizes);
      pieces.forEach((piece, j) => updated.set(nameOf(group[j]!.name), piece));
    }
  });
  return { gradNorm, updated };
}
