// Backward rules of the reductions: the gradient of a sum is the output gradient broadcast back over
// the reduced axes; a mean divides it by the number of elements averaged.

import type { Node, Value } from "../graph.js";
import { div } from "../ops/elementwise.js";
import { countOver, expandLike } from "../ops/fill.js";
import { unsqueeze } from "../ops/shape.js";
import { constInts, input, intAttr, intsAttr, onlyGrad } from "./helpers.js";
import type { GradRules } from "./types.js";

function reducedAxes(node: Node): number[] {
  const x = input(node, 0);
  // opset 17: ReduceSum takes axes as input 1, ReduceMean as an attribute; absent means all axes
  const raw = node.op === "ReduceSum" ? (node.inputs[1] ? constInts(node, 1) : undefined) : intsAttr(node, "axes");
  const axes = raw ?? [...Array(x.rank).keys()];
  return axes.map((a) => (a < 0 ? a + x.rank : a)).sort((a, b) => a - b);
}

function spread(node: Node, gy: Value): Value {
  const x = input(node, 0);
  const axes = reducedAxes(node);
  const kept = intAttr(node, "keepdims", 1) === 1 ? gy : unsqueeze(gy, axes);
  return expandLike(kept, x);
}

export const reduceRules: GradRules = {
  ReduceSum: ({ node, gradOutputs }) => [spread(node, onlyGrad(node, gradOutputs)), null],
  ReduceMean: ({ node, gradOutputs }) => {
    const x = input(node, 0);
    return [div(spread(node, onlyGrad(node, gradOutputs)), countOver(x, reducedAxes(node)))];
  },
};
