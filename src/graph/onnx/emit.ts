// Emission of a Graph as an ONNX ModelProto (opset 17). Parameters become initializers (inference: about
// 2x faster than feeding them) or graph inputs (training). Weights past protobuf's 2 GB message limit go
// to an external data file next to the model (ONNX external data: location, offset, length).
//
// Emission is planned first (checks, folding, names, where each initializer goes) without reading any
// weight data, then the data is read source by source (initializers.ts). `emitOnnx` collects the result
// in memory; `writeOnnx` streams external data to its file as it is read, so a model of any size is
// written holding one weight at a time.

import { basename, dirname, join } from "node:path";
import { endianness } from "node:os";
import { writeAll, writeFileAtomic } from "../../io/atomic-file.js";
import { type DType, Tensor, numel, sameShape } from "../../tensor/tensor.js";
import type { Dim } from "../dim.js";
import { type Attr, type DimConstraint, type Graph, type Node, type Value, RESERVED_NAME_PREFIX } from "../graph.js";
import { ONNX_DTYPE } from "../ops/common.js";
import { foldParameterViews } from "./fold.js";
import {
  GraphWeightsError,
  type InitializerLayout,
  type LazyWeight,
  type LazyWeightSource,
  type PlannedInitializer,
  byteLengthOf,
  layoutInitializers,
  streamInitializers,
} from "./initializers.js";
import { ATTR_TYPE, IR_VERSION, onnxType } from "./proto.js";

export { GraphWeightsError, type LazyWeight, type LazyWeightSource } from "./initializers.js";

export const OPSET = 17;

/** Weights by parameter name: a map, or a function (return undefined for a missing one). */
export type WeightSource = ReadonlyMap<string, Tensor> | ((name: string) => Tensor | undefined);

export interface EmitOptions {
  /** In-memory weights, or lazy ones (read once each, when written: what a multi-GB cold build wants). */
  weights?: WeightSource | LazyWeightSource;
  /** Parameters fed as graph inputs instead of baked in: none (default), all, the trainable ones, or a test. */
  paramsAsInputs?: "none" | "all" | "trainable" | ((name: string) => boolean);
  /** Put tensor data in an external file: "auto" (when the weights pass `externalThreshold` bytes), always, never. */
  externalData?: "auto" | "always" | "never";
  /** Total initializer bytes above which "auto" goes external; default 1.5 GiB, below protobuf's 2 GB limit. */
  externalThreshold?: number;
  /** File name of the external data, relative to the model file; default "<model>.data". */
  externalFileName?: string;
}

export interface EmittedModel {
  /** The serialized ModelProto. */
  bytes: Uint8Array;
  /** Tensor data to be written at the given offsets of `fileName` (beside the model), when external. */
  external: { fileName: string; chunks: { offset: number; data: Uint8Array }[]; totalBytes: number } | null;
  /** Names of the parameters that are graph inputs, in order. */
  paramInputs: string[];
  /** What the emitted nodes' shapes assume about run-time sizes (Session.check verifies them). */
  constraints: DimConstraint[];
}

/** What `writeOnnx` wrote: the model file's size and, when external, the data file's name and size. */
export interface WrittenModel {
  modelBytes: number;
  external: { fileName: string; totalBytes: number } | null;
  paramInputs: string[];
  constraints: DimConstraint[];
}

/** An emission worked out up to reading the weights: see `planOnnx`. */
export interface EmissionPlan {
  readonly graphName: string;
  /** The external data file's name (relative to the model file), or null when all data is inline. */
  readonly externalFileName: string | null;
  /** Bytes of all initializer data, inline or external. */
  readonly dataBytes: number;
  readonly paramInputs: string[];
  readonly constraints: DimConstraint[];
  readonly layout: InitializerLayout;
  /** The ModelProto as a plain object, initializers without their data. */
  readonly model: { graph: { initializer: object[] } & Record<string, unknown> } & Record<string, unknown>;
}

function bytesOf(t: Tensor): Uint8Array {
  const d = t.data;
  return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
}

function valueInfo(name: string, dtype: DType, shape: readonly Dim[]) {
  return {
    name,
    type: { tensorType: { elemType: ONNX_DTYPE[dtype], shape: { dim: shape.map((d) => (typeof d === "number" ? { dimValue: d } : { dimParam: String(d) })) } } },
  };
}

function attribute(name: string, a: Attr) {
  switch (a.type) {
    case "int": return { name, type: ATTR_TYPE.INT, i: a.value };
    case "float": return { name, type: ATTR_TYPE.FLOAT, f: a.value };
    case "ints": return { name, type: ATTR_TYPE.INTS, ints: [...a.value] };
    case "floats": return { name, type: ATTR_TYPE.FLOATS, floats: [...a.value] };
    case "string": return { name, type: ATTR_TYPE.STRING, s: new TextEncoder().encode(a.value) };
    case "tensor": return { name, type: ATTR_TYPE.TENSOR, t: { dims: [...a.value.shape], dataType: ONNX_DTYPE[a.value.dtype], rawData: bytesOf(a.value) } };
  }
}

/** Nodes needed for the outputs, in graph order (dead nodes are not emitted). */
function liveNodes(graph: Graph): Node[] {
  const live = new Set<Node>();
  const stack: Value[] = graph.outputs.map((o) => o.value);
  while (stack.length) {
    const v = stack.pop()!;
    const n = v.producer;
    if (n && !live.has(n)) {
      live.add(n);
      for (const i of n.inputs) if (i) stack.push(i);
    }
  }
  return graph.nodes.filter((n) => live.has(n));
}

function inMemory(t: Tensor): LazyWeight {
  return { dtype: t.dtype, shape: t.shape, read: () => t };
}

/** Every kind of weight source as lazy entries; in-memory tensors are "read" as they are. */
function lazyLookup(weights: EmitOptions["weights"]): (name: string) => LazyWeight | undefined {
  if (!weights) return () => undefined;
  if (typeof weights === "function") {
    return (name) => {
      const t = weights(name);
      return t && inMemory(t);
    };
  }
  if ("lazy" in weights && typeof weights.lazy === "function") return (name) => weights.lazy(name);
  const map = weights as ReadonlyMap<string, Tensor>;
  return (name) => {
    const t = map.get(name);
    return t && inMemory(t);
  };
}

function describeEntry(w: LazyWeight): string {
  return `${w.dtype}[${Array.isArray(w.shape) ? w.shape.join(", ") : String(w.shape)}]`;
}

/** Plans the emission of `graph`: checks every baked weight (missing, shape, dtype) without reading its data. */
export function planOnnx(graph: Graph, opts: EmitOptions = {}): EmissionPlan {
  if (endianness() !== "LE") throw new Error("ONNX raw tensor data is little-endian; this host is big-endian");
  if (graph.outputs.length === 0) throw new Error(`graph ${graph.name}: no outputs to emit`);
  let nodes = liveNodes(graph);
  const used = new Set<Value>(graph.outputs.map((o) => o.value));
  for (const n of nodes) for (const i of n.inputs) if (i) used.add(i);

  const asInput = opts.paramsAsInputs ?? "none";
  const isInput = (name: string): boolean =>
    asInput === "all" ? true : asInput === "none" ? false : asInput === "trainable" ? graph.params.get(name)!.trainable : asInput(name);

  // Check every baked-in parameter at once: missing, wrong shape, wrong dtype.
  const lookup = lazyLookup(opts.weights);
  const problems: string[] = [];
  const baked = new Map<Value, LazyWeight>();
  const paramInputs: Value[] = [];
  for (const { value } of graph.paramList()) {
    if (!used.has(value)) continue;
    if (isInput(value.name)) {
      paramInputs.push(value);
      continue;
    }
    const w = lookup(value.name);
    if (!w) problems.push(`missing ${value.name} (${value.describe()})`);
    else if (w.dtype !== value.dtype || !Array.isArray(w.shape) || !sameShape(w.shape, value.shape as number[])) {
      problems.push(`${value.name}: expected ${value.describe()}, got ${describeEntry(w)}`);
    } else baked.set(value, w);
  }
  if (problems.length) throw new GraphWeightsError(`graph ${graph.name}: ${problems.length} weight problem(s):\n  ${problems.join("\n  ")}`);
  // Reshapes and row slices of baked parameters become initializers over ranges of their bytes (fold.ts).
  const { kept, views } = foldParameterViews(nodes, new Set(baked.keys()), graph.constants, new Set(graph.outputs.map((o) => o.value)));
  nodes = kept;
  const reads = new Set<Value>(graph.outputs.map((o) => o.value));
  for (const n of nodes) for (const i of n.inputs) if (i) reads.add(i);

  // ONNX names: inputs, parameters and graph outputs keep their names; constants and other node outputs
  // get short unique ones under a prefix that Graph refuses for user names, so the two never collide.
  const onnxName = new Map<Value, string>();
  const internal = (v: Value): string => `${RESERVED_NAME_PREFIX}${v.kind === "constant" ? "c" : "v"}${v.id}`;
  const initializers: PlannedInitializer[] = [];
  for (const [value, source] of baked) {
    if (!reads.has(value)) continue; // read only through folded views
    initializers.push({ name: value.name, dtype: value.dtype, shape: source.shape, key: value, source, begin: 0, end: numel(source.shape) });
  }
  for (const [v, t] of graph.constants) {
    if (!reads.has(v)) continue;
    onnxName.set(v, internal(v));
    initializers.push({ name: internal(v), dtype: t.dtype, shape: t.shape, key: v, source: inMemory(t), begin: 0, end: t.size });
  }
  for (const [v, view] of views) {
    if (!reads.has(v)) continue;
    onnxName.set(v, internal(v));
    initializers.push({ name: internal(v), dtype: view.param.dtype, shape: view.shape, key: view.param, source: baked.get(view.param)!, begin: view.begin, end: view.end });
  }
  const extraNodes: object[] = [];
  for (const n of nodes) for (const o of n.outputs) onnxName.set(o, internal(o));
  for (const { name, value } of graph.outputs) {
    if (value.kind === "node" && onnxName.get(value) === internal(value)) onnxName.set(value, name);
    else extraNodes.push({ opType: "Identity", input: [nameOf(value)], output: [name], name: `output.${name}` });
  }
  function nameOf(v: Value): string {
    return onnxName.get(v) ?? v.name;
  }

  const seenNodeNames = new Set<string>();
  const nodeProtos = nodes.map((n) => {
    const name = seenNodeNames.has(n.name) ? `${n.name}#${n.id}` : n.name;
    seenNodeNames.add(name);
    return {
      opType: n.op,
      name,
      input: n.inputs.map((i) => (i ? nameOf(i) : "")),
      output: n.outputs.map((o) => nameOf(o)),
      attribute: Object.entries(n.attrs).map(([k, a]) => attribute(k, a)),
    };
  });

  const dataBytes = initializers.reduce((s, init) => s + byteLengthOf(init), 0);
  const mode = opts.externalData ?? "auto";
  const external = mode === "always" || (mode === "auto" && dataBytes > (opts.externalThreshold ?? 1.5 * 2 ** 30));
  const fileName = opts.externalFileName ?? `${graph.name}.onnx.data`;
  const layout = layoutInitializers(initializers, external);
  const initializer = initializers.map((init, i) => {
    const base = { name: init.name, dims: [...init.shape], dataType: ONNX_DTYPE[init.dtype] };
    const offset = layout.offsets[i]!;
    if (offset === null) return base; // rawData added when read
    const location = [{ key: "location", value: fileName }, { key: "offset", value: String(offset) }, { key: "length", value: String(byteLengthOf(init)) }];
    return { ...base, dataLocation: 1, externalData: location };
  });

  return {
    graphName: graph.name,
    externalFileName: external ? fileName : null,
    dataBytes,
    paramInputs: paramInputs.map((v) => v.name),
    constraints: graph.constraintsOf(new Set(nodes)),
    layout,
    model: {
      irVersion: IR_VERSION,
      producerName: "vidrd",
      opsetImport: [{ domain: "", version: OPSET }],
      graph: {
        name: graph.name,
        node: [...nodeProtos, ...extraNodes],
        initializer,
        input: [...graph.inputs.map((v) => valueInfo(v.name, v.dtype, v.shape)), ...paramInputs.map((v) => valueInfo(v.name, v.dtype, v.shape))],
        output: graph.outputs.map(({ name, value }) => valueInfo(name, value.dtype, value.shape)),
      },
    },
  };
}

/** The ModelProto bytes of `plan`, with the inline data read by `streamInitializers`. */
function encodeModel(plan: EmissionPlan, inline: ReadonlyMap<number, Uint8Array>): Uint8Array {
  const initializer = plan.model.graph.initializer.map((entry, i) => {
    const rawData = inline.get(i);
    return rawData ? { ...entry, rawData } : entry;
  });
  const Model = onnxType("ModelProto");
  return Model.encode(Model.fromObject({ ...plan.model, graph: { ...plan.model.graph, initializer } })).finish();
}

/** Emits a planned model in memory: the ModelProto and, when external, the data chunks to write beside it. */
export function emitPlan(plan: EmissionPlan): EmittedModel {
  const chunks: { offset: number; data: Uint8Array }[] = [];
  const inline = streamInitializers(plan.graphName, plan.layout, (offset, data) => chunks.push({ offset, data }), false);
  return {
    bytes: encodeModel(plan, inline),
    external: plan.externalFileName === null ? null : { fileName: plan.externalFileName, chunks, totalBytes: plan.layout.externalBytes },
    paramInputs: plan.paramInputs,
    constraints: plan.constraints,
  };
}

export function emitOnnx(graph: Graph, opts: EmitOptions = {}): EmittedModel {
  return emitPlan(planOnnx(graph, opts));
}

/** Writes `length` zero bytes: alignment padding between external tensors. */
function writeZeros(fd: number, length: number): void {
  if (length > 0) writeAll(fd, new Uint8Array(length));
}

/**
 * Writes a planned model to `path`, and its external data (named in the plan) beside it, each file
 * atomically. External data is written as it is read, one weight at a time; the ModelProto, written
 * last, holds only the small inline tensors.
 */
export function writePlan(plan: EmissionPlan, path: string): WrittenModel {
  let inline: Map<number, Uint8Array>;
  const fileName = plan.externalFileName;
  if (fileName === null) {
    inline = streamInitializers(plan.graphName, plan.layout, () => {
      throw new Error(`graph ${plan.graphName}: no external data was planned`);
    }, false);
  } else {
    writeFileAtomic(join(dirname(path), fileName), (fd) => {
      let at = 0;
      inline = streamInitializers(plan.graphName, plan.layout, (offset, data) => {
        writeZeros(fd, offset - at);
        writeAll(fd, data);
        at = offset + data.byteLength;
      }, true);
    });
  }
  const bytes = encodeModel(plan, inline!);
  writeFileAtomic(path, (fd) => writeAll(fd, bytes));
  return {
    modelBytes: bytes.byteLength,
    external: fileName === null ? null : { fileName, totalBytes: plan.layout.externalBytes },
    paramInputs: plan.paramInputs,
    constraints: plan.constraints,
  };
}

/** Writes an emitted model to `path`, and its external data beside it, each file atomically. */
export function saveEmitted(emitted: EmittedModel, path: string): void {
  const ext = emitted.external;
  if (ext) {
    writeFileAtomic(join(dirname(path), ext.fileName), (fd) => {
      let at = 0;
      for (const c of ext.chunks) {
        writeZeros(fd, c.offset - at);
        writeAll(fd, c.data);
        at = c.offset + c.data.byteLength;
      }
    });
  }
  writeFileAtomic(path, (fd) => writeAll(fd, emitted.bytes));
}

/**
 * Emits `graph` and writes it to `path` (external data, when used, named after the model file), streaming:
 * with a lazy weight source no more than one weight's data is held at a time.
 */
export function writeOnnx(graph: Graph, path: string, opts: EmitOptions = {}): WrittenModel {
  return writePlan(planOnnx(graph, { ...opts, externalFileName: opts.externalFileName ?? `${basename(path)}.data` }), path);
}
