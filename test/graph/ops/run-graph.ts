// Compiling and running a test graph, with weights and feeds given as reference arrays.

import { Graph, type Value } from "../../../src/graph/index.js";
import { Session } from "../../../src/runtime/index.js";
import type { DType, Tensor } from "../../../src/tensor/tensor.js";
import { type NdArray, toTensor } from "../../reference/index.js";

/** Compiles `g` with the given weights (float32 unless a Tensor is given); one intra-op thread. */
export async function compile(g: Graph, weights: Record<string, NdArray | Tensor> = {}): Promise<Session> {
  const map = new Map<string, Tensor>();
  for (const [name, w] of Object.entries(weights)) map.set(name, "dtype" in w ? w : toTensor(w));
  return Session.fromGraph(g, { weights: map, threads: 1 });
}

/** Feeds reference arrays as float32 unless a Tensor is given. */
export function feeds(inputs: Record<string, NdArray | Tensor>, dtypes: Record<string, DType> = {}): Record<string, Tensor> {
  const out: Record<string, Tensor> = {};
  for (const [name, a] of Object.entries(inputs)) out[name] = "dtype" in a ? a : toTensor(a, dtypes[name] ?? "float32");
  return out;
}

/** Builds, compiles, runs once and releases: the common case of one graph, one set of inputs. */
export async function runOnce(
  build: (g: Graph) => Record<string, Value>,
  inputs: Record<string, NdArray | Tensor>,
  weights: Record<string, NdArray | Tensor> = {},
): Promise<Record<string, Tensor>> {
  const g = new Graph("op_test");
  for (const [name, v] of Object.entries(build(g))) g.output(name, v);
  const s = await compile(g, weights);
  try {
    return await s.run(feeds(inputs));
  } finally {
    await s.release();
  }
}

/** A float32 graph input shaped like `a`. */
export function inputLike(g: Graph, name: string, a: NdArray): Value {
  return g.input(name, "float32", a.shape);
}
