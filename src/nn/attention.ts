// Multi-head attention with diffusers' parameter names: to_q, to_k, to_v (bias optional, off in Stable
// Diffusion) and to_out.0 (with bias). Self-attention when `context` is null, cross-attention otherwise.

import type { Value } from "../graph/graph.js";
import * as ops from "../graph/ops/index.js";
import { linear } from "./linear.js";
import type { Scope } from "./scope.js";

export interface AttentionConfig {
  /** Channels of the queries (and of the output). */
  queryDim: number;
  /** Channels of the context; default queryDim (self-attention). */
  contextDim?: number;
  heads: number;
  headDim: number;
  /** Bias on to_q / to_k / to_v; default false. */
  qkvBias?: boolean;
}

/** [N, L, heads*D] -> [N, heads, L, D] */
function splitHeads(x: Value, heads: number, headDim: number): Value {
  const [n, l] = x.shape;
  return ops.transpose(ops.reshape(x, [n!, l!, heads, headDim]), [0, 2, 1, 3]); // [N, heads, L, D]
}

/** x [N, L, queryDim], context [N, Lc, contextDim] | null -> [N, L, queryDim] */
export function attention(s: Scope, x: Value, context: Value | null, cfg: AttentionConfig, mask?: Value): Value {
  const inner = cfg.heads * cfg.headDim;
  const ctx = context ?? x;
  const ctxDim = context ? cfg.contextDim ?? cfg.queryDim : cfg.queryDim;
  const bias = cfg.qkvBias ?? false;
  const q = splitHeads(linear(s.child("to_q"), x, cfg.queryDim, inner, { bias }), cfg.heads, cfg.headDim);
  const k = splitHeads(linear(s.child("to_k"), ctx, ctxDim, inner, { bias }), cfg.heads, cfg.headDim);
  const v = splitHeads(linear(s.child("to_v"), ctx, ctxDim, inner, { bias }), cfg.heads, cfg.headDim);
  const o = ops.scaledDotProductAttention(q, k, v, { mask, name: s.name("attention") }); // [N, heads, L, D]
  const [n, , l] = o.shape;
  const merged = ops.reshape(ops.transpose(o, [0, 2, 1, 3]), [n!, l!, inner]); // [N, L, heads*D]
  return linear(s.child("to_out").child(0), merged, inner, cfg.queryDim);
}
