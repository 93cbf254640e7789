// Small helpers shared by the trainer tests.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { StepRecord } from "../../src/train/index.js";
import type { Tensor } from "../../src/tensor/tensor.js";

/** A fresh directory removed when the test ends. */
export function tempDir(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), "vidrd-train-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** The bit patterns of a float32 tensor, for exact comparisons that also tell -0 from 0 and NaNs apart. */
export const bits = (t: Tensor): number[] => Array.from(new Uint32Array((t.data as Float32Array).slice().buffer));

/** A log record without its clock-dependent fields. */
export const withoutTiming = ({ samples_per_s: _, ...rest }: StepRecord) => rest;
