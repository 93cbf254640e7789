// Matrix products, reductions, softmax, normalisations and attention from their definitions, in
// float64 with plain loops.

import { broadcastShape, broadcastTo } from "./elementwise.js";
import { type NdArray, nd, numel, ravel, unravel } from "./nd.js";

/**
 * NumPy matmul: [..., n, k] @ [..., k, m] -> [..., n, m] with batch dims broadcast. A 1-D left operand
 * is a row [1, k] and a 1-D right operand a column [k, 1]; the added axis is dropped from the result.
 */
export function matmul(a: NdArray, b: NdArray): NdArray {
  const a2 = a.shape.length === 1 ? nd([1, a.shape[0]!], a.data) : a;
  const b2 = b.shape.length === 1 ? nd([b.shape[0]!, 1], b.data) : b;
  const [n, k] = a2.shape.slice(-2) as [number, number];
  const [k2, m] = b2.shape.slice(-2) as [number, number];
  if (k !== k2) throw new Error(`reference matmul: inner dims ${k} and ${k2} differ`);
  const batch = broadcastShape(a2.shape.slice(0, -2), b2.shape.slice(0, -2));
  const ab = broadcastTo(a2, [...batch, n, k]);
  const bb = broadcastTo(b2, [...batch, k, m]);
  const out = nd([...batch, n, m]);
  for (let t = 0; t < numel(batch); t++) {
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < m; j++) {
        let acc = 0;
        for (let p = 0; p < k; p++) acc += ab.data[(t * n + i) * k + p]! * bb.data[(t * k + p) * m + j]!;
        out.data[(t * n + i) * m + j] = acc;
      }
    }
  }
  const shape = [...batch];
  if (a.shape.length > 1) shape.push(n);
  if (b.shape.length > 1) shape.push(m);
  return nd(shape, out.data);
}

/** PyTorch nn.Linear: y[..., o] = b[o] + sum_i x[..., i] * w[o, i]. */
export function linear(x: NdArray, w: NdArray, b: NdArray | null): NdArray {
  const [outF, inF] = w.shape as [number, number];
  const rows = numel(x.shape) / inF;
  const y = nd([...x.shape.slice(0, -1), outF]);
  for (let r = 0; r < rows; r++) {
    for (let o = 0; o < outF; o++) {
      let acc = b ? b.data[o]! : 0;
      for (let i = 0; i < inF; i++) acc += x.data[r * inF + i]! * w.data[o * inF + i]!;
      y.data[r * outF + o] = acc;
    }
  }
  return y;
}

/** Sum or mean over `axes` (negative allowed), keeping reduced axes as 1 when keepDims. */
export function reduce(x: NdArray, axes: readonly number[], keepDims: boolean, kind: "sum" | "mean"): NdArray {
  const rank = x.shape.length;
  const reduced = new Set(axes.map((a) => (a < 0 ? a + rank : a)));
  const keptShape = x.shape.map((d, i) => (reduced.has(i) ? 1 : d));
  const acc = nd(keptShape);
  for (let flat = 0; flat < x.data.length; flat++) {
    const idx = unravel(flat, x.shape).map((v, i) => (reduced.has(i) ? 0 : v));
    acc.data[ravel(idx, keptShape)] += x.data[flat]!;
  }
  const count = [...reduced].reduce((n, a) => n * x.shape[a]!, 1);
  if (kind === "mean") for (let i = 0; i < acc.data.length; i++) acc.data[i]! /= count;
  return keepDims ? acc : nd(x.shape.filter((_, i) => !reduced.has(i)), acc.data);
}

/** Applies f to every 1-D line of x along `axis` (each line read and written in place of the same positions). */
function perLine(x: NdArray, axis: number, f: (line: number[]) => number[]): NdArray {
  const rank = x.shape.length;
  const ax = axis < 0 ? axis + rank : axis;
  const len = x.shape[ax]!;
  const y = nd(x.shape);
  for (let flat = 0; flat < x.data.length; flat++) {
    const idx = unravel(flat, x.shape);
    if (idx[ax] !== 0) continue; // one visit per line, from its first element
    const positions = Array.from({ length: len }, (_, j) => ravel(idx.map((v, i) => (i === ax ? j : v)), x.shape));
    const out = f(positions.map((p) => x.data[p]!));
    positions.forEach((p, j) => (y.data[p] = out[j]!));
  }
  return y;
}

/** softmax(x)_i = exp(x_i - max x) / sum_j exp(x_j - max x) along `axis`. */
export function softmax(x: NdArray, axis = -1): NdArray {
  return perLine(x, axis, (line) => {
    const max = Math.max(...line);
    const e = line.map((v) => Math.exp(v - max));
    const s = e.reduce((a, b) => a + b, 0);
    return e.map((v) => v / s);
  });
}

/** (v - mean) / sqrt(biased variance + eps) of a list of numbers. */
function standardise(values: readonly number[], eps: number): number[] {
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  const variance = values.reduce((a, b) => a + (b - mean) ** 2, 0) / values.length;
  const inv = 1 / Math.sqrt(variance + eps);
  return values.map((v) => (v - mean) * inv);
}

/** PyTorch layer_norm over the last `axes` axes; weight and bias have the normalised shape. */
export function layerNorm(x: NdArray, weight: NdArray | null, bias: NdArray | null, axes = 1, eps = 1e-5): NdArray {
  const inner = numel(x.shape.slice(x.shape.length - axes));
  const y = nd(x.shape);
  for (let r = 0; r < x.data.length / inner; r++) {
    const z = standardise(Array.from(x.data.subarray(r * inner, (r + 1) * inner)), eps);
    for (let j = 0; j < inner; j++) y.data[r * inner + j] = z[j]! * (weight ? weight.data[j]! : 1) + (bias ? bias.data[j]! : 0);
  }
  return y;
}

/**
 * PyTorch group_norm of x [N, C, ...]: channels split into `groups` consecutive runs; each (n, group)
 * is standardised over its channels and all spatial positions; then y = z * weight[c] + bias[c].
 */
export function groupNorm(x: NdArray, groups: number, weight: NdArray | null, bias: NdArray | null, eps = 1e-5): NdArray {
  const [N, C] = x.shape as [number, number];
  const spatial = numel(x.shape.slice(2));
  const perGroup = (C / groups) * spatial; // a group's channels are contiguous in memory
  const y = nd(x.shape);
  for (let n = 0; n < N; n++) {
    for (let g = 0; g < groups; g++) {
      const start = (n * C + g * (C / groups)) * spatial;
      const z = standardise(Array.from(x.data.subarray(start, start + perGroup)), eps);
      for (let j = 0; j < perGroup; j++) {
        const c = g * (C / groups) + Math.floor(j / spatial);
        y.data[start + j] = z[j]! * (weight ? weight.data[c]! : 1) + (bias ? bias.data[c]! : 0);
      }
    }
  }
  return y;
}

/** Swaps the last two axes. */
export function transposeLast(x: NdArray): NdArray {
  const [r, c] = x.shape.slice(-2) as [number, number];
  const y = nd([...x.shape.slice(0, -2), c, r]);
  for (let t = 0; t < x.data.length / (r * c); t++) {
    for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) y.data[t * r * c + j * r + i] = x.data[t * r * c + i * c + j]!;
  }
  return y;
}

/** Attention (Vaswani et al. 2017, eq. 1): softmax(q k^T * scale + mask) v; scale defaults to 1/sqrt(D). */
export function attention(q: NdArray, k: NdArray, v: NdArray, mask: NdArray | null = null, scale?: number): NdArray {
  const d = q.shape[q.shape.length - 1]!;
  const s = scale ?? 1 / Math.sqrt(d);
  let logits = matmul(q, transposeLast(k));
  logits = nd(logits.shape, logits.data.map((x) => x * s));
  if (mask) {
    const shape = broadcastShape(logits.shape, mask.shape);
    const l = broadcastTo(logits, shape);
    const m = broadcastTo(mask, shape);
    logits = nd(shape, l.data.map((x, i) => x + m.data[i]!));
  }
  return matmul(softmax(logits, -1), v);
}
