// Composing a dataset folder from sources (images, videos, the synthetic world): every source lists its
// inputs; an input gives units, a unit is one stream of frames at the output size (a pseudo-video, a
// decoded video, a world product) with the clips (frame windows) to cut from it. For each unit:
//
//   1. clips already in the manifest (with their file) are skipped; a unit with nothing left is never
//      opened, so a resumed run does not decode what is done;
//   2. the stream is read once; each window gets its own VideoWriter, open from its first frame to its
//      last (windows may overlap), and a few frames are kept when the caption comes from the service;
//   3. a finished clip is captioned (known caption, or the service, concurrently with the next clips) and
//      only then appended to the manifest (manifest.ts says why that order makes kills harmless).
//
// Clip k of the run (counting every planned clip, done or not, in the sources' order) goes to shard
// floor(k / shardSize): the same inputs give the same paths however often the run was interrupted, and
// however many units run at once (`jobs`).
// Failures of an input (unreadable, corrupt, too short, no caption) are reported and skipped; failures of
// the output (a full disk) and refused service credentials stop the run, after the report is written.

import { mkdirSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { writeAll, writeFileAtomic } from "../../io/atomic-file.js";
import type { RgbFrame } from "../../media/frame.js";
import { VideoWriter } from "../../media/video-writer.js";
import { type Captioner, CaptionerAuthError } from "./captioner.js";
import { type OutputSpec, DatasetFolder } from "./dataset-folder.js";
import { type ClipOrigin, type ClipSource, type ManifestEntry, ManifestStore, clipShardFolder } from "./manifest.js";
import { type ComposeReport, type DroppedItem, type RejectedItem, emptyReport, errorReason } from "./report.js";
import type { DroppedSpan } from "./windows.js";

export interface ClipPlan {
  id: string;
  /** Frames [start, end) of the unit's stream. */
  start: number;
  end: number;
  source: ClipSource;
  label?: string;
  /** The caption; absent: the captioning service writes it (with `label` as a hint). */
  caption?: string;
  origin: ClipOrigin;
}

export interface PreparedUnit {
  /** The unit's frames at the output size, in order. */
  frames: AsyncIterable<RgbFrame> | Iterable<RgbFrame>;
  /** Origin details only the opened input tells (a pseudo-video's crop boxes), by clip id. */
  details?: ReadonlyMap<string, Record<string, unknown>>;
}

export interface ComposeUnit {
  clips: ClipPlan[];
  /** Opens the input; an error here or while reading frames rejects the unit's remaining clips. */
  prepare(): Promise<PreparedUnit> | PreparedUnit;
}

export interface ComposeInput {
  /** The input, as reports name it. */
  input: string;
  units: ComposeUnit[];
  /** Why the whole input was rejected (then there are no units). */
  rejected?: string;
  dropped?: DroppedSpan[];
}

export interface ComposeContext {
  spec: OutputSpec;
  /** Where sources keep what re-runs reuse (segment plans). */
  plansDir: string;
  /** Whether clips without a caption can get one from the service. */
  captioning: boolean;
  /** The service's model and instruction (Captioner.identity), for clip ids; null without a service. */
  captioner: string | null;
  isDone(id: string): boolean;
  signal?: AbortSignal;
}

export interface ComposeSource {
  /** Inputs the source will list, for progress. */
  readonly inputCount: number;
  inputs(context: ComposeContext): AsyncIterable<ComposeInput>;
}

export type ComposeEvent =
  | { type: "input"; index: number; total: number; input: string }
  | { type: "clip-written"; id: string; path: string }
  | { type: "clip-recorded"; entry: ManifestEntry }
  | { type: "skipped"; id: string }
  | { type: "rejected"; item: RejectedItem }
  | { type: "dropped"; item: DroppedItem };

export interface ComposeOptions extends OutputSpec {
  /** The dataset folder. */
  out: string;
  /** Clips per shard folder (and manifest shard); default 1000. */
  shardSize?: number;
  captioner?: Captioner | null;
  /** Frames of a clip sent to the service, evenly spread; default 3. */
  captionFrames?: number;
  /**
   * Units composed at once; default 1. Each holds a decoder and an encoder process, so on a machine with
   * cores to spare a few jobs multiply the throughput (a small clip costs ~90 ms, mostly starting ffmpeg).
   * Paths and ids do not depend on it; only the order of lines within a manifest shard does.
   */
  jobs?: number;
  /** mp4 quality (lower is better); default the writer's, 18. */
  crf?: number;
  /** Stops after the clip being written (which is discarded); the report says so. */
  signal?: AbortSignal;
  onEvent?: (event: ComposeEvent) => void;
}

class ComposeError extends Error {
  override name = "ComposeError";
}

/** An input failed while its frames were read: its remaining clips are rejected, the run goes on. */
class InputFailure extends Error {
  override name = "InputFailure";
}


/** Offsets in [0, n) of `k` frames spread evenly, first and last included. */
function sampleOffsets(n: number, k: number): number[] {
  if (k >= n) return Array.from({ length: n }, (_, i) => i);
  if (k === 1) return [Math.floor((n - 1) / 2)];
  return Array.from({ length: k }, (_, i) => Math.round((i * (n - 1)) / (k - 1)));
}

interface OpenClip {
  plan: ClipPlan;
  ordinal: number;
  writer: VideoWriter;
  relative: string;
  keep: Set<number>;
  kept: RgbFrame[];
}

/** Composes `sources` into the dataset folder `options.out`; resolves to the run's report. */
export async function composeDataset(sources: readonly ComposeSource[], options: ComposeOptions): Promise<ComposeReport> {
  const began = performance.now();
  const spec: OutputSpec = { width: options.width, height: options.height, frames: options.frames, fps: options.fps };
  const shardSize = options.shardSize ?? 1000;
  if (!Number.isInteger(shardSize) || shardSize < 1) throw new ComposeError(`shardSize is ${shardSize}; allowed: an integer >= 1`);
  const jobs = options.jobs ?? 1;
  if (!Number.isInteger(jobs) || jobs < 1 || jobs > 64) throw new ComposeError(`jobs is ${jobs}; allowed: an integer in [1, 64]`);
  const captionFrames = options.captionFrames ?? 3;
  if (!Number.isInteger(captionFrames) || captionFrames < 1 || captionFrames > 16) throw new ComposeError(`captionFrames is ${captionFrames}; allowed: an integer in [1, 16]`);
  const folder = DatasetFolder.open(options.out, spec);
  let store: ManifestStore;
  try {
    store = ManifestStore.open(options.out);
  } catch (e) {
    folder.release();
    throw e;
  }
  const total = sources.reduce((n, s) => n + s.inputCount, 0);
  const report = emptyReport(options.out, total);
  report.repaired.push(...store.repaired);
  const captioner = options.captioner ?? null;
  const emit = options.onEvent ?? (() => {});
  const reject = (item: RejectedItem): void => {
    report.rejected.push(item);
    emit({ type: "rejected", item });
  };
  const context: ComposeContext = { spec, plansDir: folder.plansDir, captioning: captioner !== null, captioner: captioner?.identity ?? null, isDone: (id) => store.has(id), signal: options.signal };
  const pending = new Set<Promise<void>>();
  /** Clips this run has taken on: an input listed twice must not be written twice. */
  const claimed = new Set<string>();
  let fatal: unknown = null;
  let reportFailure: ComposeError | null = null;
  let ordinal = 0;
  let index = 0;

  /** Caption (when the service writes it), then append: the clip's file is complete already. */
  const record = async (clip: OpenClip, bytes: number, input: string): Promise<void> => {
    const { plan } = clip;
    let caption = plan.caption;
    if (caption === undefined) {
      try {
        caption = await captioner!.caption(clip.kept, { label: plan.label, signal: options.signal });
      } catch (e) {
        rmSync(join(options.out, clip.relative), { force: true });
        if (e instanceof CaptionerAuthError) throw e;
        if (options.signal?.aborted) return;
        reject({ input, clip: plan.id, reason: `no caption: ${errorReason(e)}` });
        return;
      }
    }
    const entry: ManifestEntry = {
      id: plan.id,
      path: clip.relative,
      caption,
      source: plan.source,
      frames: spec.frames,
      fps: spec.fps,
      width: spec.width,
      height: spec.height,
      bytes,
      ...(plan.label === undefined ? {} : { label: plan.label }),
      origin: plan.origin,
    };
    store.append(Math.floor(clip.ordinal / shardSize), entry);
    report.made.push({ id: entry.id, path: entry.path, input });
    emit({ type: "clip-recorded", entry });
  };

  const schedule = async (task: Promise<void>): Promise<void> => {
    const tracked = task.catch((e) => {
      fatal ??= e;
    });
    const settled = tracked.finally(() => pending.delete(settled));
    pending.add(settled);
    // bounded: a slow service must not let finished clips (and their kept frames) pile up
    while (pending.size > 2 * (captioner?.concurrency ?? 1)) await Promise.race(pending);
  };

  const stopping = (): boolean => fatal !== null || options.signal?.aborted === true;

  const openClip = async (plan: ClipPlan, clipOrdinal: number): Promise<OpenClip> => {
    const shard = clipShardFolder(Math.floor(clipOrdinal / shardSize));
    mkdirSync(join(options.out, shard), { recursive: true });
    const relative = `${shard}/${plan.id}.mp4`;
    const writer = await VideoWriter.open(join(options.out, relative), {
      fps: spec.fps,
      width: spec.width,
      height: spec.height,
      sidecar: false,
      ...(options.crf === undefined ? {} : { crf: options.crf }),
      metadata: plan.caption === undefined ? { extra: { clip: plan.id } } : { prompt: plan.caption, extra: { clip: plan.id } },
    });
    const keep = new Set(plan.caption === undefined ? sampleOffsets(plan.end - plan.start, captionFrames).map((o) => plan.start + o) : []);
    return { plan, ordinal: clipOrdinal, writer, relative, keep, kept: [] };
  };

  const runUnit = async (unit: ComposeUnit, input: string, ordinals: ReadonlyMap<string, number>): Promise<void> => {
    const todo: ClipPlan[] = [];
    for (const plan of unit.clips) {
      if (store.has(plan.id)) {
        report.skipped.push(plan.id);
        emit({ type: "skipped", id: plan.id });
      } else if (claimed.has(plan.id)) {
        reject({ input, clip: plan.id, reason: "duplicate: another input of this run gives the same clip (the same file, window and caption)" });
      } else if (plan.caption === undefined && captioner === null) {
        reject({ input, clip: plan.id, reason: "no caption: the clip has no label or caption and no captioning service is configured" });
      } else {
        claimed.add(plan.id);
        todo.push(plan);
      }
    }
    if (todo.length === 0) return;
    let prepared: PreparedUnit;
    try {
      prepared = await unit.prepare();
    } catch (e) {
      for (const plan of todo) reject({ input, clip: plan.id, reason: errorReason(e) });
      return;
    }
    const details = prepared.details;
    const queue = todo.map((p) => (details?.has(p.id) ? { ...p, origin: { ...p.origin, ...details.get(p.id) } } : p)).sort((a, b) => a.start - b.start);
    const open: OpenClip[] = [];
    let next = 0;
    let t = 0;
    const iterator = (Symbol.asyncIterator in prepared.frames ? prepared.frames[Symbol.asyncIterator]() : (prepared.frames as Iterable<RgbFrame>)[Symbol.iterator]()) as AsyncIterator<RgbFrame> | Iterator<RgbFrame>;
    try {
      while ((next < queue.length || open.length > 0) && !stopping()) {
        let step: IteratorResult<RgbFrame>;
        try {
          step = await iterator.next();
        } catch (e) {
          throw new InputFailure(errorReason(e));
        }
        if (step.done) break;
        const frame = step.value;
        while (next < queue.length && queue[next].start === t) open.push(await openClip(queue[next], ordinals.get(queue[next++].id)!));
        for (const clip of open) {
          await clip.writer.write(frame);
          if (clip.keep.has(t)) clip.kept.push(frame);
        }
        t++;
        for (const clip of open.filter((c) => c.plan.end === t)) {
          open.splice(open.indexOf(clip), 1);
          await clip.writer.close();
          emit({ type: "clip-written", id: clip.plan.id, path: clip.relative });
          const bytes = statSync(join(options.out, clip.relative)).size;
          await schedule(record(clip, bytes, input));
        }
      }
      if (!stopping() && (next < queue.length || open.length > 0)) {
        for (const plan of [...open.map((c) => c.plan), ...queue.slice(next)]) reject({ input, clip: plan.id, reason: `too short: the input ended at frame ${t}, before the clip's frames ${plan.start}-${plan.end}` });
      }
    } catch (e) {
      if (!(e instanceof InputFailure)) throw e;
      for (const plan of [...open.map((c) => c.plan), ...queue.slice(next)]) reject({ input, clip: plan.id, reason: e.message });
    } finally {
      try {
        for (const clip of open) await clip.writer.abort().catch(() => {});
      } finally {
        // stops a decoder (ffmpeg) that still has frames nobody needs
        await iterator.return?.();
      }
    }
  };

  /** The inputs in the sources' order, each clip numbered: one sequence, whatever order workers take them in. */
  async function* numbered(): AsyncGenerator<{ item: ComposeInput; ordinals: Map<string, number>[] }> {
    for (const source of sources) {
      for await (const item of source.inputs(context)) {
        if (stopping()) return;
        yield { item, ordinals: item.units.map((u) => new Map(u.clips.map((c) => [c.id, ordinal++]))) };
      }
    }
  }
  const feed = numbered();
  const worker = async (): Promise<void> => {
    try {
      while (!stopping()) {
        // concurrent next() calls on one async generator are served in turn
        const step = await feed.next();
        if (step.done) return;
        const { item, ordinals } = step.value;
        emit({ type: "input", index: index++, total, input: item.input });
        for (const span of item.dropped ?? []) {
          const dropped = { input: item.input, ...span };
          report.dropped.push(dropped);
          emit({ type: "dropped", item: dropped });
        }
        if (item.rejected !== undefined) reject({ input: item.input, reason: item.rejected });
        for (const [k, unit] of item.units.entries()) {
          if (stopping()) break;
          await runUnit(unit, item.input, ordinals[k]);
        }
      }
    } catch (e) {
      fatal ??= e;
    }
  };

  try {
    await Promise.all(Array.from({ length: jobs }, worker));
    await Promise.all(pending);
    if (fatal !== null) throw fatal;
    if (options.signal?.aborted) report.stopped = "interrupted";
  } catch (e) {
    await Promise.all(pending);
    report.stopped = errorReason(e);
    throw e;
  } finally {
    try {
      store.close();
      if (captioner) report.captioner = { ...captioner.stats };
      report.seconds = (performance.now() - began) / 1000;
      writeFileAtomic(join(options.out, "report.json"), (fd) => writeAll(fd, Buffer.from(`${JSON.stringify(report, null, 2)}\n`)));
    } catch (e) {
      // the run's own error, when it has one, is the one to tell; the lock is released either way
      reportFailure = new ComposeError(`the run's report ${join(options.out, "report.json")} could not be written: ${errorReason(e)}; the clips in the manifest are complete`);
    } finally {
      folder.release();
    }
  }
  if (reportFailure !== null) throw reportFailure;
  return report;
}
