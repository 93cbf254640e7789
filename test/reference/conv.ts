// Convolution and transposed convolution over any number of spatial axes, written from the
// definitions (PyTorch / ONNX layout, float64 accumulation, plain loops).
//
//   conv:       y[n, m, o] = b[m] + sum_{c in group(m)} sum_k x[n, c, o*s - p_begin + k*d] * w[m, c', k]
//   transposed: every x[n, c, i] * w[c, m', k] is added to y[n, m, i*s - p_begin + k*d]
// with o, i, k multi-indices over the spatial axes; positions outside the input read as zero.

import { type NdArray, nd, numel, ravel, unravel } from "./nd.js";

export interface ConvParams {
  stride?: readonly number[];
  /** [begin..., end...] per spatial axis (ONNX order). */
  pads?: readonly number[];
  dilation?: readonly number[];
  groups?: number;
}

export interface ConvTransposeParams extends ConvParams {
  outputPadding?: readonly number[];
}

function resolve(p: ConvParams, spatial: number) {
  return {
    stride: p.stride ?? new Array<number>(spatial).fill(1),
    pads: p.pads ?? new Array<number>(2 * spatial).fill(0),
    dilation: p.dilation ?? new Array<number>(spatial).fill(1),
    groups: p.groups ?? 1,
  };
}

/** x [N, C, ...S], w [M, C/groups, ...K], b [M] or null -> [N, M, ...O]. */
export function conv(x: NdArray, w: NdArray, b: NdArray | null, params: ConvParams = {}): NdArray {
  const spatial = x.shape.length - 2;
  const { stride, pads, dilation, groups } = resolve(params, spatial);
  const [N, C] = x.shape as [number, number];
  const M = w.shape[0]!;
  const Cg = w.shape[1]!; // input channels per group
  const Mg = M / groups; // output channels per group
  if (Cg * groups !== C || !Number.isInteger(Mg)) throw new Error("reference conv: channel counts do not match groups");
  const S = x.shape.slice(2);
  const K = w.shape.slice(2);
  const O = S.map((s, i) => Math.floor((s + pads[i]! + pads[spatial + i]! - dilation[i]! * (K[i]! - 1) - 1) / stride[i]!) + 1);
  const y = nd([N, M, ...O]);
  const outPositions = numel(O);
  const kernelPositions = numel(K);
  for (let n = 0; n < N; n++) {
    for (let m = 0; m < M; m++) {
      const group = Math.floor(m / Mg);
      for (let op = 0; op < outPositions; op++) {
        const o = unravel(op, O);
        let acc = b ? b.data[m]! : 0;
        for (let cg = 0; cg < Cg; cg++) {
          const c = group * Cg + cg;
          for (let kp = 0; kp < kernelPositions; kp++) {
            const k = unravel(kp, K);
            const pos = o.map((oi, i) => oi * stride[i]! - pads[i]! + k[i]! * dilation[i]!);
            if (pos.some((p, i) => p < 0 || p >= S[i]!)) continue; // zero padding
            acc += x.data[ravel([n, c, ...pos], x.shape)]! * w.data[ravel([m, cg, ...k], w.shape)]!;
          }
        }
        y.data[ravel([n, m, ...o], y.shape)] = acc;
      }
    }
  }
  return y;
}

/** x [N, C, ...S], w [C, M/groups, ...K], b [M] or null -> [N, M, ...O]. */
export function convTranspose(x: NdArray, w: NdArray, b: NdArray | null, params: ConvTransposeParams = {}): NdArray {
  const spatial = x.shape.length - 2;
  const { stride, pads, dilation, groups } = resolve(params, spatial);
  const outputPadding = params.outputPadding ?? new Array<number>(spatial).fill(0);
  const [N, C] = x.shape as [number, number];
  const Cg = C / groups; // input channels per group
  const Mg = w.shape[1]!; // output channels per group
  const M = Mg * groups;
  if (w.shape[0] !== C || !Number.isInteger(Cg)) throw new Error("reference conv-transpose: channel counts do not match groups");
  const S = x.shape.slice(2);
  const K = w.shape.slice(2);
  // The conv that this transposes maps O back to S; O = (S - 1) s - p_begin - p_end + d (K - 1) + 1 + output padding.
  const O = S.map((s, i) => (s - 1) * stride[i]! - pads[i]! - pads[spatial + i]! + dilation[i]! * (K[i]! - 1) + 1 + outputPadding[i]!);
  const y = nd([N, M, ...O]);
  const outPositions = numel(O);
  if (b) {
    for (let n = 0; n < N; n++) for (let m = 0; m < M; m++) for (let op = 0; op < outPositions; op++) y.data[(n * M + m) * outPositions + op] = b.data[m]!;
  }
  const inPositions = numel(S);
  const kernelPositions = numel(K);
  for (let n = 0; n < N; n++) {
    for (let c = 0; c < C; c++) {
      const group = Math.floor(c / Cg);
      for (let ip = 0; ip < inPositions; ip++) {
        const i = unravel(ip, S);
        const xv = x.data[ravel([n, c, ...i], x.shape)]!;
        for (let kp = 0; kp < kernelPositions; kp++) {
          const k = unravel(kp, K);
          const pos = i.map((ii, a) => ii * stride[a]! - pads[a]! + k[a]! * dilation[a]!);
          if (pos.some((p, a) => p < 0 || p >= O[a]!)) continue; // cropped by padding
          for (let mg = 0; mg < Mg; mg++) {
            const m = group * Mg + mg;
            y.data[ravel([n, m, ...pos], y.shape)] += xv * w.data[ravel([c, mg, ...k], w.shape)]!;
          }
        }
      }
    }
  }
  return y;
}
