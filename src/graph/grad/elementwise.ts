// Backward rules of the element-wise ops. y is the node's output, gy its gradient; each rule is the
// derivative written next to it, then unbroadcast to the input's shape.

import { cast, cos, div, exp, log, mul, neg, sin, sub, where } from "../ops/elementwise.js";
import { zerosLike } from "../ops/fill.js";
import { input, onlyGrad, unbroadcast } from "./helpers.js";
import type { GradRule, GradRules } from "./types.js";
import type { Value } from "../graph.js";

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
  // sigmoid' = y (1 - y)
  Sigmoid: unary((_x, y, gy) => mul(gy, mul(y, sub(1, y)))),
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


