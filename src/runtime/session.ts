// The only module that imports onnxruntime-node (STYLE.md: exactly one module touches the runtime).
// A Session runs a compiled Graph or an .onnx file on named host tensors, validating every input first.

import * as ort from "onnxruntime-node";
import { availableParallelism } from "node:os";
import { type DType, Tensor, isDType } from "../tensor/tensor.js";
import { type Dim, divisibilityOf, evaluateDim, monomialOf, shapeToString, symbolsOf } from "../graph/dim.js";
import { type DimConstraint, type Graph, describeConstraint } from "../graph/graph.js";
import { type EmitOptions, emitOnnx, saveEmitted } from "../graph/onnx/emit.js";
import { mkdtempSync, rmSync } from "node:fs";
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
}

function ortOptions(opts: SessionOptions): ort.InferenceSession.SessionOptions {
  const device = opts.device ?? "cpu";
  const threads = opts.threads ?? availableParallelism();
  return {
    executionProviders: device === "cuda" ? [{ name: "cuda", deviceId: opts.deviceId ?? 0 }, "cpu"] : ["cpu"],
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: opts.optimization ?? "all",
    // Errors reach the caller as exceptions with our wording; the runtime's own log would duplicate them.
    logSeverityLevel: 4,
  };
}

async function createOrt(model: string | Uint8Array, opts: SessionOptions): Promise<ort.InferenceSession> {
  validateOptions(opts);
  try {
    return typeof model === "string"
      ? await ort.InferenceSession.create(model, ortOptions(opts))
      : await ort.InferenceSession.create(model, ortOptions(opts));
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

  private constructor(
    private readonly ort: ort.InferenceSession,
    readonly label: string,
    readonly inputs: readonly TensorSpec[],
    readonly outputs: readonly TensorSpec[],
    private readonly cleanup: (() => void) | null,
    /** What the emitted nodes' symbolic shapes assume about the sizes inputs bind (none for loaded files). */
    readonly constraints: readonly DimConstraint[] = [],
  ) {}

  /** Compiles a Graph (weights baked in unless `paramsAsInputs` says otherwise) and loads it. */
  static async fromGraph(graph: Graph, opts: SessionOptions & EmitOptions = {}): Promise<Session> {
    const fileName = `${graph.name}.onnx`;
    const emitted = emitOnnx(graph, { ...opts, externalFileName: `${fileName}.data` });
    let model: string | Uint8Array = emitted.bytes;
    let cleanup: (() => void) | null = null;
    try {
      if (emitted.external) {
        // External data is resolved relative to a model file, so such a model is loaded from disk.
        const dir = mkdtempSync(join(tmpdir(), "vidrd-model-"));
        cleanup = () => rmSync(dir, { recursive: true, force: true });
        model = join(dir, fileName);
        saveEmitted(emitted, model);
      }
      const s = await createOrt(model, opts);
      const inputs: TensorSpec[] = [
        ...graph.inputs.map((v) => ({ name: v.name, dtype: v.dtype, shape: v.shape })),
        ...emitted.paramInputs.map((n) => {
          const v = graph.params.get(n)!.value;
          return { name: n, dtype: v.dtype, shape: v.shape };
        }),
      ];
      const outputs = graph.outputs.map((o) => ({ name: o.name, dtype: o.value.dtype, shape: o.value.shape }));
      return new Session(s, `graph ${graph.name}`, inputs, outputs, cleanup, emitted.constraints);
    } catch (e) {
      cleanup?.();
      throw e;
    }
  }

  /** Loads an .onnx file (external data resolved beside it). */
  static async fromFile(path: string, opts: SessionOptions = {}): Promise<Session> {
    const s = await createOrt(path, opts);
    return new Session(s, `model ${path}`, specsFromOrt(s.inputMetadata), specsFromOrt(s.outputMetadata), null);
  }

  /** Loads a serialized ModelProto. */
  static async fromBytes(bytes: Uint8Array, opts: SessionOptions = {}, label = "model"): Promise<Session> {
    const s = await createOrt(bytes, opts);
    return new Session(s, label, specsFromOrt(s.inputMetadata), specsFromOrt(s.outputMetadata), null);
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

