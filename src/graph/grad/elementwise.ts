// Backward rules of the element-wise ops. y is the node's output, gy its gradient; each rule is the
// derivative written next to it, then unbroadcast to the input's shape.
//
// SiLU, y = x s with s = sigmoid(x) (ops.silu), gets one rule over both nodes when s feeds this Mul
// alone: dy/dx = s + x s (1 - s) = s + y - y s, four passes over the tensor instead of the seven of the
// Mul and Sigmoid rules chained. The Mul rule then also hands s its own gradient gy x, as every input
// gets, but marks it: the Sigmoid rule passes nothing on from a marked gradient (that path is already in
// dx), so it is only read when s itself is differentiated with respect to, and otherwise never emitted.

import type { Node, Value } from "../graph.js";
import { add, cast, cos, div, exp, log, mul, neg, sin, sub, where } from "../ops/elementwise.js";
import { zerosLike } from "../ops/fill.js";
import { input, onlyGrad, unbroadcast } from "./helpers.js";
import type { GradRule, GradRules } from "./types.js";

/** Gradients of a sigmoid output that the SiLU rule has already carried through to the sigmoid's input. */
const carriedToSigmoidInput = new WeakSet<Value>();

/**
 * For y = x * sigmoid(x) (either operand order) whose sigmoid output no other node reads: the index of x
 * among the Mul's inputs, and s. Other readers of s would add their gradients to the marked one.
 */
function siluOperands(node: Node): { xIndex: number; s: Value } | null {
  for (const xIndex of [0, 1]) {
    const [x, s] = [node.inputs[xIndex], node.inputs[1 - xIndex]];
    if (!x || !s || s.producer?.op !== "Sigmoid" || s.producer.inputs[0] !== x) continue;
    const readers = s.graph.nodes.filter((n) => n.inputs.includes(s)).length;
    if (readers === 1 && !s.graph.outputs.some((o) => o.value === s)) return { xIndex, s };
  }
  return null;
}

const unary = (derivative: (x: Value, y: Value, gy: Value) => Value): GradRule =>
  ({ node, gradOutputs }) => [derivative(input(node, 0), node.outputs[0]!, onlyGrad(node, gradOutputs))];

export const elementwiseRules: GradRules = {
  // d(a + b) = da + db
  Add: ({ node, gradOutputs, needs }) => {
    const gy = onlyGrad(node, gradOutputs);
    return [needs[0] ? unbroadcast(gy, input(node, 0)) : null, needs[1] ? unbroadcast(gy, input(node, 1)) : null];
  },
  // d(a - b) = da - db
  Sub: ({ node, gradOutputs, needs }) => {
    const gy = onlyGrad(node, gradOutputs);
    return [needs[0] ? unbroadcast(gy, input(node, 0)) : null, needs[1] ? unbroadcast(neg(gy), input(node, 1)) : null];
  },
  // d(a b) = b da + a db
  Mul: ({ node, gradOutputs, needs }) => {
    const gy = onlyGrad(node, gradOutputs);
    const [a, b] = [input(node, 0), input(node, 1)];
    const silu = siluOperands(node);
    if (silu && needs[silu.xIndex]) {
      const [x, y] = [input(node, silu.xIndex), node.outputs[0]!];
      const dx = mul(gy, sub(add(silu.s, y), mul(y, silu.s))); // gy (s + y - y s), see the header
      const ds = mul(gy, x);
      carriedToSigmoidInput.add(ds);
      return silu.xIndex === 0 ? [dx, ds] : [ds, dx];
    }
    return [needs[0] ? unbroadcast(mul(gy, b), a) : null, needs[1] ? unbroadcast(mul(gy, a), b) : null];
  },
  // d(a / b) = da / b - (a / b^2) db = da / b - y db / b
  Div: ({ node, gradOutputs, needs }) => {
    const gy = onlyGrad(node, gradOutputs);
    const [a, b] = [input(node, 0), input(node, 1)];
    const gyOverB = div(gy, b);
    return [needs[0] ? unbroadcast(gyOverB, a) : null, needs[1] ? unbroadcast(neg(mul(gyOverB, node.outputs[0]!)), b) : null];
  },
  // d(a^b) = b a^(b-1) da + a^b ln(a) db
  Pow: ({ node, gradOutputs, needs }) => {
    const gy = onlyGrad(node, gradOutputs);
    const [a, b] = [input(node, 0), input(node, 1)];
    const y = node.outputs[0]!;
    return [
      needs[0] ? unbroadcast(mul(gy, mul(b, div(y, a))), a) : null,
      needs[1] ? unbroadcast(mul(gy, mul(y, log(a))), b) : null,
    ];
  },
  // sqrt'(x) = 1 / (2 sqrt(x)) = 0.5 / y
  Sqrt: unary((_x, y, gy) => div(mul(gy, 0.5), y)),
  // exp' = exp
  Exp: unary((_x, y, gy) => mul(gy, y)),
  // log'(x) = 1 / x
  Log: unary((x, _y, gy) => div(gy, x)),
  Neg: unary((_x, _y, gy) => neg(gy)),
  Identity: unary((_x, _y, gy) => gy),
  // sigmoid' = y (1 - y) = y - y^2 (tensor operands only: ONNX Runtime broadcasts a scalar slowly)
  Sigmoid: ({ node, gradOutputs }) => {
    const gy = onlyGrad(node, gradOutputs);
    if (carriedToSigmoidInput.has(gy)) return [null];
    const y = node.outputs[0]!;
    return [mul(gy, sub(y, mul(y, y)))];
  },
  // tanh' = 1 - y^2
  Tanh: unary((_x, y, gy) => mul(gy, sub(1, mul(y, y)))),
  // erf'(x) = 2 / sqrt(pi) exp(-x^2)
  Erf: unary((x, _y, gy) => mul(gy, mul(exp(neg(mul(x, x))), 2 / Math.sqrt(Math.PI)))),
  Sin: unary((x, _y, gy) => mul(gy, cos(x))),
  Cos: unary((x, _y, gy) => neg(mul(gy, sin(x)))),
  // Between float types the gradient is cast back; other casts carry none.
  Cast: ({ node, gradOutputs }) => {
    const x = input(node, 0);
    if (x.dtype !== "float32" && x.dtype !== "float16") return [null];
    return [cast(onlyGrad(node, gradOutputs), x.dtype)];
  },
  // where(c, a, b): the gradient flows to a where c holds, to b elsewhere
  Where: ({ node, gradOutputs, needs }) => {
    const gy = onlyGrad(node, gradOutputs);
    const [c, a, b] = [input(node, 0), input(node, 1), input(node, 2)];
    const zeros = needs[1] || needs[2] ? zerosLike(gy) : null;
    return [
      null,
      needs[1] ? unbroadcast(where(c, gy, zeros!), a) : null,
      needs[2] ? unbroadcast(where(c, zeros!, gy), b) : null,
    ];
  },
  // Sum of any number of inputs (the autodiff pass itself may use it)
  Sum: ({ node, gradOutputs, needs }) => {
    const gy = onlyGrad(node, gradOutputs);
    return node.inputs.map((v, i) => (v && needs[i] ? unbroadcast(gy, v) : null));
  },
};


