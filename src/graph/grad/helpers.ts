// Helpers shared by backward rules.

import { dimEq } from "../dim.js";
import type { Node, Value } from "../graph.js";
import { reduceSum } from "../ops/linalg.js";
import { fail } from "../ops/common.js";

/**
 * Sums a gradient over the axes that broadcasting added or stretched, so it has `target`'s shape
 * (the adjoint of NumPy broadcasting).
 */
export function unbroadcast(grad: Value, target: Value): Value {
  const lead = grad.rank - target.rank;
  if (lead < 0) fail("unbroadcast", undefined, `gradient ${grad.describe()} has lower rank than ${target.describe()}`);
  let g = grad;
  if (lead > 0) g = reduceSum(g, [...Array(lead).keys()], false);
  const stretched = target.shape.flatMap((d, i) => (d === 1 && !dimEq(g.shape[i]!, 1) ? [i] : []));
  if (stretched.length) g = reduceSum(g, stretched, true);
  return g;
}

/** The gradient of the single output, or an error naming the node when a rule cannot use it. */
export function onlyGrad(node: Node, grads: readonly (Value | null)[]): Value {
  const g = grads[0];
  if (!g) fail("gradients", node.name, `${node.op} output has no gradient`);
  return g;
}

/** The node's input i (non-null, as rules only see present inputs). */
export function input(node: Node, i: number): Value {
  const v = node.inputs[i];
  if (!v) fail("gradients", node.name, `${node.op} input ${i} is missing`);
  return v;
}

/** Reads an int attribute with a default. */
export function intAttr(node: Node, name: string, dflt: number): number {
  const a = node.attrs[name];
  return a && a.type === "int" ? a.value : dflt;
}

/** Reads a float attribute with a default. */
export function floatAttr(node: Node, name: string, dflt: number): number {
  const a = node.attrs[name];
  return a && a.type === "float" ? a.value : dflt;
}

export function intsAttr(node: Node, name: string): readonly number[] | undefined {
  const a = node.attrs[name];
  return a && a.type === "ints" ? a.value : undefined;
}

/** Reads the values of a constant int64 input (axes, shapes, pads); an error if it is computed at run time. */
export function constInts(node: Node, i: number): number[] {
  const v = input(node, i);
  const t = v.graph.constants.get(v);
  if (!t || t.dtype !== "int64") fail("gradients", node.name, `${node.op} input ${i} must be a constant int64 tensor for its backward rule`);
  return Array.from(t.data as BigInt64Array, Number);
}

