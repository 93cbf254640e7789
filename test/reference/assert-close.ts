// Closeness checks that say where and by how much a result is off.
//
// Elementwise criterion: |actual - expected| <= atol + rtol * max(|expected|, magnitude), where
// `magnitude` (optional, per element) is the size of the terms that went into a sum: for a dot product
// sum_i x_i w_i it is sum_i |x_i w_i|, the quantity a float32 sum's rounding error scales with
// (Higham, Accuracy and Stability of Numerical Algorithms, eq. 3.5: |fl(x.y) - x.y| <= gamma_n |x|.|y|).
// Reference functions give it by running on absolute values (conv(|x|, |w|) + |b|).
// Norm-wise criterion (optional): ||actual - expected||_2 <= normRtol * ||expected||_2.

import assert from "node:assert/strict";
import type { Tensor } from "../../src/tensor/tensor.js";
import { type NdArray, fromTensor, indexString, unravel } from "./nd.js";

export interface CloseOptions {
  rtol?: number;
  atol?: number;
  magnitude?: NdArray;
  normRtol?: number;
  /** Names the check in messages. */
  label?: string;
}

function isTensor(x: NdArray | Tensor): x is Tensor {
  return "dtype" in x;
}

/** Asserts actual ~ expected under the criteria above; NaN matches only NaN, infinities only themselves. */
export function assertClose(actualIn: NdArray | Tensor, expected: NdArray, opts: CloseOptions = {}): void {
  const actual = isTensor(actualIn) ? fromTensor(actualIn) : actualIn;
  const rtol = opts.rtol ?? 1e-5;
  const atol = opts.atol ?? 0;
  const label = opts.label ? `${opts.label}: ` : "";
  assert.deepEqual([...actual.shape], [...expected.shape], `${label}shape [${actual.shape.join(", ")}] != expected [${expected.shape.join(", ")}]`);
  if (opts.magnitude) assert.deepEqual([...opts.magnitude.shape], [...expected.shape], `${label}magnitude shape differs`);
  let worst = -1;
  let worstRatio = 0; // error / allowed
  let bad = 0;
  let errSq = 0;
  let refSq = 0;
  for (let i = 0; i < expected.data.length; i++) {
    const a = actual.data[i]!;
    const e = expected.data[i]!;
    if (Number.isNaN(e) || Number.isNaN(a) || !Number.isFinite(e) || !Number.isFinite(a)) {
      const same = (Number.isNaN(e) && Number.isNaN(a)) || a === e;
      if (!same) {
        bad++;
        if (worstRatio !== Infinity) { worstRatio = Infinity; worst = i; }
      }
      continue;
    }
    const err = Math.abs(a - e);
    const allowed = atol + rtol * Math.max(Math.abs(e), opts.magnitude ? opts.magnitude.data[i]! : 0);
    errSq += err * err;
    refSq += e * e;
    if (err > allowed) bad++;
    const ratio = allowed === 0 ? (err === 0 ? 0 : Infinity) : err / allowed;
    if (ratio > worstRatio) {
      worstRatio = ratio;
      worst = i;
    }
  }
  if (bad > 0) {
    const idx = indexString(unravel(worst, expected.shape));
    const mag = opts.magnitude ? `, magnitude ${opts.magnitude.data[worst]}` : "";
    assert.fail(
      `${label}${bad} of ${expected.data.length} elements differ (rtol ${rtol}, atol ${atol}); worst at ${idx}: ` +
        `got ${actual.data[worst]}, expected ${expected.data[worst]}${mag} (error ${(worstRatio).toPrecision(3)}x the allowed)`,
    );
  }
  if (opts.normRtol !== undefined) {
    const rel = Math.sqrt(errSq) / Math.sqrt(refSq);
    assert.ok(rel <= opts.normRtol || errSq === 0, `${label}norm-wise relative error ${rel.toExponential(3)} > ${opts.normRtol}`);
  }
}

/** Exact equality of values and shape (data movement, integer and boolean results). */
export function assertExact(actualIn: NdArray | Tensor, expected: NdArray, label?: string): void {
  assertClose(actualIn, expected, { rtol: 0, atol: 0, label });
}
