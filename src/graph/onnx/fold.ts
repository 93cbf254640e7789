// Folding views of baked-in parameters at emission. A reshape of a weight (a temporal Conv3d weight seen as
// a 2-D kernel) or a contiguous slice of its rows (the two halves of a GEGLU projection) would otherwise
// be computed by the runtime at load, which then holds the parameter and its copy at once. Here the view
// becomes an initializer of its own whose bytes are a range of the parameter's, and the parameter is
// dropped when nothing else reads it.
//
// Folding works on shapes and element ranges only, never on data: weights may still be unread (lazy
// sources, emit.ts), and are read once, when their bytes are written.

import { numel } from "../../tensor/tensor.js";
import type { Tensor } from "../../tensor/tensor.js";
import type { Node, Value } from "../graph.js";

/** Elements [begin, end) of a baked parameter's data, seen with `shape`. */
export interface ParamView {
  readonly param: Value;
  readonly begin: number;
  readonly end: number;
  readonly shape: readonly number[];
}

function constInts(v: Value | null, constants: ReadonlyMap<Value, Tensor>): number[] | null {
  if (!v) return null;
  const t = constants.get(v);
  return t && t.dtype === "int64" ? Array.from(t.data as BigInt64Array, Number) : null;
}

/** `node`'s output when it is a zero-copy view of `src`, else null. */
function viewOf(node: Node, src: ParamView, constants: ReadonlyMap<Value, Tensor>): ParamView | null {
  const out = node.outputs[0]!.shape;
  if (!out.every((d): d is number => typeof d === "number")) return null;
  const size = src.end - src.begin;
  if (node.op === "Reshape" || node.op === "Unsqueeze" || node.op === "Squeeze") {
    return numel(out) === size ? { ...src, shape: out } : null;
  }
  if (node.op === "Slice") {
    const [starts, ends, axes, steps] = [1, 2, 3, 4].map((i) => constInts(node.inputs[i] ?? null, constants));
    if (!starts || !ends || starts.length !== 1 || (axes && (axes.length !== 1 || axes[0] !== 0)) || (steps && steps[0] !== 1)) return null;
    const rows = src.shape[0]!;
    const clamp = (i: number) => Math.min(Math.max(i < 0 ? i + rows : i, 0), rows);
    const [first, last] = [clamp(starts[0]!), clamp(ends[0]!)];
    if (last < first || last - first !== out[0]) return null;
    const rowSize = rows === 0 ? 0 : size / rows;
    return { param: src.param, begin: src.begin + first * rowSize, end: src.begin + last * rowSize, shape: out };
  }
  return null;
}

/**
 * Splits `nodes` into those still to run and the outputs that became views of baked parameters (`baked`:
 * their values, whose shapes are all numbers); chains of views fold too.
 */
export function foldParameterViews(
  nodes: readonly Node[],
  baked: ReadonlySet<Value>,
  constants: ReadonlyMap<Value, Tensor>,
  graphOutputs: ReadonlySet<Value>,
): { kept: Node[]; views: Map<Value, ParamView> } {
  const views = new Map<Value, ParamView>();
  const whole = (p: Value): ParamView => {
    const shape = p.shape as readonly number[];
    return { param: p, begin: 0, end: numel(shape), shape };
  };
  const kept: Node[] = [];
  for (const n of nodes) {
    const input = n.inputs[0];
    const src = input ? (baked.has(input) ? whole(input) : views.get(input)) : undefined;
    const out = n.outputs[0]!;
    const view = src && n.outputs.length === 1 && !graphOutputs.has(out) ? viewOf(n, src, constants) : null;
    if (view) views.set(out, view);
    else kept.push(n);
  }
  return { kept, views };
}
