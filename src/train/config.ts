// The training configuration: a plain typed object with documented defaults, validated once at the
// edge (CLI flags, a config file, a library call) with messages that name the field, the value and
// what is allowed. The resolved config is stored in every checkpoint.

import { availableParallelism } from "node:os";
import { join } from "node:path";
import type { AdamWOptions } from "../graph/optim.js";
import { resolveAdamW } from "../graph/optim.js";

export type LrScheduleName = "constant" | "cosine";

export interface LrScheduleConfig {
  /** "constant" (after warmup) or "cosine" (from peak down to floor); default "cosine". */
  schedule: LrScheduleName;
  /** Learning rate after warmup; required. */
  peak: number;
  /** Steps of linear warmup from peak / warmupSteps to peak; default 0. */
  warmupSteps: number;
  /** cosine: the rate reached at decaySteps; default 0. */
  floor: number;
  /** cosine: the step where the decay ends (later steps stay at floor), > warmupSteps; default: steps. */
  decaySteps: number;
}

export interface CheckpointConfig {
  /** Directory of step-<n>.safetensors files; none: no checkpoints, no resume. */
  dir: string | null;
  /** Write one every this many steps (and after the last step, and when stopped); default 1000. */
  every: number;
  /** Keep this many most recent checkpoints; default 3. */
  keep: number;
}

export type ProgressMode = "auto" | "bar" | "lines" | "none";

export interface LogConfig {
  /** JSONL file, one line per step; default <checkpoint.dir>/train-log.jsonl (none without a dir). */
  path: string | null;
  /** Progress on stderr: a bar when it is a TTY ("auto"), plain lines, or nothing; default "auto". */
  progress: ProgressMode;
  /** Plain progress lines every this many steps; default: steps / 20, at least 1. */
  every: number;
}

export interface TrainConfig {
  /** Optimizer steps in all; a resumed run continues up to this. Required. */
  steps: number;
  /** Step s draws its batch noise from new SeededNoise(seed).fork(s); default 0. */
  seed: number;
  /** Micro-batches per optimizer step (gradient accumulation); default 1. */
  accumulation: number;
  /** ONNX Runtime intra-op threads; results are bit-reproducible for a fixed count; default: all cores. */
  threads: number;
  lr: LrScheduleConfig;
  adamw: Required<Pick<AdamWOptions, "betas" | "eps" | "weightDecay">> & { maxGradNorm: number | null; emaDecay: number | null };
  checkpoint: CheckpointConfig;
  log: LogConfig;
}

/** What a caller writes: required fields and any defaults it wants to change. */
export interface TrainConfigInput {
  steps: number;
  seed?: number;
  accumulation?: number;
  threads?: number;
  lr: Partial<LrScheduleConfig> & { peak: number };
  adamw?: AdamWOptions;
  checkpoint?: Partial<CheckpointConfig>;
  log?: Partial<LogConfig>;
}

export class TrainConfigError extends Error {
  override name = "TrainConfigError";
}

type Obj = Record<string, unknown>;

function isObject(x: unknown): x is Obj {
  return typeof x === "object" && x !== null && !Array.isArray(x);
}

function show(v: unknown): string {
  return typeof v === "string" ? JSON.stringify(v) : Array.isArray(v) || isObject(v) ? JSON.stringify(v) : String(v);
}

function bad(field: string, value: unknown, allowed: string): never {
  throw new TrainConfigError(`config.${field} is ${show(value)}; allowed: ${allowed}`);
}

function section(raw: Obj, key: string, known: readonly string[], required: boolean): Obj {
  const v = raw[key];
  if (v === undefined && !required) return {};
  if (!isObject(v)) bad(key, v, "an object");
  noUnknown(v, known, `${key}.`);
  return v;
}

function noUnknown(raw: Obj, known: readonly string[], prefix: string): void {
  for (const k of Object.keys(raw)) {
    if (!known.includes(k)) throw new TrainConfigError(`config.${prefix}${k} is not a known field; known: ${known.join(", ")}`);
  }
}

function int(raw: Obj, key: string, field: string, dflt: number | undefined, min: number): number {
  const v = raw[key] ?? dflt;
  if (v === undefined) bad(field, v, `an integer >= ${min} (required)`);
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < min) bad(field, v, `an integer >= ${min}`);
  return v;
}

function num(raw: Obj, key: string, field: string, dflt: number | undefined, ok: (x: number) => boolean, allowed: string): number {
  const v = raw[key] ?? dflt;
  if (typeof v !== "number" || !Number.isFinite(v) || !ok(v)) bad(field, v, v === undefined ? `${allowed} (required)` : allowed);
  return v;
}

function pathOrNull(raw: Obj, key: string, field: string, dflt: string | null): string | null {
  const v = raw[key] ?? dflt;
  if (v !== null && (typeof v !== "string" || v.length === 0)) bad(field, v, "a non-empty path string");
  return v;
}

/** Validates a config (from JSON, flags or code) and fills in the defaults. */
export function resolveTrainConfig(input: TrainConfigInput | unknown): TrainConfig {
  if (!isObject(input)) throw new TrainConfigError(`config is ${show(input)}; allowed: an object`);
  noUnknown(input, ["steps", "seed", "accumulation", "threads", "lr", "adamw", "checkpoint", "log"], "");
  const steps = int(input, "steps", "steps", undefined, 1);
  const seed = int(input, "seed", "seed", 0, 0);
  const accumulation = int(input, "accumulation", "accumulation", 1, 1);
  const threads = int(input, "threads", "threads", availableParallelism(), 1);

  const lrRaw = section(input, "lr", ["schedule", "peak", "warmupSteps", "floor", "decaySteps"], true);
  const schedule = lrRaw.schedule ?? "cosine";
  if (schedule !== "constant" && schedule !== "cosine") bad("lr.schedule", schedule, "constant, cosine");
  const peak = num(lrRaw, "peak", "lr.peak", undefined, (x) => x > 0, "a finite number > 0");
  const lr: LrScheduleConfig = {
    schedule,
    peak,
    warmupSteps: int(lrRaw, "warmupSteps", "lr.warmupSteps", 0, 0),
    floor: num(lrRaw, "floor", "lr.floor", 0, (x) => x >= 0 && x <= peak, `a number in [0, lr.peak = ${peak}]`),
    decaySteps: int(lrRaw, "decaySteps", "lr.decaySteps", steps, 1),
  };
  // The cosine runs from the end of warmup to decaySteps: with decaySteps <= warmupSteps the rate would
  // drop from peak to floor in one step. A run whose warmup lasts all its steps never reaches the cosine
  // (and the default decaySteps = steps is then <= warmupSteps), so it is not refused.
  if (schedule === "cosine" && lr.warmupSteps < steps && lr.decaySteps <= lr.warmupSteps) {
    bad("lr.decaySteps", lr.decaySteps, `an integer > lr.warmupSteps = ${lr.warmupSteps} for the cosine schedule (the decay runs from the end of warmup to lr.decaySteps)`);
  }

  const adamRaw = section(input, "adamw", ["betas", "eps", "weightDecay", "maxGradNorm", "emaDecay"], false);
  let adamw: ReturnType<typeof resolveAdamW>;
  try {
    adamw = resolveAdamW(adamRaw as AdamWOptions, "config.adamw");
  } catch (e) {
    throw new TrainConfigError((e as Error).message);
  }

  const ckRaw = section(input, "checkpoint", ["dir", "every", "keep"], false);
  const checkpoint: CheckpointConfig = {
    dir: pathOrNull(ckRaw, "dir", "checkpoint.dir", null),
    every: int(ckRaw, "every", "checkpoint.every", 1000, 1),
    keep: int(ckRaw, "keep", "checkpoint.keep", 3, 1),
  };

  const logRaw = section(input, "log", ["path", "progress", "every"], false);
  const progress = logRaw.progress ?? "auto";
  if (!["auto", "bar", "lines", "none"].includes(progress as string)) bad("log.progress", progress, "auto, bar, lines, none");
  const log: LogConfig = {
    path: pathOrNull(logRaw, "path", "log.path", checkpoint.dir === null ? null : join(checkpoint.dir, "train-log.jsonl")),
    progress: progress as ProgressMode,
    every: int(logRaw, "every", "log.every", Math.max(1, Math.floor(steps / 20)), 1),
  };
  return { steps, seed, accumulation, threads, lr, adamw: { ...adamw, betas: [adamw.betas[0], adamw.betas[1]] }, checkpoint, log };
}

/** Fields whose change alters the trajectory of a resumed run (compared with the checkpoint's config). */
export function trajectoryDifferences(a: TrainConfig, b: TrainConfig): string[] {
  const pick = (c: TrainConfig): Record<string, unknown> => ({
    seed: c.seed,
    accumulation: c.accumulation,
    threads: c.threads,
    ...Object.fromEntries(Object.entries(c.lr).map(([k, v]) => [`lr.${k}`, v])),
    ...Object.fromEntries(Object.entries(c.adamw).map(([k, v]) => [`adamw.${k}`, v])),
  });
  const pa = pick(a);
  const pb = pick(b);
  return Object.keys(pa).filter((k) => JSON.stringify(pa[k]) !== JSON.stringify(pb[k])).map((k) => `${k}: ${JSON.stringify(pb[k])} -> ${JSON.stringify(pa[k])}`);
}
