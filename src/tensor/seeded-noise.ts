// The default NoiseSource: normals from a seeded Rng, so the same seed gives the same video bit for bit
// (DESIGN.md). The state can be saved and restored to resume a generation mid-way with the same noise.

import type { NoiseSource } from "./noise.js";
import { Rng, type RngState } from "./rng.js";
import { numel } from "./tensor.js";

export class SeededNoise implements NoiseSource {
  private readonly rng: Rng;

  /** seed: an integer in [0, 2^53) or a bigint in [0, 2^64). */
  constructor(seed: number | bigint) {
    this.rng = new Rng(seed);
  }

  /** Standard normals for `shape`, row-major; consecutive calls continue one stream. */
  randn(shape: readonly number[]): Float32Array {
    if (!Array.isArray(shape)) throw new Error(`SeededNoise.randn: shape is ${String(shape)}; allowed: an array of non-negative integers`);
    return this.rng.fillNormal(new Float32Array(numel(shape)));
  }

  /** A source for an independent stream (e.g. one per clip), a function of the seed and the id only. */
  fork(streamId: number | bigint): SeededNoise {
    const child = new SeededNoise(0);
    child.rng.setState(this.rng.fork(streamId).getState());
    return child;
  }

  getState(): RngState {
    return this.rng.getState();
  }

  setState(state: RngState): void {
    this.rng.setState(state);
  }

  static fromState(state: RngState): SeededNoise {
    const noise = new SeededNoise(0);
    noise.setState(state);
    return noise;
  }
}
