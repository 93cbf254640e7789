// A model's weights by parameter name, read lazily: each entry knows its dtype and shape from the file's
// header or pickle, and reads its data only when asked. The same type covers safetensors files and torch
// checkpoints, so key checks, renames, prefix selection and dtype conversion are written once.

import { SafetensorsFile, type SafetensorsDType } from "../../io/index.js";
import { TorchTensor } from "../../io/pth/index.js";
import { Tensor, type DType } from "../../tensor/tensor.js";
import { float16ToFloat32Array, float32ToFloat16Array } from "../../tensor/float16.js";

/** Float dtypes a state dict can be converted to at load. */
export type FloatDType = "float32" | "float16";

export interface TensorEntry {
  /** What `read()` returns, or null when vidrd cannot hold the stored dtype (e.g. complex, float8). */
  readonly dtype: DType | null;
  /** The dtype as stored, in torch's words: "float32", "bfloat16", "float64", "int64", ... */
  readonly storedDType: string;
  readonly shape: readonly number[];
  read(): Tensor;
}

export class WeightsError extends Error {
  override readonly name = "WeightsError";
}

export class StateDict {
  constructor(
    /** Where the weights come from, for messages: a path, plus the part or prefix selected. */
    readonly source: string,
    private readonly entriesByName: ReadonlyMap<string, TensorEntry>,
    private readonly release: () => void = () => {},
  ) {}

  get size(): number {
    return this.entriesByName.size;
  }

  /** Names in file order. */
  names(): string[] {
    return [...this.entriesByName.keys()];
  }

  has(name: string): boolean {
    return this.entriesByName.has(name);
  }

  get(name: string): TensorEntry | undefined {
    return this.entriesByName.get(name);
  }

  /** The entry, or an error naming the source and the name. */
  entry(name: string): TensorEntry {
    const e = this.entriesByName.get(name);
    if (e === undefined) throw new WeightsError(`${this.source}: no tensor named ${JSON.stringify(name)}`);
    return e;
  }

  read(name: string): Tensor {
    return this.entry(name).read();
  }

  entries(): IterableIterator<[string, TensorEntry]> {
    return this.entriesByName.entries();
  }

  /** name -> shape, as `checkKeys` takes it. */
  shapes(): Map<string, readonly number[]> {
    return new Map([...this.entriesByName].map(([n, e]) => [n, e.shape]));
  }

  /** Reads every tensor (for small models and tests; large ones should read entry by entry). */
  readAll(): Map<string, Tensor> {
    return new Map([...this.entriesByName].map(([n, e]) => [n, e.read()]));
  }

  /** Total elements of all tensors. */
  parameterCount(): number {
    let n = 0;
    for (const e of this.entriesByName.values()) n += e.shape.reduce((a, d) => a * d, 1);
    return n;
  }

  /** The same tensors under new names; `rename` returns null to drop one. Two names becoming one is an error. */
  mapNames(rename: (name: string) => string | null, source = this.source): StateDict {
    const out = new Map<string, TensorEntry>();
    const from = new Map<string, string>();
    for (const [name, entry] of this.entriesByName) {
      const renamed = rename(name);
      if (renamed === null) continue;
      const clash = from.get(renamed);
      if (clash !== undefined) throw new WeightsError(`${this.source}: tensors ${JSON.stringify(clash)} and ${JSON.stringify(name)} both become ${JSON.stringify(renamed)}`);
      from.set(renamed, name);
      out.set(renamed, entry);
    }
    return new StateDict(source, out, this.release);
  }

  /** The tensors whose names start with `prefix`, with the prefix removed (Lightning: "unet."). */
  withPrefix(prefix: string): StateDict {
    return this.mapNames((n) => (n.startsWith(prefix) ? n.slice(prefix.length) : null), `${this.source} [${prefix}*]`);
  }

  /** Float tensors converted to `dtype` when read (float16 rounds to nearest, ties to even); others unchanged. */
  withFloatDType(dtype: FloatDType): StateDict {
    const out = new Map<string, TensorEntry>();
    for (const [name, entry] of this.entriesByName) {
      const isFloat = entry.dtype === "float32" || entry.dtype === "float16";
      out.set(name, isFloat && entry.dtype !== dtype ? { ...entry, dtype, read: () => convertFloat(entry.read(), dtype) } : entry);
    }
    return new StateDict(this.source, out, this.release);
  }

  /** Counts by first name segment ("unet" -> 1150): how a checkpoint's parts show themselves. */
  prefixCounts(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const name of this.entriesByName.keys()) {
      const head = name.split(".")[0];
      counts.set(head, (counts.get(head) ?? 0) + 1);
    }
    return counts;
  }

  /** Releases the files behind the entries; later reads throw. */
  close(): void {
    this.release();
  }
}

function convertFloat(t: Tensor, dtype: FloatDType): Tensor {
  if (t.dtype === dtype) return t;
  if (dtype === "float16") return new Tensor("float16", float32ToFloat16Array(t.data as Float32Array), t.shape);
  return new Tensor("float32", float16ToFloat32Array(t.data as Uint16Array), t.shape);
}

/** Notes on lossy reads ("2 float64 tensors narrowed to float32"), for a converter to print. */
export function conversionNotes(sd: StateDict): string[] {
  const counts = new Map<string, number>();
  for (const [, e] of sd.entries()) {
    let note: string | null = null;
    if (e.storedDType === "float64" && e.dtype !== null) note = `float64 tensors rounded to ${e.dtype}`;
    else if ((e.storedDType === "float32" || e.storedDType === "bfloat16") && e.dtype === "float16") note = `${e.storedDType} tensors rounded to float16`;
    else if (e.dtype === null) note = `${e.storedDType} tensors vidrd cannot read`;
    if (note !== null) counts.set(note, (counts.get(note) ?? 0) + 1);
  }
  return [...counts].map(([note, n]) => `${n} ${note}`);
}

// ---- entries from files ----

const SAFETENSORS_TO_TORCH: Record<SafetensorsDType, string> = {
  BOOL: "bool", U8: "uint8", I8: "int8", F8_E5M2: "float8_e5m2", F8_E4M3: "float8_e4m3fn", I16: "int16", U16: "uint16",
  F16: "float16", BF16: "bfloat16", I32: "int32", U32: "uint32", F32: "float32", F64: "float64", I64: "int64", U64: "uint64",
};

/** A state dict over a safetensors file; closing it closes the file. */
export function stateDictFromSafetensors(file: SafetensorsFile): StateDict {
  const entries = new Map<string, TensorEntry>();
  for (const name of file.names()) {
    const info = file.info(name);
    const storedDType = SAFETENSORS_TO_TORCH[info.dtype];
    if (info.dtype === "F64") {
      // narrowed like a torch float64 tensor (pth reader): nearest float32, ties to even
      const read = () => new Tensor("float32", Float32Array.from(new Float64Array(file.readRaw(name).buffer)), info.shape);
      entries.set(name, { dtype: "float32", storedDType, shape: info.shape, read });
    } else {
      entries.set(name, { dtype: info.tensorDType, storedDType, shape: info.shape, read: () => file.read(name) });
    }
  }
  return new StateDict(file.label, entries, () => file.close());
}

/** A state dict over the tensors of a torch dict (name -> tensor); non-tensor values are left out. */
export function stateDictFromTorch(source: string, dict: ReadonlyMap<unknown, unknown>, release: () => void): StateDict {
  const entries = new Map<string, TensorEntry>();
  for (const [name, value] of dict) {
    if (typeof name === "string" && value instanceof TorchTensor) {
      entries.set(name, { dtype: value.tensorDType, storedDType: value.dtype, shape: value.shape, read: () => value.read() });
    }
  }
  return new StateDict(source, entries, release);
}

/** A state dict over tensors already in memory. */
export function stateDictFromTensors(source: string, tensors: ReadonlyMap<string, Tensor>): StateDict {
  const entries = new Map<string, TensorEntry>();
  for (const [name, t] of tensors) entries.set(name, { dtype: t.dtype, storedDType: t.dtype, shape: t.shape, read: () => t });
  return new StateDict(source, entries);
}
