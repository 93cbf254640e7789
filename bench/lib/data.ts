// Bench inputs: deterministic uniform values in [-1, 1) (mulberry32), so runs are comparable and no
// value is a denormal. Benches need no statistical quality; models use a NoiseSource instead.

import { Tensor, numel } from "../../src/tensor/tensor.js";

export function uniformTensor(shape: readonly number[], seed: number): Tensor<"float32"> {
  const data = new Float32Array(numel(shape));
  let a = seed >>> 0;
  for (let i = 0; i < data.length; i++) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    data[i] = (((t ^ (t >>> 14)) >>> 0) / 2 ** 32) * 2 - 1;
  }
  return new Tensor("float32", data, shape);
}
