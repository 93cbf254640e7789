// The only module that imports onnxruntime-node (STYLE.md: exactly one module touches the runtime).
// A Session runs a compiled Graph or an .onnx file on named host tensors, validating every input first.

import * as ort from "onnxruntime-node";
import { availableParallelism } from "node:os";
import { type DType, Tensor, isDType } from "../tensor/tensor.js";
import { type Dim, divisibilityOf, evaluateDim, monomialOf, shapeToString, symbolsOf } from "../graph/dim.js";
import { type DimConstraint, type Graph, describeConstraint } from "../graph/graph.js";
import { type EmitOptions, type EmittedModel, emitPlan, planOnnx, writePlan } from "../graph/onnx/emit.js";
import { existsSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";

// The runtime logs failures to stderr before throwing them; callers get them as exceptions worded by us.
ort.env.logLevel = "fatal";

export type Device = "cpu" | "cuda";
export const DEVICES: readonly Device[] = ["cpu", "cuda"];

export interface SessionOptions {
  /** Intra-op threads; default: all cores. */
  threads?: number;
  /** Execution provider; default cpu. */
  device?: Device;
  /** CUDA device index (device "cuda" only). */
  deviceId?: number;
  /** ONNX Runtime graph optimisation level; default all. */
  optimization?: "disabled" | "basic" | "extended" | "all";
  /**
   * ONNX Runtime's CPU allocator strategy. `arena` (enableCpuMemArena): keep freed blocks in a growing
   * arena for reuse; `pattern` (enableMemPattern): plan one block per run for the activations, from the
   * shapes seen on earlier runs. Both trade memory for allocation time. Default: both on for models
   * under LARGE_MODEL_BYTES of weights, both off above it (see `resolveMemory`).
   */
  memory?: { arena?: boolean; pattern?: boolean };
}

/**
 * Weights above which the arena and memory pattern default to off. Measured on the SD-sized UNet3D
 * (4.7 GB of float32 weights, [2, 4, 8, 32, 32] latents, 2 threads, bench/unet.ts): peak RSS 9.8 GB with
 * both on, 6.0 GB with both off (PyTorch: 6.3 GB) and no slower forward pass: for a model this size
 * each activation is megabytes and a plain malloc costs nothing next to the kernels, while the arena
 * holds on to every activation size it ever saw. Small models keep the runtime's defaults, where per-op
 * allocation can be a visible share of a millisecond-long run.
 *
 * The rest of the runtime holds one copy of the weights: external data is read into its own memory (not
 * mapped; RssFile stayed ~70 MB), and kernels that prepack a weight drop the original. Measured on the same
 * model loaded from file: 5.55 GB resident after load and 7.1-7.2 GB peak with or without the
 * "session.disable_prepacking" config entry, so prepacking, faster per run, stays on.
 */
export const LARGE_MODEL_BYTES = 2 ** 30;

/** The arena and memory-pattern settings a model of `modelBytes` (weights included) gets. */
export function resolveMemory(opts: SessionOptions, modelBytes: number): { arena: boolean; pattern: boolean } {
  const small = modelBytes <= LARGE_MODEL_BYTES;
  return { arena: opts.memory?.arena ?? small, pattern: opts.memory?.pattern ?? small };
}

export interface TensorSpec {
  name: string;
  /** A project dtype, or the runtime's name for one the project does not handle. */
  dtype: DType | string;
  shape: readonly Dim[];
}

export class SessionInputError extends Error {
  override name = "SessionInputError";
  constructor(readonly problems: readonly string[], model: string) {
    super(`${model}: ${problems.length} input problem(s):\n  ${problems.join("\n  ")}`);
  }
}

export class RuntimeUnavailableError extends Error {
  override name = "RuntimeUnavailableError";
}

/** A failure inside the runtime while running a model, with the session and (where ORT says) the node. */
export class SessionRunError extends Error {
  override name = "SessionRunError";
  constructor(readonly model: string, readonly node: string | null, cause: unknown) {
    const msg = cause instanceof Error ? cause.message : String(cause);
    super(`${model}: run failed${node ? ` in node ${node}` : ""}: ${msg}`, { cause });
  }
}

/** The node an ONNX Runtime error names ("... running Concat node. Name:'Concat_7' Status Message: ..."). */
function failedNode(message: string): string | null {
  const m = /running (\w+) node\. Name:'([^']*)'/.exec(message);
  if (m) return m[2] ? `${m[2]} (${m[1]})` : m[1]!;
  const n = /Name:'([^']+)'/.exec(message);
  return n ? n[1]! : null;
}

function validateOptions(opts: SessionOptions): void {
  if (opts.threads !== undefined && (!Number.isInteger(opts.threads) || opts.threads < 1)) {
    throw new RangeError(`threads must be a positive integer, got ${opts.threads}`);
  }
  if (opts.device !== undefined && !DEVICES.includes(opts.device)) {
    throw new RangeError(`device must be one of ${DEVICES.join(", ")}, got ${String(opts.device)}`);
  }
  const mem = opts.memory;
  if (mem !== undefined && (mem === null || typeof mem !== "object" || Array.isArray(mem))) {
    throw new RangeError(`memory must be an object { arena?: boolean, pattern?: boolean }, got ${JSON.stringify(mem)}`);
  }
  for (const [key, v] of Object.entries(mem ?? {})) {
    if (key !== "arena" && key !== "pattern") throw new RangeError(`memory.${key} is not an option; allowed: arena, pattern`);
    if (v !== undefined && typeof v !== "boolean") throw new RangeError(`memory.${key} must be true or false, got ${JSON.stringify(v)}`);
  }
}

function ortOptions(opts: SessionOptions, modelBytes: number): ort.InferenceSession.SessionOptions {
  const device = opts.device ?? "cpu";
  const threads = opts.threads ?? availableParallelism();
  const memory = resolveMemory(opts, modelBytes);
  return {
    enableCpuMemArena: memory.arena,
    enableMemPattern: memory.pattern,
    executionProviders: device === "cuda" ? [{ name: "cuda", deviceId: opts.deviceId ?? 0 }, "cpu"] : ["cpu"],
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: opts.optimization ?? "all",
    // Errors reach the caller as exceptions with our wording; the runtime's own log would duplicate them.
    logSeverityLevel: 4,
  };
}

interface Created {
  ortSession: ort.InferenceSession;
  /** The allocator settings the runtime was given. */
  memory: { arena: boolean; pattern: boolean };
}

/** Bytes of a model file and of its external data by our naming ("<file>.data"), if there is one. */
function fileModelBytes(path: string): number {
  const size = (p: string) => (existsSync(p) ? statSync(p).size : 0);
  return size(path) + size(`${path}.data`);
}

/** Creates the runtime session; `modelBytes` (weights included) picks the memory defaults. */
async function createOrt(model: string | Uint8Array, opts: SessionOptions, modelBytes?: number): Promise<Created> {
  validateOptions(opts);
  const bytes = modelBytes ?? (typeof model === "string" ? fileModelBytes(model) : model.byteLength);
  const options = ortOptions(opts, bytes);
  const memory = { arena: options.enableCpuMemArena!, pattern: options.enableMemPattern! };
  try {
    const ortSession = typeof model === "string"
      ? await ort.InferenceSession.create(model, options)
      : await ort.InferenceSession.create(model, options);
    return { ortSession, memory };
  } catch (e) {
    const msg = (e as Error).message;
    if (opts.device === "cuda" && /cuda|providers_shared|shared library/i.test(msg)) {
      throw new RuntimeUnavailableError(
        "device cuda is not available: this onnxruntime-node install has no CUDA execution provider " +
          "(its CUDA libraries are not installed; the project installs with onnxruntime-node-install=skip). " +
          `Use --device cpu, or reinstall onnxruntime-node with its CUDA libraries on a machine with CUDA 12. (${msg.split("\n")[0]})`,
      );
    }
    throw new Error(`cannot load model${typeof model === "string" ? ` ${model}` : ""}: ${msg}`);
  }
}

/**
 * What a session needs to know about a model beyond the file: its inputs and outputs with symbolic shapes
 * and the size conditions those shapes assume. Plain data but for each constraint's node, which a stored
 * signature sets to null.
 */
export interface GraphSignature {
  inputs: TensorSpec[];
  outputs: TensorSpec[];
  constraints: DimConstraint[];
}

/** The signature of `graph` as `emitted` (or planned), parameters fed as inputs included (constraints keep their nodes). */
export function graphSignature(graph: Graph, emitted: Pick<EmittedModel, "paramInputs" | "constraints">): GraphSignature {
  const spec = (name: string, v: { dtype: DType; shape: readonly Dim[] }): TensorSpec => ({ name, dtype: v.dtype, shape: [...v.shape] });
  return {
    inputs: [...graph.inputs.map((v) => spec(v.name, v)), ...emitted.paramInputs.map((n) => spec(n, graph.params.get(n)!.value))],
    outputs: graph.outputs.map((o) => spec(o.name, o.value)),
    constraints: emitted.constraints,
  };
}

function specsFromOrt(meta: readonly ort.InferenceSession.ValueMetadata[]): TensorSpec[] {
  return meta.map((m) =>
    m.isTensor
      ? { name: m.name, dtype: m.type, shape: m.shape.map((d) => (typeof d === "number" && d < 0 ? "?" : d)) }
      : { name: m.name, dtype: "non-tensor", shape: [] },
  );
}

function toOrt(t: Tensor): ort.Tensor {
  return new ort.Tensor(t.dtype, t.data as never, [...t.shape]);
}

function fromOrt(name: string, t: ort.Tensor): Tensor {
  const dtype = t.type;
  if (!isDType(dtype)) throw new Error(`output ${name} has dtype ${dtype}, which vidrd does not handle`);
  return new Tensor(dtype, t.data as never, t.dims);
}

export class Session {
  private released = false;

  private readonly ort: ort.InferenceSession;
  /** The CPU arena and memory-pattern settings the runtime was created with (SessionOptions.memory). */
  readonly memory: { readonly arena: boolean; readonly pattern: boolean };

  private constructor(
    created: Created,
    readonly label: string,
    readonly inputs: readonly TensorSpec[],
    readonly outputs: readonly TensorSpec[],
    private readonly cleanup: (() => void) | null,
    /** What the emitted nodes' symbolic shapes assume about the sizes inputs bind (none for loaded files). */
    readonly constraints: readonly DimConstraint[] = [],
  ) {
    this.ort = created.ortSession;
    this.memory = Object.freeze({ ...created.memory });
  }

  /**
   * Compiles a Graph (weights baked in unless `paramsAsInputs` says otherwise) and loads it. A model with
   * external data is streamed to a temporary file, one weight at a time (a lazy weight source then never
   * has all its weights in JS); a smaller one is handed to the runtime as bytes.
   */
  static async fromGraph(graph: Graph, opts: SessionOptions & EmitOptions = {}): Promise<Session> {
    validateOptions(opts); // before the model is written, which may take a while
    const fileName = `${graph.name}.onnx`;
    const plan = planOnnx(graph, { ...opts, externalFileName: `${fileName}.data` });
    let cleanup: (() => void) | null = null;
    try {
      let s: Created;
      if (plan.externalFileName !== null) {
        // External data is resolved relative to a model file, so such a model is loaded from disk.
        const dir = mkdtempSync(join(tmpdir(), "vidrd-model-"));
        cleanup = () => rmSync(dir, { recursive: true, force: true });
        const path = join(dir, fileName);
        const written = writePlan(plan, path);
        s = await createOrt(path, opts, written.modelBytes + (written.external?.totalBytes ?? 0));
      } else {
        const { bytes } = emitPlan(plan);
        s = await createOrt(bytes, opts, bytes.byteLength);
      }
      const sig = graphSignature(graph, plan);
      return new Session(s, `graph ${graph.name}`, sig.inputs, sig.outputs, cleanup, sig.constraints);
    } catch (e) {
      cleanup?.();
      throw e;
    }
  }

  /**
   * Loads an .onnx file (external data resolved beside it). With the `signature` of the graph it was
   * emitted from (a compiled-model cache keeps it), inputs are checked against the symbolic shapes and
   * size conditions of that graph; without, against what the file declares ("?" for free dims).
   */
  static async fromFile(path: string, opts: SessionOptions = {}, signature?: GraphSignature): Promise<Session> {
    const s = await createOrt(path, opts);
    const meta = s.ortSession;
    if (!signature) return new Session(s, `model ${path}`, specsFromOrt(meta.inputMetadata), specsFromOrt(meta.outputMetadata), null);
    const declared = (specs: readonly TensorSpec[]) => specs.map((x) => x.name).sort().join(",");
    if (declared(signature.inputs) !== declared(specsFromOrt(meta.inputMetadata)) || declared(signature.outputs) !== declared(specsFromOrt(meta.outputMetadata))) {
      await meta.release();
      throw new Error(`cannot load model ${path}: its inputs and outputs differ from the signature given for it`);
    }
    return new Session(s, `model ${path}`, signature.inputs, signature.outputs, null, signature.constraints);
  }

  /** Loads a serialized ModelProto. */
  static async fromBytes(bytes: Uint8Array, opts: SessionOptions = {}, label = "model"): Promise<Session> {
    const s = await createOrt(bytes, opts);
    const meta = s.ortSession;
    return new Session(s, label, specsFromOrt(meta.inputMetadata), specsFromOrt(meta.outputMetadata), null);
  }

  /**
   * Every problem with `feeds` (missing, unknown, dtype, rank, size, inconsistent symbols, sizes the
   * graph's shapes do not hold for), all at once.
   */
  check(feeds: Readonly<Record<string, Tensor>>): string[] {
    if (feeds === null || typeof feeds !== "object" || Array.isArray(feeds)) {
      const got = feeds === null ? "null" : Array.isArray(feeds) ? "an array" : typeof feeds;
      return [`feeds must be an object mapping input names to Tensors, got ${got}`];
    }
    const problems: string[] = [];
    const known = new Set(this.inputs.map((s) => s.name));
    for (const name of Object.keys(feeds)) {
      if (!known.has(name)) problems.push(`unknown input ${name}; inputs are ${[...known].join(", ")}`);
    }
    const bindings = new Map<string, number>();
    const boundBy = new Map<string, string>();
    const deferred: { spec: TensorSpec; t: Tensor; axis: number }[] = [];
    for (const spec of this.inputs) {
      const t = feeds[spec.name];
      if (!t) {
        problems.push(`missing input ${spec.name} (${spec.dtype}${shapeToString(spec.shape)})`);
        continue;
      }
      if (!(t instanceof Tensor)) {
        problems.push(`input ${spec.name} must be a Tensor`);
        continue;
      }
      if (t.dtype !== spec.dtype) problems.push(`input ${spec.name}: dtype ${t.dtype}, expected ${spec.dtype}`);
      if (t.rank !== spec.shape.length) {
        problems.push(`input ${spec.name}: shape [${t.shape.join(", ")}] has rank ${t.rank}, expected ${spec.dtype}${shapeToString(spec.shape)}`);
        continue;
      }
      spec.shape.forEach((d, axis) => {
        const got = t.shape[axis]!;
        if (typeof d === "number") {
          if (d !== got) problems.push(`input ${spec.name}: axis ${axis} is ${got}, expected ${d} (shape [${t.shape.join(", ")}] vs ${shapeToString(spec.shape)})`);
        } else if (d !== "?" && monomialOf(d)?.factors.length === 1 && monomialOf(d)!.coef === 1) {
          const prev = bindings.get(d);
          if (prev === undefined) {
            bindings.set(d, got);
            boundBy.set(d, `${spec.name} axis ${axis}`);
          } else if (prev !== got) {
            problems.push(`input ${spec.name}: axis ${axis} (${d}) is ${got}, but ${boundBy.get(d)} set ${d} = ${prev}`);
          }
        } else deferred.push({ spec, t, axis });
      });
    }
    // "H = 5 (input x axis 2)" for each symbol of d
    const sizesOf = (d: Dim): string =>
      [...new Set(symbolsOf(d))].map((s) => `${s} = ${bindings.get(s)} (input ${boundBy.get(s)})`).join(", ");
    for (const { spec, t, axis } of deferred) {
      const d = spec.shape[axis]!;
      const want = evaluateDim(d, bindings);
      if (want === null) continue;
      if (!Number.isInteger(want)) {
        const div = divisibilityOf(d);
        const needs = div ? `, which needs ${div.numerator} divisible by ${div.divisor}` : "";
        problems.push(`input ${spec.name}: axis ${axis} (${d}) is not a whole size at ${sizesOf(d)}${needs}`);
      } else if (want !== t.shape[axis]) {
        problems.push(`input ${spec.name}: axis ${axis} (${d}) is ${t.shape[axis]}, expected ${want}`);
      }
    }
    for (const c of this.constraints) {
      const v = evaluateDim(c.dim, bindings);
      if (v === null) continue;
      const holds = c.kind === "divisible" ? Number.isInteger(v / c.divisor) : v >= c.min;
      if (holds) continue;
      const compound = !(typeof c.dim === "string" && bindings.has(c.dim)); // "B*F", not "F"
      problems.push(`${describeConstraint(c)}, but ${sizesOf(c.dim)}${compound ? ` make ${c.dim} = ${v}` : ""}`);
    }
    return problems;
  }

  /** Runs the model; returns the requested outputs (all by default) as host tensors. */
  async run(feeds: Readonly<Record<string, Tensor>>, outputNames?: readonly string[]): Promise<Record<string, Tensor>> {
    if (this.released) throw new Error(`${this.label}: session was released`);
    const problems = this.check(feeds);
    const names = outputNames ?? this.outputs.map((o) => o.name);
    for (const n of names) {
      if (!this.outputs.some((o) => o.name === n)) problems.push(`unknown output ${n}; outputs are ${this.outputs.map((o) => o.name).join(", ")}`);
    }
    if (problems.length) throw new SessionInputError(problems, this.label);
    const ortFeeds: Record<string, ort.Tensor> = {};
    for (const spec of this.inputs) ortFeeds[spec.name] = toOrt(feeds[spec.name]!);
    let result: ort.InferenceSession.ReturnType;
    try {
      result = await this.ort.run(ortFeeds, [...names]);
    } catch (e) {
      throw new SessionRunError(this.label, failedNode((e as Error)?.message ?? String(e)), e);
    }
    const out: Record<string, Tensor> = {};
    for (const n of names) out[n] = fromOrt(n, result[n]!);
    return out;
  }

  /** Frees the runtime session and removes its temporary model files; a second call does nothing. */
  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    try {
      await this.ort.release();
    } finally {
      this.cleanup?.();
    }
  }
}

