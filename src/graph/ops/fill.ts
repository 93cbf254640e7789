// Ops that make or place tensors by shape: zeros of a value's shape, broadcasting to a value's shape,
// constant padding and scatter-add. Backward rules use them (a slice's gradient is a pad, a gather's a
// scatter-add), and so can models.

import { Tensor } from "../../tensor/tensor.js";
import { type Dim, dimAdd, isStatic, shapeToString } from "../dim.js";
import type { Graph, Value } from "../graph.js";
import { shapeTensor } from "./shape.js";
import { ONNX_DTYPE, fail, int64s, normAxes } from "./common.js";

/** Shape(x) as a 1-D int64 value (a constant when x's shape is static). */
export function shapeOf(x: Value): Value {
  if (x.shape.every(isStatic)) return int64s(x.graph, x.shape as number[]);
  return x.graph.addNode("Shape", [x], {}, [{ dtype: "int64", shape: [x.rank] }])[0]!;
}

/** Zeros with x's dtype and shape, made at run time (nothing large is stored in the model). */
export function zerosLike(x: Value, name?: string): Value {
  const zero = x.dtype === "float16"
    ? new Tensor("float16", Uint16Array.of(0), [1])
    : x.dtype === "float32" ? new Tensor("float32", Float32Array.of(0), [1]) : null;
  if (!zero) fail("ConstantOfShape", name, `zerosLike supports float tensors, got ${x.describe()}`);
  return x.graph.addNode(
    "ConstantOfShape",
    [shapeOf(x)],
    { value: { type: "tensor", value: zero } },
    [{ dtype: x.dtype, shape: x.shape }],
    name,
  )[0]!;
}

/** Broadcasts x to the shape of `like` (NumPy rules), read at run time when symbolic. */
export function expandLike(x: Value, like: Value, name?: string): Value {
  const offset = like.rank - x.rank;
  if (offset < 0) fail("Expand", name, `cannot expand ${x.describe()} to the lower-rank ${like.describe()}`);
  x.shape.forEach((d, i) => {
    const t = like.shape[offset + i]!;
    if (d !== 1 && String(d) !== String(t)) fail("Expand", name, `cannot expand ${x.describe()} to ${like.describe()}`);
  });
  return x.graph.addNode("Expand", [x, shapeOf(like)], {}, [{ dtype: x.dtype, shape: like.shape }], name)[0]!;
}

/**
 * Constant padding: pads[i] before and pads[rank + i] after axis i (ONNX order). A pad may be a Value
 * (1-element int64) when it is only known at run time.
 */
export function pad(x: Value, pads: readonly (number | Value)[], value = 0, name?: string): Value {
  if (pads.length !== 2 * x.rank) fail("Pad", name, `needs ${2 * x.rank} pads for ${x.describe()}, got ${pads.length}`);
  const g = x.graph;
  const shape: Dim[] = x.shape.map((d, i) => {
    const [b, e] = [pads[i]!, pads[x.rank + i]!];
    if (typeof b === "number" && typeof e === "number") {
      if (isStatic(d) && d + b + e < 0) fail("Pad", name, `pads ${b}, ${e} on axis ${i} leave a negative size`);
      return dimAdd(d, b + e);
    }
    return `(pad${i}:${d})`;
  });
  let padsValue: Value;
  if (pads.every((p) => typeof p === "number")) padsValue = int64s(g, pads as number[]);
  else {
    const parts = pads.map((p) => (typeof p === "number" ? int64s(g, [p]) : p));
    padsValue = g.addNode("Concat", parts, { axis: { type: "int", value: 0 } }, [{ dtype: "int64", shape: [pads.length] }])[0]!;
  }
  const fill = x.dtype === "float16"
    ? g.addNode("Cast", [g.constant(new Tensor("float32", Float32Array.of(value), []))], { to: { type: "int", value: ONNX_DTYPE.float16 } }, [{ dtype: "float16", shape: [] }])[0]!
    : g.constant(new Tensor("float32", Float32Array.of(value), []));
  return g.addNode("Pad", [x, padsValue, fill], { mode: { type: "string", value: "constant" } }, [{ dtype: x.dtype, shape }], name)[0]!;
}

/**
 * out = data, then out[indices[..., :]] += updates[...] (ONNX ScatterND, reduction add): the adjoint of
 * gather along axis 0 when indices has a trailing axis of 1.
 */
export function scatterNDAdd(data: Value, indices: Value, updates: Value, name?: string): Value {
  if (indices.dtype !== "int64") fail("ScatterND", name, `indices must be int64, got ${indices.describe()}`);
  const k = indices.shape[indices.rank - 1];
  if (typeof k !== "number" || k > data.rank) fail("ScatterND", name, `indices ${indices.describe()} must end in a static axis of at most ${data.rank}`);
  const expect = [...indices.shape.slice(0, -1), ...data.shape.slice(k)];
  if (updates.rank !== expect.length || updates.shape.some((d, i) => String(d) !== String(expect[i]))) {
    fail("ScatterND", name, `updates ${updates.describe()} must be ${shapeToString(expect)} for data ${data.describe()} and indices ${indices.describe()}`);
  }
  return data.graph.addNode("ScatterND", [data, indices, updates], { reduction: { type: "string", value: "add" } }, [{ dtype: data.dtype, shape: data.shape }], name)[0]!;
}

/** Number of elements of x over `axes`, as a float scalar of x's dtype (computed at run time if symbolic). */
export function countOver(x: Value, axes: readonly number[]): Value {
  const g = x.graph;
  const norm = normAxes("count", axes, x.rank);
  const dims = norm.map((a) => x.shape[a]!);
  if (dims.every(isStatic)) {
    const n = (dims as number[]).reduce((a, b) => a * b, 1);
    const c = g.constant(new Tensor("float32", Float32Array.of(n), []));
    return x.dtype === "float32" ? c : g.addNode("Cast", [c], { to: { type: "int", value: ONNX_DTYPE[x.dtype] } }, [{ dtype: x.dtype, shape: [] }])[0]!;
  }
  const shp = shapeOf(x);
  const picked = g.addNode("Gather", [shp, int64s(g, norm)], { axis: { type: "int", value: 0 } }, [{ dtype: "int64", shape: [norm.length] }])[0]!;
  const prod = g.addNode("ReduceProd", [picked], { keepdims: { type: "int", value: 0 } }, [{ dtype: "int64", shape: [] }])[0]!;
  return g.addNode("Cast", [prod], { to: { type: "int", value: ONNX_DTYPE[x.dtype] } }, [{ dtype: x.dtype, shape: [] }])[0]!;
}

/** [0, 1, ..., n-1] as float32; n may be a symbolic dimension of a graph input. */
export function arange(g: Graph, n: Dim, name?: string): Value {
  if (isStatic(n)) return g.constant(new Tensor("float32", Float32Array.from({ length: n }, (_, i) => i), [n]));
  const count = shapeTensor(g, [n], "arange", name); // int64 [1]
  const scalarCount = g.addNode("Squeeze", [count, int64s(g, [0])], {}, [{ dtype: "int64", shape: [] }])[0]!;
  const limit = g.addNode("Cast", [scalarCount], { to: { type: "int", value: ONNX_DTYPE.float32 } }, [{ dtype: "float32", shape: [] }])[0]!;
  const zero = g.constant(new Tensor("float32", Float32Array.of(0), []));
  const one = g.constant(new Tensor("float32", Float32Array.of(1), []));
  return g.addNode("Range", [zero, limit, one], {}, [{ dtype: "float32", shape: [n] }], name)[0]!;
}
