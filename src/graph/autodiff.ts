// Reverse-mode differentiation on the graph IR. Gradients are new nodes in the same graph, made of
// standard ONNX ops, so one ONNX Runtime session runs forward and backward together.
//
// Work is limited to what the loss needs: a node gets a backward rule only when one of its outputs depends
// on a differentiated value AND reaches the loss; a rule is asked only for the inputs that depend on a
// differentiated value. So a frozen layer before every trainable one costs its forward alone, and a frozen
// layer after them costs its data gradient, never a weight gradient.

import { Tensor } from "../tensor/tensor.js";
import type { Graph, Node, Value } from "./graph.js";
import { fail } from "./ops/common.js";
import { addAll } from "./ops/elementwise.js";
import { zerosLike } from "./ops/fill.js";
import { builtinGradRules, type GradRule } from "./grad/index.js";

export type { GradContext, GradRule } from "./grad/index.js";

const RULES = new Map<string, GradRule>(Object.entries(builtinGradRules));

/** Ops whose outputs carry no gradient (integer shape arithmetic, comparisons). */
const NON_DIFFERENTIABLE = new Set(["Shape", "Less", "Greater", "Equal", "ConstantOfShape", "Range", "Floor", "Ceil", "Round", "Sign"]);

/** Adds or replaces the backward rule of an op (for ops a user adds to the IR). */
export function registerGradRule(op: string, rule: GradRule): void {
  RULES.set(op, rule);
}

export function hasGradRule(op: string): boolean {
  return RULES.has(op);
}

const isFloat = (v: Value): boolean => v.dtype === "float32" || v.dtype === "float16";

/** The values that depend on any of `wrt` through differentiable float ops. */
function dependents(graph: Graph, wrt: readonly Value[]): Set<Value> {
  const out = new Set<Value>(wrt);
  for (const n of graph.nodes) {
    if (NON_DIFFERENTIABLE.has(n.op)) continue;
    if (n.inputs.some((i) => i !== null && out.has(i))) for (const o of n.outputs) if (isFloat(o)) out.add(o);
  }
  return out;
}

/** The nodes whose outputs the loss reads, directly or not. */
function ancestors(loss: Value): Set<Node> {
  const live = new Set<Node>();
  const stack: Value[] = [loss];
  while (stack.length) {
    const n = stack.pop()!.producer;
    if (n && !live.has(n)) {
      live.add(n);
      for (const i of n.inputs) if (i) stack.push(i);
    }
  }
  return live;
}

/**
 * d loss / d v for every v in `wrt`, as values of the same graph. `loss` must be a float scalar (one
 * element). A value in `wrt` that the loss does not depend on gets zeros.
 */
export function gradients(loss: Value, wrt: readonly Value[]): Map<Value, Value> {
  const graph = loss.graph;
  if (!isFloat(loss)) fail("gradients", undefined, `loss must be float, got ${loss.describe()}`);
  if (!loss.shape.every((d) => d === 1)) fail("gradients", undefined, `loss must be a scalar (one element), got ${loss.describe()}`);
  for (const v of wrt) {
    if (v.graph !== graph) fail("gradients", undefined, `${v.name} belongs to another graph`);
    if (!isFloat(v)) fail("gradients", undefined, `cannot differentiate with respect to ${v.name} (${v.describe()})`);
  }
  const depends = dependents(graph, wrt);
  const live = ancestors(loss);
  const pending = new Map<Value, Value[]>();
  const push = (v: Value, g: Value) => {
    const list = pending.get(v);
    if (list) list.push(g);
    else pending.set(v, [g]);
  };
  const ones = loss.dtype === "float32"
    ? graph.constant(new Tensor("float32", new Float32Array(1).fill(1), loss.shape as number[]))
    : graph.constant(new Tensor("float16", Uint16Array.of(0x3c00), loss.shape as number[]));
  push(loss, ones);

  for (let k = graph.nodes.length - 1; k >= 0; k--) {
    const node = graph.nodes[k]!;
    if (!live.has(node) || !node.outputs.some((o) => depends.has(o))) continue;
    const gradOutputs = node.outputs.map((o) => {
      const list = pending.get(o);
      return list ? addAll(list) : null;
    });
    if (gradOutputs.every((g) => g === null)) continue;
    const needs = node.inputs.map((i) => i !== null && depends.has(i));
    if (!needs.some(Boolean)) continue;
    const rule = RULES.get(node.op);
    if (!rule) fail("gradients", node.name, `no gradient rule for op ${node.op}`);
    const grads = rule({ node, gradOutputs, needs });
    grads.forEach((g, i) => {
      const input = node.inputs[i];
      if (!g || !input || !needs[i]) return;
      push(input, g);
    });
  }

  const result = new Map<Value, Value>();
  for (const v of wrt) {
    const list = pending.get(v);
    result.set(v, list ? addAll(list) : zerosLike(v));
  }
  return result;
}
