// Paths of the fixtures written by tools/fixtures/pth_fixture.py (torch 1.13) and how to compare with
// its expected.json: float values as bit patterns, ints as decimal strings.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { Tensor } from "../../../src/tensor/tensor.js";

export const pthFixture = (name: string): string => fileURLToPath(new URL(`../../fixtures/pth/${name}`, import.meta.url));

export interface ExpectedTensor {
  /** torch's dtype name as saved, e.g. "bfloat16". */
  dtype: string;
  shape: number[];
  values: (number | string)[];
}

export const expected = JSON.parse(readFileSync(pthFixture("expected.json"), "utf8")) as Record<string, Record<string, ExpectedTensor>>;

/** The vidrd dtype each torch dtype reads as. */
export const READ_AS: Record<string, string> = {
  float32: "float32", float16: "float16", bfloat16: "float32", float64: "float32",
  int64: "int64", int32: "int32", int16: "int32", int8: "int32", uint8: "uint8", bool: "bool",
};

/** A tensor's values the way expected.json writes them. */
export function valuesOf(t: Tensor): (number | string)[] {
  if (t.dtype === "float32") return [...new Uint32Array(t.data.buffer, t.data.byteOffset, t.data.length)];
  if (t.dtype === "float16") return [...(t.data as Uint16Array)];
  return Array.from(t.data as ArrayLike<number | bigint>, (v) => String(v));
}

export function assertTensorEquals(actual: Tensor, want: ExpectedTensor, name: string, dtype = READ_AS[want.dtype]): void {
  assert.equal(actual.dtype, dtype, `${name}: dtype`);
  assert.deepEqual(actual.shape, want.shape, `${name}: shape`);
  assert.deepEqual(valuesOf(actual), want.values, `${name}: values`);
}
