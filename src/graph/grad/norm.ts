// Backward rules of the normalisations. Both ops standardise x over a set of axes S and apply an affine:
//
//   mu = mean_S(x),  rstd = 1 / sqrt(mean_S((x - mu)^2) + eps),  xhat = (x - mu) * rstd,  y = xhat * scale + b
//
// With dxhat = gy * scale, the chain rule through mu and rstd gives (Ba et al. 2016; the
// same algebra as batch norm, Ioffe & Szegedy 2015, sec. 3):
//
//   dx     = rstd * (dxhat - mean_S(dxhat) - xhat * mean_S(dxhat * xhat))
//   dscale = sum over the axes scale is broadcast along of gy * xhat
//   db     = sum over the axes b is broadcast along of gy
//
// The statistics are recomputed from x with reduce ops (the forward node keeps no Mean / InvStdDev
// outputs), in the two-pass form that ONNX specifies, so inputs with a large mean keep their precision.
// When the affine is the identity (scale all ones, bias all zeros or absent, as groupNorm passes
// InstanceNormalization), the node's output is xhat itself and only rstd is recomputed.

import type { Node, Value } from "../graph.js";
import { add, div, mul, sqrt, sub } from "../ops/elementwise.js";
import { fail } from "../ops/common.js";
import { reduceMean, reduceSum } from "../ops/linalg.js";
import { reshape } from "../ops/shape.js";
import { floatAttr, input, intAttr, onlyGrad, unbroadcast } from "./helpers.js";
import type { GradRules } from "./types.js";

/**
 * xhat and rstd of x over `axes` (kept as size-1 axes), as the forward op computed them; `y` is the op's
 * output when it is xhat (an identity affine), which saves recomputing it.
 */
function standardize(x: Value, axes: readonly number[], eps: number, y: Value | null): { xhat: Value; rstd: Value } {
  const centered = sub(x, reduceMean(x, axes, true)); // x - mu
  const variance = reduceMean(mul(centered, centered), axes, true);
  const rstd = div(1, sqrt(add(variance, eps)));
  return { xhat: y ?? mul(centered, rstd), rstd };
}

/** dx = rstd * (dxhat - mean_S(dxhat) - xhat * mean_S(dxhat * xhat)). */
function standardizeBackward(dxhat: Value, xhat: Value, rstd: Value, axes: readonly number[]): Value {
  const meanDxhat = reduceMean(dxhat, axes, true);
  const meanDxhatXhat = reduceMean(mul(dxhat, xhat), axes, true);
  return mul(rstd, sub(sub(dxhat, meanDxhat), mul(xhat, meanDxhatXhat)));
}

/**
 * Whether v is all `value` by construction (a constant, possibly reshaped or cast), as the scale of ones
 * and the bias of zeros that layerNorm without weight and groupNorm's InstanceNormalization pass.
 */
function isConstantOf(v: Value, value: number): boolean {
  let cur: Value = v;
  while (cur.producer && ["Reshape", "Cast", "Identity"].includes(cur.producer.op)) cur = cur.producer.inputs[0]!;
  const t = cur.graph.constants.get(cur);
  return !!t && t.dtype === "float32" && (t.data as Float32Array).every((e) => e === value);
}

/** Shared body of both rules: gradients of x, scale and b given the axes S and scale/b broadcast to x. */
function normalizationGrads(
  node: Node,
  gradOutputs: readonly (Value | null)[],
  needs: readonly boolean[],
  axes: readonly number[],
  broadcastAffine: (p: Value) => Value,
  reduceAffine: (g: Value, p: Value) => Value,
): (Value | null)[] {
  const gy = onlyGrad(node, gradOutputs);
  const x = input(node, 0);
  const scale = input(node, 1);
  const bias = node.inputs[2] ?? null;
  const eps = floatAttr(node, "epsilon", 1e-5);
  const unitScale = isConstantOf(scale, 1);
  const identityAffine = unitScale && (!bias || isConstantOf(bias, 0));
  const stats = needs[0] || needs[1] ? standardize(x, axes, eps, identityAffine ? node.outputs[0]! : null) : null;
  let dx: Value | null = null;
  if (needs[0]) {
    const dxhat = unitScale ? gy : mul(gy, broadcastAffine(scale)); // dL/dxhat
    dx = standardizeBackward(dxhat, stats!.xhat, stats!.rstd, axes);
  }
  const dScale = needs[1] ? reduceAffine(mul(gy, stats!.xhat), scale) : null;
  const dBias = bias && needs[2] ? reduceAffine(gy, bias) : null;
  return bias ? [dx, dScale, dBias] : [dx, dScale];
}

export const normRules: GradRules = {
  // ONNX LayerNormalization (opset 17): S = axes axis..rank-1; Scale and B broadcast to x's trailing axes
  LayerNormalization: ({ node, gradOutputs, needs }) => {
    const x = input(node, 0);
    if (node.outputs.length > 1 && gradOutputs.slice(1).some((g) => g !== null)) {
      fail("gradients", node.name, "LayerNormalization: only the Y output can be differentiated, not Mean or InvStdDev");
    }
    const rawAxis = intAttr(node, "axis", -1);
    const axis = rawAxis < 0 ? rawAxis + x.rank : rawAxis;
    const axes = [...Array(x.rank - axis).keys()].map((i) => axis + i);
    return normalizationGrads(node, gradOutputs, needs, axes, (p) => p, (g, p) => unbroadcast(g, p));
  },
  // ONNX InstanceNormalization: x [N, C, ...], S = the spatial axes, scale and B [C] per channel
  InstanceNormalization: ({ node, gradOutputs, needs }) => {
    const x = input(node, 0);
    if (x.rank < 3) fail("gradients", node.name, `InstanceNormalization input ${x.describe()} needs spatial axes`);
    const spatial = [...Array(x.rank - 2).keys()].map((i) => i + 2);
    const perChannel = [-1, ...spatial.map(() => 1)]; // [C, 1, ..., 1] broadcasts over the spatial axes
    return normalizationGrads(
      node,
      gradOutputs,
      needs,
      spatial,
      (p) => reshape(p, perChannel),
      (g) => reduceSum(g, [0, ...spatial], false), // [C]
    );
  },
};
