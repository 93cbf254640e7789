// Backward rules of Conv and ConvTranspose (src/graph/ops/conv.ts), written as convolutions and matrix
// products whose kernels are weights or constants, never activations (ONNX Runtime runs a conv with an
// activation as its kernel, or a ConvTranspose, several times slower than a plain Conv or a MatMul).
//
// Notation, per spatial axis: S input size, O output size, k kernel, s stride, d dilation, pb / pe the
// begin / end pads, pT = pb + pe, span = d (k - 1) + 1; G groups; j a kernel tap, T = prod k taps;
// x [N, G*Cg, S...], y [N, G*Mg, O...].
//
// Conv, w [G*Mg, Cg, k...]:   y[n, gMg+m, o] = sum_{c, j} x[n, gCg+c, o s + j d - pb] w[gMg+m, c, j]
//   (1) dx. At stride 1 the adjoint of a window is a window again: dx = Conv(dy, w~) with
//       w~[gCg+c, m, j] = w[gMg+m, c, k-1-j] (channel axes swapped per group, kernel flipped), the same
//       dilation and pads d (k - 1) - pb, d (k - 1) - pe, which give O + d (k - 1) - pT = S rows.
//       Otherwise (a stride, or a pad past d (k - 1)) dx = ConvTranspose(dy, w), same attributes: the
//       forward's windows leave r = (S + pT - span) mod s trailing rows unread, and output_padding r
//       gives dx exactly S rows.
//   (2) dw[gMg+m, c, j] = sum_{n, o} dy[n, gMg+m, o] X[n, gCg+c, j, o],  X[n, i, j, o] = x[n, i, o s + j d - pb]:
//       X (im2col) is a depthwise Conv of x with one-hot kernels (channel i T + t picks tap t) and the
//       forward's stride, dilation and pads, so it has O windows; then per group one MatMul over n and o:
//       [G, Cg T, N O'] @ [G, N O', Mg] -> [G, Cg T, Mg], O' = prod O (see windowProduct for the layout).
//       At stride 1 (and pads within d (k - 1)) the roles swap when dy has fewer channels (T copies of
//       the smaller tensor):
//       dw[gMg+m, c, j] = sum_{n, i} Y[n, gMg+m, j, i] x[n, gCg+c, i],  Y[n, ., j, i] = dy[n, ., i + pb - j d]
//       (zero outside [0, O)), the im2col of dy with flipped one-hot kernels and the pads of (1).
//   (3) db = dy summed over batch and spatial axes.
// ConvTranspose, w [G*Cg, Mg, k...], output padding q < s: the adjoint of a Conv, so x and dy swap roles.
//   (1) dx = Conv(dy, w), same attrs: S rows, as q < s.
//   (2) dw[gCg+c, m, j] = sum_{n, i} x[n, gCg+c, i] dy[n, gMg+m, i s + j d - pb]: (2) of Conv with dy as
//       the input and x as the output gradient.
//   (3) db as for Conv.
//
// Symbolic sizes: r depends on S mod s, which a symbolic S does not fix. It is taken for S a multiple of
// the stride, the case in which dim.ts's window formula (O = S / s) is exact; a graph run at other sizes
// on a strided symbolic axis gets a data gradient of the wrong size (an error at run time), so such
// sizes need a static graph. Weight gradients hold at any size (the im2col has the forward's windows).

import { Tensor } from "../../tensor/tensor.js";
import { type Dim, dimEq, dimMul, dimProduct, isStatic } from "../dim.js";
import type { Node, Value } from "../graph.js";
import { conv, convTranspose } from "../ops/conv.js";
import { fail, int64s } from "../ops/common.js";
import { matmul, reduceSum } from "../ops/linalg.js";
import { addAll } from "../ops/elementwise.js";
import { expand, reshape, reshapeLike, slice, split, transpose, unsqueeze } from "../ops/shape.js";
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
const product = (xs: readonly number[]): number => xs.reduce((a, b) => a * b, 1);

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

/**
 * The pads of the stride-1 adjoint window, d (k - 1) - p per side ((1) and the swapped (2) above), or null
 * when a stride is not 1 or a pad reaches past the kernel's span (the adjoint would need negative pads).
 */
function adjointPads(a: ConvAttrs): number[] | null {
  if (a.strides.some((s) => s !== 1)) return null;
  const n = a.kernel.length;
  const pads = a.pads.map((p, i) => a.dilations[i % n]! * (a.kernel[i % n]! - 1) - p);
  return pads.every((p) => p >= 0) ? pads : null;
}

const spatialAxes = (rank: number): number[] => Array.from({ length: rank - 2 }, (_, i) => i + 2);

/** Static channel count of a conv operand (the weight's static shape fixes it). */
function channels(v: Value, what: string): number {
  const c = v.shape[1]!;
  if (!isStatic(c)) fail("gradients", undefined, `${what} ${v.describe()} needs a static channel count`);
  return c;
}

/**
 * The im2col of v [N, K, S...]: [N, K*T, W...], channel i T + t holding the window values of tap t
 * (flipped: tap T - 1 - t), by a depthwise Conv with one-hot kernels. The kernels are an expanded
 * constant, which ONNX Runtime folds at load time, so the graph holds T^2 numbers per conv, not K T^2.
 */
function im2col(v: Value, w: Window, flipped: boolean, name: string): Value {
  const taps = product(w.kernel);
  const eye = new Float32Array(taps * taps);
  for (let t = 0; t < taps; t++) eye[t * taps + (flipped ? taps - 1 - t : t)] = 1;
  const oneHot = v.graph.constant(new Tensor("float32", eye, [1, taps, 1, ...w.kernel])); // [1, T, 1, k...]
  const k = channels(v, "conv operand");
  const kernels = reshape(expand(oneHot, [k, taps, 1, ...w.kernel]), [k * taps, 1, ...w.kernel]); // [K*T, 1, k...]
  return conv(v, kernels, null, { stride: w.stride, dilation: w.dilation, padding: w.pads, groups: k, name: `${name}.im2col` });
}

/** The windows an im2col takes: per spatial axis kernel, stride, dilation, and [begin..., end...] pads. */
interface Window {
  kernel: number[];
  stride: number[];
  dilation: number[];
  pads: number[];
}

/**
 * sum_{n, p} cols[n, (g K + i) T + t, p] other[n, g J + j, p] as [G, K*T, J]: the product of the im2col of
 * `windowed` [N, G*K, S...] (windows at p) with `other` [N, G*J, P...]. With 1 or 2 spatial axes the batch
 * becomes a leading spatial axis of the im2col (a window of 1 over it), so that one MatMul per group sums
 * over n and p together: [G, K T, N P'] @ [G, N P', J]. With 3 the MatMul is batched over n and summed.
 * ONNX Reshape's 0 and -1 keep symbolic sizes out of run-time shape arithmetic.
 */
function windowProduct(windowed: Value, other: Value, w: Window, groups: number, flipped: boolean, name: string): Value {
  const [K, J] = [channels(windowed, "conv operand") / groups, channels(other, "conv operand") / groups];
  const taps = product(w.kernel);
  const n = other.shape[0]!;
  const positions = dimProduct(other.shape.slice(2));
  const g = windowed.graph;
  const reshapeTo = (v: Value, codes: number[], shape: Dim[]) => g.addNode("Reshape", [v, int64s(g, codes)], {}, [{ dtype: v.dtype, shape }])[0]!;
  const grouped = reshapeTo(other, [0, groups, J, -1], [n, groups, J, positions]); // [N, G, J, P']
  if (w.kernel.length <= 2) {
    const batchAsAxis = unsqueeze(transpose(windowed, [1, 0, ...spatialAxes(windowed.rank)]), [0]); // [1, G*K, N, S...]
    const folded = { kernel: [1, ...w.kernel], stride: [1, ...w.stride], dilation: [1, ...w.dilation], pads: [0, ...w.pads.slice(0, w.kernel.length), 0, ...w.pads.slice(w.kernel.length)] };
    const samples = dimMul(n, positions);
    const cols = reshapeTo(im2col(batchAsAxis, folded, flipped, name), [groups, K * taps, -1], [groups, K * taps, samples]); // [G, K*T, N*P']
    const rows = reshapeTo(transpose(grouped, [1, 2, 0, 3]), [groups, J, -1], [groups, J, samples]); // [G, J, N*P']
    return matmul(cols, transpose(rows, [0, 2, 1])); // [G, K*T, J]; ONNX Runtime fuses the Transpose in
  }
  const cols = reshapeTo(im2col(windowed, w, flipped, name), [0, groups, K * taps, -1], [n, groups, K * taps, positions]); // [N, G, K*T, P']
  return reduceSum(matmul(cols, transpose(grouped, [0, 1, 3, 2])), [0], false); // [G, K*T, J]
}

/**
 * The most elements an im2col holds at once, 2^26 (256 MiB of float32); past it the batch is split. A
 * setting read when gradients are built (tests lower it to reach the split on small shapes).
 */
export const im2colLimit = { elements: 2 ** 26 };

/**
 * windowProduct over chunks of the batch, summed, when the whole im2col would hold more than
 * im2colLimit.elements: ONNX Runtime's own conv kernel windows one image at a time, so memory stays near the
 * activations' size. A symbolic batch is not split.
 */
function chunkedWindowProduct(windowed: Value, other: Value, w: Window, groups: number, flipped: boolean, name: string): Value {
  const n = windowed.shape[0]!;
  const perSample = windowed.shape.slice(1).every(isStatic) ? product(windowed.shape.slice(1) as number[]) * product(w.kernel) : 0;
  const chunks = isStatic(n) ? Math.min(n, Math.ceil((n * perSample) / im2colLimit.elements)) : 1;
  if (!isStatic(n) || chunks <= 1) return windowProduct(windowed, other, w, groups, flipped, name);
  const sizes = Array.from({ length: chunks }, (_, i) => Math.floor((n * (i + 1)) / chunks) - Math.floor((n * i) / chunks));
  const [windowedParts, otherParts] = [split(windowed, 0, sizes), split(other, 0, sizes)];
  return addAll(windowedParts.map((part, i) => windowProduct(part, otherParts[i]!, w, groups, flipped, name)));
}

/**
 * (2): the weight gradient [G*B, A, k...] of gradOut [N, G*B, O...] = Conv(input [N, G*A, I...], w) under
 * the attributes `a`, as an im2col and a MatMul; the im2col is of gradOut when that can be windowed at
 * stride 1 and has fewer channels per group.
 */
function weightGradient(input: Value, gradOut: Value, a: ConvAttrs, name: string): Value {
  const G = a.group;
  const [A, B] = [channels(input, "conv input") / G, channels(gradOut, "conv output gradient") / G];
  const k = a.kernel;
  const taps = product(k);
  const adjoint = adjointPads(a);
  if (adjoint && B < A) {
    // dw[gB+b, c, j] = sum_{n, i} Y[n, gB+b, j, i] input[n, gA+c, i]: the smaller im2col, of gradOut
    const summed = chunkedWindowProduct(gradOut, input, { kernel: k, stride: a.strides, dilation: a.dilations, pads: adjoint }, G, true, name); // [G, B*T, A]
    const dw = transpose(reshape(summed, [G, B, taps, A]), [0, 1, 3, 2]); // [G, B, A, T]
    return reshape(dw, [G * B, A, ...k], `${name}.grad_weight`);
  }
  const summed = chunkedWindowProduct(input, gradOut, { kernel: k, stride: a.strides, dilation: a.dilations, pads: a.pads }, G, false, name); // [G, A*T, B]
  const dw = transpose(reshape(summed, [G, A, taps, B]), [0, 3, 1, 2]); // [G, B, A, T]
  return reshape(dw, [G * B, A, ...k], `${name}.grad_weight`);
}

/**
 * w [G*Mg, Cg, k...] -> w~ [G*Cg, Mg, k...], w~[gCg+c, m, j] = w[gMg+m, c, k-1-j]: the kernel of the
 * stride-1 data gradient (1). Flipping every kernel axis reverses the taps' row-major index, so one
 * reversed slice over the flattened taps does it.
 */
function adjointKernel(w: Value, groups: number): Value {
  const [gm, cg] = [w.shape[0] as number, w.shape[1] as number];
  const kernel = w.shape.slice(2) as number[];
  const taps = product(kernel);
  const perGroup = reshape(w, [groups, gm / groups, cg, taps]); // [G, Mg, Cg, T]
  const swapped = gm === groups || cg === 1 ? perGroup : transpose(perGroup, [0, 2, 1, 3]); // [G, Cg, Mg, T]
  const flipped = taps > 1 ? slice(swapped, 3, -1, undefined, -1) : swapped; // taps reversed
  return reshape(flipped, [groups * cg, gm / groups, ...kernel]); // [G*Cg, Mg, k...]
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
    let dx: Value | null = null;
    if (needs[0]) {
      const pads = adjointPads(a);
      const name = `${node.name}.grad_input`;
      if (pads && w.shape.every(isStatic)) {
        // (1) at stride 1: a Conv with the adjoint kernel
        dx = conv(gy, adjointKernel(w, a.group), null, { padding: pads, dilation: a.dilations, groups: a.group, name });
      } else {
        // (1) adjoint of the strided window: output padding r restores the unread rows (as zeros)
        const opts = { stride: a.strides, padding: a.pads, dilation: a.dilations, groups: a.group, outputPadding: unreadRows(x, a), name };
        dx = convTranspose(gy, w, null, opts);
      }
      dx = asShapeOf(dx, x);
    }
    const dw = needs[1] ? weightGradient(x, gy, a, node.name) : null;
    return perInput(node, [dx, dw, needs[2] ? biasGradient(gy) : null]);
  },

  ConvTranspose: ({ node, gradOutputs, needs }) => {
    const gy = onlyGrad(node, gradOutputs);
    const [x, w] = [input(node, 0), input(node, 1)];
    const a = readAttrs(node);
    // ONNX allows output padding up to the dilation, ONNX Runtime's kernel (and ops.convTranspose) only
    // below the stride; then the Conv windows of (1) and (2) cover exactly x's rows.
    a.outputPadding.forEach((q, i) => {
      if (q >= a.strides[i]!) fail("gradients", node.name, `ConvTranspose output padding ${q} on axis ${i} is not below the stride ${a.strides[i]}`);
    });
    // (1) the forward conv with the same weight
    const dx = needs[0] ? asShapeOf(conv(gy, w, null, { stride: a.strides, padding: a.pads, dilation: a.dilations, groups: a.group, name: `${node.name}.grad_input` }), x) : null;
    // (2) the Conv weight gradient with dy as the input and x as the output gradient
    const dw = needs[1] ? weightGradient(gy, x, a, node.name) : null;
    return perInput(node, [dx, dw, needs[2] ? biasGradient(gy) : null]);
  },
};
