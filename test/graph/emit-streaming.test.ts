// Streaming emission (writeOnnx with a lazy weight source): the files are the ones in-memory emission
// writes, byte for byte; each weight is read exactly once (folded views included) and dropped once
// written, so at most one weight's bytes are alive in JS at a time; a weight that reads differently
// than it declared is refused by name.

import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { Graph, GraphWeightsError, emitOnnx, ops, saveEmitted, writeOnnx } from "../../src/graph/index.js";
import type { LazyWeight, LazyWeightSource } from "../../src/graph/onnx/emit.js";
import { buildUNet3D, parseUNet3DConfig, unet3dParamShapes } from "../../src/models/unet3d/index.js";
import { Session } from "../../src/runtime/index.js";
import { SeededNoise } from "../../src/tensor/seeded-noise.js";
import { Tensor } from "../../src/tensor/tensor.js";
import { hashedWeights } from "../models/unet3d/hashed-weights.js";

// The tiny VidRD UNet3D: its GEGLU projections fold into row slices and its temporal Conv3d weights
// into reshapes (fold.ts), so views of lazily read weights are exercised.
const CONFIG = parseUNet3DConfig({
  block_out_channels: [32, 64], layers_per_block: 1, cross_attention_dim: 32, norm_num_groups: 8, attention_head_dim: [2, 4],
  use_linear_projection: true, down_block_types: ["CrossAttnDownBlock3D", "DownBlock3D"], up_block_types: ["UpBlock3D", "CrossAttnUpBlock3D"], sample_size: 8,
}, "vidrd");
const WEIGHTS = hashedWeights(unet3dParamShapes(CONFIG), 5);

function unet(): Graph {
  const g = new Graph("unet");
  buildUNet3D(g, CONFIG, { height: "H", width: "W" });
  return g;
}

/** A lazy source over `make`, counting the reads of each name. */
function countingSource(shapes: ReadonlyMap<string, readonly number[]>, make: (name: string) => Tensor): { source: LazyWeightSource; reads: Map<string, number> } {
  const reads = new Map<string, number>();
  const lazy = (name: string): LazyWeight | undefined => {
    const shape = shapes.get(name);
    if (!shape) return undefined;
    return {
      dtype: "float32",
      shape,
      read: () => {
        reads.set(name, (reads.get(name) ?? 0) + 1);
        return make(name);
      },
    };
  };
  return { source: { lazy }, reads };
}

/** Fresh copies, so a source's tensors share nothing with WEIGHTS. */
const copyOf = (name: string) => WEIGHTS.get(name)!.clone();

function withDir<T>(body: (dir: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), "vidrd-emit-stream-"));
  try {
    return body(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test("streamed files equal the in-memory emission byte for byte, external and inline; each weight is read once", () => {
  const shapes = new Map([...WEIGHTS].map(([k, t]) => [k, t.shape]));
  withDir((dir) => {
    for (const externalData of ["always", "never"] as const) {
      // the same file names in two directories, so the ModelProtos name the same data file
      const [streamedDir, memoryDir] = [join(dir, `streamed-${externalData}`), join(dir, `memory-${externalData}`)];
      mkdirSync(streamedDir);
      mkdirSync(memoryDir);
      const { source, reads } = countingSource(shapes, copyOf);
      const streamed = writeOnnx(unet(), join(streamedDir, "unet.onnx"), { weights: source, externalData });
      saveEmitted(emitOnnx(unet(), { weights: WEIGHTS, externalData, externalFileName: "unet.onnx.data" }), join(memoryDir, "unet.onnx"));
      const files = externalData === "always" ? ["unet.onnx", "unet.onnx.data"] : ["unet.onnx"];
      assert.deepEqual(readdirSync(streamedDir).sort(), files, "no temporary files left");
      assert.deepEqual(readdirSync(memoryDir).sort(), files);
      for (const f of files) assert.ok(readFileSync(join(streamedDir, f)).equals(readFileSync(join(memoryDir, f))), `${externalData}: ${f} differs`);
      assert.equal(streamed.modelBytes, statSync(join(streamedDir, "unet.onnx")).size);
      if (externalData === "always") {
        assert.equal(streamed.external?.fileName, "unet.onnx.data");
        assert.equal(streamed.external.totalBytes, statSync(join(streamedDir, "unet.onnx.data")).size);
      } else assert.equal(streamed.external, null);
      // every weight the model needs is read exactly once, whether emitted whole, as views, or both
      assert.ok(reads.size > 100, `only ${reads.size} weights read`);
      assert.deepEqual([...reads].filter(([, n]) => n !== 1), [], `${externalData}: weights read more than once`);
    }
  });
});

test("a streamed model loads from its file and computes what the in-memory one computes", async () => {
  const shapes = new Map([...WEIGHTS].map(([k, t]) => [k, t.shape]));
  const feeds = {
    sample: new Tensor("float32", new SeededNoise(1).randn([1, 4, 2, 8, 8]), [1, 4, 2, 8, 8]),
    timestep: Tensor.float32([300]),
    encoder_hidden_states: new Tensor("float32", new SeededNoise(2).randn([1, 77, 32]), [1, 77, 32]),
  };
  const inMemory = await Session.fromGraph(unet(), { weights: WEIGHTS, threads: 1 });
  const want = (await inMemory.run(feeds)).eps!;
  await inMemory.release();
  // through fromGraph (a temporary file past the threshold) and through a file written by writeOnnx
  const viaGraph = await Session.fromGraph(unet(), { weights: countingSource(shapes, copyOf).source, externalThreshold: 1000, threads: 1 });
  assert.deepEqual([...(await viaGraph.run(feeds)).eps!.data], [...want.data]);
  await viaGraph.release();
  const dir = mkdtempSync(join(tmpdir(), "vidrd-emit-stream-"));
  try {
    writeOnnx(unet(), join(dir, "unet.onnx"), { weights: countingSource(shapes, copyOf).source, externalData: "always" });
    const fromFile = await Session.fromFile(join(dir, "unet.onnx"), { threads: 1 });
    assert.deepEqual([...(await fromFile.run(feeds)).eps!.data], [...want.data]);
    await fromFile.release();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("streaming holds one weight at a time; in-memory emission holds them all", () => {
  setFlagsFromString("--expose-gc");
  const gc = runInNewContext("gc") as () => void;
  const count = 24;
  const elements = 256 * 1024; // 1 MiB of float32 per weight
  const g = new Graph("many");
  const x = g.input("x", "float32", [1, 256]);
  const shapes = new Map<string, number[]>();
  for (let i = 0; i < count; i++) {
    shapes.set(`w${i}`, [1024, 256]);
    g.output(`y${i}`, ops.linear(x, g.param(`w${i}`, [1024, 256])));
  }

  /** Bytes of ArrayBuffers alive above the start: at each read (before the weight is made), and after. */
  const liveBytes = (emit: (source: LazyWeightSource) => void): { atReads: number[]; after: number } => {
    // twice: V8 frees array buffers concurrently after a collection; the next one waits for that
    const collect = () => (gc(), gc());
    collect();
    const base = process.memoryUsage().arrayBuffers;
    const atReads: number[] = [];
    emit(countingSource(shapes, (name) => {
      collect();
      atReads.push(process.memoryUsage().arrayBuffers - base);
      return new Tensor("float32", new Float32Array(elements).fill(Number(name.slice(1))), [1024, 256]);
    }).source);
    collect();
    return { atReads, after: process.memoryUsage().arrayBuffers - base };
  };
  const MiB = 2 ** 20;
  withDir((dir) => {
    const streamed = liveBytes((weights) => void writeOnnx(g, join(dir, "many.onnx"), { weights, externalData: "always" }));
    assert.equal(streamed.atReads.length, count);
    assert.ok(Math.max(...streamed.atReads) < 0.5 * MiB, `streaming: up to ${(Math.max(...streamed.atReads) / MiB).toFixed(2)} MiB alive at a read`);
    assert.ok(streamed.after < 0.5 * MiB, `streaming: ${(streamed.after / MiB).toFixed(2)} MiB alive after writing`);
    // and the data did reach the file: weight i is filled with i
    const data = new Float32Array(new Uint8Array(readFileSync(join(dir, "many.onnx.data"))).buffer);
    assert.deepEqual([data[0], data[elements], data[data.length - 1]], [0, 1, count - 1]);
  });
  // the measure can fail: emission in memory keeps every weight it has read
  const inMemory = liveBytes((weights) => void emitOnnx(g, { weights, externalData: "always" }));
  assert.ok(inMemory.atReads.at(-1)! > (count - 2) * MiB, `in memory: ${(inMemory.atReads.at(-1)! / MiB).toFixed(2)} MiB alive at the last read`);
});

test("declared dtypes and shapes are checked before any read; a weight that reads differently is refused by name", () => {
  const shapes = new Map([...WEIGHTS].map(([k, t]) => [k, t.shape]));
  const wrongShape = new Map(shapes).set("conv_in.weight", [1, 2, 3]);
  const { source, reads } = countingSource(wrongShape, copyOf);
  assert.throws(() => writeOnnx(unet(), join(tmpdir(), "never-written.onnx"), { weights: source }), (e: unknown) => {
    assert.ok(e instanceof GraphWeightsError);
    assert.match(e.message, /conv_in\.weight: expected float32\[32, 4, 3, 3\], got float32\[1, 2, 3\]/);
    return true;
  });
  assert.equal(reads.size, 0, "nothing is read when a declaration is wrong");

  const liar = countingSource(shapes, (name) => (name === "conv_in.bias" ? Tensor.float32([1, 2, 3]) : copyOf(name)));
  withDir((dir) => {
    assert.throws(() => writeOnnx(unet(), join(dir, "liar.onnx"), { weights: liar.source, externalData: "always" }), (e: unknown) => {
      assert.ok(e instanceof GraphWeightsError);
      assert.match(e.message, /weight conv_in\.bias was declared float32\[32\], but reading it gave float32\[3\]/);
      return true;
    });
    assert.deepEqual(readdirSync(dir), [], "a failed write leaves no file");
  });
});
