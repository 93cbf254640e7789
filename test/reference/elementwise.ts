// Element-wise reference ops with NumPy broadcasting, and the special functions written from their
// definitions (erf by its everywhere-convergent power series; GELU, SiLU from the papers' formulas).

import { type NdArray, nd, stridesOf, unravel } from "./nd.js";

/** NumPy broadcast of shapes: align right; each pair of dims must be equal or one of them 1. */
export function broadcastShape(...shapes: (readonly number[])[]): number[] {
  const rank = Math.max(...shapes.map((s) => s.length));
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    let d = 1;
    for (const s of shapes) {
      const sd = s[s.length - rank + i] ?? 1;
      if (sd === 1) continue;
      if (d !== 1 && d !== sd) throw new Error(`reference broadcast: shapes ${shapes.map((x) => `[${x.join(", ")}]`).join(" and ")} do not broadcast`);
      d = sd;
    }
    out.push(d);
  }
  return out;
}

/** `a` repeated along broadcast axes to `shape` (materialised; the tests' tensors are small). */
export function broadcastTo(a: NdArray, shape: readonly number[]): NdArray {
  const rank = shape.length;
  const offset = rank - a.shape.length;
  const inStrides = stridesOf(a.shape);
  const out = nd(shape);
  for (let flat = 0; flat < out.data.length; flat++) {
    const idx = unravel(flat, shape);
    let src = 0;
    for (let i = 0; i < a.shape.length; i++) src += (a.shape[i] === 1 ? 0 : idx[offset + i]!) * inStrides[i]!;
    out.data[flat] = a.data[src]!;
  }
  return out;
}

export function binary(a: NdArray, b: NdArray, f: (x: number, y: number) => number): NdArray {
  const shape = broadcastShape(a.shape, b.shape);
  const ab = broadcastTo(a, shape);
  const bb = broadcastTo(b, shape);
  return nd(shape, ab.data.map((x, i) => f(x, bb.data[i]!)));
}

export function unary(a: NdArray, f: (x: number) => number): NdArray {
  return nd(a.shape, a.data.map(f));
}

/** cond ? a : b elementwise, all three broadcast together. */
export function where(cond: NdArray, a: NdArray, b: NdArray): NdArray {
  const shape = broadcastShape(cond.shape, a.shape, b.shape);
  const c = broadcastTo(cond, shape);
  const ab = broadcastTo(a, shape);
  const bb = broadcastTo(b, shape);
  return nd(shape, c.data.map((v, i) => (v !== 0 ? ab.data[i]! : bb.data[i]!)));
}

export const add = (a: NdArray, b: NdArray) => binary(a, b, (x, y) => x + y);
export const sub = (a: NdArray, b: NdArray) => binary(a, b, (x, y) => x - y);
export const mul = (a: NdArray, b: NdArray) => binary(a, b, (x, y) => x * y);
export const div = (a: NdArray, b: NdArray) => binary(a, b, (x, y) => x / y);
export const pow = (a: NdArray, b: NdArray) => binary(a, b, (x, y) => x ** y);
export const less = (a: NdArray, b: NdArray) => binary(a, b, (x, y) => (x < y ? 1 : 0));
export const greater = (a: NdArray, b: NdArray) => binary(a, b, (x, y) => (x > y ? 1 : 0));
export const equal = (a: NdArray, b: NdArray) => binary(a, b, (x, y) => (x === y ? 1 : 0));

/**
 * erf(x) = 2/sqrt(pi) * exp(-x^2) * sum_n 2^n x^(2n+1) / (1*3*...*(2n+1))  (Abramowitz & Stegun 7.1.6).
 * Every term has the sign of x, so there is no cancellation: relative error near 1e-16 for |x| < 6.
 * Past 6, erfc(x) < 2e-17, below half an ulp of 1, so erf is +-1 in double precision.
 */
export function erf(x: number): number {
  if (Number.isNaN(x)) return NaN;
  const a = Math.abs(x);
  if (a >= 6) return Math.sign(x);
  let term = a; // n = 0
  let sum = a;
  for (let n = 1; n < 500; n++) {
    term *= (2 * a * a) / (2 * n + 1);
    sum += term;
    if (term < sum * 1e-17) break;
  }
  return Math.sign(x) * (2 / Math.sqrt(Math.PI)) * Math.exp(-a * a) * sum;
}

export const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));
/** SiLU (Elfwing et al. 2018; "swish"): x * sigmoid(x). */
export const silu = (x: number): number => x * sigmoid(x);
/** GELU (Hendrycks & Gimpel 2016): x * Phi(x) with Phi the standard normal CDF. */
export const geluExact = (x: number): number => 0.5 * x * (1 + erf(x / Math.SQRT2));
/** GELU's tanh approximation (same paper, section 2). */
export const geluTanh = (x: number): number => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));

/** A scalar as a rank-0 array. */
export function scalarNd(v: number): NdArray {
  return nd([], [v]);
}
