// Reading safetensors files. `SafetensorsFile.open` reads the 8-byte prefix and the header only;
// each tensor is read on demand with positioned reads, so a multi-GB weights file is never loaded
// whole and never memory-mapped. Reads are synchronous: weights load once, before any request.

import { FileSource, MemorySource, type ByteSource } from "./byte-source.js";
import { Tensor, type DType } from "../tensor/tensor.js";
import {
  assertLittleEndianHost,
  SAFETENSORS_DTYPES,
  SafetensorsError,
  formatShape,
  parseHeader,
  parseHeaderLength,
  quoteName,
  type SafetensorsDType,
  type SafetensorsHeader,
  type SafetensorsTensorInfo,
} from "./safetensors-format.js";
import { bfloat16ToFloat32Array } from "../tensor/float16.js";

export interface SafetensorsEntryInfo extends SafetensorsTensorInfo {
  /** The dtype `read` returns (BF16 widens to float32), or null when only `readRaw` can read it. */
  readonly tensorDType: DType | null;
}

const safetensorsError = (message: string, options?: { cause?: unknown }): Error => new SafetensorsError(message, options);

export class SafetensorsFile {
  private closed = false;

  private constructor(
    /** The path, or the label given to `fromBytes`; every error message starts with it. */
    readonly label: string,
    private readonly source: ByteSource,
    private readonly header: SafetensorsHeader,
  ) {}

  /** Opens `path` and reads and validates its header; tensor data stays on disk until read. */
  static open(path: string): SafetensorsFile {
    const source = FileSource.open(path, safetensorsError);
    try {
      return new SafetensorsFile(path, source, readHeader(source, path));
    } catch (e) {
      source.close();
      throw e;
    }
  }

  /** Parses a whole file already in memory; `bytes` is not copied, so do not change it while in use. */
  static fromBytes(bytes: Uint8Array, label = "<safetensors bytes>"): SafetensorsFile {
    const source = new MemorySource(bytes, label, safetensorsError);
    return new SafetensorsFile(label, source, readHeader(source, label));
  }

  /** The `__metadata__` map (empty when the file has none). */
  get metadata(): Readonly<Record<string, string>> {
    return this.header.metadata;
  }

  /** Tensor names in data-offset order, the order their bytes appear in the file. */
  names(): string[] {
    return [...this.header.tensors.keys()];
  }

  has(name: string): boolean {
    return this.header.tensors.has(name);
  }

  info(name: string): SafetensorsEntryInfo {
    const info = this.entry(name);
    return { ...info, tensorDType: SAFETENSORS_DTYPES[info.dtype].tensorDType };
  }

  /**
   * Reads one tensor. F16 stays float16 (bit patterns); BF16 becomes float32, which is exact because
   * bfloat16 is the top half of a float32 (same sign and exponent bits, 7 of float32's 23 mantissa
   * bits). Dtypes a Tensor cannot hold (F64, I8, U16, ...) throw; `readRaw` still reads them.
   */
  read(name: string): Tensor {
    const info = this.entry(name);
    const tensorDType = SAFETENSORS_DTYPES[info.dtype].tensorDType;
    if (tensorDType === null) {
      const supported = Object.entries(SAFETENSORS_DTYPES).filter(([, d]) => d.tensorDType !== null).map(([k]) => k);
      throw new SafetensorsError(
        `${this.label}: tensor ${quoteName(name)} has dtype ${info.dtype}, which vidrd tensors cannot hold ` +
          `(supported: ${supported.join(", ")}); readRaw gives its bytes`,
      );
    }
    return tensorFromBytes(info.dtype, info.shape, this.readRaw(name));
  }

  /** The tensor's bytes as stored (little-endian, row-major), in a fresh buffer of its own. */
  readRaw(name: string): Uint8Array {
    const info = this.entry(name);
    const bytes = allocateBytes(info.byteLength, `${this.label}: tensor ${quoteName(name)}`);
    this.source.readAt(this.header.dataStart + info.dataOffsets[0], bytes, `tensor ${quoteName(name)}`);
    return bytes;
  }

  /** Releases the file descriptor; later reads throw. Safe to call twice. */
  close(): void {
    this.closed = true;
    this.source.close();
  }

  private entry(name: string): SafetensorsTensorInfo {
    if (this.closed) throw new SafetensorsError(`${this.label}: file is closed (asked for tensor ${quoteName(name)})`);
    const info = this.header.tensors.get(name);
    if (info === undefined) {
      const n = this.header.tensors.size;
      throw new SafetensorsError(`${this.label}: no tensor named ${quoteName(name)} (the file has ${n} tensor${n === 1 ? "" : "s"})`);
    }
    return info;
  }
}

/** Reads every tensor of a small file (or of bytes in memory) into a Map, in data-offset order. */
export function readSafetensors(pathOrBytes: string | Uint8Array): Map<string, Tensor> {
  const file = typeof pathOrBytes === "string" ? SafetensorsFile.open(pathOrBytes) : SafetensorsFile.fromBytes(pathOrBytes);
  try {
    return new Map(file.names().map((name) => [name, file.read(name)]));
  } finally {
    file.close();
  }
}

function readHeader(source: ByteSource, label: string): SafetensorsHeader {
  const prefix = new Uint8Array(8);
  if (source.size >= 8) source.readAt(0, prefix, "the header length");
  const headerLength = parseHeaderLength(prefix, source.size, label);
  const headerBytes = new Uint8Array(headerLength);
  source.readAt(8, headerBytes, "the header");
  return parseHeader(headerBytes, source.size - 8 - headerLength, label);
}

function allocateBytes(byteLength: number, what: string): Uint8Array {
  try {
    return new Uint8Array(byteLength);
  } catch (e) {
    throw new SafetensorsError(`${what}: cannot allocate ${byteLength} bytes: ${(e as Error).message}`, { cause: e });
  }
}

/** `bytes` must own its buffer from offset 0, so that the typed-array views below are aligned. */
function tensorFromBytes(dtype: SafetensorsDType, shape: readonly number[], bytes: Uint8Array): Tensor {
  assertLittleEndianHost();
  const buffer = bytes.buffer;
  switch (dtype) {
    case "F32": return new Tensor("float32", new Float32Array(buffer), shape);
    case "F16": return new Tensor("float16", new Uint16Array(buffer), shape);
    case "BF16": return new Tensor("float32", bfloat16ToFloat32Array(new Uint16Array(buffer)), shape);
    case "I64": return new Tensor("int64", new BigInt64Array(buffer), shape);
    case "I32": return new Tensor("int32", new Int32Array(buffer), shape);
    case "U8": return new Tensor("uint8", bytes, shape);
    case "BOOL": return new Tensor("bool", bytes, shape);
    default: throw new SafetensorsError(`dtype ${dtype}${formatShape(shape)} cannot become a Tensor`);
  }
}
