import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import type { NoiseSource } from "../../src/tensor/noise.js";
import { Tensor } from "../../src/tensor/tensor.js";
import {
  RecordingNoise,
  ReplayNoise,
  ReplayNoiseError,
  SafetensorsFile,
  encodeSafetensors,
} from "../../src/io/index.js";
import { withTempDir } from "./helpers.js";

/**
 * A deterministic stand-in for a seeded normal source: an xorshift32 stream reinterpreted as float32
 * bit patterns, so draws cover signs, subnormals, -0 and NaN payloads that only a bit-exact replay keeps.
 */
class BitPatternNoise implements NoiseSource {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0 || 1;
  }
  randn(shape: readonly number[]): Float32Array {
    const n = shape.reduce((a, b) => a * b, 1);
    const bits = new Uint32Array(n);
    for (let i = 0; i < n; i++) {
      let x = this.state;
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      this.state = x >>> 0;
      bits[i] = this.state;
    }
    return new Float32Array(bits.buffer);
  }
}

const bitsOf = (a: Float32Array) => [...new Uint32Array(a.buffer, a.byteOffset, a.length)];


const SHAPES = [[1, 4, 2, 8, 8], [2, 3], [], [5], [1, 4, 2, 8, 8], [0, 3], [3, 1, 2], [7], [2, 2], [1], [4], [3, 3]];

test("a recording replays bit for bit, in draw order past ten draws", () => {
  withTempDir((dir) => {
    const path = join(dir, "noise.safetensors");
    const recorder = new RecordingNoise(new BitPatternNoise(42));
    for (const shape of SHAPES) {
      // Callers scale noise in place; the recording must keep what was drawn.
      recorder.randn(shape).fill(0);
    }
    assert.equal(recorder.count, SHAPES.length);
    recorder.save(path, { seed: "42" });

    const file = SafetensorsFile.open(path);
    assert.deepEqual(file.names().slice(0, 3), ["noise.000000", "noise.000001", "noise.000002"]);
    assert.equal(file.metadata.seed, "42");
    assert.equal(file.metadata["vidrd.noise_draws"], String(SHAPES.length));
    file.close();

    const reference = new BitPatternNoise(42);
    const replay = ReplayNoise.open(path);
    for (const [i, shape] of SHAPES.entries()) {
      assert.deepEqual(bitsOf(replay.randn(shape)), bitsOf(reference.randn(shape)), `draw ${i + 1}`);
    }
    assert.equal(replay.remaining, 0);
  });
});

test("running out of recorded draws names the file, the count and the draw", () => {
  withTempDir((dir) => {
    const path = join(dir, "three.safetensors");
    const recorder = new RecordingNoise(new BitPatternNoise(1));
    for (let i = 0; i < 3; i++) recorder.randn([2]);
    recorder.save(path);
    const replay = ReplayNoise.open(path);
    for (let i = 0; i < 3; i++) replay.randn([2]);
    assert.throws(
      () => replay.randn([1, 4, 8, 8]),
      (e: unknown) =>
        e instanceof ReplayNoiseError &&
        e.message === `replay noise ${path}: all 3 recorded tensors used, draw 4 asked for shape [1, 4, 8, 8]`,
    );
  });
});

test("a shape mismatch names both shapes and the draw", () => {
  const recorder = new RecordingNoise(new BitPatternNoise(7));
  recorder.randn([2, 3]);
  recorder.randn([4, 1]);
  withTempDir((dir) => {
    const path = join(dir, "two.safetensors");
    recorder.save(path);
    const replay = ReplayNoise.open(path);
    replay.randn([2, 3]);
    assert.throws(
      () => replay.randn([1, 4]),
      (e: unknown) =>
        e instanceof ReplayNoiseError &&
        e.message === `replay noise ${path}: draw 2 asked for shape [1, 4] but recorded tensor "noise.000001" has shape [4, 1]`,
    );
    // A failed draw consumes nothing: the right shape still gets the second recording.
    assert.equal(replay.randn([4, 1]).length, 4);
    replay.close();
  });
});

test("draw order is natural numeric order of the names, not file order or plain string order", () => {
  const value = (v: number) => Tensor.float32([v]);
  // Written unpadded: plain string order would be 1, 10, 2.
  const bytes = encodeSafetensors(new Map([["noise.10", value(10)], ["noise.2", value(2)], ["noise.1", value(1)]]));
  const replay = ReplayNoise.fromBytes(bytes);
  assert.deepEqual([0, 1, 2].map(() => replay.randn([1])[0]), [1, 2, 10]);
});

test("F16 and BF16 recordings come back as the float32 values they encode", () => {
  // Half bit patterns of 0.5, -1.25, 65504 (largest half), 2^-24 (smallest subnormal), -0, -inf.
  const half = new Tensor("float16", Uint16Array.from([0x3800, 0xbd00, 0x7bff, 0x0001, 0x8000, 0xfc00]), [2, 3]);
  // Values bf16 holds exactly, so writing them as BF16 loses nothing.
  const brain = Tensor.float32([1.5, -3.0, 2 ** -100, 0.1015625], [4]);
  const bytes = encodeSafetensors({ "noise.0": half, "noise.1": brain }, undefined, { float32As: "BF16" });
  const replay = ReplayNoise.fromBytes(bytes);
  const h = replay.randn([2, 3]);
  assert.ok(h instanceof Float32Array);
  assert.deepEqual([...h], [0.5, -1.25, 65504, 2 ** -24, -0, -Infinity]);
  assert.ok(Object.is(h[4], -0));
  assert.deepEqual([...replay.randn([4])], [1.5, -3.0, 2 ** -100, 0.1015625]);
});

test("a noise file with a non-float tensor is refused up front", () => {
  const bytes = encodeSafetensors({ "noise.0": Tensor.int32([1, 2]) });
  assert.throws(() => ReplayNoise.fromBytes(bytes, "ints.safetensors"), (e: unknown) => e instanceof ReplayNoiseError && /ints\.safetensors: tensor "noise.0" has dtype I32/.test(e.message));
});

test("a recording with no draws saves and replays as empty", () => {
  withTempDir((dir) => {
    const path = join(dir, "empty.safetensors");
    new RecordingNoise(new BitPatternNoise(3)).save(path);
    const replay = ReplayNoise.open(path);
    assert.equal(replay.remaining, 0);
    assert.throws(() => replay.randn([1]), /all 0 recorded tensors used, draw 1 asked for shape \[1\]/);
    replay.close();
  });
});
