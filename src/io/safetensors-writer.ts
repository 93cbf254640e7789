// Writing safetensors files laid out as the reference implementation lays them out, so that the same
// tensors give the same bytes as Python's `safetensors.torch.save_file`:
//   - tensors in order of stored dtype alignment, largest first (I64, F32, I32, BF16, F16, U8, BOOL),
//     then by name in UTF-8 byte order; each tensor then starts at a multiple of its item size;
//   - compact JSON with "__metadata__" first (its keys sorted, for reproducible files; the reference
//     keeps them in hash order), then the tensors in data order, fields dtype, shape, data_offsets;
//   - the header padded with spaces to a multiple of 8 bytes.

import { Buffer } from "node:buffer";
import { Tensor } from "../tensor/tensor.js";
import {
  assertLittleEndianHost,
  DTYPE_ALIGNMENT_RANK,
  METADATA_KEY,
  SAFETENSORS_DTYPES,
  SafetensorsError,
  quoteName,
  type SafetensorsDType,
} from "./safetensors-format.js";
import { float32ToBfloat16Array, float32ToFloat16Array } from "../tensor/float16.js";
import { writeAll, writeFileAtomic } from "./atomic-file.js";

/** How float32 tensors are stored: as they are, or rounded (to nearest, ties to even) to 16 bits. */
export type Float32Storage = "F32" | "F16" | "BF16";

export interface SafetensorsWriteOptions {
  /**
   * Default "F32"; a function chooses per tensor (e.g. norms in F32, the rest in BF16). Only float32
   * tensors are affected: other dtypes are stored as they are (float16 tensors as F16).
   */
  readonly float32As?: Float32Storage | ((name: string, tensor: Tensor<"float32">) => Float32Storage);
}

export type TensorCollection = Readonly<Record<string, Tensor>> | ReadonlyMap<string, Tensor>;

interface PlannedTensor {
  readonly name: string;
  readonly tensor: Tensor;
  readonly stored: SafetensorsDType;
  readonly byteLength: number;
}

interface Layout {
  /** The 8-byte length prefix followed by the padded header. */
  readonly head: Uint8Array;
  readonly tensors: readonly PlannedTensor[];
  readonly dataLength: number;
}

const STORED_DTYPE = { float32: "F32", float16: "F16", int64: "I64", int32: "I32", uint8: "U8", bool: "BOOL" } as const;
const FLOAT32_STORAGE: readonly string[] = ["F32", "F16", "BF16"];

/**
 * Writes `tensors` to `path` atomically (temporary file in the same directory, fsync, rename), so a
 * reader or a crash never sees half a file and a failed write leaves an existing file untouched.
 * Tensor data is streamed to the file tensor by tensor; only 16-bit conversions use a small buffer.
 */
export function writeSafetensors(
  path: string,
  tensors: TensorCollection,
  metadata?: Readonly<Record<string, string>>,
  options: SafetensorsWriteOptions = {},
): void {
  const layout = planLayout(tensors, metadata, options, path);
  try {
    writeFileAtomic(path, (fd) => {
      writeAll(fd, layout.head);
      for (const t of layout.tensors) forEachDataChunk(t, (chunk) => writeAll(fd, chunk));
    });
  } catch (e) {
    if (e instanceof SafetensorsError) throw e;
    throw new SafetensorsError(`${path}: write failed: ${(e as Error).message}`, { cause: e });
  }
}

/** The bytes `writeSafetensors` would write, in memory. */
export function encodeSafetensors(
  tensors: TensorCollection,
  metadata?: Readonly<Record<string, string>>,
  options: SafetensorsWriteOptions = {},
): Uint8Array {
  const layout = planLayout(tensors, metadata, options, "<safetensors bytes>");
  const out = new Uint8Array(layout.head.length + layout.dataLength);
  out.set(layout.head, 0);
  let offset = layout.head.length;
  for (const t of layout.tensors) {
    forEachDataChunk(t, (chunk) => {
      out.set(chunk, offset);
      offset += chunk.length;
    });
  }
  return out;
}

function planLayout(
  tensors: TensorCollection,
  metadata: Readonly<Record<string, string>> | undefined,
  options: SafetensorsWriteOptions,
  label: string,
): Layout {
  assertLittleEndianHost();
  const float32As = options.float32As ?? "F32";
  const storageOf = (name: string, tensor: Tensor<"float32">): Float32Storage => {
    const storage = typeof float32As === "function" ? float32As(name, tensor) : float32As;
    if (!FLOAT32_STORAGE.includes(storage)) {
      throw new SafetensorsError(`${label}: float32As for tensor ${quoteName(name)} is ${JSON.stringify(storage)}; allowed: ${FLOAT32_STORAGE.join(", ")}`);
    }
    return storage;
  };

  const planned: PlannedTensor[] = [];
  const entries = tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors);
  for (const [name, value] of entries as [unknown, unknown][]) {
    if (typeof name !== "string") throw new SafetensorsError(`${label}: tensor names must be strings, got ${typeof name}`);
    if (name === METADATA_KEY) throw new SafetensorsError(`${label}: ${METADATA_KEY} is reserved and cannot name a tensor`);
    if (!(value instanceof Tensor)) throw new SafetensorsError(`${label}: tensor ${quoteName(name)} is not a Tensor`);
    const tensor: Tensor = value;
    const stored = tensor.dtype === "float32" ? storageOf(name, tensor as Tensor<"float32">) : STORED_DTYPE[tensor.dtype];
    planned.push({ name, tensor, stored, byteLength: tensor.data.length * SAFETENSORS_DTYPES[stored].itemSize });
  }
  planned.sort((a, b) => DTYPE_ALIGNMENT_RANK[b.stored] - DTYPE_ALIGNMENT_RANK[a.stored] || compareUtf8(a.name, b.name));

  const fields: string[] = [];
  const metadataEntries = metadataInOrder(metadata, label);
  if (metadataEntries.length > 0) {
    fields.push(`${JSON.stringify(METADATA_KEY)}:{${metadataEntries.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`).join(",")}}`);
  }
  let offset = 0;
  for (const t of planned) {
    // Built by hand: a JS object would move integer-like names ("0", "12") to the front.
    fields.push(
      `${JSON.stringify(t.name)}:{"dtype":"${t.stored}","shape":[${t.tensor.shape.join(",")}],"data_offsets":[${offset},${offset + t.byteLength}]}`,
    );
    offset += t.byteLength;
  }
  const json = Buffer.from(`{${fields.join(",")}}`, "utf8");
  const padded = Math.ceil(json.length / 8) * 8;
  const head = new Uint8Array(8 + padded).fill(0x20);
  new DataView(head.buffer).setBigUint64(0, BigInt(padded), true);
  head.set(json, 8);
  return { head, tensors: planned, dataLength: offset };
}

function metadataInOrder(metadata: Readonly<Record<string, string>> | undefined, label: string): [string, string][] {
  if (metadata === undefined) return [];
  if (typeof metadata !== "object" || metadata === null || Array.isArray(metadata)) {
    throw new SafetensorsError(`${label}: metadata must be an object of string values`);
  }
  const entries = Object.entries(metadata);
  for (const [key, value] of entries) {
    if (typeof value !== "string") {
      throw new SafetensorsError(`${label}: metadata value of ${JSON.stringify(key)} must be a string, got ${typeof value}`);
    }
  }
  return entries.sort(([a], [b]) => compareUtf8(a, b));
}

/** The reference sorts Rust Strings, i.e. by UTF-8 bytes (code points), not by UTF-16 code units. */
function compareUtf8(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8")) || (a < b ? -1 : a > b ? 1 : 0);
}

/** Elements converted per chunk when narrowing float32; bounds the extra memory to 128 KiB. */
const CONVERT_CHUNK = 1 << 16;

function forEachDataChunk(t: PlannedTensor, sink: (bytes: Uint8Array) => void): void {
  const data = t.tensor.data;
  if (t.tensor.dtype !== "float32" || t.stored === "F32") {
    if (data.length > 0) sink(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    return;
  }
  const narrow = t.stored === "BF16" ? float32ToBfloat16Array : float32ToFloat16Array;
  const source = data as Float32Array;
  const chunk = new Uint16Array(Math.min(CONVERT_CHUNK, source.length));
  for (let start = 0; start < source.length; start += CONVERT_CHUNK) {
    const n = Math.min(CONVERT_CHUNK, source.length - start);
    narrow(source.subarray(start, start + n), chunk.subarray(0, n));
    sink(new Uint8Array(chunk.buffer, 0, n * 2));
  }
}
