// The dataset loader: datasets and mixes by weight, a deterministic shuffle per (seed, epoch), batches of
// [B, 3, N, H, W] in [-1, 1] with their captions, and cached latents that spare the encoder on later passes.

import { before, after, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { composeDataset, readManifest, worldSource } from "../../src/data/compose/index.js";
import { ClipLoader, epochOrder, resolveDatasets, writeMix, type ClipBatch, type LatentEncoder } from "../../src/data/dataset/index.js";
import { framesToTensor, readVideoFrames, type RgbFrame } from "../../src/media/index.js";
import { Tensor } from "../../src/tensor/tensor.js";

const spec = { width: 32, height: 32, frames: 8, fps: 8 };
let dir = "";
let clips = "";
let stills = "";

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "vidrd-loader-"));
  clips = join(dir, "clips");
  stills = join(dir, "stills");
  await composeDataset([worldSource(spec, { seed: 1, clips: 3 })], { out: clips, ...spec });
  await composeDataset([worldSource(spec, { seed: 2, stills: 2 })], { out: stills, ...spec });
});

after(() => rmSync(dir, { recursive: true, force: true }));

test("mixing: sources are drawn in proportion to their weights, whatever their sizes", () => {
  const loader = new ClipLoader({ datasets: [{ path: clips, weight: 1 }, { path: stills, weight: 3 }], batchSize: 4, samplesPerEpoch: 8000, seed: 5 });
  const order = loader.order(0);
  const fromStills = order.filter((d) => d.source === 1).length;
  // binomial(8000, 0.75): sd 39
  assert.ok(Math.abs(fromStills - 6000) < 160, `${fromStills} of 8000 from the weight-3 source`);
  // each source's clips come round evenly: a clip is never seen twice before all were seen once
  for (const [s, size] of [[0, 3], [1, 2]] as const) {
    const seq = order.filter((d) => d.source === s).map((d) => d.index);
    for (let k = 0; k + size <= seq.length; k += size) assert.deepEqual([...seq.slice(k, k + size)].sort(), Array.from({ length: size }, (_, i) => i));
  }
  // in order (no shuffle): exact proportions by weighted round robin
  const plain = epochOrder({ sizes: [3, 2], weights: [1, 3], count: 400, seed: 0, epoch: 0, shuffle: false });
  assert.equal(plain.filter((d) => d.source === 1).length, 300);
  assert.deepEqual(plain.slice(0, 4).map((d) => d.source).sort(), [0, 1, 1, 1]);
});

test("a mix file names datasets with weights; nested mixes scale; mismatched clips are refused", async () => {
  const mixDir = join(dir, "mix");
  const { datasets } = writeMix(mixDir, [{ path: clips, weight: 2 }, { path: stills }]);
  assert.deepEqual(datasets.map((d) => d.weight), [2, 1]);
  const resolved = resolveDatasets([{ path: mixDir, weight: 3 }, clips]);
  assert.deepEqual(resolved.map((d) => [d.dir, +d.weight.toFixed(6)]), [[clips, 2], [stills, 1], [clips, 1]]);
  const loader = new ClipLoader({ datasets: join(mixDir, "mix.json"), batchSize: 1, samplesPerEpoch: 3000 });
  const share = loader.order(0).filter((d) => d.source === 0).length / 3000;
  assert.ok(Math.abs(share - 2 / 3) < 0.04, `share ${share}`);
  const other = join(dir, "other");
  await composeDataset([worldSource({ ...spec, frames: 9 }, { seed: 3, clips: 1 })], { out: other, ...spec, frames: 9 });
  assert.throws(() => resolveDatasets([clips, other]), /has frames 9 but .* has 8; allowed: datasets of one clip size and length/);
  assert.throws(() => resolveDatasets(join(dir, "nothing")), /neither a dataset folder .* nor a mix/);
});

test("shuffling is a function of (seed, epoch)", () => {
  const make = (seed: number) => new ClipLoader({ datasets: [clips, stills], batchSize: 2, seed, samplesPerEpoch: 50 });
  assert.deepEqual(make(1).order(0), make(1).order(0));
  assert.deepEqual(make(1).order(3), make(1).order(3));
  assert.notDeepEqual(make(1).order(0), make(1).order(1));
  assert.notDeepEqual(make(1).order(0), make(2).order(0));
});

test("batches: [B, 3, N, H, W] float32 in [-1, 1], the clips' frames, with captions and ids", async () => {
  const loader = new ClipLoader({ datasets: [clips, stills], batchSize: 2, seed: 4 });
  assert.equal(loader.samplesPerEpoch, 5);
  assert.equal(loader.batchesPerEpoch, 2);
  const batches: ClipBatch[] = [];
  for await (const b of loader.batches(0)) batches.push(b);
  assert.equal(batches.length, 2);
  const entries = [...readManifest(clips), ...readManifest(stills)];
  for (const b of batches) {
    assert.deepEqual(b.videos!.shape, [2, 3, 8, 32, 32]);
    assert.equal(b.videos!.dtype, "float32");
    let lo = Infinity, hi = -Infinity;
    for (const v of b.videos!.data as Float32Array) {
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
    assert.ok(lo >= -1 && hi <= 1 && hi - lo > 0.5, `range ${lo}..${hi}`);
    for (const [i, id] of b.ids.entries()) assert.equal(b.captions[i], entries.find((e) => e.id === id)!.caption);
  }
  // row 0 of the first batch is the clip itself, decoded on its own
  const first = entries.find((e) => e.id === batches[0].ids[0])!;
  const home = readManifest(clips).some((e) => e.id === first.id) ? clips : stills;
  const frames: RgbFrame[] = [];
  for await (const f of readVideoFrames(join(home, first.path))) frames.push(f);
  const alone = framesToTensor(frames).data as Float32Array;
  assert.deepEqual((batches[0].videos!.data as Float32Array).subarray(0, alone.length), alone);
  // a smaller last batch when asked for
  const all = new ClipLoader({ datasets: [clips, stills], batchSize: 2, dropLast: false });
  assert.equal(all.batchesPerEpoch, 3);
});

test("latents: encoded once, cached per clip and encoder; the second pass never calls the encoder", async () => {
  let calls = 0;
  let encodedClips = 0;
  /** 4x4 average pooling per frame: [k, 3, N, H, W] -> [k, 3, N, H/4, W/4]. */
  const encoder = (fingerprint: string): LatentEncoder => ({
    fingerprint,
    async encode(frames) {
      calls++;
      const [k, c, n, h, w] = frames.shape;
      encodedClips += k;
      const out = new Float32Array(k * c * n * (h / 4) * (w / 4));
      const src = frames.data as Float32Array;
      for (let p = 0; p < k * c * n; p++) {
        for (let y = 0; y < h / 4; y++) for (let x = 0; x < w / 4; x++) {
          let s = 0;
          for (let dy = 0; dy < 4; dy++) for (let dx = 0; dx < 4; dx++) s += src[p * h * w + (y * 4 + dy) * w + x * 4 + dx];
          out[p * (h / 4) * (w / 4) + y * (w / 4) + x] = s / 16;
        }
      }
      return new Tensor("float32", out, [k, c, n, h / 4, w / 4]);
    },
  });
  const cacheDir = join(dir, "latents");
  const make = (fp: string) => new ClipLoader({ datasets: [clips, stills], batchSize: 5, shuffle: false, latents: { encoder: encoder(fp), dir: cacheDir } });
  const [firstPass] = await collect(make("pool4-v1").batches(0));
  assert.deepEqual(firstPass.latents!.shape, [5, 3, 8, 8, 8]);
  assert.equal(firstPass.videos, undefined);
  assert.deepEqual([calls, encodedClips], [1, 5]);
  const [secondPass] = await collect(make("pool4-v1").batches(1));
  assert.equal(calls, 1, "the encoder ran again on cached clips");
  assert.deepEqual(secondPass.ids, firstPass.ids);
  assert.deepEqual(secondPass.latents!.data, firstPass.latents!.data);
  await collect(make("pool4-v2").batches(0));
  assert.equal(calls, 2, "another encoder fingerprint must not reuse the cache");
  // latents and videos together
  const both = await collect(new ClipLoader({ datasets: [clips], batchSize: 3, shuffle: false, latents: { encoder: encoder("pool4-v1"), dir: cacheDir, videos: true } }).batches(0));
  assert.deepEqual(both[0].videos!.shape, [3, 3, 8, 32, 32]);
  assert.equal(calls, 2);
});

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

test("an epoch that would give no full batch is refused, not iterated as empty (a training loop would spin)", async () => {
  // 3 clips, batches of 4, dropLast: zero batches per epoch
  assert.throws(() => new ClipLoader({ datasets: clips, batchSize: 4 }), /^LoaderError: loader\.batchSize is 4 but an epoch draws 3 clip\(s\).*allowed: batchSize <= samplesPerEpoch, or dropLast false$/);
  assert.throws(() => new ClipLoader({ datasets: clips, batchSize: 5, samplesPerEpoch: 4 }), /batchSize is 5 but an epoch draws 4/);
  const partial = new ClipLoader({ datasets: clips, batchSize: 4, dropLast: false });
  assert.equal(partial.batchesPerEpoch, 1);
  const [only] = await collect(partial.batches(0));
  assert.deepEqual(only.videos!.shape, [3, 3, 8, 32, 32]);
});

/** The decoders (ffmpeg, ffprobe) this process has running now. */
function decoderChildren(): string[] {
  const ps = spawnSync("ps", ["-o", "pid=,comm=", "--ppid", String(process.pid)], { encoding: "utf8" });
  return ps.stdout.split("\n").map((l) => l.trim()).filter((l) => /\b(ffmpeg|ffprobe)$/.test(l));
}

test("a consumer that stops early leaves no decoder running: the prefetch is stopped when the loop ends", async () => {
  const loader = new ClipLoader({ datasets: [clips, stills], batchSize: 2, samplesPerEpoch: 40, concurrency: 2 });
  for (let round = 0; round < 3; round++) {
    let seen = 0;
    for await (const batch of loader.batches(round)) {
      assert.equal(batch.ids.length, 2);
      if (++seen === 1) break;
    }
    assert.deepEqual(decoderChildren(), [], `round ${round}: decoders still running after the loop ended`);
  }
  // and the loader still works afterwards
  assert.equal((await collect(new ClipLoader({ datasets: clips, batchSize: 3 }).batches(0))).length, 1);
});
