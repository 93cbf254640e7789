// The symbolic graph IR. A Graph holds inputs, parameters (named weights whose data comes later),
// constants (small tensors known now) and nodes. Each node is one standard ONNX operator, so emission
// is a direct translation and every gradient rule (autodiff) is written per ONNX op. Composite layers
// (silu, gelu, group norm, attention, ...) are functions that add several primitive nodes.

import type { DType, Tensor } from "../tensor/tensor.js";
import { type Dim, canonical, divisibilityOf, isStatic, isSymbolName, shapeToString } from "./dim.js";
import { GraphShapeError } from "./ops/common.js";

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

/**
 * A condition on run-time sizes that the graph's symbolic shapes assume, recorded when an op builder
 * makes such a shape and verified by Session.check against the sizes the inputs bind.
 * "divisible": `dim` is a multiple of `divisor` (a stride-2 conv on H gives H/2, exact only for even H).
 * "atLeast": `dim` is at least `min` (x[0:5] on a symbolic axis is 5 long only when the axis is).
 * `op` says who assumes it ("Conv down_blocks.0.downsamplers.0.conv"); `node` is that node, if any.
 */
export type DimConstraint =
  | { readonly kind: "divisible"; readonly dim: Dim; readonly divisor: number; readonly op: string; readonly node: Node | null }
  | { readonly kind: "atLeast"; readonly dim: Dim; readonly min: number; readonly op: string; readonly node: Node | null };

/** "Conv down.0.conv needs H divisible by 2", "Slice x needs F >= 5". */
export function describeConstraint(c: DimConstraint): string {
  return c.kind === "divisible" ? `${c.op} needs ${c.dim} divisible by ${c.divisor}` : `${c.op} needs ${c.dim} >= ${c.min}`;
}

/** Who assumes a constraint: a node, or words such as "Split attn.qkv" for one recorded without a node. */
export type ConstraintReason = Node | string;

function reasonOf(reason: ConstraintReason): { op: string; node: Node | null } {
  return typeof reason === "string" ? { op: reason, node: null } : { op: `${reason.op} ${reason.name}`, node: reason };
}

/** Names the emitter gives internal values start with this; graph inputs and outputs may not. */
export const RESERVED_NAME_PREFIX = "%";

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
  /** Each condition on run-time sizes with every reason recorded for it, in order (see DimConstraint). */
  private conditions = new Map<string, DimConstraint[]>();
  private nextId = 0;
  private names = new Set<string>();

  constructor(readonly name = "vidrd") {}

  private claim(name: string, what: string): void {
    if (name.length === 0) throw new Error(`graph ${this.name}: ${what} name must not be empty`);
    if (name.startsWith(RESERVED_NAME_PREFIX)) {
      throw new Error(`graph ${this.name}: ${what} name "${name}" may not start with "${RESERVED_NAME_PREFIX}" (reserved for internal values)`);
    }
    if (this.names.has(name)) throw new Error(`graph ${this.name}: ${what} name "${name}" is already used`);
    this.names.add(name);
  }

  /** What the symbolic shapes assume about run-time sizes: each condition once, with its first reason. */
  get constraints(): DimConstraint[] {
    return [...this.conditions.values()].map((reasons) => reasons[0]!);
  }

  /**
   * The conditions that a model made of the nodes in `live` assumes, each with its first reason that is
   * live or not a node (a node no output needs restricts nothing).
   */
  constraintsOf(live: ReadonlySet<Node>): DimConstraint[] {
    return [...this.conditions.values()].flatMap((reasons) => {
      const r = reasons.find((c) => c.node === null || live.has(c.node));
      return r ? [r] : [];
    });
  }

  /**
   * Records that `dim` must be a multiple of `divisor` at run time because of `reason` (the node whose
   * shape assumes it, or words naming the op). A static dim is checked now.
   */
  requireDivisible(dim: Dim, divisor: number, reason: ConstraintReason): void {
    const { op, node } = reasonOf(reason);
    if (!Number.isInteger(divisor) || divisor < 1) throw new RangeError(`${op}: divisor must be a positive integer, got ${divisor}`);
    const d = canonical(dim);
    if (divisor === 1) return;
    if (isStatic(d)) {
      if (d % divisor !== 0) throw new GraphShapeError(`${op}: needs ${d} divisible by ${divisor}`);
      return;
    }
    this.addConstraint(`${d}|${divisor}`, { kind: "divisible", dim: d, divisor, op, node });
  }

  /** Records that `dim` must be at least `min` at run time (see requireDivisible). */
  requireAtLeast(dim: Dim, min: number, reason: ConstraintReason): void {
    const { op, node } = reasonOf(reason);
    const d = canonical(dim);
    if (isStatic(d)) {
      if (d < min) throw new GraphShapeError(`${op}: needs ${d} >= ${min}`);
      return;
    }
    if (min <= 0) return;
    this.addConstraint(`${d}>=${min}`, { kind: "atLeast", dim: d, min, op, node });
  }

  private addConstraint(key: string, c: DimConstraint): void {
    const reasons = this.conditions.get(key);
    if (!reasons) this.conditions.set(key, [c]);
    else if (!reasons.some((r) => r.op === c.op && r.node === c.node)) reasons.push(c);
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
    const inputDims = new Set(inputs.flatMap((v) => (v ? v.shape.map(String) : [])));
    outputs.forEach((o, i) => {
      const shape = o.shape.map(canonical);
      // A fractional dim this node introduces (H/2 from a stride-2 window, B*F/4 from a reshape) is a
      // size only when its numerator divides; nodes that pass it on add nothing.
      for (const d of shape) {
        const div = inputDims.has(String(d)) ? null : divisibilityOf(d);
        if (div) this.requireDivisible(div.numerator, div.divisor, node);
      }
      outs.push(new Value(this, this.nextId++, "node", `${node.name}:${i}#${id}`, o.dtype, shape, node));
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
