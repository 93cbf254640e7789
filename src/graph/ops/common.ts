// Helpers shared by the op builders: operand coercion, broadcasting and shape errors.

import { Tensor, type DType } from "../../tensor/tensor.js";
import { float16Bits } from "../../tensor/float16.js";
import { type Dim, dimEq, shapeToString } from "../dim.js";
import type { Graph, Value } from "../graph.js";

export type Operand = Value | number;

export const FLOAT_DTYPES: readonly DType[] = ["float32", "float16"];

export class GraphShapeError extends Error {
  override name = "GraphShapeError";
}

export function fail(op: string, name: string | undefined, message: string): never {
  throw new GraphShapeError(`${op}${name ? ` ${name}` : ""}: ${message}`);
}

/** A rank-0 constant of the given dtype (float16 rounded once, from the double). */
export function scalar(g: Graph, value: number, dtype: DType): Value {
  switch (dtype) {
    case "float32": return g.constant(new Tensor("float32", Float32Array.of(value), []));
    case "int64": return g.constant(new Tensor("int64", BigInt64Array.of(BigInt(value)), []));
    case "int32": return g.constant(new Tensor("int32", Int32Array.of(value), []));
    case "uint8": return g.constant(new Tensor("uint8", Uint8Array.of(value), []));
    case "bool": return g.constant(new Tensor("bool", Uint8Array.of(value ? 1 : 0), []));
    case "float16": return g.constant(new Tensor("float16", Uint16Array.of(float16Bits(value)), []));
  }
}

/** A 1-D int64 constant (shapes, axes, pads given as ONNX inputs). */
export function int64s(g: Graph, values: readonly number[]): Value {
  return g.constant(new Tensor("int64", BigInt64Array.from(values.map((v) => BigInt(v))), [values.length]));
}

/** Turns a pair of operands into values of one dtype; at least one must be a Value. */
export function coerce(op: string, a: Operand, b: Operand, name?: string): [Value, Value] {
  if (typeof a === "number" && typeof b === "number") fail(op, name, "needs at least one graph value, got two numbers");
  const g = (typeof a === "number" ? (b as Value) : a).graph;
  const va = typeof a === "number" ? scalar(g, a, (b as Value).dtype) : a;
  const vb = typeof b === "number" ? scalar(g, b, va.dtype) : b;
  if (va.dtype !== vb.dtype) fail(op, name, `dtypes differ: ${va.describe()} and ${vb.describe()}`);
  return [va, vb];
}

/** NumPy broadcasting of two shapes; symbolic dims must match exactly or be 1. */
export function broadcastShapes(op: string, a: readonly Dim[], b: readonly Dim[], name?: string): Dim[] {
  const rank = Math.max(a.length, b.length);
  const out: Dim[] = [];
  for (let i = 0; i < rank; i++) {
    const da = a[a.length - rank + i] ?? 1;
    const db = b[b.length - rank + i] ?? 1;
    if (dimEq(da, db) || db === 1) out.push(da);
    else if (da === 1) out.push(db);
    else fail(op, name, `shapes ${shapeToString(a)} and ${shapeToString(b)} do not broadcast (axis ${i - rank}: ${da} vs ${db})`);
  }
  return out;
}

export function requireFloat(op: string, v: Value, name?: string): void {
  if (!FLOAT_DTYPES.includes(v.dtype)) fail(op, name, `needs a float tensor, got ${v.describe()}`);
}

/** Normalises a possibly negative axis against a rank, with an error naming the op. */
export function normAxis(op: string, axis: number, rank: number, name?: string): number {
  if (!Number.isInteger(axis) || axis < -rank || axis >= Math.max(rank, 1)) {
    fail(op, name, `axis ${axis} is out of range for rank ${rank} (allowed ${-rank}..${rank - 1})`);
  }
  return axis < 0 ? axis + rank : axis;
}

/** Normalises a list of axes (see normAxis); an axis named twice, directly or as a negative index, is an error. */
export function normAxes(op: string, axes: readonly number[], rank: number, name?: string): number[] {
  const norm = axes.map((a) => normAxis(op, a, rank, name));
  const repeated = norm.filter((a, i) => norm.indexOf(a) !== i);
  if (repeated.length) fail(op, name, `axes [${axes.join(", ")}] name axis ${repeated[0]} more than once (rank ${rank})`);
  return norm;
}

/** ONNX TensorProto.DataType codes. */
export const ONNX_DTYPE: Record<DType, number> = { float32: 1, uint8: 2, int32: 6, int64: 7, bool: 9, float16: 10 };
