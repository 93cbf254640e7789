// Shape primitives: reshape, transpose, concat, slice, split, expand, (un)squeeze, gather, resize.
// Symbolic dims travel through all of them; where ONNX needs a shape as a run-time tensor and a dim is
// symbolic, the shape is computed in the graph from the graph input that carries the symbol.

import { Tensor } from "../../tensor/tensor.js";
import {
  type Dim,
  dimAdd,
  dimDiv,
  dimEq,
  dimMul,
  dimProduct,
  divisibilityOf,
  isStatic,
  monomialOf,
  shapeToString,
} from "../dim.js";
import type { Attrs, Graph, Value } from "../graph.js";
import { fail, int64s, normAxes, normAxis } from "./common.js";

/**
 * A 1-D int64 value holding `dims` at run time: constants where static; otherwise, per monomial
 * num/den * S1*S2*..., the product of the symbols' run-time sizes (Shape/Gather of the graph input that
 * carries each alone) times num, then an integer Div by den. "H/2", "3*H/4", "B*F*H*W/64" all work.
 * Div truncates, so the value is exact only when den divides; the graph records that condition when a node
 * introduces the fractional dim (Graph.addNode -> requireDivisible) and Session.check refuses sizes that
 * break it, so a session never computes a truncated size.
 */
export function shapeTensor(g: Graph, dims: readonly Dim[], op = "shape", name?: string): Value {
  if (dims.every(isStatic)) return int64s(g, dims as number[]);
  const i64 = (shape: readonly Dim[]) => [{ dtype: "int64" as const, shape }];
  const sizeOf = new Map<string, Value>(); // one Shape/Gather per symbol, shared by every dim that uses it
  const symbolSize = (sym: string): Value => {
    const cached = sizeOf.get(sym);
    if (cached) return cached;
    const src = g.symbolSources.get(sym);
    if (!src) fail(op, name, `dimension symbol ${sym} does not appear alone on any graph input`);
    const shp = g.addNode("Shape", [src.value], {}, i64([src.value.rank]))[0]!;
    const size = g.addNode("Gather", [shp, int64s(g, [src.axis])], { axis: { type: "int", value: 0 } }, i64([1]))[0]!;
    sizeOf.set(sym, size);
    return size;
  };
  const parts = dims.map((d) => {
    if (isStatic(d)) return int64s(g, [d]);
    const m = monomialOf(d);
    const frac = m ? divisibilityOf(d) : null;
    const den = frac ? frac.divisor : 1;
    const num = m ? Math.round(m.coef * den) : NaN;
    if (!m || m.factors.length === 0 || !Number.isSafeInteger(num) || num < 1 || Math.abs(num / den - m.coef) > 1e-12 * m.coef) {
      fail(op, name, `cannot compute dimension ${d} at run time (only num/den times a product of input symbols)`);
    }
    let v: Value | null = null;
    for (const sym of m.factors) {
      const size = symbolSize(sym);
      v = v ? g.addNode("Mul", [v, size], {}, i64([1]))[0]! : size;
    }
    if (num !== 1) v = g.addNode("Mul", [v!, int64s(g, [num])], {}, i64([1]))[0]!;
    if (den !== 1) v = g.addNode("Div", [v!, int64s(g, [den])], {}, i64([1]))[0]!;
    return v!;
  });
  return g.addNode("Concat", parts, { axis: { type: "int", value: 0 } }, i64([dims.length]))[0]!;
}

/** Reshape to `shape`; one entry may be -1 (inferred). Element counts are checked when they are comparable. */
export function reshape(x: Value, shape: readonly Dim[], name?: string): Value {
  const g = x.graph;
  const inferred = shape.filter((d) => d === -1).length;
  if (inferred > 1) fail("Reshape", name, `at most one -1 in target ${shapeToString(shape)}`);
  const total = dimProduct(x.shape);
  let out = [...shape];
  if (inferred === 1) {
    const known = dimProduct(shape.filter((d) => d !== -1));
    const rest = dimDiv(total, known);
    if (typeof rest === "string" && rest.startsWith("(")) {
      fail("Reshape", name, `cannot infer -1: ${x.describe()} has ${total} elements, not a multiple of ${known}`);
    }
    out = shape.map((d) => (d === -1 ? rest : d));
  } else {
    const want = dimProduct(shape);
    const comparable = monomialOf(total) && monomialOf(want);
    if (comparable && !dimEq(total, want)) {
      fail("Reshape", name, `cannot reshape ${x.describe()} (${total} elements) to ${shapeToString(shape)} (${want} elements)`);
    }
  }
  for (const d of out) if (isStatic(d) && (d < 0 || !Number.isInteger(d))) fail("Reshape", name, `bad target dimension ${d} in ${shapeToString(shape)}`);
  // ONNX Reshape: 0 copies the input dim at that index, -1 is inferred; use them to avoid run-time shapes.
  // A target with a real 0 (an empty tensor) needs allowzero, under which 0 no longer copies.
  const hasZero = out.some((d) => d === 0);
  let encoded: Dim[] = out.map((d, i) => (!hasZero && !isStatic(d) && i < x.rank && dimEq(d, x.shape[i]!) ? 0 : d));
  const open = encoded.filter((d) => !isStatic(d)).length;
  let shapeValue: Value;
  if (open === 0) shapeValue = int64s(g, encoded as number[]);
  else if (open === 1 && !hasZero) {
    encoded = encoded.map((d) => (isStatic(d) ? d : -1));
    shapeValue = int64s(g, encoded as number[]);
  } else shapeValue = shapeTensor(g, out, "Reshape", name);
  const attrs: Attrs = hasZero ? { allowzero: { type: "int", value: 1 } } : {};
  return g.addNode("Reshape", [x, shapeValue], attrs, [{ dtype: x.dtype, shape: out }], name)[0]!;
}

export function transpose(x: Value, perm: readonly number[], name?: string): Value {
  const sorted = [...perm].sort((a, b) => a - b);
  if (perm.length !== x.rank || sorted.some((p, i) => p !== i)) {
    fail("Transpose", name, `perm [${perm.join(", ")}] is not a permutation of the ${x.rank} axes of ${x.describe()}`);
  }
  return x.graph.addNode("Transpose", [x], { perm: { type: "ints", value: [...perm] } }, [{ dtype: x.dtype, shape: perm.map((p) => x.shape[p]!) }], name)[0]!;
}

export function concat(xs: readonly Value[], axis: number, name?: string): Value {
  if (xs.length === 0) fail("Concat", name, "needs at least one input");
  const first = xs[0]!;
  const ax = normAxis("Concat", axis, first.rank, name);
  let total: Dim = 0;
  for (const x of xs) {
    if (x.dtype !== first.dtype || x.rank !== first.rank) fail("Concat", name, `inputs ${first.describe()} and ${x.describe()} differ in dtype or rank`);
    x.shape.forEach((d, i) => {
      if (i !== ax && !dimEq(d, first.shape[i]!)) fail("Concat", name, `inputs ${first.describe()} and ${x.describe()} differ on axis ${i} (concat axis ${ax})`);
    });
    total = dimAdd(total, x.shape[ax]!);
  }
  const shape = first.shape.map((d, i) => (i === ax ? total : d));
  return first.graph.addNode("Concat", xs, { axis: { type: "int", value: ax } }, [{ dtype: first.dtype, shape }], name)[0]!;
}

/** Python-style slice x[start:end:step] along one axis; end undefined means to the end. */
export function slice(x: Value, axis: number, start: number, end?: number, step = 1, name?: string): Value {
  const ax = normAxis("Slice", axis, x.rank, name);
  if (!Number.isInteger(step) || step === 0) fail("Slice", name, `step must be a non-zero integer, got ${step}`);
  const d = x.shape[ax]!;
  let len: Dim;
  let minSize = 0; // the size a symbolic axis needs for `len` to hold
  if (isStatic(d)) {
    const clamp = (i: number, lo: number, hi: number) => Math.min(Math.max(i < 0 ? i + d : i, lo), hi);
    if (step > 0) {
      const s = clamp(start, 0, d);
      const e = end === undefined ? d : clamp(end, 0, d);
      len = Math.max(0, Math.ceil((e - s) / step));
    } else {
      const s = clamp(start, -1, d - 1);
      const e = end === undefined ? -1 : clamp(end, -1, d - 1);
      len = Math.max(0, Math.ceil((s - e) / -step));
    }
  } else {
    // The length is exact only when the bounds lie inside the axis (ONNX clamps them at run time, so
    // x[0:100] on F elements is F long for F < 100): each case records the size it needs.
    if (step !== 1) fail("Slice", name, `only step 1 on symbolic axis ${ax} (${d})`);
    if (start >= 0 && end === undefined) {
      len = dimAdd(d, -start);
      minSize = start;
    } else if (start >= 0 && end !== undefined && end >= 0) {
      len = Math.max(0, end - start);
      minSize = len > 0 ? end : 0;
    } else if (start >= 0 && end !== undefined && end < 0) {
      len = dimAdd(d, end - start);
      minSize = start - end;
    } else if (start < 0 && end === undefined) {
      len = -start;
      minSize = -start;
    } else fail("Slice", name, `start ${start}, end ${end} on symbolic axis ${ax} (${d}) are not supported`);
  }
  const big = step > 0 ? Number.MAX_SAFE_INTEGER : -Number.MAX_SAFE_INTEGER;
  const g = x.graph;
  const shape = x.shape.map((dd, i) => (i === ax ? len : dd));
  // ONNX clamps starts differently from Python for negative steps; an empty Python slice is emitted as [0:0].
  const [s0, e0] = len === 0 ? [0, 0] : [start, end ?? big];
  const y = g.addNode(
    "Slice",
    [x, int64s(g, [s0]), int64s(g, [e0]), int64s(g, [ax]), int64s(g, [step])],
    {},
    [{ dtype: x.dtype, shape }],
    name,
  )[0]!;
  g.requireAtLeast(d, minSize, y.producer!);
  return y;
}

/** Splits along `axis` into pieces of the given sizes, or into `parts` equal pieces. */
export function split(x: Value, axis: number, sizes: readonly number[] | { parts: number }, name?: string): Value[] {
  const ax = normAxis("Split", axis, x.rank, name);
  const d = x.shape[ax]!;
  const g = x.graph;
  if ("parts" in sizes) {
    const n = sizes.parts;
    if (!Number.isInteger(n) || n < 1) fail("Split", name, `parts must be a positive integer, got ${n}`);
    const piece = dimDiv(d, n);
    if (typeof piece === "string" && piece.startsWith("(")) fail("Split", name, `axis ${ax} of ${x.describe()} does not split into ${n} equal parts`);
    // pieces like F/2 exist only for even F: addNode records that the graph needs F divisible by 2
    const shape = x.shape.map((dd, i) => (i === ax ? piece : dd));
    return g.addNode("Split", [x], { axis: { type: "int", value: ax } }, Array.from({ length: n }, () => ({ dtype: x.dtype, shape })), name);
  }
  if (sizes.some((s) => !Number.isInteger(s) || s < 0)) fail("Split", name, `sizes [${sizes.join(", ")}] must be non-negative integers`);
  const sum = sizes.reduce((a, b) => a + b, 0);
  if (!isStatic(d) || sum !== d) fail("Split", name, `sizes [${sizes.join(", ")}] sum to ${sum}, axis ${ax} of ${x.describe()} has ${d}`);
  return g.addNode(
    "Split",
    [x, int64s(g, sizes)],
    { axis: { type: "int", value: ax } },
    sizes.map((s) => ({ dtype: x.dtype, shape: x.shape.map((dd, i) => (i === ax ? s : dd)) })),
    name,
  );
}

/** Broadcasts x to `shape` (NumPy rules: x's dims must be 1 or equal to the target's). */
export function expand(x: Value, shape: readonly Dim[], name?: string): Value {
  if (shape.length < x.rank) fail("Expand", name, `target ${shapeToString(shape)} has lower rank than ${x.describe()}`);
  const offset = shape.length - x.rank;
  // A target dim equal to the input's is written as 1 (keeps it), so only truly expanded dims need values.
  const encoded = shape.map((d, i) => {
    const xd = i >= offset ? x.shape[i - offset]! : 1;
    if (dimEq(xd, d)) return 1;
    if (xd !== 1) fail("Expand", name, `cannot expand ${x.describe()} to ${shapeToString(shape)} (axis ${i}: ${xd} vs ${d})`);
    return d;
  });
  const g = x.graph;
  return g.addNode("Expand", [x, shapeTensor(g, encoded, "Expand", name)], {}, [{ dtype: x.dtype, shape }], name)[0]!;
}

export function unsqueeze(x: Value, axes: readonly number[], name?: string): Value {
  const rank = x.rank + axes.length;
  const norm = normAxes("Unsqueeze", axes, rank, name).sort((a, b) => a - b);
  const shape: Dim[] = [];
  let j = 0;
  for (let i = 0; i < rank; i++) shape.push(norm.includes(i) ? 1 : x.shape[j++]!);
  return x.graph.addNode("Unsqueeze", [x, int64s(x.graph, norm)], {}, [{ dtype: x.dtype, shape }], name)[0]!;
}

export function squeeze(x: Value, axes: readonly number[], name?: string): Value {
  const norm = normAxes("Squeeze", axes, x.rank, name);
  for (const a of norm) if (x.shape[a] !== 1) fail("Squeeze", name, `axis ${a} of ${x.describe()} is not 1`);
  const shape = x.shape.filter((_, i) => !norm.includes(i));
  return x.graph.addNode("Squeeze", [x, int64s(x.graph, norm)], {}, [{ dtype: x.dtype, shape }], name)[0]!;
}

/** Embedding lookup: data[..., indices, ...] along `axis`. */
export function gather(data: Value, indices: Value, axis = 0, name?: string): Value {
  const ax = normAxis("Gather", axis, data.rank, name);
  if (indices.dtype !== "int64" && indices.dtype !== "int32") fail("Gather", name, `indices must be int64 or int32, got ${indices.describe()}`);
  const shape = [...data.shape.slice(0, ax), ...indices.shape, ...data.shape.slice(ax + 1)];
  return data.graph.addNode("Gather", [data, indices], { axis: { type: "int", value: ax } }, [{ dtype: data.dtype, shape }], name)[0]!;
}

/**
 * Nearest-neighbour resize by integer factors per axis (1 for batch and channels), matching PyTorch's
 * F.interpolate(mode="nearest"): output index i reads input index floor(i / scale).
 */
export function resizeNearest(x: Value, scales: readonly number[], name?: string): Value {
  if (scales.length !== x.rank) fail("Resize", name, `needs ${x.rank} scales for ${x.describe()}, got [${scales.join(", ")}]`);
  if (scales.some((s) => !Number.isInteger(s) || s < 1)) fail("Resize", name, `scales [${scales.join(", ")}] must be positive integers`);
  const g = x.graph;
  const shape = x.shape.map((d, i) => dimMul(d, scales[i]!));
  const scalesValue = g.constant(new Tensor("float32", Float32Array.from(scales), [scales.length]));
  return g.addNode(
    "Resize",
    [x, null, scalesValue],
    {
      mode: { type: "string", value: "nearest" },
      coordinate_transformation_mode: { type: "string", value: "asymmetric" },
      nearest_mode: { type: "string", value: "floor" },
    },
    [{ dtype: x.dtype, shape }],
    name,
  )[0]!;
}

/** Reshape x to the shape of `like` (read at run time when it is symbolic). */
export function reshapeLike(x: Value, like: Value, name?: string): Value {
  if (like.shape.every(isStatic)) return reshape(x, like.shape, name);
  const total = dimProduct(x.shape);
  if (monomialOf(total) && monomialOf(dimProduct(like.shape)) && !dimEq(total, dimProduct(like.shape))) {
    fail("Reshape", name, `cannot reshape ${x.describe()} to the shape of ${like.describe()}`);
  }
  const g = x.graph;
  const shp = g.addNode("Shape", [like], {}, [{ dtype: "int64", shape: [like.rank] }])[0]!;
  return g.addNode("Reshape", [x, shp], {}, [{ dtype: x.dtype, shape: like.shape }], name)[0]!;
}
