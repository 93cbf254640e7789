// Host tensors: a typed array, a shape and a dtype. Thin on purpose (see STYLE.md, transformers.js):
// the heavy math runs in the runtime; the host only holds data and does what samplers need.

export type DType = "float32" | "float16" | "int64" | "int32" | "uint8" | "bool";

/** The typed array that stores each dtype. float16 is kept as its IEEE half bit patterns. */
export interface DataOf {
  float32: Float32Array;
  float16: Uint16Array;
  int64: BigInt64Array;
  int32: Int32Array;
  uint8: Uint8Array;
  bool: Uint8Array;
}
export type TensorData = DataOf[DType];

export const DTYPES: readonly DType[] = ["float32", "float16", "int64", "int32", "uint8", "bool"];

/** Bytes per element of each dtype. */
export const ITEM_SIZE: Record<DType, number> = {
  float32: 4,
  float16: 2,
  int64: 8,
  int32: 4,
  uint8: 1,
  bool: 1,
};

export function isDType(x: unknown): x is DType {
  return typeof x === "string" && (DTYPES as readonly string[]).includes(x);
}

/** Number of elements of a shape; throws on a negative or fractional dimension. */
export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) throw new Error(`shape [${shape.join(", ")}]: dimension ${d} is not a non-negative integer`);
    n *= d;
  }
  return n;
}

export function allocate<D extends DType>(dtype: D, n: number): DataOf[D] {
  switch (dtype) {
    case "float32": return new Float32Array(n) as DataOf[D];
    case "float16": return new Uint16Array(n) as DataOf[D];
    case "int64": return new BigInt64Array(n) as DataOf[D];
    case "int32": return new Int32Array(n) as DataOf[D];
    case "uint8":
    case "bool": return new Uint8Array(n) as DataOf[D];
  }
  throw new Error(`unknown dtype ${String(dtype)}; allowed: ${DTYPES.join(", ")}`);
}

function expectedArrayName(dtype: DType): string {
  return { float32: "Float32Array", float16: "Uint16Array", int64: "BigInt64Array", int32: "Int32Array", uint8: "Uint8Array", bool: "Uint8Array" }[dtype];
}

export class Tensor<D extends DType = DType> {
  readonly dtype: D;
  readonly shape: readonly number[];
  readonly data: DataOf[D];

  constructor(dtype: D, data: DataOf[D], shape: readonly number[]) {
    const n = numel(shape);
    const arrayName = expectedArrayName(dtype);
    if ((data as { constructor: { name: string } }).constructor.name !== arrayName) {
      throw new Error(`tensor of dtype ${dtype} needs a ${arrayName}, got ${(data as object).constructor.name}`);
    }
    if (data.length !== n) {
      throw new Error(`tensor of shape [${shape.join(", ")}] needs ${n} elements, data has ${data.length}`);
    }
    this.dtype = dtype;
    this.data = data;
    this.shape = Object.freeze([...shape]);
  }

  get size(): number {
    return this.data.length;
  }

  get rank(): number {
    return this.shape.length;
  }

  static zeros<D extends DType>(dtype: D, shape: readonly number[]): Tensor<D> {
    return new Tensor(dtype, allocate(dtype, numel(shape)), shape);
  }

  static float32(data: ArrayLike<number>, shape: readonly number[] = [data.length]): Tensor<"float32"> {
    return new Tensor("float32", Float32Array.from(data), shape);
  }

  static int64(data: ArrayLike<number | bigint>, shape: readonly number[] = [data.length]): Tensor<"int64"> {
    return new Tensor("int64", BigInt64Array.from(Array.from(data, (v) => BigInt(v))), shape);
  }

  static int32(data: ArrayLike<number>, shape: readonly number[] = [data.length]): Tensor<"int32"> {
    return new Tensor("int32", Int32Array.from(data), shape);
  }

  /** Same data, new shape (no copy); the element count must match. */
  reshape(shape: readonly number[]): Tensor<D> {
    return new Tensor(this.dtype, this.data, shape);
  }

  clone(): Tensor<D> {
    return new Tensor(this.dtype, this.data.slice() as DataOf[D], this.shape);
  }

  /** "float32[2, 4, 8, 32, 32]": how errors name a tensor. */
  describe(): string {
    return `${this.dtype}[${this.shape.join(", ")}]`;
  }
}

export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}
