// A tensor in a torch checkpoint, as `torch._utils._rebuild_tensor_v2` describes it: a view (offset,
// sizes, strides, in elements) into a storage (a flat typed buffer that several tensors may share).
// Nothing is read until `read()`; then only the span of the storage the view touches is read, and a
// non-contiguous view (a transpose, a narrow, an `expand` with stride 0) is gathered into a fresh
// row-major tensor.

import { Tensor, type DType } from "../../tensor/tensor.js";
import { bfloat16ToFloat32Array } from "../../tensor/float16.js";
import { PthError } from "./errors.js";
import type { PickleHostObject } from "./pickle-values.js";

/** Element types of torch storages; `read()` supports all but the complex and quantized ones. */
export type TorchDType =
  | "float32" | "float16" | "bfloat16" | "float64" | "int64" | "int32" | "int16" | "int8" | "uint8" | "bool"
  | "complex64" | "complex128" | "qint8" | "quint8" | "qint32";

export interface StorageType {
  readonly dtype: TorchDType;
  readonly itemSize: number;
  /** What `TorchTensor.read()` returns, or null when vidrd cannot hold this dtype. */
  readonly tensorDType: DType | null;
}

/** `torch.<Name>` storage classes, which name a storage's element type in a checkpoint. */
export const STORAGE_TYPES: ReadonlyMap<string, StorageType> = new Map<string, StorageType>([
  ["FloatStorage", { dtype: "float32", itemSize: 4, tensorDType: "float32" }],
  ["HalfStorage", { dtype: "float16", itemSize: 2, tensorDType: "float16" }],
  ["BFloat16Storage", { dtype: "bfloat16", itemSize: 2, tensorDType: "float32" }],
  ["DoubleStorage", { dtype: "float64", itemSize: 8, tensorDType: "float32" }],
  ["LongStorage", { dtype: "int64", itemSize: 8, tensorDType: "int64" }],
  ["IntStorage", { dtype: "int32", itemSize: 4, tensorDType: "int32" }],
  ["ShortStorage", { dtype: "int16", itemSize: 2, tensorDType: "int32" }],
  ["CharStorage", { dtype: "int8", itemSize: 1, tensorDType: "int32" }],
  ["ByteStorage", { dtype: "uint8", itemSize: 1, tensorDType: "uint8" }],
  ["BoolStorage", { dtype: "bool", itemSize: 1, tensorDType: "bool" }],
  ["ComplexFloatStorage", { dtype: "complex64", itemSize: 8, tensorDType: null }],
  ["ComplexDoubleStorage", { dtype: "complex128", itemSize: 16, tensorDType: null }],
  ["QInt8Storage", { dtype: "qint8", itemSize: 1, tensorDType: null }],
  ["QUInt8Storage", { dtype: "quint8", itemSize: 1, tensorDType: null }],
  ["QInt32Storage", { dtype: "qint32", itemSize: 4, tensorDType: null }],
]);

/** Reads bytes of one storage; offsets are relative to the storage's first byte. */
export interface StorageBytes {
  readonly byteLength: number;
  /** A fresh buffer of its own (the bytes start at offset 0 of it). */
  read(byteOffset: number, byteLength: number): Uint8Array;
}

export class TorchStorage implements PickleHostObject {
  readonly pickleKind = "storage";
  constructor(
    /** The key naming the storage in the file (`data/<key>` in a zip archive). */
    readonly key: string,
    readonly type: StorageType,
    /** Elements, as the pickle declares. */
    readonly numel: number,
    readonly location: string,
    readonly bytes: StorageBytes,
    /** Where errors say the storage lives. */
    readonly label: string,
  ) {}
}

export class TorchTensor implements PickleHostObject {
  readonly pickleKind = "tensor";
  readonly shape: readonly number[];
  readonly stride: readonly number[];

  constructor(
    readonly storage: TorchStorage,
    readonly storageOffset: number,
    shape: readonly number[],
    stride: readonly number[],
    where: string,
  ) {
    const bad = (what: string): never => {
      throw new PthError(`${where}: tensor view of storage ${storage.key} ${what}`);
    };
    if (!Number.isSafeInteger(storageOffset) || storageOffset < 0) bad(`has storage offset ${storageOffset}`);
    if (shape.length !== stride.length) bad(`has ${shape.length} sizes but ${stride.length} strides`);
    if (![...shape, ...stride].every((d) => Number.isSafeInteger(d) && d >= 0)) bad(`has sizes [${shape}] and strides [${stride}]; both must be non-negative integers`);
    this.shape = Object.freeze([...shape]);
    this.stride = Object.freeze([...stride]);
    if (this.numel > 0) {
      const last = storageOffset + this.shape.reduce((s, d, i) => s + (d - 1) * this.stride[i], 0);
      if (last >= storage.numel) bad(`(offset ${storageOffset}, sizes [${shape}], strides [${stride}]) reaches element ${last}, past the storage's ${storage.numel}`);
      if ((last + 1) * storage.type.itemSize > storage.bytes.byteLength) {
        bad(`needs ${(last + 1) * storage.type.itemSize} bytes but the file holds ${storage.bytes.byteLength} for it; the file is truncated or corrupt`);
      }
    }
  }

  /** The element type as stored in the file. */
  get dtype(): TorchDType {
    return this.storage.type.dtype;
  }

  /** The dtype `read()` returns: bfloat16 and float64 become float32, int16/int8 become int32. */
  get tensorDType(): DType | null {
    return this.storage.type.tensorDType;
  }

  get numel(): number {
    return this.shape.reduce((n, d) => n * d, 1);
  }

  /** Row-major with no gaps (dimensions of size 1 may have any stride, as in torch). */
  get isContiguous(): boolean {
    let expected = 1;
    for (let i = this.shape.length - 1; i >= 0; i--) {
      if (this.shape[i] === 1) continue;
      if (this.stride[i] !== expected) return false;
      expected *= this.shape[i];
    }
    return true;
  }

  /**
   * The tensor's values, row-major. float16 stays float16 (bit patterns); bfloat16 widens to float32
   * exactly; float64 is rounded to the nearest float32 (the only lossy case).
   */
  read(): Tensor {
    const tensorDType = this.tensorDType;
    if (tensorDType === null) {
      throw new PthError(`${this.storage.label}: storage ${this.storage.key} holds ${this.dtype} elements, which vidrd tensors cannot hold`);
    }
    const n = this.numel;
    const itemSize = this.storage.type.itemSize;
    let elements: Uint8Array;
    if (n === 0) elements = new Uint8Array(0);
    else {
      const spanEnd = this.storageOffset + this.shape.reduce((s, d, i) => s + (d - 1) * this.stride[i], 0) + 1;
      const span = this.storage.bytes.read(this.storageOffset * itemSize, (spanEnd - this.storageOffset) * itemSize);
      elements = this.isContiguous ? span : gather(span, itemSize, this.shape, this.stride);
      if (elements.byteOffset !== 0) elements = elements.slice(); // typed views below need alignment
    }
    return new Tensor(tensorDType, decode(this.dtype, elements.buffer as ArrayBuffer, n), this.shape);
  }
}

/** Copies a strided view (strides in elements, from the span's first element) into row-major order. */
function gather(span: Uint8Array, itemSize: number, shape: readonly number[], stride: readonly number[]): Uint8Array {
  const n = shape.reduce((a, d) => a * d, 1);
  const out = new Uint8Array(n * itemSize);
  const words = itemSize === 8 ? 2 : 1;
  const unit = itemSize === 8 ? 4 : itemSize;
  const View = unit === 4 ? Uint32Array : unit === 2 ? Uint16Array : Uint8Array;
  const src = new View(span.buffer as ArrayBuffer, span.byteOffset, span.byteLength / unit);
  const dst = new View(out.buffer, 0, out.byteLength / unit);
  const rank = shape.length;
  const index = new Array<number>(rank).fill(0);
  let from = 0;
  for (let k = 0; k < n; k++) {
    for (let w = 0; w < words; w++) dst[k * words + w] = src[from * words + w];
    // odometer over the multi-index, last dimension fastest
    for (let d = rank - 1; d >= 0; d--) {
      if (++index[d] < shape[d]) {
        from += stride[d];
        break;
      }
      from -= (shape[d] - 1) * stride[d];
      index[d] = 0;
    }
  }
  return out;
}

function decode(dtype: TorchDType, buffer: ArrayBuffer, n: number): Tensor["data"] {
  assertLittleEndianHost();
  switch (dtype) {
    case "float32": return new Float32Array(buffer, 0, n);
    case "float16": return new Uint16Array(buffer, 0, n);
    case "bfloat16": return bfloat16ToFloat32Array(new Uint16Array(buffer, 0, n));
    case "float64": return Float32Array.from(new Float64Array(buffer, 0, n)); // rounds to nearest, ties to even
    case "int64": return new BigInt64Array(buffer, 0, n);
    case "int32": return new Int32Array(buffer, 0, n);
    case "int16": return Int32Array.from(new Int16Array(buffer, 0, n));
    case "int8": return Int32Array.from(new Int8Array(buffer, 0, n));
    case "uint8":
    case "bool": return new Uint8Array(buffer, 0, n);
    default: throw new PthError(`dtype ${dtype} cannot become a vidrd tensor`);
  }
}

/** Checkpoint data is little-endian (torch writes `byteorder` "little"); typed arrays use host order. */
export function assertLittleEndianHost(): void {
  if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) throw new PthError("torch checkpoints are little-endian; big-endian hosts are not supported");
}
