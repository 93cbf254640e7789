// Data-movement reference ops: every output element is read from one input element, so results
// must match exactly. Slicing follows Python's rules (negative indices count from the end; out-of-range
// bounds clamp; negative steps walk backwards).

import { broadcastTo } from "./elementwise.js";
import { roundToHalf } from "./float16.js";
import { type NdArray, nd, numel, ravel, unravel } from "./nd.js";

/** Same data in row-major order, new shape; one -1 is inferred. */
export function reshape(x: NdArray, shape: readonly number[]): NdArray {
  const known = shape.filter((d) => d !== -1).reduce((a, b) => a * b, 1);
  const out = shape.map((d) => (d === -1 ? x.data.length / known : d));
  if (numel(out) !== x.data.length) throw new Error(`reference reshape: ${x.data.length} elements into [${shape.join(", ")}]`);
  return nd(out, x.data);
}

/** y[i_0, ..., i_r] = x[j] with j[perm[a]] = i_a (numpy.transpose). */
export function transpose(x: NdArray, perm: readonly number[]): NdArray {
  const shape = perm.map((p) => x.shape[p]!);
  const y = nd(shape);
  for (let flat = 0; flat < y.data.length; flat++) {
    const i = unravel(flat, shape);
    const j = new Array<number>(perm.length);
    perm.forEach((p, a) => (j[p] = i[a]!));
    y.data[flat] = x.data[ravel(j, x.shape)]!;
  }
  return y;
}

export function concat(xs: readonly NdArray[], axis: number): NdArray {
  const rank = xs[0]!.shape.length;
  const ax = axis < 0 ? axis + rank : axis;
  const shape = [...xs[0]!.shape];
  shape[ax] = xs.reduce((s, x) => s + x.shape[ax]!, 0);
  const y = nd(shape);
  let offset = 0;
  for (const x of xs) {
    for (let flat = 0; flat < x.data.length; flat++) {
      const i = unravel(flat, x.shape);
      i[ax]! += offset;
      y.data[ravel(i, shape)] = x.data[flat]!;
    }
    offset += x.shape[ax]!;
  }
  return y;
}

/** The indices Python's range(*slice(start, end, step).indices(length)) visits. */
export function pythonSliceIndices(length: number, start: number | undefined, end: number | undefined, step = 1): number[] {
  if (step === 0) throw new Error("slice step cannot be zero");
  // CPython's PySlice_AdjustIndices: negative bounds count from the end, then clamp to
  // [0, length] for a positive step and [-1, length - 1] for a negative one.
  const adjust = (v: number | undefined, dflt: number): number => {
    if (v === undefined) return dflt;
    if (v < 0) {
      v += length;
      if (v < 0) v = step < 0 ? -1 : 0;
    } else if (v >= length) v = step < 0 ? length - 1 : length;
    return v;
  };
  const s = adjust(start, step < 0 ? length - 1 : 0);
  const e = adjust(end, step < 0 ? -1 : length);
  const out: number[] = [];
  for (let i = s; step > 0 ? i < e : i > e; i += step) out.push(i);
  return out;
}

/** x[..., start:end:step, ...] on one axis. */
export function slice(x: NdArray, axis: number, start: number | undefined, end: number | undefined, step = 1): NdArray {
  const rank = x.shape.length;
  const ax = axis < 0 ? axis + rank : axis;
  return take(x, ax, pythonSliceIndices(x.shape[ax]!, start, end, step));
}

/** The entries `indices` (negative counting from the end) of axis `ax`, in order: numpy.take. */
export function take(x: NdArray, axis: number, indices: readonly number[]): NdArray {
  const ax = axis < 0 ? axis + x.shape.length : axis;
  const shape = [...x.shape];
  shape[ax] = indices.length;
  const y = nd(shape);
  for (let flat = 0; flat < y.data.length; flat++) {
    const i = unravel(flat, shape);
    const k = indices[i[ax]!]!;
    i[ax] = k < 0 ? k + x.shape[ax]! : k;
    y.data[flat] = x.data[ravel(i, x.shape)]!;
  }
  return y;
}

/** Consecutive pieces of the given sizes along `axis`. */
export function split(x: NdArray, axis: number, sizes: readonly number[]): NdArray[] {
  let start = 0;
  return sizes.map((s) => {
    const piece = slice(x, axis, start, start + s);
    start += s;
    return piece;
  });
}

/** Broadcast to `shape` (numpy.broadcast_to). */
export const expand = (x: NdArray, shape: readonly number[]): NdArray => broadcastTo(x, shape);

/** Inserts size-1 axes at the given positions of the result. */
export function unsqueeze(x: NdArray, axes: readonly number[]): NdArray {
  const rank = x.shape.length + axes.length;
  const at = new Set(axes.map((a) => (a < 0 ? a + rank : a)));
  const shape: number[] = [];
  let j = 0;
  for (let i = 0; i < rank; i++) shape.push(at.has(i) ? 1 : x.shape[j++]!);
  return nd(shape, x.data);
}

/** Removes the given size-1 axes. */
export function squeeze(x: NdArray, axes: readonly number[]): NdArray {
  const rank = x.shape.length;
  const drop = new Set(axes.map((a) => (a < 0 ? a + rank : a)));
  return nd(x.shape.filter((_, i) => !drop.has(i)), x.data);
}

/** data[..., indices[...], ...] on `axis`: the result has indices' shape in place of that axis. */
export function gather(data: NdArray, indices: NdArray, axis = 0): NdArray {
  const ax = axis < 0 ? axis + data.shape.length : axis;
  const flat = take(data, ax, Array.from(indices.data)); // [..., indices.size, ...]
  return nd([...data.shape.slice(0, ax), ...indices.shape, ...data.shape.slice(ax + 1)], flat.data);
}

/**
 * PyTorch F.interpolate(mode="nearest") by integer factors: out[i] = in[floor(i * in_size / out_size)],
 * which is floor(i / scale) for an integer scale, per axis.
 */
export function resizeNearest(x: NdArray, scales: readonly number[]): NdArray {
  const shape = x.shape.map((d, i) => d * scales[i]!);
  const y = nd(shape);
  for (let flat = 0; flat < y.data.length; flat++) {
    const i = unravel(flat, shape).map((v, a) => Math.floor((v * x.shape[a]!) / shape[a]!));
    y.data[flat] = x.data[ravel(i, x.shape)]!;
  }
  return y;
}

/**
 * ONNX Cast between the dtypes the tests use. Float to integer truncates toward zero (C++ static_cast,
 * what ONNX Runtime does; the ONNX spec leaves in-range rounding unstated, onnx/onnx#3876); anything to
 * bool is x != 0; float to float16 rounds to nearest, ties to even.
 */
export function cast(x: NdArray, to: "float32" | "float16" | "int32" | "int64" | "bool"): NdArray {
  switch (to) {
    case "float32": return nd(x.shape, x.data.map(Math.fround));
    case "float16": return nd(x.shape, x.data.map(roundToHalf));
    case "int32":
    case "int64": return nd(x.shape, x.data.map(Math.trunc));
    case "bool": return nd(x.shape, x.data.map((v) => (v !== 0 ? 1 : 0)));
  }
}
