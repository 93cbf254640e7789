// The dataset loader training uses: manifests of one or many dataset folders (or mixes) -> batches of
// clips as tensors [B, 3, N, H, W] in [-1, 1] with their captions, sources mixed by weight and shuffled
// with a seed (epoch e's order is a function of (seed, e) only: sampler.ts), and optionally VAE latents
// cached per clip (latent-cache.ts) so each clip is encoded once.
//
// Clips are decoded streaming (readVideoFrames, first N frames), `concurrency` at a time, and the next
// batch is decoded while the caller works on the current one.

import { join } from "node:path";
import { framesToTensor } from "../../media/frame.js";
import type { RgbFrame } from "../../media/frame.js";
import { readVideoFrames } from "../../media/video-reader.js";
import { Tensor } from "../../tensor/tensor.js";
import { type ManifestEntry, readManifest } from "../compose/manifest.js";
import { type LatentEncoder, LatentCache } from "./latent-cache.js";
import { type MixSource, resolveDatasets } from "./mix.js";
import { type DrawnClip, epochOrder } from "./sampler.js";

export interface ClipLoaderOptions {
  /** Dataset folders, mix files, or {path, weight}. */
  datasets: string | readonly (string | MixSource)[];
  batchSize: number;
  /** Default 0. */
  seed?: number;
  /** Default true; false: weighted round robin over sources in manifest (id) order. */
  shuffle?: boolean;
  /** Clips per epoch; default all clips of all sources once (in expectation, by weight). */
  samplesPerEpoch?: number;
  /** Leave out a last, smaller batch; default true (shapes stay constant). */
  dropLast?: boolean;
  /** Frames taken from each clip's start; default the datasets' clip length. */
  frames?: number;
  /** Clips decoded at once; default 2. */
  concurrency?: number;
  latents?: {
    encoder: LatentEncoder;
    /** Where latents go; default `<dataset folder>/.latents` of each clip's dataset. */
    dir?: string;
    /** Also return the decoded videos; default false (a cached clip is then never decoded). */
    videos?: boolean;
  };
}

export interface LoadedDataset {
  dir: string;
  weight: number;
  entries: ManifestEntry[];
}

export interface ClipBatch {
  epoch: number;
  /** Batch number within the epoch. */
  index: number;
  ids: string[];
  captions: string[];
  /** Index into loader.datasets per clip. */
  sources: number[];
  /** [B, 3, N, H, W] in [-1, 1]; absent when only latents were asked for. */
  videos?: Tensor<"float32">;
  /** [B, ...] the encoder's rows, when latents are configured. */
  latents?: Tensor;
}

/** Set when the consumer of batches() stopped: decoding still under way gives up. */
interface StopFlag {
  stopped: boolean;
}

export class LoaderError extends Error {
  override name = "LoaderError";
}

function integerOption(name: string, value: number | undefined, fallback: number, min: number): number {
  const v = value ?? fallback;
  if (!Number.isInteger(v) || v < min) throw new LoaderError(`loader.${name} is ${String(value)}; allowed: an integer >= ${min}`);
  return v;
}

/** Tensors [1, ...] or [...] of one shape stacked on a new leading axis: [k, ...]. */
export function stackRows(rows: readonly Tensor[], what: (i: number) => string): Tensor {
  const first = rows[0];
  const shape = first.shape[0] === 1 && rows.every((r) => r.shape.length === first.shape.length) ? first.shape.slice(1) : first.shape;
  const size = shape.reduce((a, d) => a * d, 1);
  const data = new (first.data.constructor as Float32ArrayConstructor)(size * rows.length);
  rows.forEach((r, i) => {
    if (r.dtype !== first.dtype || r.size !== size) throw new LoaderError(`${what(i)} is ${r.describe()} but ${what(0)} is ${first.describe()}; allowed: one shape per batch`);
    data.set(r.data as Float32Array, i * size);
  });
  return new Tensor(first.dtype, data as never, [rows.length, ...shape]);
}

/**
 * At most `limit` of `tasks` running at once; results in order. A failure stops taking new items and is
 * thrown once the running tasks have ended (none is left decoding behind the caller's back).
 */
async function mapLimited<T, R>(items: readonly T[], limit: number, task: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  let failed = false;
  let failure: unknown;
  const worker = async (): Promise<void> => {
    while (next < items.length && !failed) {
      const i = next++;
      try {
        results[i] = await task(items[i]);
      } catch (e) {
        if (!failed) failure = e;
        failed = true;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failed) throw failure;
  return results;
}

export class ClipLoader {
  readonly datasets: LoadedDataset[];
  readonly batchSize: number;
  readonly samplesPerEpoch: number;
  private readonly seed: number;
  private readonly shuffle: boolean;
  private readonly dropLast: boolean;
  private readonly frames: number;
  private readonly concurrency: number;
  private readonly caches: LatentCache[] | null;

  constructor(private readonly options: ClipLoaderOptions) {
    const resolved = resolveDatasets(options.datasets);
    this.datasets = resolved.map((d) => ({ dir: d.dir, weight: d.weight, entries: readManifest(d.dir) }));
    const total = this.datasets.reduce((n, d) => n + d.entries.length, 0);
    if (total === 0) throw new LoaderError(`no clips in ${resolved.map((d) => d.dir).join(", ")}: the manifests are empty`);
    this.batchSize = integerOption("batchSize", options.batchSize, 0, 1);
    this.seed = integerOption("seed", options.seed, 0, 0);
    this.samplesPerEpoch = integerOption("samplesPerEpoch", options.samplesPerEpoch, total, 1);
    this.frames = integerOption("frames", options.frames, resolved[0].info.frames, 1);
    if (this.frames > resolved[0].info.frames) throw new LoaderError(`loader.frames is ${this.frames}; allowed: at most the clips' ${resolved[0].info.frames}`);
    this.concurrency = integerOption("concurrency", options.concurrency, 2, 1);
    this.shuffle = options.shuffle ?? true;
    this.dropLast = options.dropLast ?? true;
    // an epoch without a batch would make a training loop spin over empty epochs
    if (this.dropLast && this.batchSize > this.samplesPerEpoch) {
      throw new LoaderError(`loader.batchSize is ${this.batchSize} but an epoch draws ${this.samplesPerEpoch} clip(s) (samplesPerEpoch${options.samplesPerEpoch === undefined ? ", by default every clip once" : ""}), so no batch is full; allowed: batchSize <= samplesPerEpoch, or dropLast false`);
    }
    const latents = options.latents;
    this.caches = latents === undefined ? null : this.datasets.map((d) => new LatentCache(latents.dir ?? join(d.dir, ".latents"), latents.encoder.fingerprint));
  }

  /** Batches per epoch. */
  get batchesPerEpoch(): number {
    return this.dropLast ? Math.floor(this.samplesPerEpoch / this.batchSize) : Math.ceil(this.samplesPerEpoch / this.batchSize);
  }

  /** The clips of epoch `epoch` in the order they are batched. */
  order(epoch: number): DrawnClip[] {
    return epochOrder({
      sizes: this.datasets.map((d) => d.entries.length),
      weights: this.datasets.map((d) => d.weight),
      count: this.samplesPerEpoch,
      seed: this.seed,
      epoch,
      shuffle: this.shuffle,
    });
  }

  /** The batches of epoch `epoch`, the next one decoded while the caller holds the current one. */
  async *batches(epoch = 0): AsyncGenerator<ClipBatch> {
    const order = this.order(epoch);
    const count = this.batchesPerEpoch;
    const stop: StopFlag = { stopped: false };
    const load = (b: number): Promise<ClipBatch> => this.batch(epoch, b, order.slice(b * this.batchSize, (b + 1) * this.batchSize), stop);
    let ahead = count > 0 ? load(0) : null;
    try {
      for (let b = 0; b < count; b++) {
        const current = await ahead!;
        ahead = b + 1 < count ? load(b + 1) : null;
        // a prefetch that fails after the caller stopped must not be an unhandled rejection
        ahead?.catch(() => {});
        yield current;
      }
    } finally {
      // the caller stopped early (break, throw): end the prefetch's decoders (ffmpeg) now, not when
      // they have read clips nobody will use
      stop.stopped = true;
      await ahead?.catch(() => {});
    }
  }

  private entry(d: DrawnClip): ManifestEntry {
    return this.datasets[d.source].entries[d.index];
  }

  private async decode(d: DrawnClip, stop: StopFlag): Promise<Tensor<"float32">> {
    const entry = this.entry(d);
    const path = join(this.datasets[d.source].dir, entry.path);
    const frames: RgbFrame[] = [];
    if (stop.stopped) throw new LoaderError("stopped: the batches' consumer left");
    try {
      for await (const f of readVideoFrames(path, { maxFrames: this.frames })) {
        // leaving the loop stops the reader's ffmpeg
        if (stop.stopped) throw new LoaderError("stopped: the batches' consumer left");
        frames.push(f);
      }
    } catch (e) {
      if (stop.stopped) throw e;
      throw new LoaderError(`clip ${entry.id} (${path}): ${(e as Error).message.split("\n")[0]}`);
    }
    if (frames.length < this.frames) throw new LoaderError(`clip ${entry.id} (${path}) has ${frames.length} frames; the loader takes ${this.frames}`);
    return framesToTensor(frames); // [1, 3, N, H, W]
  }

  private async batch(epoch: number, index: number, drawn: readonly DrawnClip[], stop: StopFlag = { stopped: false }): Promise<ClipBatch> {
    const entries = drawn.map((d) => this.entry(d));
    const batch: ClipBatch = { epoch, index, ids: entries.map((e) => e.id), captions: entries.map((e) => e.caption), sources: drawn.map((d) => d.source) };
    const name = (i: number): string => `clip ${entries[i].id}`;
    const latents = this.options.latents;
    if (latents === undefined || this.caches === null) {
      batch.videos = stackRows(await mapLimited(drawn, this.concurrency, (d) => this.decode(d, stop)), name) as Tensor<"float32">;
      return batch;
    }
    const caches = this.caches;
    const rows: (Tensor | null)[] = drawn.map((d, i) => caches[d.source].get(entries[i].id));
    const missing = rows.flatMap((r, i) => (r === null ? [i] : []));
    const needVideos = latents.videos === true ? drawn.map((_, i) => i) : missing;
    const videos = new Map<number, Tensor<"float32">>();
    const decoded = await mapLimited(needVideos, this.concurrency, (i) => this.decode(drawn[i], stop));
    needVideos.forEach((i, k) => videos.set(i, decoded[k]));
    if (missing.length > 0) {
      const input = stackRows(missing.map((i) => videos.get(i)!), (k) => name(missing[k])) as Tensor<"float32">;
      const encoded = await latents.encoder.encode(input);
      if (encoded.shape[0] !== missing.length) {
        throw new LoaderError(`latent encoder returned ${encoded.describe()} for ${missing.length} clip(s); allowed: one row per clip, [${missing.length}, ...]`);
      }
      const rowShape = encoded.shape.slice(1);
      const rowSize = rowShape.reduce((a, d) => a * d, 1);
      missing.forEach((i, k) => {
        const row = new Tensor(encoded.dtype, encoded.data.slice(k * rowSize, (k + 1) * rowSize) as never, rowShape);
        caches[drawn[i].source].put(entries[i].id, row);
        rows[i] = row;
      });
    }
    batch.latents = stackRows(rows as Tensor[], name);
    if (latents.videos === true) batch.videos = stackRows(drawn.map((_, i) => videos.get(i)!), name) as Tensor<"float32">;
    return batch;
  }
}
