// Backward rules of the matrix product and softmax.
//
// MatMul follows NumPy: y[..., n, m] = sum_k a[..., n, k] b[..., k, m], batch dims broadcast, and a 1-D
// operand is promoted (a [k] -> [1, k], b [k] -> [k, 1]) with the added axis dropped from y. The rule
// promotes the same way, differentiates the 2-D-or-more product, then undoes the promotion.

import { isStatic } from "../dim.js";
import type { Value } from "../graph.js";
import { mul, sub } from "../ops/elementwise.js";
import { matmul, reduceSum } from "../ops/linalg.js";
import { reshape, squeeze, transpose, unsqueeze } from "../ops/shape.js";
import { input, intAttr, onlyGrad, unbroadcast } from "./helpers.js";
import type { GradRules } from "./types.js";

/** x with its last two axes swapped: [..., p, q] -> [..., q, p]. */
function transposeLast(x: Value): Value {
  const perm = [...x.shape.keys()];
  [perm[x.rank - 2], perm[x.rank - 1]] = [perm[x.rank - 1]!, perm[x.rank - 2]!];
  return transpose(x, perm);
}

/**
 * sum over the batch of a^T gy, for a [..., n, k] and gy [..., n, m] with the same batch dims, as one
 * product of the flattened operands: [k, batch*n] @ [batch*n, m] -> [k, m]. This is the weight gradient
 * of every linear layer; it never materialises the per-batch [..., k, m] products.
 */
function flatTransposedProduct(a: Value, gy: Value): Value {
  const k = a.shape[a.rank - 1]!;
  const m = gy.shape[gy.rank - 1]!;
  return matmul(transpose(reshape(a, [-1, k]), [1, 0]), reshape(gy, [-1, m])); // [k, batch*n] @ [batch*n, m]
}

export const linalgRules: GradRules = {
  // y = a @ b:  da = gy @ b^T,  db = a^T @ gy, each summed over the batch dims that broadcasting stretched
  MatMul: ({ node, gradOutputs, needs }) => {
    const gy = onlyGrad(node, gradOutputs);
    const [a, b] = [input(node, 0), input(node, 1)];
    const a2 = a.rank === 1 ? unsqueeze(a, [0]) : a; // [1, k]
    const b2 = b.rank === 1 ? unsqueeze(b, [1]) : b; // [k, 1]
    const rank = Math.max(a2.rank, b2.rank);
    const dropped = [...(a.rank === 1 ? [rank - 2] : []), ...(b.rank === 1 ? [rank - 1] : [])];
    const gy2 = dropped.length ? unsqueeze(gy, dropped) : gy; // [..., n, m]

    let da: Value | null = null;
    if (needs[0]) {
      da = unbroadcast(matmul(gy2, transposeLast(b2)), a2); // [..., n, k]
      if (a.rank === 1) da = squeeze(da, [0]);
    }
    let db: Value | null = null;
    if (needs[1]) {
      const k = a2.shape[a2.rank - 1]!;
      const m = gy2.shape[gy2.rank - 1]!;
      // b without batch dims against a batched a (a linear layer): sum the batch inside one product
      const flat = b2.rank === 2 && a2.rank > 2 && isStatic(k) && isStatic(m);
      db = flat ? flatTransposedProduct(a2, gy2) : unbroadcast(matmul(transposeLast(a2), gy2), b2); // [..., k, m]
      if (b.rank === 1) db = squeeze(db, [1]);
    }
    return [da, db];
  },
  // y = softmax(x) along axis:  dx = y * (gy - sum(gy * y, axis))
  Softmax: ({ node, gradOutputs }) => {
    const gy = onlyGrad(node, gradOutputs);
    const y = node.outputs[0]!;
    const axis = intAttr(node, "axis", -1);
    const gyDotY = reduceSum(mul(gy, y), [axis < 0 ? axis + y.rank : axis], true);
    return [mul(y, sub(gy, gyDotY))];
  },
};
