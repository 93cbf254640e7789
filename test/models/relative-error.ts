// Shared by model tests that compare two float32 outputs at the scale of the second.

import assert from "node:assert/strict";
import type { Tensor } from "../../src/tensor/tensor.js";

/** max |a - b| (Infinity when any difference is NaN) and max |b|, over float32 tensors of one shape. */
export function errorAndScale(a: Tensor, b: Tensor): { worst: number; scale: number } {
  assert.deepEqual(a.shape, b.shape);
  const x = a.data as Float32Array;
  const y = b.data as Float32Array;
  let worst = 0;
  let scale = 0;
  for (let i = 0; i < x.length; i++) {
    const d = Math.abs(x[i]! - y[i]!);
    if (Number.isNaN(d)) worst = Infinity;
    else if (d > worst) worst = d;
    scale = Math.max(scale, Math.abs(y[i]!));
  }
  return { worst, scale };
}

/** max |a - b| / max |b| over float32 tensors of one shape; NaN anywhere gives Infinity. */
export function relativeError(a: Tensor, b: Tensor): number {
  const { worst, scale } = errorAndScale(a, b);
  return worst / scale;
}
