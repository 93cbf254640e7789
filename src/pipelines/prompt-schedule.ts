// A prompt per clip or per frame range, and the PromptSource a strategy reads it through. A strategy asks
// for the conditioning of the output frames a clip covers, [start, end): inside one range it gets that
// range's embeddings; straddling a boundary (the transition clip) it gets the embeddings of every range it
// touches, weighted by the share of its frames in each (cond and uncond alike):
//   e(start, end) = sum_r |[start, end) ∩ r| / (end - start) * e_r
//
// File format (JSON), read by parsePromptSchedule / readPromptSchedule:
//   { "negativePrompt": "watermark",                       optional, default for every entry ("" if absent)
//     "ranges": [ { "from": 0,  "to": 16, "prompt": "a red car in the desert" },
//                 { "from": 16, "to": 32, "prompt": "a red car in the snow", "negativePrompt": "blur" } ] }
// or, one prompt per clip (the strategy's clip geometry turns clips into frame ranges):
//   { "negativePrompt": "watermark", "clips": [ "a red car in the desert", { "prompt": "...", "negativePrompt": "..." } ] }
// A bare array is shorthand for { "ranges": [...] }. Frame ranges are half-open, [from, to), 0-based output
// frame indices; together they must cover the video exactly: sorted, no gap, no overlap, none past its end.

import { readFileSync } from "node:fs";
import { Tensor } from "../tensor/tensor.js";
import { type TextEncoder, EMPTY_NEGATIVE_PROMPT, encodePrompt } from "./conditioning.js";
import type { PromptConditioning, PromptSource } from "./types.js";

export interface PromptRange {
  /** First output frame, inclusive. */
  from: number;
  /** End frame, exclusive. */
  to: number;
  prompt: string;
  /** Default: the schedule's negativePrompt, else "". */
  negativePrompt?: string;
}

export interface ClipPrompt {
  prompt: string;
  negativePrompt?: string;
}

export type PromptSchedule =
  | { kind: "ranges"; ranges: PromptRange[]; negativePrompt?: string }
  | { kind: "clips"; clips: ClipPrompt[]; negativePrompt?: string };

/** How a strategy's clips map to output frames: clip 0 gives `firstClipFrames`, every later clip `framesPerClip` new ones. */
export interface ClipGeometry {
  firstClipFrames: number;
  framesPerClip: number;
}

export class PromptScheduleError extends RangeError {
  override readonly name = "PromptScheduleError";
}

interface Labelled {
  label: string;
  from: number;
  to: number;
}

/**
 * Checks that ranges tile [0, totalFrames): each [from, to) integers with from < to, sorted, no gap, no
 * overlap, none past the end. Each error names the entry (`label`), its frames and what is wrong.
 */
function checkTiling(entries: readonly Labelled[], totalFrames: number): void {
  if (!Number.isInteger(totalFrames) || totalFrames < 1) throw new PromptScheduleError(`totalFrames is ${totalFrames}; allowed: an integer >= 1`);
  if (entries.length === 0) throw new PromptScheduleError(`prompt schedule is empty; allowed: at least one entry covering frames [0, ${totalFrames})`);
  let end = 0;
  entries.forEach((e, k) => {
    const where = `prompt schedule ${e.label} [${e.from}, ${e.to})`;
    if (!Number.isInteger(e.from) || !Number.isInteger(e.to) || e.from < 0 || e.from >= e.to) {
      throw new PromptScheduleError(`${where}: allowed: integers 0 <= from < to`);
    }
    const prev = k > 0 ? entries[k - 1]! : undefined;
    if (prev && e.from < prev.from) throw new PromptScheduleError(`${where} starts before ${prev.label} [${prev.from}, ${prev.to}); entries must be sorted by from`);
    if (e.from > end) throw new PromptScheduleError(`${where} leaves a gap: frames [${end}, ${e.from}) have no prompt`);
    if (e.from < end) throw new PromptScheduleError(`${where} overlaps ${prev!.label} [${prev!.from}, ${prev!.to}): frames [${e.from}, ${Math.min(end, e.to)}) have two prompts`);
    if (e.to > totalFrames) throw new PromptScheduleError(`${where} is out of range: the video has ${totalFrames} frames, [0, ${totalFrames})`);
    end = e.to;
  });
  if (end < totalFrames) {
    const last = entries[entries.length - 1]!;
    throw new PromptScheduleError(`prompt schedule ends with ${last.label} at frame ${end}: frames [${end}, ${totalFrames}) have no prompt`);
  }
}

/** The frame range of clip k: [0, first) for k = 0, then [first + (k - 1) next, first + k next). */
export function clipFrameRange(k: number, geometry: ClipGeometry): [number, number] {
  const { firstClipFrames: first, framesPerClip: next } = geometry;
  return k === 0 ? [0, first] : [first + (k - 1) * next, first + k * next];
}

/**
 * The schedule as validated frame ranges over a video of `totalFrames` output frames, each with its
 * negative prompt resolved. A per-clip schedule needs the strategy's clip geometry.
 */
export function promptRanges(schedule: PromptSchedule, totalFrames: number, geometry?: ClipGeometry): Required<PromptRange>[] {
  const negative = (p: { negativePrompt?: string }) => p.negativePrompt ?? schedule.negativePrompt ?? EMPTY_NEGATIVE_PROMPT;
  let entries: (Required<PromptRange> & Labelled)[];
  if (schedule.kind === "ranges") {
    entries = schedule.ranges.map((r, k) => ({ label: `ranges[${k}]`, from: r.from, to: r.to, prompt: r.prompt, negativePrompt: negative(r) }));
  } else {
    if (!geometry) throw new PromptScheduleError("a per-clip prompt schedule needs the clip geometry (frames of the first clip and of each later clip)");
    entries = schedule.clips.map((c, k) => {
      const [from, to] = clipFrameRange(k, geometry);
      return { label: `clips[${k}]`, from, to, prompt: c.prompt, negativePrompt: negative(c) };
    });
  }
  checkTiling(entries, totalFrames);
  return entries.map(({ from, to, prompt, negativePrompt }) => ({ from, to, prompt, negativePrompt }));
}

/** A frame range with its encoded prompt. */
export interface ConditionedRange {
  from: number;
  to: number;
  conditioning: PromptConditioning;
}

/** Encodes each distinct (prompt, negative prompt) pair of the ranges once. */
export async function encodePromptRanges(ranges: readonly Required<PromptRange>[], encoder: TextEncoder): Promise<ConditionedRange[]> {
  const cache = new Map<string, PromptConditioning>();
  const out: ConditionedRange[] = [];
  for (const r of ranges) {
    const key = JSON.stringify([r.prompt, r.negativePrompt]);
    let c = cache.get(key);
    if (!c) cache.set(key, (c = await encodePrompt(encoder, r.prompt, r.negativePrompt)));
    out.push({ from: r.from, to: r.to, conditioning: c });
  }
  return out;
}

/** One conditioning for every frame. */
export function constantPromptSource(conditioning: PromptConditioning): PromptSource {
  return () => conditioning;
}

/** sum_k w_k e_k over float32 tensors of one shape, accumulated in float64. */
function weightedSum(parts: readonly { w: number; t: Tensor }[]): Tensor<"float32"> {
  const n = parts[0]!.t.size;
  const acc = new Float64Array(n);
  for (const { w, t } of parts) {
    const d = t.data as Float32Array;
    for (let k = 0; k < n; k++) acc[k] += w * d[k];
  }
  return new Tensor("float32", Float32Array.from(acc), parts[0]!.t.shape);
}

/**
 * The PromptSource of conditioned ranges tiling [0, last.to). A request range is clamped to the
 * schedule's frames first (frames before 0 count as the first range's, frames past the end as the last
 * one's), so context frames a strategy keeps outside the video still get a prompt.
 */
export function scheduledPromptSource(ranges: readonly ConditionedRange[]): PromptSource {
  checkTiling(ranges.map((r, k) => ({ label: `ranges[${k}]`, from: r.from, to: r.to })), ranges.length ? ranges[ranges.length - 1]!.to : 1);
  const shape = ranges[0]!.conditioning.cond.shape;
  ranges.forEach((r, k) => {
    for (const t of [r.conditioning.cond, r.conditioning.uncond]) {
      if (t.dtype !== "float32" || t.rank !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
        throw new PromptScheduleError(`prompt schedule ranges[${k}] has embeddings ${t.describe()} but ranges[0] has float32[${shape.join(", ")}]; all must match to be interpolated`);
      }
    }
  });
  const total = ranges[ranges.length - 1]!.to;
  return (start, end) => {
    if (!Number.isInteger(start) || !Number.isInteger(end) || start >= end) {
      throw new RangeError(`prompt frames [${start}, ${end}); allowed: integers start < end`);
    }
    const s = Math.min(Math.max(start, 0), total - 1);
    const e = Math.max(Math.min(end, total), s + 1);
    const touched = ranges
      .map((r) => ({ r, frames: Math.min(e, r.to) - Math.max(s, r.from) }))
      .filter((x) => x.frames > 0);
    const distinct = new Set(touched.map((x) => x.r.conditioning));
    if (distinct.size === 1) return touched[0]!.r.conditioning;
    const weights = touched.map((x) => ({ c: x.r.conditioning, w: x.frames / (e - s) }));
    return {
      cond: weightedSum(weights.map(({ c, w }) => ({ w, t: c.cond }))),
      uncond: weightedSum(weights.map(({ c, w }) => ({ w, t: c.uncond }))),
    };
  };
}

// ---- the JSON file format (see the top of this file) ----

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === "object" && x !== null && !Array.isArray(x);
}

function checkKeys(o: Record<string, unknown>, allowed: readonly string[], where: string): void {
  const extra = Object.keys(o).filter((k) => !allowed.includes(k));
  if (extra.length) throw new PromptScheduleError(`${where}: unknown field ${extra.map((k) => JSON.stringify(k)).join(", ")}; allowed: ${allowed.join(", ")}`);
}

function optionalString(o: Record<string, unknown>, key: string, where: string): string | undefined {
  const v = o[key];
  if (v !== undefined && typeof v !== "string") throw new PromptScheduleError(`${where}: ${key} is ${JSON.stringify(v)}; allowed: a string`);
  return v as string | undefined;
}

function parseRange(x: unknown, where: string): PromptRange {
  if (!isObject(x)) throw new PromptScheduleError(`${where} is ${JSON.stringify(x)}; allowed: { "from": integer, "to": integer, "prompt": string, "negativePrompt"?: string }`);
  checkKeys(x, ["from", "to", "prompt", "negativePrompt"], where);
  for (const key of ["from", "to"] as const) {
    if (typeof x[key] !== "number" || !Number.isInteger(x[key])) throw new PromptScheduleError(`${where}: ${key} is ${JSON.stringify(x[key])}; allowed: an integer frame index`);
  }
  if (typeof x.prompt !== "string") throw new PromptScheduleError(`${where}: prompt is ${JSON.stringify(x.prompt)}; allowed: a string`);
  const negativePrompt = optionalString(x, "negativePrompt", where);
  return { from: x.from as number, to: x.to as number, prompt: x.prompt, ...(negativePrompt !== undefined ? { negativePrompt } : {}) };
}

function parseClip(x: unknown, where: string): ClipPrompt {
  if (typeof x === "string") return { prompt: x };
  if (!isObject(x)) throw new PromptScheduleError(`${where} is ${JSON.stringify(x)}; allowed: a string, or { "prompt": string, "negativePrompt"?: string }`);
  checkKeys(x, ["prompt", "negativePrompt"], where);
  if (typeof x.prompt !== "string") throw new PromptScheduleError(`${where}: prompt is ${JSON.stringify(x.prompt)}; allowed: a string`);
  const negativePrompt = optionalString(x, "negativePrompt", where);
  return { prompt: x.prompt, ...(negativePrompt !== undefined ? { negativePrompt } : {}) };
}

/** A schedule from parsed JSON (the format at the top of this file); `label` starts every error. */
export function parsePromptSchedule(json: unknown, label = "prompt schedule"): PromptSchedule {
  const root = Array.isArray(json) ? { ranges: json } : json;
  if (!isObject(root)) throw new PromptScheduleError(`${label}: expected an object with "ranges" or "clips" (or an array of ranges), got ${JSON.stringify(json)}`);
  checkKeys(root, ["negativePrompt", "ranges", "clips"], label);
  const negativePrompt = optionalString(root, "negativePrompt", label);
  const neg = negativePrompt !== undefined ? { negativePrompt } : {};
  if ((root.ranges === undefined) === (root.clips === undefined)) throw new PromptScheduleError(`${label}: give exactly one of "ranges" and "clips"`);
  const list = root.ranges ?? root.clips;
  const key = root.ranges !== undefined ? "ranges" : "clips";
  if (!Array.isArray(list) || list.length === 0) throw new PromptScheduleError(`${label}: ${key} is ${JSON.stringify(list)}; allowed: a non-empty array`);
  if (key === "ranges") return { kind: "ranges", ranges: list.map((x, k) => parseRange(x, `${label}: ranges[${k}]`)), ...neg };
  return { kind: "clips", clips: list.map((x, k) => parseClip(x, `${label}: clips[${k}]`)), ...neg };
}

/** Reads and parses a prompt schedule JSON file. */
export function readPromptSchedule(path: string): PromptSchedule {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, "utf8"));
  } catch (e) {
    throw new PromptScheduleError(`${path}: cannot read the prompt schedule: ${(e as Error).message}`);
  }
  return parsePromptSchedule(json, path);
}
