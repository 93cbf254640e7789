// Backward rules of Conv and ConvTranspose (src/graph/ops/conv.ts), written as convolutions again.
//
// Notation, per spatial axis: S input size, O output size, k kernel, s stride, d dilation, pb / pe the
// begin / end pads, pT = pb + pe, span = d (k - 1) + 1; G groups; x [N, G*Cg, S...], y [N, G*Mg, O...].
//
// Conv, w [G*Mg, Cg, k...]:   y[n, gMg+m, o] = sum_{c, j} x[n, gCg+c, o s + j d - pb] w[gMg+m, c, j]
//   (1) dx = ConvTranspose(dy, w), same strides, pads, dilations and group. The forward's windows leave
//       r = (S + pT - span) mod s trailing rows unread; output_padding r gives dx exactly S rows.
//   (2) dw[gMg+m, c, j] = sum_{n, o} dy[n, gMg+m, o] x[n, gCg+c, j d + o s - pb]: a conv with group G of
//       x as [Cg, G*N, S...] (batch c) by dy as the weight [G*Mg, N, O...], stride d, dilation s, same
//       pads. It gives [Cg, G*Mg, k'...], k' = k + floor(r / d) (the unread rows add windows), which is
//       sliced to k and transposed to [G*Mg, Cg, k...].
//   (3) db = dy summed over batch and spatial axes.
// ConvTranspose, w [G*Cg, Mg, k...], output padding q: the adjoint of a Conv, so x and dy swap roles.
//   (1) dx = Conv(dy, w), same attrs: S + floor(q / s) rows, the extra ones sliced off.
//   (2) dw[gCg+c, m, j] = sum_{n, i} x[n, gCg+c, i] dy[n, gMg+m, i s + j d - pb]: a conv with group G of dy
//       as [Mg, G*N, O...] by x as the weight [G*Cg, N, S...], stride d, dilation s, same pads, giving
//       [Mg, G*Cg, k'...], k' = k + floor(q / d), sliced and transposed to [G*Cg, Mg, k...].
//   (3) db as for Conv.
//
// Symbolic sizes: r depends on S mod s, which a symbolic S does not fix. It is taken for S a multiple of
// the stride, the case in which dim.ts's window formula (O = S / s) is exact; a graph run at other sizes
// on a strided symbolic axis gets a data gradient of the wrong size (an error at run time), so such
// sizes need a static graph. Weight gradients hold at any size (they are sliced to k at run time).

import { type Dim, dimDiv, dimEq, dimMul, isStatic } from "../dim.js";
import type { Node, Value } from "../graph.js";
import { conv, convTranspose } from "../ops/conv.js";
import { fail, int64s } from "../ops/common.js";
import { shapeOf } from "../ops/fill.js";
import { reduceSum } from "../ops/linalg.js";
import { concat, reshape, reshapeLike, slice, transpose } from "../ops/shape.js";
import { input, intAttr, intsAttr, onlyGrad } from "./helpers.js";
import type { GradRules } from "./types.js";

interface ConvAttrs {
  kernel: number[];
  strides: number[];
  /** [begin..., end...] */
  pads: number[];
  dilations: number[];
  group: number;
  outputPadding: number[];
}

function readAttrs(node: Node): ConvAttrs {
  const w = input(node, 1);
  const n = w.rank - 2;
  const kernel = intsAttr(node, "kernel_shape") ?? w.shape.slice(2);
  if (!kernel.every(isStatic)) fail("gradients", node.name, `${node.op} needs a static kernel, got ${w.describe()}`);
  const ones = Array<number>(n).fill(1);
  return {
    kernel: [...(kernel as number[])],
    strides: [...(intsAttr(node, "strides") ?? ones)],
    pads: [...(intsAttr(node, "pads") ?? Array<number>(2 * n).fill(0))],
    dilations: [...(intsAttr(node, "dilations") ?? ones)],
    group: intAttr(node, "group", 1),
    outputPadding: [...(intsAttr(node, "output_padding") ?? Array<number>(n).fill(0))],
  };
}

const mod = (a: number, m: number): number => ((a % m) + m) % m;

/** Per axis, the rows r of a Conv's padded input that no window reaches (see (1) above). */
function unreadRows(x: Value, a: ConvAttrs): number[] {
  const n = a.kernel.length;
  return a.kernel.map((k, i) => {
    const s = a.strides[i]!;
    const span = a.dilations[i]! * (k - 1) + 1;
    const size = x.shape[2 + i]!;
    // A symbolic size counts as a multiple of the stride (see the header).
    return mod((isStatic(size) ? size : 0) + a.pads[i]! + a.pads[n + i]! - span, s);
  });
}

const spatialAxes = (rank: number): number[] => Array.from({ length: rank - 2 }, (_, i) => i + 2);

/** [A, B, ...] -> [B, A, ...] */
const swapLeading = (v: Value): Value => transpose(v, [1, 0, ...spatialAxes(v.rank)]);

/**
 * Reshape to [...lead, ...spatial], `spatial` being the dims of v's trailing axes. Symbolic spatial sizes
 * are read from Shape(v) at run time, so unlike ops.reshape they need not be products of input symbols
 * (H/2 after a downsampling is fine). At most one lead dim may be symbolic (the batch: Reshape infers it).
 */
function reshapeKeepingSpatial(v: Value, lead: readonly Dim[], spatial: readonly Dim[]): Value {
  const target = [...lead, ...spatial];
  if (spatial.every(isStatic)) return reshape(v, target);
  const leadCodes = lead.map((d) => (isStatic(d) ? d : -1));
  if (leadCodes.filter((d) => d === -1).length > 1) fail("Reshape", undefined, `at most one symbolic leading dim in ${target.join(", ")}`);
  const g = v.graph;
  const shape = concat([int64s(g, leadCodes), slice(shapeOf(v), 0, v.rank - spatial.length)], 0);
  return g.addNode("Reshape", [v, shape], {}, [{ dtype: v.dtype, shape: target }])[0]!;
}

/**
 * [N, G*K, S...] -> [K, G*N, S...]: each group's channels become one block of G*N channels for a conv
 * with group G, the K channels of a group become the batch.
 */
function groupMembersAsBatch(v: Value, groups: number): Value {
  const [n, gk] = [v.shape[0]!, v.shape[1]!];
  const spatial = v.shape.slice(2);
  if (groups === 1) return swapLeading(v); // [K, N, S...]
  const k = dimDiv(gk, groups);
  if (!isStatic(k)) fail("gradients", undefined, `${v.describe()} does not split into ${groups} groups of static size`);
  // Depthwise: [G, N, S...] already has the order, and the reshape keeps the spatial axes in place.
  if (k === 1) return reshape(swapLeading(v), [1, dimMul(groups, n), ...spatial]); // [1, G*N, S...]
  const split = reshapeKeepingSpatial(v, [n, groups, k], spatial); // [N, G, K, S...]
  const moved = transpose(split, [2, 1, 0, ...spatial.map((_, i) => i + 3)]); // [K, G, N, S...]
  return reshapeKeepingSpatial(moved, [k, dimMul(groups, n)], spatial); // [K, G*N, S...]
}

/**
 * The weight-gradient conv (stride = forward dilation, dilation = forward stride), its kernel being an
 * activation: sliced to the forward kernel and transposed to the weight's layout, [B, A, k...] from
 * [A, B, k'...]. A symbolic kernel is beyond ops.conv (ONNX takes kernel_shape from the weight then),
 * so that case emits the node itself with k' worked out in (2).
 */
function weightGradient(node: Node, data: Value, kernelOf: Value, a: ConvAttrs, extra: readonly number[]): Value {
  const name = `${node.name}.grad_weight`;
  const kPrime = a.kernel.map((k, i) => k + extra[i]!);
  const symbolic = !kernelOf.shape.slice(2).every(isStatic) || !data.shape.slice(2).every(isStatic);
  let out: Value;
  if (!symbolic) {
    out = conv(data, kernelOf, null, { stride: a.dilations, dilation: a.strides, padding: a.pads, groups: a.group, name });
  } else {
    out = data.graph.addNode(
      "Conv",
      [data, kernelOf],
      {
        strides: { type: "ints", value: a.dilations },
        pads: { type: "ints", value: a.pads },
        dilations: { type: "ints", value: a.strides },
        group: { type: "int", value: a.group },
      },
      [{ dtype: data.dtype, shape: [data.shape[0]!, kernelOf.shape[0]!, ...kPrime] }],
      name,
    )[0]!;
  }
  // With symbolic sizes k' may differ at run time (S not a multiple of s), so the slice is always kept.
  a.kernel.forEach((k, i) => {
    if (symbolic || out.shape[2 + i] !== k) out = slice(out, 2 + i, 0, k);
  });
  return swapLeading(out); // [A, B, k...] -> [B, A, k...]
}

/** dy summed over batch and spatial axes: [M]. */
const biasGradient = (gy: Value): Value => reduceSum(gy, [0, ...spatialAxes(gy.rank)], false);

/** The gradient under its input's own (symbolic) dims; a free reshape when dim.ts spells them otherwise. */
function asShapeOf(grad: Value, like: Value): Value {
  return grad.shape.every((d: Dim, i) => dimEq(d, like.shape[i]!)) ? grad : reshapeLike(grad, like);
}

/** One gradient per node input: no slot for a bias the node does not have. */
function perInput(node: Node, grads: (Value | null)[]): (Value | null)[] {
  return grads.slice(0, node.inputs.length);
}

export const convRules: GradRules = {
  Conv: ({ node, gradOutputs, needs }) => {
    const gy = onlyGrad(node, gradOutputs);
    const [x, w] = [input(node, 0), input(node, 1)];
    const a = readAttrs(node);
    const r = unreadRows(x, a);
    const opts = { stride: a.strides, padding: a.pads, dilation: a.dilations, groups: a.group };
    // (1) adjoint of the strided window: output padding r restores the unread rows (as zeros)
    const dx = needs[0] ? asShapeOf(convTranspose(gy, w, null, { ...opts, outputPadding: r, name: `${node.name}.grad_input` }), x) : null;
    // (2) correlation of x with dy; floor(r / d) extra weight rows come out and are sliced off
    const dw = needs[1]
      ? weightGradient(node, groupMembersAsBatch(x, a.group), swapLeading(gy), a, r.map((ri, i) => Math.floor(ri / a.dilations[i]!)))
      : null;
    return perInput(node, [dx, dw, needs[2] ? biasGradient(gy) : null]);
  },

  ConvTranspose: ({ node, gradOutputs, needs }) => {
    const gy = onlyGrad(node, gradOutputs);
    const [x, w] = [input(node, 0), input(node, 1)];
    const a = readAttrs(node);
    const q = a.outputPadding;
    let dx: Value | null = null;
    if (needs[0]) {
      // (1) the forward conv with the same weight. ONNX allows output padding up to the dilation; past the
      // stride it adds whole rows, sliced off here (ONNX Runtime's CPU kernel rejects such a forward).
      dx = conv(gy, w, null, { stride: a.strides, padding: a.pads, dilation: a.dilations, groups: a.group, name: `${node.name}.grad_input` });
      q.forEach((qi, i) => {
        const extra = Math.floor(qi / a.strides[i]!);
        if (extra > 0) dx = slice(dx!, 2 + i, 0, -extra);
      });
      dx = asShapeOf(dx, x);
    }
    // (2) correlation of dy with x as the weight [G*Cg, N, S...]
    const dw = needs[1]
      ? weightGradient(node, groupMembersAsBatch(gy, a.group), swapLeading(x), a, q.map((qi, i) => Math.floor(qi / a.dilations[i]!)))
      : null;
    return perInput(node, [dx, dw, needs[2] ? biasGradient(gy) : null]);
  },
};
