// The symbolic graph IR. A Graph holds inputs, parameters (named weights whose data comes later),
// constants (small tensors known now) and nodes. Each node is one standard ONNX operator, so emission
// is a direct translation and every gradient rule (autodiff) is written per ONNX op. Composite layers
// (silu, gelu, group norm, attention, ...) are functions that add several primitive nodes.

import type { DType, Tensor } from "../tensor/tensor.js";
import { type Dim, canonical, isSymbolName, shapeToString } from "./dim.js";

export type Attr =
  | { type: "int"; value: number }
  | { type: "float"; value: number }
  | { type: "ints"; value: readonly number[] }
  | { type: "floats"; value: readonly number[] }
  | { type: "string"; value: string }
  | { type: "tensor"; value: Tensor };

export type Attrs = Readonly<Record<string, Attr>>;

export const attr = {
  int: (value: number): Attr => ({ type: "int", value }),
  float: (value: number): Attr => ({ type: "float", value }),
  ints: (value: readonly number[]): Attr => ({ type: "ints", value: [...value] }),
  floats: (value: readonly number[]): Attr => ({ type: "floats", value: [...value] }),
  string: (value: string): Attr => ({ type: "string", value }),
  tensor: (value: Tensor): Attr => ({ type: "tensor", value }),
};

export type ValueKind = "input" | "param" | "constant" | "node";

export class Value {
  constructor(
    readonly graph: Graph,
    readonly id: number,
    readonly kind: ValueKind,
    readonly name: string,
    readonly dtype: DType,
    readonly shape: readonly Dim[],
    readonly producer: Node | null,
  ) {}

  get rank(): number {
    return this.shape.length;
  }

  describe(): string {
    return `${this.dtype}${shapeToString(this.shape)}`;
  }
}

export interface Node {
  readonly id: number;
  /** ONNX operator type, e.g. "Conv". */
  readonly op: string;
  /** Human-readable name used in errors and in the emitted NodeProto, e.g. "down_blocks.0.resnets.0.conv1". */
  readonly name: string;
  /** Inputs in ONNX order; null marks an omitted optional input. */
  readonly inputs: readonly (Value | null)[];
  readonly outputs: readonly Value[];
  readonly attrs: Attrs;
}

export interface ParamSpec {
  readonly value: Value;
  /** Whether the parameter is meant to be trained; frozen ones still take data gradients through them. */
  trainable: boolean;
}

export class Graph {
  readonly nodes: Node[] = [];
  readonly inputs: Value[] = [];
  readonly outputs: { name: string; value: Value }[] = [];
  readonly params = new Map<string, ParamSpec>();
  readonly constants = new Map<Value, Tensor>();
  /** For each dimension symbol, the first graph input and axis where it stands alone (for run-time shapes). */
  readonly symbolSources = new Map<string, { value: Value; axis: number }>();
  private nextId = 0;
  private names = new Set<string>();

  constructor(readonly name = "vidrd") {}

  private claim(name: string, what: string): void {
    if (this.names.has(name)) throw new Error(`graph ${this.name}: ${what} name "${name}" is already used`);
    this.names.add(name);
  }

  /** A graph input. Shape dims are numbers or symbols ("B", "F", "H", "W"). */
  input(name: string, dtype: DType, shape: readonly Dim[]): Value {
    this.claim(name, "input");
    const dims = shape.map(canonical);
    const v = new Value(this, this.nextId++, "input", name, dtype, dims, null);
    this.inputs.push(v);
    dims.forEach((d, axis) => {
      if (typeof d === "string" && isSymbolName(d) && !this.symbolSources.has(d)) this.symbolSources.set(d, { value: v, axis });
    });
    return v;
  }

  /** A named weight (`down_blocks.0.resnets.0.conv1.weight`); its data is supplied at emission. */
  param(name: string, shape: readonly number[], dtype: DType = "float32", trainable = true): Value {
    if (!/^[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*$/.test(name)) {
      throw new Error(`parameter name "${name}" must be dotted identifiers like "down_blocks.0.resnets.0.conv1.weight"`);
    }
    for (const d of shape) {
      if (!Number.isInteger(d) || d < 0) throw new Error(`parameter ${name}: shape ${shapeToString(shape)} must be non-negative integers`);
    }
    this.claim(name, "parameter");
    const v = new Value(this, this.nextId++, "param", name, dtype, [...shape], null);
    this.params.set(name, { value: v, trainable });
    return v;
  }

  /** A constant tensor baked into the graph. */
  constant(t: Tensor): Value {
    const id = this.nextId++;
    const v = new Value(this, id, "constant", `const_${id}`, t.dtype, [...t.shape], null);
    this.constants.set(v, t);
    return v;
  }

  /**
   * Adds one node. `outputs` gives each output's dtype and shape, which the op builder computed and checked.
   * Builders in ops/ call this; model code calls the builders.
   */
  addNode(
    op: string,
    inputs: readonly (Value | null)[],
    attrs: Attrs,
    outputs: readonly { dtype: DType; shape: readonly Dim[] }[],
    name?: string,
  ): Value[] {
    for (const v of inputs) {
      if (v && v.graph !== this) throw new Error(`${op} ${name ?? ""}: input ${v.name} belongs to another graph`);
    }
    const id = this.nextId++;
    const outs: Value[] = [];
    const node: Node = { id, op, name: name ?? `${op}_${id}`, inputs: [...inputs], outputs: outs, attrs };
    outputs.forEach((o, i) => {
      outs.push(new Value(this, this.nextId++, "node", `${node.name}:${i}#${id}`, o.dtype, o.shape.map(canonical), node));
    });
    this.nodes.push(node);
    return outs;
  }

  /** Marks a value as a graph output under `name`. */
  output(name: string, value: Value): void {
    if (value.graph !== this) throw new Error(`output ${name}: value belongs to another graph`);
    this.claim(name, "output");
    this.outputs.push({ name, value });
  }

  /** Parameters in creation order. */
  paramList(): ParamSpec[] {
    return [...this.params.values()];
  }
}
