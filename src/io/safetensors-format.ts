// The safetensors layout (https://github.com/huggingface/safetensors, "Format"):
//
//   [8 bytes]  N, little-endian u64: byte length of the header
//   [N bytes]  UTF-8 JSON object, starting with "{", optionally padded at the end with spaces:
//              { "<name>": { "dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end] }, ...,
//                "__metadata__": { "<key>": "<string value>" } }      (__metadata__ is optional)
//   [rest]     the data buffer; data_offsets are relative to its start, tensors are little-endian and
//              row-major, and together they cover the buffer exactly (no gaps, no overlaps).
//
// This module is the one place that decides whether a header is valid. It never trusts a number from
// the file before checking it, so corrupt input fails with a SafetensorsError that names the file, the
// tensor and what is wrong, rather than a RangeError deep inside a typed-array constructor.

import type { DType } from "../tensor/tensor.js";

/** Every failure to parse, validate, read or write a safetensors file. */
export class SafetensorsError extends Error {
  override readonly name = "SafetensorsError";
}

/**
 * Dtypes of the format. Only those with a `tensorDType` can become a `Tensor` (BF16 widens to
 * float32); the rest are accepted in a header so a file that holds, say, one F64 tensor can still be
 * opened and its other tensors read, and their bytes are available through `readRaw`.
 */
export const SAFETENSORS_DTYPES = {
  BOOL: { itemSize: 1, tensorDType: "bool" },
  U8: { itemSize: 1, tensorDType: "uint8" },
  I8: { itemSize: 1, tensorDType: null },
  F8_E5M2: { itemSize: 1, tensorDType: null },
  F8_E4M3: { itemSize: 1, tensorDType: null },
  I16: { itemSize: 2, tensorDType: null },
  U16: { itemSize: 2, tensorDType: null },
  F16: { itemSize: 2, tensorDType: "float16" },
  BF16: { itemSize: 2, tensorDType: "float32" },
  I32: { itemSize: 4, tensorDType: "int32" },
  U32: { itemSize: 4, tensorDType: null },
  F32: { itemSize: 4, tensorDType: "float32" },
  F64: { itemSize: 8, tensorDType: null },
  I64: { itemSize: 8, tensorDType: "int64" },
  U64: { itemSize: 8, tensorDType: null },
} as const satisfies Record<string, { itemSize: number; tensorDType: DType | null }>;

export type SafetensorsDType = keyof typeof SAFETENSORS_DTYPES;

/**
 * The reference writer lays tensors out by this rank, highest first, so each tensor starts at a
 * multiple of its item size (the header is padded to 8 bytes). It is the declaration order of the
 * reference implementation's Dtype enum, which is documented to be increasing alignment.
 */
export const DTYPE_ALIGNMENT_RANK: Record<SafetensorsDType, number> = {
  BOOL: 0, U8: 1, I8: 2, F8_E5M2: 3, F8_E4M3: 4, I16: 5, U16: 6, F16: 7, BF16: 8,
  I32: 9, U32: 10, F32: 11, F64: 12, I64: 13, U64: 14,
};

/** The reference implementation refuses larger headers; so do we, before allocating anything. */
export const MAX_HEADER_BYTES = 100_000_000;
export const METADATA_KEY = "__metadata__";

export interface SafetensorsTensorInfo {
  readonly dtype: SafetensorsDType;
  readonly shape: readonly number[];
  /** [begin, end) relative to the start of the data buffer. */
  readonly dataOffsets: readonly [number, number];
  readonly byteLength: number;
}

export interface SafetensorsHeader {
  /** Tensors in data-offset order, which is the order their bytes appear in the file. */
  readonly tensors: ReadonlyMap<string, SafetensorsTensorInfo>;
  /** A null-prototype object, so a key such as "__proto__" is an ordinary key. */
  readonly metadata: Readonly<Record<string, string>>;
  /** 8 + N: where the data buffer starts in the file. */
  readonly dataStart: number;
}

/** Typed-array views of the data are in host byte order; safetensors data is little-endian. */
export function assertLittleEndianHost(): void {
  if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) {
    throw new SafetensorsError("safetensors data is little-endian; big-endian hosts are not supported");
  }
}

export function isSafetensorsDType(x: string): x is SafetensorsDType {
  return Object.prototype.hasOwnProperty.call(SAFETENSORS_DTYPES, x);
}

/**
 * Reads N from the first 8 bytes and checks it against the total size, before any header byte is
 * read, so that a corrupt length never turns into a huge allocation.
 */
export function parseHeaderLength(prefix: Uint8Array, totalSize: number, label: string): number {
  if (totalSize < 8 || prefix.length < 8) {
    throw new SafetensorsError(`${label}: ${totalSize} bytes is shorter than the 8-byte header length prefix`);
  }
  const n = new DataView(prefix.buffer, prefix.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER_BYTES)) {
    throw new SafetensorsError(`${label}: header length ${n} exceeds the ${MAX_HEADER_BYTES}-byte limit (corrupt length prefix?)`);
  }
  const headerLength = Number(n);
  if (8 + headerLength > totalSize) {
    throw new SafetensorsError(`${label}: header length ${headerLength} runs past the end of the ${totalSize}-byte file`);
  }
  return headerLength;
}

/**
 * Parses and validates the N header bytes. `dataLength` is the size of the data buffer (file size
 * minus 8 + N); every tensor must lie inside it and together they must cover it, as the reference
 * implementation requires.
 */
export function parseHeader(headerBytes: Uint8Array, dataLength: number, label: string): SafetensorsHeader {
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(headerBytes);
  } catch {
    throw new SafetensorsError(`${label}: header is not valid UTF-8`);
  }
  if (!text.startsWith("{")) {
    throw new SafetensorsError(`${label}: header must start with "{", starts with ${JSON.stringify(text.slice(0, 16))}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new SafetensorsError(`${label}: header is not valid JSON (${(e as Error).message})`);
  }
  if (!isPlainObject(json)) {
    throw new SafetensorsError(`${label}: header must be a JSON object, got ${describeValue(json)}`);
  }

  let metadata: Record<string, string> = Object.create(null);
  const entries: [string, SafetensorsTensorInfo][] = [];
  for (const [name, value] of Object.entries(json)) {
    if (name === METADATA_KEY) metadata = parseMetadata(value, label);
    else entries.push([name, parseTensorEntry(name, value, label)]);
  }

  return {
    tensors: new Map(inOffsetOrder(entries, dataLength, label)),
    metadata: Object.freeze(metadata),
    dataStart: 8 + headerBytes.length,
  };
}

function parseMetadata(value: unknown, label: string): Record<string, string> {
  const metadata: Record<string, string> = Object.create(null);
  // The reference reads __metadata__ as an optional map, so an explicit null means "none".
  if (value === null) return metadata;
  if (!isPlainObject(value)) {
    throw new SafetensorsError(`${label}: ${METADATA_KEY} must be an object of string values, got ${describeValue(value)}`);
  }
  for (const [key, v] of Object.entries(value)) {
    if (typeof v !== "string") {
      throw new SafetensorsError(`${label}: ${METADATA_KEY} value of ${JSON.stringify(key)} must be a string, got ${describeValue(v)}`);
    }
    metadata[key] = v;
  }
  return metadata;
}

function parseTensorEntry(name: string, value: unknown, label: string): SafetensorsTensorInfo {
  const where = `${label}: tensor ${quoteName(name)}`;
  if (!isPlainObject(value)) {
    throw new SafetensorsError(`${where}: entry must be an object with dtype, shape and data_offsets, got ${describeValue(value)}`);
  }
  for (const field of ["dtype", "shape", "data_offsets"]) {
    if (!Object.prototype.hasOwnProperty.call(value, field)) throw new SafetensorsError(`${where}: missing "${field}"`);
  }

  const dtype = value.dtype;
  if (typeof dtype !== "string") throw new SafetensorsError(`${where}: dtype must be a string, got ${describeValue(dtype)}`);
  if (!isSafetensorsDType(dtype)) {
    throw new SafetensorsError(`${where}: unknown dtype ${JSON.stringify(dtype)}; allowed: ${Object.keys(SAFETENSORS_DTYPES).join(", ")}`);
  }

  const shape = value.shape;
  if (!Array.isArray(shape)) throw new SafetensorsError(`${where}: shape must be an array of integers, got ${describeValue(shape)}`);
  shape.forEach((d: unknown, i) => checkNonNegativeInteger(d, `${where}: shape dimension ${i}`, "dimensions"));

  const offsets = value.data_offsets;
  if (!Array.isArray(offsets) || offsets.length !== 2) {
    throw new SafetensorsError(`${where}: data_offsets must be [begin, end], got ${describeValue(offsets)}`);
  }
  const [begin, end] = offsets as unknown[];
  checkNonNegativeInteger(begin, `${where}: data_offsets begin`, "offsets");
  checkNonNegativeInteger(end, `${where}: data_offsets end`, "offsets");
  const b = begin as number;
  const e = end as number;
  if (b > e) throw new SafetensorsError(`${where}: data_offsets [${b}, ${e}] has begin after end`);

  const itemSize = SAFETENSORS_DTYPES[dtype].itemSize;
  const expected = byteLengthOf(shape as number[], itemSize);
  if (expected !== e - b) {
    const want = expected === null ? "more than 2^53" : String(expected);
    throw new SafetensorsError(
      `${where}: ${dtype}${formatShape(shape as number[])} needs ${want} bytes but data_offsets [${b}, ${e}] hold ${e - b}`,
    );
  }
  return {
    dtype,
    shape: Object.freeze([...(shape as number[])]),
    dataOffsets: Object.freeze([b, e] as [number, number]),
    byteLength: e - b,
  };
}

function checkNonNegativeInteger(value: unknown, what: string, plural: string): void {
  if (typeof value === "number" && Number.isInteger(value) && value > Number.MAX_SAFE_INTEGER) {
    throw new SafetensorsError(`${what} is ${value}, beyond 2^53 - 1 (corrupt, or a file no host could hold)`);
  }
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) {
    throw new SafetensorsError(`${what} is ${describeValue(value)}; ${plural} must be non-negative integers`);
  }
}

/** numel * itemSize, or null when it is not a safe integer (a corrupt shape, not a real tensor). */
function byteLengthOf(shape: readonly number[], itemSize: number): number | null {
  if (shape.includes(0)) return 0;
  let n = itemSize;
  for (const d of shape) {
    n *= d;
    if (n > Number.MAX_SAFE_INTEGER) return null;
  }
  return n;
}

/**
 * Sorted by offsets, each tensor must begin where the previous one ended, the first at 0 and the last
 * end at the end of the data buffer. Empty tensors ([k, k]) sort before a tensor starting at k.
 */
function inOffsetOrder(
  entries: readonly [string, SafetensorsTensorInfo][],
  dataLength: number,
  label: string,
): [string, SafetensorsTensorInfo][] {
  const byOffset = [...entries].sort(
    ([na, a], [nb, b]) => a.dataOffsets[0] - b.dataOffsets[0] || a.dataOffsets[1] - b.dataOffsets[1] || (na < nb ? -1 : na > nb ? 1 : 0),
  );
  let covered = 0;
  let previous: string | null = null;
  for (const [name, info] of byOffset) {
    const [begin, end] = info.dataOffsets;
    const where = `${label}: tensor ${quoteName(name)}`;
    if (end > dataLength) {
      throw new SafetensorsError(`${where}: data_offsets [${begin}, ${end}] run past the ${dataLength}-byte data buffer`);
    }
    if (begin < covered) {
      throw new SafetensorsError(`${where}: data_offsets [${begin}, ${end}] overlap tensor ${quoteName(previous ?? "")}, which ends at ${covered}`);
    }
    if (begin > covered) {
      throw new SafetensorsError(`${where}: data buffer bytes [${covered}, ${begin}) before it belong to no tensor`);
    }
    covered = end;
    previous = name;
  }
  if (covered !== dataLength) {
    throw new SafetensorsError(`${label}: data buffer has ${dataLength} bytes but tensors cover only [0, ${covered}); the rest belongs to no tensor`);
  }
  return byOffset;
}

function isPlainObject(x: unknown): x is Record<string, unknown> {
  return typeof x === "object" && x !== null && !Array.isArray(x);
}

/** A tensor name for an error message; a corrupt header can hold a name of megabytes. */
export function quoteName(name: string): string {
  return JSON.stringify(name.length > 200 ? `${name.slice(0, 200)}...` : name);
}

export function formatShape(shape: readonly number[]): string {
  return shape.length > 16 ? `[${shape.slice(0, 16).join(", ")}, ... (${shape.length} dims)]` : `[${shape.join(", ")}]`;
}

/** A short description that cannot throw or recurse, whatever the JSON holds. */
export function describeValue(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return `an array of ${v.length} items`;
  if (typeof v === "object") return "an object";
  if (typeof v === "string") return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}...` : v);
  return String(v);
}
