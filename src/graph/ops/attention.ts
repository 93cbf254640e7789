// Scaled dot-product attention (Vaswani et al. 2017, eq. 1): softmax(Q K^T * scale + mask) V.

import { dimEq } from "../dim.js";
import type { Value } from "../graph.js";
import { fail } from "./common.js";
import { add, mul } from "./elementwise.js";
import { matmul, softmax } from "./linalg.js";
import { transpose } from "./shape.js";

export interface AttentionOptions {
  /** Multiplies the logits; default 1 / sqrt(head dim). */
  scale?: number;
  /** Added to the logits [..., Lq, Lk] (use large negatives to mask). */
  mask?: Value;
  name?: string;
}

/** q [..., Lq, D], k [..., Lk, D], v [..., Lk, Dv] -> [..., Lq, Dv]. */
export function scaledDotProductAttention(q: Value, k: Value, v: Value, opts: AttentionOptions = {}): Value {
  const name = opts.name;
  if (q.rank < 2 || k.rank !== q.rank || v.rank !== q.rank) fail("attention", name, `q ${q.describe()}, k ${k.describe()}, v ${v.describe()} must share a rank of 2 or more`);
  const d = q.shape[q.rank - 1]!;
  if (!dimEq(d, k.shape[k.rank - 1]!)) fail("attention", name, `q ${q.describe()} and k ${k.describe()} differ in head dim`);
  if (!dimEq(k.shape[k.rank - 2]!, v.shape[v.rank - 2]!)) fail("attention", name, `k ${k.describe()} and v ${v.describe()} differ in length`);
  if (typeof d !== "number" && opts.scale === undefined) fail("attention", name, `head dim ${d} is symbolic: give a scale`);
  const scale = opts.scale ?? 1 / Math.sqrt(d as number);
  const perm = [...Array(k.rank).keys()];
  [perm[k.rank - 2], perm[k.rank - 1]] = [perm[k.rank - 1]!, perm[k.rank - 2]!];
  // Scaling q before the product costs Lq*D multiplies instead of Lq*Lk.
  let logits = matmul(mul(q, scale), transpose(k, perm)); // [..., Lq, Lk]
  if (opts.mask) logits = add(logits, opts.mask);
  return matmul(softmax(logits, -1), v, name); // [..., Lq, Dv]
}
