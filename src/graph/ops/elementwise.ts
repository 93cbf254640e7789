// Element-wise primitives (one ONNX op each) and the activations composed from them.

import type { DType } from "../../tensor/tensor.js";
import type { Value } from "../graph.js";
import { type Operand, ONNX_DTYPE, broadcastShapes, coerce, fail, requireFloat } from "./common.js";

function binary(op: string, a: Operand, b: Operand, name?: string): Value {
  const [va, vb] = coerce(op, a, b, name);
  const shape = broadcastShapes(op, va.shape, vb.shape, name);
  return va.graph.addNode(op, [va, vb], {}, [{ dtype: va.dtype, shape }], name)[0]!;
}

function unary(op: string, x: Value, name?: string, float = true): Value {
  if (float) requireFloat(op, x, name);
  return x.graph.addNode(op, [x], {}, [{ dtype: x.dtype, shape: x.shape }], name)[0]!;
}

export const add = (a: Operand, b: Operand, name?: string): Value => binary("Add", a, b, name);
export const sub = (a: Operand, b: Operand, name?: string): Value => binary("Sub", a, b, name);
export const mul = (a: Operand, b: Operand, name?: string): Value => binary("Mul", a, b, name);
export const div = (a: Operand, b: Operand, name?: string): Value => binary("Div", a, b, name);
export const pow = (a: Operand, b: Operand, name?: string): Value => binary("Pow", a, b, name);

export const sqrt = (x: Value, name?: string): Value => unary("Sqrt", x, name);
export const exp = (x: Value, name?: string): Value => unary("Exp", x, name);
export const log = (x: Value, name?: string): Value => unary("Log", x, name);
export const neg = (x: Value, name?: string): Value => unary("Neg", x, name, false);
export const sigmoid = (x: Value, name?: string): Value => unary("Sigmoid", x, name);
export const tanh = (x: Value, name?: string): Value => unary("Tanh", x, name);
export const erf = (x: Value, name?: string): Value => unary("Erf", x, name);
export const sin = (x: Value, name?: string): Value => unary("Sin", x, name);
export const cos = (x: Value, name?: string): Value => unary("Cos", x, name);
export const identity = (x: Value, name?: string): Value => unary("Identity", x, name, false);

/** Sum of one or more values as a balanced tree of adds (a short dependency chain). */
export function addAll(values: readonly Value[]): Value {
  if (values.length === 0) throw new Error("addAll needs at least one value");
  let level = [...values];
  while (level.length > 1) {
    const next: Value[] = [];
    for (let i = 0; i < level.length; i += 2) next.push(i + 1 < level.length ? add(level[i]!, level[i + 1]!) : level[i]!);
    level = next;
  }
  return level[0]!;
}

/** SiLU / swish: x * sigmoid(x). */
export function silu(x: Value, name?: string): Value {
  return mul(x, sigmoid(x, name && `${name}.sigmoid`), name);
}

/**
 * GELU. "exact": x/2 * (1 + erf(x / sqrt 2)); "tanh": x/2 * (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))),
 * the approximation of Hendrycks & Gimpel (2016), eq. in section 2. ONNX Runtime fuses both patterns.
 */
export function gelu(x: Value, approximate: "exact" | "tanh" = "exact", name?: string): Value {
  requireFloat("Gelu", x, name);
  let inner: Value;
  if (approximate === "exact") {
    inner = erf(div(x, Math.SQRT2)); // spelled x / sqrt 2: the pattern ONNX Runtime fuses into one Gelu
  } else {
    const cube = mul(mul(x, x), x);
    inner = tanh(mul(add(x, mul(cube, 0.044715)), Math.sqrt(2 / Math.PI)));
  }
  return mul(mul(x, 0.5), add(inner, 1), name);
}

/** where(cond, a, b): a where cond is true, else b (broadcasting all three). */
export function where(cond: Value, a: Operand, b: Operand, name?: string): Value {
  if (cond.dtype !== "bool") fail("Where", name, `condition must be bool, got ${cond.describe()}`);
  const [va, vb] = coerce("Where", a, b, name);
  const shape = broadcastShapes("Where", broadcastShapes("Where", cond.shape, va.shape, name), vb.shape, name);
  return cond.graph.addNode("Where", [cond, va, vb], {}, [{ dtype: va.dtype, shape }], name)[0]!;
}

export function cast(x: Value, to: DType, name?: string): Value {
  if (x.dtype === to) return x;
  return x.graph.addNode("Cast", [x], { to: { type: "int", value: ONNX_DTYPE[to] } }, [{ dtype: to, shape: x.shape }], name)[0]!;
}

/** Comparisons give bool tensors (for masks and where). */
function compare(op: string, a: Operand, b: Operand, name?: string): Value {
  const [va, vb] = coerce(op, a, b, name);
  const shape = broadcastShapes(op, va.shape, vb.shape, name);
  return va.graph.addNode(op, [va, vb], {}, [{ dtype: "bool", shape }], name)[0]!;
}

export const less = (a: Operand, b: Operand, name?: string): Value => compare("Less", a, b, name);
export const greater = (a: Operand, b: Operand, name?: string): Value => compare("Greater", a, b, name);
export const equal = (a: Operand, b: Operand, name?: string): Value => compare("Equal", a, b, name);
