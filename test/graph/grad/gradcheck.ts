// Gradient checking against central finite differences. The loss is L = sum(out * r) for a fixed random
// r; it is evaluated on the host in float64 from the float32 output, so the only float32 noise in a
// difference quotient is the output's own rounding. The step is h = 1e-2 * max(1, |x|), applied as the
// float32 values x + h and x - h actually take (their true distance divides the difference).

import assert from "node:assert/strict";
import { Graph, ops, type Value } from "../../../src/graph/index.js";
import { gradients } from "../../../src/graph/autodiff.js";
import { Session } from "../../../src/runtime/index.js";
import { Tensor } from "../../../src/tensor/tensor.js";

export interface GradCase {
  /** The function's output (float32, static shape). */
  output: Value;
  /** Values for every graph input and parameter. */
  feeds: Record<string, Tensor>;
  /** The inputs / parameters to differentiate with respect to. */
  wrt: Value[];
}

export interface GradCheckOptions {
  /** Largest allowed relative error, ||ad - fd||_inf / ||fd||_inf per tensor; default 1e-3. */
  rtol?: number;
  /** Elements checked per tensor (a seeded random subset when larger); default 40. */
  maxElements?: number;
  /** Relative step; default 1e-2. */
  h?: number;
  seed?: number;
}

/** Deterministic uniform numbers in [lo, hi) (a tiny LCG: test data only). */
export function uniform(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  let s = (seed * 2654435761) >>> 0 || 1;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return lo + ((s >>> 8) / 2 ** 24) * (hi - lo);
  });
}

export function randomTensor(shape: number[], seed: number, lo = -1, hi = 1): Tensor<"float32"> {
  return new Tensor("float32", uniform(shape.reduce((a, b) => a * b, 1), seed, lo, hi), shape);
}

function weightedSum(out: Float32Array, r: Float32Array): number {
  let s = 0;
  for (let i = 0; i < out.length; i++) s += out[i]! * r[i]!;
  return s;
}

/**
 * Builds the case in a fresh graph, differentiates L with the autodiff pass, and compares with central
 * differences. Returns the worst relative error per tensor (for messages).
 */
export async function gradCheck(build: (g: Graph) => GradCase, opts: GradCheckOptions = {}): Promise<Record<string, number>> {
  const rtol = opts.rtol ?? 1e-3;
  const maxElements = opts.maxElements ?? 40;
  const hRel = opts.h ?? 1e-2;
  const g = new Graph("gradcheck");
  const { output, feeds, wrt } = build(g);
  assert.ok(output.shape.every((d) => typeof d === "number"), "gradCheck needs a static output shape");
  const outShape = output.shape as number[];
  const r = randomTensor(outShape, (opts.seed ?? 7) + 1000);
  const rIn = g.input("__r", "float32", outShape);
  const loss = ops.reduceSum(ops.mul(output, rIn), [...outShape.keys()], false);
  const grads = gradients(loss, wrt);
  g.output("__out", output);
  wrt.forEach((v, i) => g.output(`__grad${i}`, grads.get(v)!));
  const session = await Session.fromGraph(g, { paramsAsInputs: "all", threads: 1 });
  try {
    const base = { ...feeds, __r: r };
    const ad = await session.run(base);
    const worst: Record<string, number> = {};
    for (const [i, v] of wrt.entries()) {
      const x = feeds[v.name];
      assert.ok(x && x.dtype === "float32", `feed for ${v.name} must be float32`);
      const adGrad = ad[`__grad${i}`]!.data as Float32Array;
      assert.deepEqual(ad[`__grad${i}`]!.shape, x.shape, `gradient of ${v.name} has the shape of ${v.name}`);
      const n = x.size;
      const picks = n <= maxElements ? [...Array(n).keys()] : [...new Set(Array.from(uniform(maxElements, (opts.seed ?? 7) + i, 0, n), Math.floor))];
      let maxErr = 0;
      let maxFd = 0;
      let worstAt = -1;
      for (const k of picks) {
        const data = (x.data as Float32Array).slice();
        const x0 = data[k]!;
        const h = hRel * Math.max(1, Math.abs(x0));
        const xp = Math.fround(x0 + h);
        const xm = Math.fround(x0 - h);
        data[k] = xp;
        const lp = weightedSum((await session.run({ ...base, [v.name]: new Tensor("float32", data, x.shape) }, ["__out"])).__out!.data as Float32Array, r.data);
        data[k] = xm;
        const lm = weightedSum((await session.run({ ...base, [v.name]: new Tensor("float32", data, x.shape) }, ["__out"])).__out!.data as Float32Array, r.data);
        const fd = (lp - lm) / (xp - xm);
        maxFd = Math.max(maxFd, Math.abs(fd));
        const err = Math.abs(fd - adGrad[k]!);
        if (err > maxErr) {
          maxErr = err;
          worstAt = k;
        }
      }
      const rel = maxErr / Math.max(maxFd, 1e-6);
      worst[v.name] = rel;
      assert.ok(
        rel <= rtol,
        `gradient of ${v.name}: relative error ${rel.toExponential(2)} > ${rtol} (worst element ${worstAt}: autodiff ${adGrad[worstAt]}, finite difference scale ${maxFd.toExponential(2)})`,
      );
    }
    return worst;
  } finally {
    await session.release();
  }
}

/** The nodes `gradients` adds for `wrt` (with loss = sum of y), and the gradients themselves. */
export function backwardNodes(build: (g: Graph) => { y: Value; wrt: Value[] }): { nodes: Graph["nodes"]; grads: Map<Value, Value> } {
  const g = new Graph("needs");
  const { y, wrt } = build(g);
  const loss = ops.reduceSum(y, [...y.shape.keys()], false);
  const before = g.nodes.length;
  const grads = gradients(loss, wrt);
  return { nodes: g.nodes.slice(before), grads };
}
