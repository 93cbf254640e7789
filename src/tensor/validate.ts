// Boundary checks shared by the host ops: every failure names the op, the argument, its shape and dtype,
// and what is allowed (STYLE.md rule 5).

import { sameShape, type Tensor } from "./tensor.js";

export function shapeText(shape: readonly number[]): string {
  return `[${shape.join(", ")}]`;
}

/** The Float32Array of `t`, or an error naming op, argument and dtype. */
export function float32Data(op: string, arg: string, t: Tensor): Float32Array {
  if (t.dtype !== "float32") throw new Error(`${op}: ${arg} is ${t.describe()}; allowed dtype: float32`);
  return t.data as Float32Array;
}

export function checkSameShape(op: string, a: Tensor, b: Tensor, aName = "a", bName = "b"): void {
  if (!sameShape(a.shape, b.shape)) {
    throw new Error(
      `${op}: shapes ${shapeText(a.shape)} and ${shapeText(b.shape)} differ (${aName} and ${bName}); ${op} needs equal shapes (no broadcasting)`,
    );
  }
}

export function checkFinite(op: string, arg: string, x: number): void {
  if (typeof x !== "number" || !Number.isFinite(x)) throw new Error(`${op}: ${arg} is ${String(x)}; allowed: a finite number`);
}

/** `out` when given (float32, same shape as `like`), else a new zero tensor of that shape. */
export function outputLike(op: string, like: Tensor, out: Tensor | undefined): Float32Array {
  if (out === undefined) return new Float32Array(like.size);
  const data = float32Data(op, "out", out);
  if (!sameShape(out.shape, like.shape)) {
    throw new Error(`${op}: out has shape ${shapeText(out.shape)} but the result has ${shapeText(like.shape)}; they must be equal`);
  }
  return data;
}

/** [B, C, F, H, W] of a float32 latent, or an error naming op, argument and the rank found. */
export function latentShape(op: string, arg: string, t: Tensor): [number, number, number, number, number] {
  float32Data(op, arg, t);
  if (t.rank !== 5) throw new Error(`${op}: ${arg} has shape ${shapeText(t.shape)} (rank ${t.rank}); allowed: rank 5, [B, C, F, H, W]`);
  const [b, c, f, h, w] = t.shape;
  return [b, c, f, h, w];
}
