// A plain n-d array for the reference implementations: a shape and float64 data in row-major
// (C) order. Integers and booleans are held as float64 too (bool: 0 or 1); the reference never needs
// integers past 2^53. Conversions to and from the project's Tensor are the only link to src/.

import { Tensor, type DType } from "../../src/tensor/tensor.js";
import { halfBitsToNumber, numberToHalfBits } from "./float16.js";
import type { Rng } from "./random.js";

export interface NdArray {
  readonly shape: readonly number[];
  readonly data: Float64Array;
}

export function numel(shape: readonly number[]): number {
  return shape.reduce((n, d) => n * d, 1);
}

/** Row-major strides: the flat distance between neighbours along each axis. */
export function stridesOf(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length).fill(1);
  for (let i = shape.length - 2; i >= 0; i--) s[i] = s[i + 1]! * shape[i + 1]!;
  return s;
}

/** The multi-index of flat position `flat`. */
export function unravel(flat: number, shape: readonly number[]): number[] {
  const idx = new Array<number>(shape.length).fill(0);
  for (let i = shape.length - 1; i >= 0; i--) {
    idx[i] = flat % shape[i]!;
    flat = Math.floor(flat / shape[i]!);
  }
  return idx;
}

/** The flat position of multi-index `idx`. */
export function ravel(idx: readonly number[], shape: readonly number[]): number {
  let flat = 0;
  for (let i = 0; i < shape.length; i++) flat = flat * shape[i]! + idx[i]!;
  return flat;
}

export function nd(shape: readonly number[], data?: ArrayLike<number>): NdArray {
  const n = numel(shape);
  const d = data === undefined ? new Float64Array(n) : Float64Array.from(data);
  if (d.length !== n) throw new Error(`nd: shape [${shape.join(", ")}] needs ${n} values, got ${d.length}`);
  return { shape: [...shape], data: d };
}

/** Element at a multi-index. */
export function at(a: NdArray, idx: readonly number[]): number {
  return a.data[ravel(idx, a.shape)]!;
}

export function mapNd(a: NdArray, f: (v: number, flat: number) => number): NdArray {
  return { shape: [...a.shape], data: a.data.map(f) };
}

export function absNd(a: NdArray): NdArray {
  return mapNd(a, Math.abs);
}

/** Uniform values in [lo, hi), each rounded to float32 (see random.ts). */
export function randomNd(rng: Rng, shape: readonly number[], lo = -1, hi = 1): NdArray {
  const a = nd(shape);
  for (let i = 0; i < a.data.length; i++) a.data[i] = Math.fround(rng.uniform(lo, hi));
  return a;
}

/** Standard-normal values times `std` plus `mean`, rounded to float32. */
export function randnNd(rng: Rng, shape: readonly number[], std = 1, mean = 0): NdArray {
  const a = nd(shape);
  for (let i = 0; i < a.data.length; i++) a.data[i] = Math.fround(mean + std * rng.normal());
  return a;
}

/** Integers uniform in [lo, hi]. */
export function randomIntNd(rng: Rng, shape: readonly number[], lo: number, hi: number): NdArray {
  const a = nd(shape);
  for (let i = 0; i < a.data.length; i++) a.data[i] = rng.int(lo, hi);
  return a;
}

/** The project's Tensor holding `a` (floats rounded to float32 / float16, integers checked). */
export function toTensor(a: NdArray, dtype: DType = "float32"): Tensor {
  const ints = (what: string) => {
    for (const v of a.data) if (!Number.isInteger(v)) throw new Error(`toTensor: ${v} is not an integer (${what})`);
  };
  switch (dtype) {
    case "float32": return new Tensor("float32", Float32Array.from(a.data), a.shape);
    case "float16": return new Tensor("float16", Uint16Array.from(a.data, numberToHalfBits), a.shape);
    case "int64": ints(dtype); return new Tensor("int64", BigInt64Array.from(a.data, (v) => BigInt(v)), a.shape);
    case "int32": ints(dtype); return new Tensor("int32", Int32Array.from(a.data), a.shape);
    case "uint8": ints(dtype); return new Tensor("uint8", Uint8Array.from(a.data), a.shape);
    case "bool": return new Tensor("bool", Uint8Array.from(a.data, (v) => (v !== 0 ? 1 : 0)), a.shape);
  }
}

/** The values of a Tensor as float64 (float16 decoded from its bits, bool as 0/1). */
export function fromTensor(t: Tensor): NdArray {
  if (t.dtype === "float16") return nd(t.shape, Array.from(t.data as Uint16Array, halfBitsToNumber));
  if (t.dtype === "int64") return nd(t.shape, Array.from(t.data as BigInt64Array, (v) => Number(v)));
  return nd(t.shape, t.data as ArrayLike<number>);
}

/** Python-like rendering of a multi-index, for messages. */
export function indexString(idx: readonly number[]): string {
  return `[${idx.join(", ")}]`;
}
