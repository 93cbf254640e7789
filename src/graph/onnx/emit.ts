// Emission of a Graph as an ONNX ModelProto (opset 17). Parameters become initializers (inference: about
// 2x faster than feeding them) or graph inputs (training). Weights past protobuf's 2 GB message limit go
// to an external data file next to the model (ONNX external data: location, offset, length).

import { basename, dirname, join } from "node:path";
import { endianness } from "node:os";
import { writeAll, writeFileAtomic } from "../../io/atomic-file.js";
import { type DType, Tensor, sameShape } from "../../tensor/tensor.js";
import type { Dim } from "../dim.js";
import { type Attr, type DimConstraint, type Graph, type Node, type Value, RESERVED_NAME_PREFIX } from "../graph.js";
import { ONNX_DTYPE } from "../ops/common.js";
import { foldParameterViews } from "./fold.js";
import { ATTR_TYPE, IR_VERSION, onnxType } from "./proto.js";

export const OPSET = 17;

/** Weights by parameter name: a map, or a function (return undefined for a missing one). */
export type WeightSource = ReadonlyMap<string, Tensor> | ((name: string) => Tensor | undefined);

export interface EmitOptions {
  weights?: WeightSource;
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

export class GraphWeightsError extends Error {
  override name = "GraphWeightsError";
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

function lookup(weights: WeightSource | undefined, name: string): Tensor | undefined {
  if (!weights) return undefined;
  return typeof weights === "function" ? weights(name) : weights.get(name);
}

export function emitOnnx(graph: Graph, opts: EmitOptions = {}): EmittedModel {
  if (endianness() !== "LE") throw new Error("ONNX raw tensor data is little-endian; this host is big-endian");
  if (graph.outputs.length === 0) throw new Error(`graph ${graph.name}: no outputs to emit`);
  let nodes = liveNodes(graph);
  const used = new Set<Value>(graph.outputs.map((o) => o.value));
  for (const n of nodes) for (const i of n.inputs) if (i) used.add(i);

  const asInput = opts.paramsAsInputs ?? "none";
  const isInput = (name: string): boolean =>
    asInput === "all" ? true : asInput === "none" ? false : asInput === "trainable" ? graph.params.get(name)!.trainable : asInput(name);

  // Check every baked-in parameter at once: missing, wrong shape, wrong dtype.
  const problems: string[] = [];
  let baked: { name: string; tensor: Tensor }[] = [];
  const paramInputs: Value[] = [];
  for (const { value } of graph.paramList()) {
    if (!used.has(value)) continue;
    if (isInput(value.name)) {
      paramInputs.push(value);
      continue;
    }
    const t = lookup(opts.weights, value.name);
    if (!t) problems.push(`missing ${value.name} (${value.describe()})`);
    else if (t.dtype !== value.dtype || !sameShape(t.shape, value.shape as number[])) {
      problems.push(`${value.name}: expected ${value.describe()}, got ${t.describe()}`);
    } else baked.push({ name: value.name, tensor: t });
  }
  if (problems.length) throw new GraphWeightsError(`graph ${graph.name}: ${problems.length} weight problem(s):\n  ${problems.join("\n  ")}`);
  // Reshapes and row slices of baked parameters become initializers sharing their bytes (fold.ts).
  const paramData = new Map<Value, Tensor>(baked.map(({ name, tensor }) => [graph.params.get(name)!.value, tensor]));
  const { kept, views } = foldParameterViews(nodes, paramData, graph.constants, new Set(graph.outputs.map((o) => o.value)));
  nodes = kept;
  const reads = new Set<Value>(graph.outputs.map((o) => o.value));
  for (const n of nodes) for (const i of n.inputs) if (i) reads.add(i);
  baked = baked.filter(({ name }) => reads.has(graph.params.get(name)!.value));
  // ONNX names: inputs, parameters and graph outputs keep their names; constants and other node outputs
  // get short unique ones under a prefix that Graph refuses for user names, so the two never collide.
  const onnxName = new Map<Value, string>();
  const internal = (v: Value): string => `${RESERVED_NAME_PREFIX}${v.kind === "constant" ? "c" : "v"}${v.id}`;
  for (const [v, t] of graph.constants) {
    if (!reads.has(v)) continue;
    onnxName.set(v, internal(v));
    baked.push({ name: internal(v), tensor: t });
  }
  for (const [v, t] of views) {
    if (!reads.has(v)) continue;
    onnxName.set(v, internal(v));
    baked.push({ name: internal(v), tensor: t });
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

  const totalBytes = baked.reduce((s, b) => s + b.tensor.data.byteLength, 0);
  const mode = opts.externalData ?? "auto";
  const external = mode === "always" || (mode === "auto" && totalBytes > (opts.externalThreshold ?? 1.5 * 2 ** 30));
  const fileName = opts.externalFileName ?? `${graph.name}.onnx.data`;
  const chunks: { offset: number; data: Uint8Array }[] = [];
  let offset = 0;
  const initializer = baked.map(({ name, tensor }) => {
    const base = { name, dims: [...tensor.shape], dataType: ONNX_DTYPE[tensor.dtype] };
    // Small tensors (shapes, scalars) stay inline so shape inference can read them.
    if (!external || tensor.data.byteLength < 1024) return { ...base, rawData: bytesOf(tensor) };
    offset = Math.ceil(offset / 64) * 64; // aligned so the runtime can map it
    const data = bytesOf(tensor);
    chunks.push({ offset, data });
    const entry = { ...base, dataLocation: 1, externalData: [{ key: "location", value: fileName }, { key: "offset", value: String(offset) }, { key: "length", value: String(data.byteLength) }] };
    offset += data.byteLength;
    return entry;
  });

  const model = {
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
  };
  const Model = onnxType("ModelProto");
  const bytes = Model.encode(Model.fromObject(model)).finish();
  return {
    bytes,
    external: external ? { fileName, chunks, totalBytes: offset } : null,
    paramInputs: paramInputs.map((v) => v.name),
    constraints: graph.constraintsOf(new Set(nodes)),
  };
}

/** Writes an emitted model to `path`, and its external data beside it, each file atomically. */
export function saveEmitted(emitted: EmittedModel, path: string): void {
  const ext = emitted.external;
  if (ext) {
    writeFileAtomic(join(dirname(path), ext.fileName), (fd) => {
      let at = 0;
      for (const c of ext.chunks) {
        if (c.offset > at) writeAll(fd, new Uint8Array(c.offset - at)); // alignment padding
        writeAll(fd, c.data);
        at = c.offset + c.data.byteLength;
      }
    });
  }
  writeFileAtomic(path, (fd) => writeAll(fd, emitted.bytes));
}

/** Emits `graph` and writes it to `path` (external data, when used, named after the model file). */
export function writeOnnx(graph: Graph, path: string, opts: EmitOptions = {}): EmittedModel {
  const emitted = emitOnnx(graph, { ...opts, externalFileName: opts.externalFileName ?? `${basename(path)}.data` });
  saveEmitted(emitted, path);
  return emitted;
}
