// Initializer data at emission: where each initializer's bytes come from (a weight, read lazily, or a
// constant), where they go (inline in the ModelProto, or at an offset of the external data file), and the
// one pass that reads every source once and hands its bytes on.
//
// Why one pass over sources, in source order: a cold build of a multi-GB model must never hold all its
// weights in JS. Each source is read when its turn comes, its initializers (the weight itself and any
// views fold.ts made of it) are written, and it is dropped before the next is read, so at most one
// weight's bytes are alive at a time however large the model.

import { type DType, ITEM_SIZE, Tensor, sameShape } from "../../tensor/tensor.js";
import type { Value } from "../graph.js";

/** A weight whose dtype and shape are known up front and whose data is read only when it is written. */
export interface LazyWeight {
  readonly dtype: DType;
  readonly shape: readonly number[];
  /**
   * The data, as a Tensor of exactly `dtype` and `shape`. Called once per emission; the emitter keeps no
   * reference to the result once its bytes are written (streaming emission).
   */
  read(): Tensor;
}

/** Weights as lazy entries: emission checks every dtype and shape without reading data, then reads each once. */
export interface LazyWeightSource {
  readonly lazy: (name: string) => LazyWeight | undefined;
}

/** Raised for weights that are missing, of the wrong shape or dtype, or that read differently than declared. */
export class GraphWeightsError extends Error {
  override name = "GraphWeightsError";
}

/** Initializers smaller than this stay inline even in an external model, so shape inference can read them. */
const INLINE_BELOW_BYTES = 1024;
/** External tensors start at multiples of this, so the runtime can map them. */
const EXTERNAL_ALIGNMENT = 64;

/** One initializer: elements [begin, end) of `source`'s data, seen with `shape`. */
export interface PlannedInitializer {
  readonly name: string;
  readonly dtype: DType;
  readonly shape: readonly number[];
  /** The parameter or constant whose data it is: initializers with the same key share one read. */
  readonly key: Value;
  readonly source: LazyWeight;
  readonly begin: number;
  readonly end: number;
}

export interface InitializerLayout {
  readonly initializers: readonly PlannedInitializer[];
  /** Per initializer: its byte offset in the external data file, or null when inline. */
  readonly offsets: readonly (number | null)[];
  /** Indices of `initializers` in read order, one group per key (one read each); offsets increase along it. */
  readonly readGroups: readonly (readonly number[])[];
  /** Length of the external data file (0 when nothing is external). */
  readonly externalBytes: number;
}

export function byteLengthOf(init: PlannedInitializer): number {
  return (init.end - init.begin) * ITEM_SIZE[init.dtype];
}

/** Places each initializer inline or in the external file (when `external`), in read order. */
export function layoutInitializers(initializers: readonly PlannedInitializer[], external: boolean): InitializerLayout {
  const byKey = new Map<Value, number[]>();
  for (const [i, init] of initializers.entries()) {
    const group = byKey.get(init.key);
    if (group) group.push(i);
    else byKey.set(init.key, [i]);
  }
  const readGroups = [...byKey.values()];
  const offsets: (number | null)[] = initializers.map(() => null);
  let at = 0;
  for (const i of readGroups.flat()) {
    const length = byteLengthOf(initializers[i]!);
    if (!external || length < INLINE_BELOW_BYTES) continue;
    at = Math.ceil(at / EXTERNAL_ALIGNMENT) * EXTERNAL_ALIGNMENT;
    offsets[i] = at;
    at += length;
  }
  return { initializers, offsets, readGroups, externalBytes: at };
}

function bytesOf(t: Tensor): Uint8Array {
  const d = t.data;
  return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
}

/**
 * Reads every source once, in read order, and hands on each initializer's bytes: external ones to
 * `writeExternal` (offsets increasing), inline ones returned by index. With `copyInline`, inline bytes
 * are copied out of their source, so that keeping them does not keep a large weight alive.
 */
export function streamInitializers(
  graphName: string,
  layout: InitializerLayout,
  writeExternal: (offset: number, bytes: Uint8Array) => void,
  copyInline: boolean,
): Map<number, Uint8Array> {
  const inline = new Map<number, Uint8Array>();
  for (const group of layout.readGroups) streamSource(graphName, layout, group, writeExternal, copyInline, inline);
  return inline;
}

/**
 * One source: read, its initializers handed on, dropped. A function of its own so that nothing of the
 * source outlives it, not even a stale local of the caller's frame, while the next source is read.
 */
function streamSource(
  graphName: string,
  layout: InitializerLayout,
  group: readonly number[],
  writeExternal: (offset: number, bytes: Uint8Array) => void,
  copyInline: boolean,
  inline: Map<number, Uint8Array>,
): void {
  const data = bytesOf(readChecked(graphName, layout.initializers[group[0]!]!));
  for (const i of group) {
    const init = layout.initializers[i]!;
    const item = ITEM_SIZE[init.dtype];
    const bytes = data.subarray(init.begin * item, init.end * item);
    const offset = layout.offsets[i]!;
    if (offset === null) inline.set(i, copyInline ? bytes.slice() : bytes);
    else writeExternal(offset, bytes);
  }
}

/** The source's data, checked against what it declared (a lazy source may read differently). */
function readChecked(graphName: string, init: PlannedInitializer): Tensor {
  const { source, key } = init;
  const t: unknown = source.read();
  if (t instanceof Tensor && t.dtype === source.dtype && sameShape(t.shape, source.shape)) return t;
  const got = t instanceof Tensor ? t.describe() : t === null ? "null" : typeof t;
  const name = key.kind === "param" ? key.name : init.name;
  throw new GraphWeightsError(
    `graph ${graphName}: weight ${name} was declared ${source.dtype}[${source.shape.join(", ")}], but reading it gave ${got}; ` +
      "read() must return a Tensor of the declared dtype and shape",
  );
}
