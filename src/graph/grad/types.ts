// The contract between the autodiff pass and the per-op backward rules.

import type { Node, Value } from "../graph.js";

export interface GradContext {
  readonly node: Node;
  /** Gradient of the loss with respect to each output; null where that output does not reach the loss. */
  readonly gradOutputs: readonly (Value | null)[];
  /** needs[i]: whether input i wants a gradient (a rule must not build work for the others). */
  readonly needs: readonly boolean[];
}

/** One gradient per node input: null where not needed or not differentiable (integer inputs). */
export type GradRule = (ctx: GradContext) => (Value | null)[];

export type GradRules = Readonly<Record<string, GradRule>>;
