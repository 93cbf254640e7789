// Parameter naming for layer builders: a Scope is a graph plus a dotted prefix, so a layer declares
// `s.param("weight", ...)` and the graph gets `down_blocks.0.resnets.0.conv1.weight`, the key of the
// diffusers / authors' state dict.

import type { DType } from "../tensor/tensor.js";
import type { Graph, Value } from "../graph/graph.js";

export class Scope {
  constructor(
    readonly graph: Graph,
    readonly prefix = "",
    /** dtype of the parameters this scope declares. */
    readonly dtype: DType = "float32",
    /** Whether parameters declared under this scope are trainable. */
    readonly trainable = true,
  ) {}

  /** The dotted name of `name` under this scope. */
  name(name: string): string {
    return this.prefix ? `${this.prefix}.${name}` : name;
  }

  /** A child scope, e.g. s.child("resnets").child(0). */
  child(name: string | number, opts: { trainable?: boolean } = {}): Scope {
    return new Scope(this.graph, this.name(String(name)), this.dtype, opts.trainable ?? this.trainable);
  }

  param(name: string, shape: readonly number[]): Value {
    return this.graph.param(this.name(name), shape, this.dtype, this.trainable);
  }
}
