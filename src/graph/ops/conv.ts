// Convolutions over 1, 2 or 3 spatial axes (ONNX Conv / ConvTranspose), weights in PyTorch layout.

import { type Dim, dimAdd, dimEq, dimMul, dimWindow, isStatic } from "../dim.js";
import type { Value } from "../graph.js";
import { fail, requireFloat } from "./common.js";

export interface ConvOptions {
  /** Per spatial axis, or one number for all. Default 1. */
  stride?: number | readonly number[];
  /** Symmetric padding per spatial axis, or [begin..., end...] of length 2 * spatial rank. Default 0. */
  padding?: number | readonly number[];
  dilation?: number | readonly number[];
  groups?: number;
  /** Node name for errors; defaults to the weight's parameter name without ".weight". */
  name?: string;
}

export interface ConvTransposeOptions extends ConvOptions {
  outputPadding?: number | readonly number[];
}

function perAxis(op: string, name: string, what: string, v: number | readonly number[] | undefined, n: number, dflt: number): number[] {
  const out = v === undefined ? Array(n).fill(dflt) : typeof v === "number" ? Array(n).fill(v) : [...v];
  if (out.length !== n || out.some((x) => !Number.isInteger(x) || x < 0)) {
    fail(op, name, `${what} must be a non-negative integer or ${n} of them, got ${JSON.stringify(v)}`);
  }
  return out;
}

function pads(op: string, name: string, v: number | readonly number[] | undefined, n: number): number[] {
  if (Array.isArray(v) && v.length === 2 * n) return perAxis(op, name, "padding", v, 2 * n, 0);
  const p = perAxis(op, name, "padding", v, n, 0);
  return [...p, ...p];
}

function nameOf(w: Value, given?: string): string {
  return given ?? (w.kind === "param" ? w.name.replace(/\.weight$/, "") : w.name);
}

interface Checked {
  name: string;
  spatial: number;
  stride: number[];
  pads: number[];
  dilation: number[];
  groups: number;
}

function check(op: string, x: Value, w: Value, bias: Value | null, opts: ConvOptions, transposed: boolean): Checked {
  const name = nameOf(w, opts.name);
  requireFloat(op, x, name);
  const spatial = w.rank - 2;
  if (spatial < 1 || spatial > 3) fail(op, name, `weight ${w.describe()} must have rank 3, 4 or 5 (1-3 spatial axes)`);
  if (x.rank !== w.rank) fail(op, name, `input ${x.describe()} must have rank ${w.rank} to match weight ${w.describe()}`);
  if (x.dtype !== w.dtype) fail(op, name, `input ${x.describe()} and weight ${w.describe()} differ in dtype`);
  const groups = opts.groups ?? 1;
  if (!Number.isInteger(groups) || groups < 1) fail(op, name, `groups must be a positive integer, got ${groups}`);
  const cin = x.shape[1]!;
  // Conv weight [M, C/groups, k...]; ConvTranspose weight [C, M/groups, k...].
  const wIn = transposed ? w.shape[0]! : dimMul(w.shape[1]!, groups);
  if (!dimEq(cin, wIn)) {
    fail(op, name, `input has ${cin} channels, weight expects ${wIn} (weight ${w.describe()}, groups ${groups})`);
  }
  if (transposed && isStatic(cin) && cin % groups !== 0) fail(op, name, `${cin} input channels do not divide into ${groups} groups`);
  const outChannels = transposed ? dimMul(w.shape[1]!, groups) : w.shape[0]!;
  if (!transposed && isStatic(outChannels) && outChannels % groups !== 0) fail(op, name, `${outChannels} output channels do not divide into ${groups} groups`);
  if (bias) {
    if (bias.rank !== 1 || !dimEq(bias.shape[0]!, outChannels)) fail(op, name, `bias ${bias.describe()} must be [${outChannels}]`);
    if (bias.dtype !== x.dtype) fail(op, name, `bias ${bias.describe()} and input ${x.describe()} differ in dtype`);
  }
  const stride = perAxis(op, name, "stride", opts.stride, spatial, 1);
  if (stride.some((s) => s < 1)) fail(op, name, `stride must be at least 1, got ${JSON.stringify(opts.stride)}`);
  const dilation = perAxis(op, name, "dilation", opts.dilation, spatial, 1);
  if (dilation.some((s) => s < 1)) fail(op, name, `dilation must be at least 1, got ${JSON.stringify(opts.dilation)}`);
  return { name, spatial, stride, pads: pads(op, name, opts.padding, spatial), dilation, groups };
}

function convAttrs(c: Checked, kernel: number[]) {
  return {
    kernel_shape: { type: "ints", value: kernel },
    strides: { type: "ints", value: c.stride },
    pads: { type: "ints", value: c.pads },
    dilations: { type: "ints", value: c.dilation },
    group: { type: "int", value: c.groups },
  } as const;
}

/** N-d convolution: x [N, C, ...spatial], weight [M, C/groups, ...kernel], bias [M]. */
export function conv(x: Value, weight: Value, bias: Value | null = null, opts: ConvOptions = {}): Value {
  const c = check("conv", x, weight, bias, opts, false);
  const kernel = weight.shape.slice(2) as number[];
  const out: Dim[] = [x.shape[0]!, weight.shape[0]!];
  for (let i = 0; i < c.spatial; i++) {
    const span = c.dilation[i]! * (kernel[i]! - 1) + 1;
    const d = dimWindow(x.shape[2 + i]!, c.pads[i]! + c.pads[c.spatial + i]!, span, c.stride[i]!);
    if (isStatic(d) && d < 1) fail("conv", c.name, `input ${x.describe()} is too small for kernel [${kernel.join(", ")}]`);
    out.push(d);
  }
  const inputs = bias ? [x, weight, bias] : [x, weight];
  return x.graph.addNode("Conv", inputs, convAttrs(c, kernel), [{ dtype: x.dtype, shape: out }], c.name)[0]!;
}

/** N-d transposed convolution: x [N, C, ...], weight [C, M/groups, ...kernel], bias [M]. */
export function convTranspose(x: Value, weight: Value, bias: Value | null = null, opts: ConvTransposeOptions = {}): Value {
  const c = check("conv-transpose", x, weight, bias, opts, true);
  const kernel = weight.shape.slice(2) as number[];
  const outPad = perAxis("conv-transpose", c.name, "outputPadding", opts.outputPadding, c.spatial, 0);
  outPad.forEach((p, i) => {
    // ONNX allows padding below max(stride, dilation); ONNX Runtime's kernels need it below the stride.
    if (p >= c.stride[i]!) fail("conv-transpose", c.name, `outputPadding ${p} must be below the stride ${c.stride[i]} on axis ${i}`);
  });
  const out: Dim[] = [x.shape[0]!, dimMul(weight.shape[1]!, c.groups)];
  for (let i = 0; i < c.spatial; i++) {
    // out = (in - 1) * stride + dilation * (k - 1) + 1 + outPad - padBegin - padEnd
    const shift = c.dilation[i]! * (kernel[i]! - 1) + 1 + outPad[i]! - c.pads[i]! - c.pads[c.spatial + i]! - c.stride[i]!;
    out.push(dimAdd(dimMul(x.shape[2 + i]!, c.stride[i]!), shift));
  }
  const attrs = { ...convAttrs(c, kernel), output_padding: { type: "ints", value: outPad } } as const;
  const inputs = bias ? [x, weight, bias] : [x, weight];
  return x.graph.addNode("ConvTranspose", inputs, attrs, [{ dtype: x.dtype, shape: out }], c.name)[0]!;
}
