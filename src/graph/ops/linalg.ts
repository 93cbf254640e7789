// Matrix products, reductions, softmax and the normalisations.

import { Tensor } from "../../tensor/tensor.js";
import { type Dim, dimEq, shapeToString } from "../dim.js";
import type { Value } from "../graph.js";
import { broadcastShapes, fail, int64s, normAxes, normAxis, requireFloat } from "./common.js";
import { add, mul } from "./elementwise.js";
import { reshape, reshapeLike, transpose } from "./shape.js";

/** NumPy matmul: [..., n, k] @ [..., k, m] -> [..., n, m], batch dims broadcast; 1-D operands allowed. */
export function matmul(a: Value, b: Value, name?: string): Value {
  requireFloat("MatMul", a, name);
  if (a.dtype !== b.dtype) fail("MatMul", name, `dtypes differ: ${a.describe()} and ${b.describe()}`);
  if (a.rank < 1 || b.rank < 1) fail("MatMul", name, `operands must have rank 1 or more: ${a.describe()} @ ${b.describe()}`);
  const as = a.rank === 1 ? [1, a.shape[0]!] : a.shape;
  const bs = b.rank === 1 ? [b.shape[0]!, 1] : b.shape;
  const k1 = as[as.length - 1]!;
  const k2 = bs[bs.length - 2]!;
  if (!dimEq(k1, k2)) fail("MatMul", name, `inner dimensions differ: ${a.describe()} @ ${b.describe()} (${k1} vs ${k2})`);
  const batch = broadcastShapes("MatMul", as.slice(0, -2), bs.slice(0, -2), name);
  const out: Dim[] = [...batch];
  if (a.rank > 1) out.push(as[as.length - 2]!);
  if (b.rank > 1) out.push(bs[bs.length - 1]!);
  return a.graph.addNode("MatMul", [a, b], {}, [{ dtype: a.dtype, shape: out }], name)[0]!;
}

/** PyTorch nn.Linear: x [..., in] @ weight[out, in]^T + bias[out]. */
export function linear(x: Value, weight: Value, bias: Value | null = null, name?: string): Value {
  const label = name ?? (weight.kind === "param" ? weight.name.replace(/\.weight$/, "") : undefined);
  if (weight.rank !== 2) fail("linear", label, `weight ${weight.describe()} must be [out, in]`);
  const xin = x.shape[x.rank - 1]!;
  if (!dimEq(xin, weight.shape[1]!)) {
    fail("linear", label, `input has ${xin} features, weight expects ${weight.shape[1]} (input ${x.describe()}, weight ${weight.describe()})`);
  }
  if (bias && (bias.rank !== 1 || !dimEq(bias.shape[0]!, weight.shape[0]!))) fail("linear", label, `bias ${bias.describe()} must be [${weight.shape[0]}]`);
  const y = matmul(x, transpose(weight, [1, 0]), label);
  return bias ? add(y, bias) : y;
}

function reduce(op: "ReduceMean" | "ReduceSum", x: Value, axes: readonly number[], keepDims: boolean, name?: string): Value {
  requireFloat(op, x, name);
  // ONNX reads empty axes as "all axes"; an explicit list avoids that surprise.
  if (axes.length === 0) fail(op, name, `axes must name at least one axis of ${x.describe()}`);
  const norm = normAxes(op, axes, x.rank, name).sort((a, b) => a - b);
  const shape = keepDims ? x.shape.map((d, i) => (norm.includes(i) ? 1 : d)) : x.shape.filter((_, i) => !norm.includes(i));
  const keep = { type: "int", value: keepDims ? 1 : 0 } as const;
  // Opset 17: ReduceSum takes axes as an input, ReduceMean still as an attribute.
  if (op === "ReduceSum") return x.graph.addNode(op, [x, int64s(x.graph, norm)], { keepdims: keep }, [{ dtype: x.dtype, shape }], name)[0]!;
  return x.graph.addNode(op, [x], { axes: { type: "ints", value: norm }, keepdims: keep }, [{ dtype: x.dtype, shape }], name)[0]!;
}

export const reduceMean = (x: Value, axes: readonly number[], keepDims = true, name?: string): Value => reduce("ReduceMean", x, axes, keepDims, name);
export const reduceSum = (x: Value, axes: readonly number[], keepDims = true, name?: string): Value => reduce("ReduceSum", x, axes, keepDims, name);

export function softmax(x: Value, axis = -1, name?: string): Value {
  requireFloat("Softmax", x, name);
  const ax = normAxis("Softmax", axis, x.rank, name);
  return x.graph.addNode("Softmax", [x], { axis: { type: "int", value: ax } }, [{ dtype: x.dtype, shape: x.shape }], name)[0]!;
}

function constantLike(x: Value, value: number, n: number): Value {
  const t = new Tensor("float32", new Float32Array(n).fill(value), [n]);
  const c = x.graph.constant(t);
  return x.dtype === "float32" ? c : x.graph.addNode("Cast", [c], { to: { type: "int", value: 10 } }, [{ dtype: x.dtype, shape: [n] }])[0]!;
}

/**
 * Layer normalisation over the last `normalizedShape.length` axes (ONNX LayerNormalization, opset 17):
 * y = (x - mean) / sqrt(var + eps) * weight + bias, with the biased variance as PyTorch uses.
 */
export function layerNorm(x: Value, weight: Value | null, bias: Value | null, opts: { eps?: number; axes?: number; name?: string } = {}): Value {
  const name = opts.name ?? (weight?.kind === "param" ? weight.name.replace(/\.weight$/, "") : undefined);
  requireFloat("layer-norm", x, name);
  const k = opts.axes ?? 1;
  if (!Number.isInteger(k) || k < 1 || k > x.rank) fail("layer-norm", name, `axes must be 1..${x.rank}, got ${k}`);
  const normShape = x.shape.slice(x.rank - k);
  for (const [what, p] of [["weight", weight], ["bias", bias]] as const) {
    if (p && (p.rank !== k || !p.shape.every((d, i) => dimEq(d, normShape[i]!)))) {
      fail("layer-norm", name, `${what} ${p.describe()} must have shape ${shapeToString(normShape)} (input ${x.describe()})`);
    }
  }
  const n = normShape.reduce<number>((acc, d) => (typeof d === "number" ? acc * d : NaN), 1);
  if (!weight && Number.isNaN(n)) fail("layer-norm", name, `needs a weight when the normalised axes ${shapeToString(normShape)} are symbolic`);
  const w = weight ?? reshape(constantLike(x, 1, n), normShape);
  const inputs = bias ? [x, w, bias] : [x, w];
  return x.graph.addNode(
    "LayerNormalization",
    inputs,
    { axis: { type: "int", value: x.rank - k }, epsilon: { type: "float", value: opts.eps ?? 1e-5 } },
    [{ dtype: x.dtype, shape: x.shape }],
    name,
  )[0]!;
}

/**
 * Group normalisation (Wu & He 2018, eq. 1-2) of x [N, C, ...]: statistics over C/groups channels and all
 * spatial positions, then a per-channel affine. Built as reshape [N, G, L] -> InstanceNormalization ->
 * reshape back, the form ONNX Runtime runs fastest on CPU.
 */
export function groupNorm(x: Value, groups: number, weight: Value | null, bias: Value | null, opts: { eps?: number; name?: string } = {}): Value {
  const name = opts.name ?? (weight?.kind === "param" ? weight.name.replace(/\.weight$/, "") : undefined);
  requireFloat("group-norm", x, name);
  if (x.rank < 2) fail("group-norm", name, `input ${x.describe()} must be [N, C, ...]`);
  const c = x.shape[1]!;
  if (typeof c !== "number") fail("group-norm", name, `channel dimension must be static, got ${x.describe()}`);
  if (!Number.isInteger(groups) || groups < 1 || c % groups !== 0) fail("group-norm", name, `${c} channels do not divide into ${groups} groups`);
  for (const [what, p] of [["weight", weight], ["bias", bias]] as const) {
    if (p && (p.rank !== 1 || p.shape[0] !== c)) fail("group-norm", name, `${what} ${p.describe()} must be [${c}] (input ${x.describe()})`);
  }
  const grouped = reshape(x, [x.shape[0]!, groups, -1]); // [N, G, C/G * spatial]
  const normed = x.graph.addNode(
    "InstanceNormalization",
    [grouped, constantLike(x, 1, groups), constantLike(x, 0, groups)],
    { epsilon: { type: "float", value: opts.eps ?? 1e-5 } },
    [{ dtype: x.dtype, shape: grouped.shape }],
    name,
  )[0]!;
  let y = reshapeLike(normed, x); // [N, C, ...]
  const perChannel = [c, ...Array(x.rank - 2).fill(1)] as number[]; // broadcast over spatial axes
  if (weight) y = mul(y, reshape(weight, perChannel));
  if (bias) y = add(y, reshape(bias, perChannel));
  return y;
}
