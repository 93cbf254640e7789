// Backward rules of the shape ops. Each forward op only moves elements, so each gradient moves gy back:
// the inverse reshape or permutation, a split for a concat, a zero pad for a slice, the opposite pad for
// a pad, a scatter-add for a gather, a sum over the copies for an expand or a nearest-neighbour
// upsampling. Sizes that are symbolic at build time are read at run time from Shape of the forward
// values, so one backward graph serves every clip size; every gradient carries its input's shape.

import { Tensor } from "../../tensor/tensor.js";
import { type Dim, isStatic } from "../dim.js";
import type { Node, Value } from "../graph.js";
import { add, cast, neg, sub } from "../ops/elementwise.js";
import { fail, int64s } from "../ops/common.js";
import { pad, scatterNDAdd, shapeOf, zerosLike } from "../ops/fill.js";
import { reduceSum } from "../ops/linalg.js";
import { concat, gather, reshape, reshapeLike, slice, split, squeeze, transpose, unsqueeze } from "../ops/shape.js";
import { constInts, input, intAttr, intsAttr, onlyGrad, unbroadcast } from "./helpers.js";
import type { GradRules } from "./types.js";

/** A size known at build time, or a 1-element int64 value computed at run time. */
type Size = number | Value;

/** Size of `v` along `axis`: the number when static, else Gather(Shape(v), [axis]). */
function sizeOf(v: Value, axis: number): Size {
  const d = v.shape[axis]!;
  return isStatic(d) ? d : gather(shapeOf(v), int64s(v.graph, [axis]));
}

function sizeAdd(a: Size, b: Size): Size {
  if (typeof a === "number" && typeof b === "number") return a + b;
  return typeof a === "number" ? add(b as Value, a) : add(a, b);
}

function sizeSub(a: Size, b: Size): Size {
  if (typeof a === "number" && typeof b === "number") return a - b;
  return sub(a, b);
}

function sizeTensor(v: Value, s: Size): Value {
  return typeof s === "number" ? int64s(v.graph, [s]) : s;
}

/** Constant zero padding to exactly `like`'s shape (pads in ONNX order, run-time sizes allowed). */
function padTo(gy: Value, pads: readonly Size[], like: Value, node: Node): Value {
  // With run-time pads the pad builder cannot name the result's dims; here they are known to be like's.
  if (pads.every((p) => typeof p === "number") && gy.shape.every(isStatic)) return pad(gy, pads as number[], 0, `${node.name}.grad`);
  const g = gy.graph;
  const padsValue = concat(pads.map((p) => sizeTensor(gy, p)), 0);
  return g.addNode("Pad", [gy, padsValue], { mode: { type: "string", value: "constant" } }, [{ dtype: gy.dtype, shape: like.shape }], `${node.name}.grad`)[0]!;
}

/**
 * x[starts:ends:steps] on each sliced axis -> the positions of x that y read, as ONNX Slice resolves
 * them: negative bounds count from the end, then starts clamp to [0, d] and ends to [0, d] for a
 * positive step, to [0, d-1] and [-1, d-1] for a negative one.
 */
function staticSliceRange(d: number, start: number, end: number, step: number): { first: number; len: number } {
  const clamp = (i: number, lo: number, hi: number) => Math.min(Math.max(i < 0 ? i + d : i, lo), hi);
  if (step > 0) {
    const s = clamp(start, 0, d);
    const len = Math.max(0, Math.ceil((clamp(end, 0, d) - s) / step));
    return { first: s, len };
  }
  const s = clamp(start, 0, d - 1);
  const len = Math.max(0, Math.ceil((s - clamp(end, -1, d - 1)) / -step));
  // read in reverse, y[i] = x[s + step i]: its lowest position is the last one read
  return { first: len === 0 ? 0 : s + step * (len - 1), len };
}

/** Spreads gy along `axis` so element i lands at position i * stride (zeros between): [.., n, ..] -> [.., n*stride, ..]. */
function interleaveZeros(gy: Value, axis: number, n: number, stride: number): Value {
  const spread = unsqueeze(gy, [axis + 1]); // [.., n, 1, ..]
  const pads = new Array<number>(2 * spread.rank).fill(0);
  pads[spread.rank + axis + 1] = stride - 1;
  const padded = pad(spread, pads); // [.., n, stride, ..]
  return reshape(padded, gy.shape.map((d, i) => (i === axis ? n * stride : d))); // [.., n*stride, ..]
}

function sliceGrad(node: Node, gy: Value): Value {
  const x = input(node, 0);
  const starts = constInts(node, 1);
  const ends = constInts(node, 2);
  const axes = node.inputs[3] ? constInts(node, 3).map((a) => (a < 0 ? a + x.rank : a)) : starts.map((_, i) => i);
  const steps = node.inputs[4] ? constInts(node, 4) : starts.map(() => 1);
  const pads: Size[] = new Array<Size>(2 * x.rank).fill(0);
  let g = gy;
  axes.forEach((ax, k) => {
    const [start, end, step] = [starts[k]!, ends[k]!, steps[k]!];
    const d = x.shape[ax]!;
    if (isStatic(d)) {
      const { first, len } = staticSliceRange(d, start, end, step);
      if (step < 0 && len > 1) g = slice(g, ax, -1, undefined, -1); // back to increasing positions
      if (Math.abs(step) > 1 && len > 0) g = interleaveZeros(g, ax, len, Math.abs(step));
      pads[ax] = first;
      pads[x.rank + ax] = d - first - len * Math.abs(step); // down to 1 - |step|: crops the last stride's tail
      return;
    }
    if (step !== 1) fail("gradients", node.name, `Slice backward supports only step 1 on symbolic axis ${ax} (${d}) of ${x.describe()}, got step ${step}`);
    // Symbolic axes: the slice builder's bounds lie inside the axis, so only negative ones need d.
    const size = sizeOf(x, ax);
    const before = start >= 0 ? start : sizeAdd(size, start);
    const toEnd = end >= Number.MAX_SAFE_INTEGER;
    pads[ax] = before;
    pads[x.rank + ax] = toEnd ? 0 : sizeSub(sizeSub(size, before), sizeOf(g, ax));
  });
  return padTo(g, pads, x, node);
}

/**
 * y = pad(x, pads, c) in constant mode: y holds x shifted by the "before" pads, with c around it (and
 * negative pads crop x). So dx = gy with the pads undone, Pad(gy, -pads): positive pads are cut off
 * again, cropped positions of x get zeros. Run-time pads are negated at run time. dc = sum of gy over
 * the filled positions = sum(gy) - sum(dx).
 */
function padGrad(node: Node, gy: Value, needs: readonly boolean[]): (Value | null)[] {
  const mode = node.attrs.mode;
  if ((mode && mode.value !== "constant") || node.inputs[3]) {
    fail("gradients", node.name, "Pad backward supports only constant mode over all axes (as pad builds)");
  }
  const x = input(node, 0);
  const pads = input(node, 1);
  const stored = x.graph.constants.get(pads);
  let dx: Value;
  if (stored && stored.dtype === "int64") dx = padTo(gy, Array.from(stored.data as BigInt64Array, (p) => -Number(p)), x, node);
  else {
    const undo = neg(pads); // int64 [2 * rank]
    dx = gy.graph.addNode("Pad", [gy, undo], { mode: { type: "string", value: "constant" } }, [{ dtype: gy.dtype, shape: x.shape }], `${node.name}.grad`)[0]!;
  }
  let dc: Value | null = null;
  const c = node.inputs[2];
  if (needs[2] && c) {
    const all = (v: Value) => reduceSum(v, [...v.shape.keys()], false); // []
    dc = reshape(sub(all(gy), all(dx)), c.shape);
  }
  return [needs[0] ? dx : null, null, dc];
}

/** Zeros of data's shape with the axes permuted by `perm` (ConstantOfShape, as zerosLike). */
function zerosPermuted(data: Value, perm: readonly number[]): Value {
  const dims = perm.map((p) => data.shape[p]!);
  const shape = dims.every(isStatic) ? int64s(data.graph, dims as number[]) : gather(shapeOf(data), int64s(data.graph, perm));
  const zero = data.dtype === "float16" ? new Tensor("float16", Uint16Array.of(0), [1]) : new Tensor("float32", Float32Array.of(0), [1]);
  return data.graph.addNode("ConstantOfShape", [shape], { value: { type: "tensor", value: zero } }, [{ dtype: data.dtype, shape: dims }])[0]!;
}

function gatherGrad(node: Node, gy: Value): Value {
  const [data, indices] = [input(node, 0), input(node, 1)];
  const axis = intAttr(node, "axis", 0);
  const ax = axis < 0 ? axis + data.rank : axis;
  if (indices.dtype !== "int64" && indices.dtype !== "int32") fail("gradients", node.name, `Gather backward needs int64 or int32 indices, got ${indices.describe()}`);
  const idx = unsqueeze(indices.dtype === "int64" ? indices : cast(indices, "int64"), [indices.rank]); // [...I, 1]
  // data[idx] along axis 0 reads each row once per occurrence; ScatterND with add sums the copies back
  if (ax === 0) return scatterNDAdd(zerosLike(data), idx, gy, `${node.name}.grad`);
  // Other axes: move the gathered axis to the front, scatter there, move it back.
  const q = indices.rank;
  const rest = [...Array(data.rank).keys()].filter((a) => a !== ax);
  const gyFront = transpose(gy, [
    ...Array.from({ length: q }, (_, i) => ax + i),
    ...rest.map((a) => (a < ax ? a : a - 1 + q)),
  ]); // [...I, data dims but axis]
  const dataPerm = [ax, ...rest];
  const scattered = scatterNDAdd(zerosPermuted(data, dataPerm), idx, gyFront); // [data[axis], data dims but axis]
  const back = dataPerm.map((_, i) => dataPerm.indexOf(i));
  return transpose(scattered, back);
}

function resizeGrad(node: Node, gy: Value): Value {
  const x = input(node, 0);
  const mode = node.attrs.mode;
  const coords = node.attrs.coordinate_transformation_mode;
  const rounding = node.attrs.nearest_mode;
  const scalesInput = node.inputs[2];
  const scalesTensor = scalesInput ? x.graph.constants.get(scalesInput) : undefined;
  const scales = scalesTensor && scalesTensor.dtype === "float32" ? Array.from(scalesTensor.data as Float32Array) : null;
  if (
    mode?.value !== "nearest" || coords?.value !== "asymmetric" || rounding?.value !== "floor" ||
    !scales || scales.length !== x.rank || scales.some((s) => !Number.isInteger(s) || s < 1) || node.inputs[3]
  ) {
    fail("gradients", node.name, "Resize backward supports only nearest / asymmetric / floor with constant positive integer scales (as resizeNearest builds)");
  }
  // y[.., i, ..] = x[.., floor(i / s), ..]: view each scaled axis d*s as (d, s) and sum over s
  const scaled = scales.flatMap((s, i) => (s > 1 ? [i] : []));
  if (scaled.length === 0) return gy;
  const dims: Dim[] = [];
  const sumAxes: number[] = [];
  const order: number[] = []; // split shape as positions in [...Shape(x), ...scales > 1]
  x.shape.forEach((d, i) => {
    dims.push(d);
    order.push(i);
    const k = scaled.indexOf(i);
    if (k >= 0) {
      sumAxes.push(dims.length);
      dims.push(scales[i]!);
      order.push(x.rank + k);
    }
  });
  const g = x.graph;
  const target = dims.every(isStatic)
    ? int64s(g, dims as number[])
    : gather(concat([shapeOf(x), int64s(g, scaled.map((i) => scales[i]!))], 0), int64s(g, order));
  const blocks = g.addNode("Reshape", [gy, target], {}, [{ dtype: gy.dtype, shape: dims }])[0]!; // [.., d, s, ..]
  return reduceSum(blocks, sumAxes, false, `${node.name}.grad`);
}

export const shapeRules: GradRules = {
  // y = reshape(x): dx = reshape(gy) to x's shape
  Reshape: ({ node, gradOutputs }) => [reshapeLike(onlyGrad(node, gradOutputs), input(node, 0)), null],

  // y = transpose(x, p), y[i] = x[i∘p^-1]: dx = transpose(gy, p^-1)
  Transpose: ({ node, gradOutputs }) => {
    const x = input(node, 0);
    const perm = intsAttr(node, "perm") ?? [...Array(x.rank).keys()].reverse();
    const inverse = perm.map((_, i) => perm.indexOf(i));
    return [transpose(onlyGrad(node, gradOutputs), inverse)];
  },

  // y = concat(x_1..x_n): dx_k = the k-th piece of gy along the axis
  Concat: ({ node, gradOutputs, needs }) => {
    const gy = onlyGrad(node, gradOutputs);
    const xs = node.inputs.map((v, i) => input(node, i));
    if (xs.length === 1) return [gy];
    const axis = intAttr(node, "axis", 0);
    const ax = axis < 0 ? axis + gy.rank : axis;
    const sizes = xs.map((x) => x.shape[ax]!);
    let pieces: Value[];
    if (sizes.every(isStatic) && isStatic(gy.shape[ax]!)) pieces = split(gy, ax, sizes as number[], `${node.name}.grad`);
    else {
      // symbolic pieces: split at the inputs' run-time sizes
      const splitSizes = concat(xs.map((x) => sizeTensor(x, sizeOf(x, ax))), 0);
      pieces = gy.graph.addNode("Split", [gy, splitSizes], { axis: { type: "int", value: ax } }, xs.map((x) => ({ dtype: gy.dtype, shape: x.shape })), `${node.name}.grad`);
    }
    return pieces.map((p, i) => (needs[i] ? p : null));
  },

  // y = x[starts:ends:steps]: dx = gy placed back at the positions read, zeros elsewhere
  Slice: ({ node, gradOutputs, needs }) => [needs[0] ? sliceGrad(node, onlyGrad(node, gradOutputs)) : null, null, null, null, null],

  // y_1..y_n = split(x): dx = concat(gy_1..gy_n), zeros for outputs that do not reach the loss
  Split: ({ node, gradOutputs }) => {
    const x = input(node, 0);
    const axis = intAttr(node, "axis", 0);
    const parts = node.outputs.map((y, i) => gradOutputs[i] ?? zerosLike(y));
    // Built directly so that the result keeps x's dims (the concat builder would re-add the pieces').
    const dx = x.graph.addNode("Concat", parts, { axis: { type: "int", value: axis < 0 ? axis + x.rank : axis } }, [{ dtype: x.dtype, shape: x.shape }], `${node.name}.grad`)[0]!;
    return [dx, null];
  },

  // y = pad(x, pads, c): dx = Pad(gy, -pads), dc = sum of gy where c was placed
  Pad: ({ node, gradOutputs, needs }) => padGrad(node, onlyGrad(node, gradOutputs), needs),

  // y = broadcast(x): dx = gy summed over the broadcast axes
  Expand: ({ node, gradOutputs }) => [unbroadcast(onlyGrad(node, gradOutputs), input(node, 0)), null],

  // y = unsqueeze(x, axes): dx = squeeze(gy, axes)
  Unsqueeze: ({ node, gradOutputs }) => [squeeze(onlyGrad(node, gradOutputs), constInts(node, 1)), null],

  // y = squeeze(x, axes): dx = unsqueeze(gy, axes) (x's shape read at run time when the axes are implicit)
  Squeeze: ({ node, gradOutputs }) => {
    const [gy, x] = [onlyGrad(node, gradOutputs), input(node, 0)];
    const axes = node.inputs[1] ? constInts(node, 1).map((a) => (a < 0 ? a + x.rank : a)) : null;
    return [axes ? unsqueeze(gy, axes) : reshapeLike(gy, x), null];
  },

  // y = data[indices] along an axis: d data = sum of gy over each index's occurrences (scatter-add)
  Gather: ({ node, gradOutputs, needs }) => [needs[0] ? gatherGrad(node, onlyGrad(node, gradOutputs)) : null, null],

  // y = nearest upsampling of x by integer factors s: dx = sum of gy over each s-block
  Resize: ({ node, gradOutputs }) => [resizeGrad(node, onlyGrad(node, gradOutputs)), null, null, null],
};
