// Training checkpoints: one safetensors file per saved step, `step-<8 digits>.safetensors`, holding the
// trainable parameters under their own names and the optimizer state (adam.m.*, adam.v.*, ema.*).
// Frozen parameters are not stored: they are the run's initial weights, unchanged by training.
// `__metadata__` holds JSON strings: the step, the seed and root noise state, the resolved config.
// Files are written atomically (temporary file, fsync, rename), so a crash leaves the previous
// checkpoints intact; a file that is still damaged (disk, copy) is skipped on resume with a warning.

import { readdirSync, renameSync, unlinkSync } from "node:fs";
import { basename, join } from "node:path";
import { SafetensorsFile, writeSafetensors } from "../io/index.js";
import type { RngState } from "../tensor/rng.js";
import { type Tensor, sameShape } from "../tensor/tensor.js";
import type { TrainConfig } from "./config.js";

export const CHECKPOINT_FORMAT = "vidrd.train-checkpoint/1";
const FILE = /^step-(\d{8,})\.safetensors$/;
/** Temporaries an interrupted atomic write leaves behind (see io/atomic-file.ts). */
const TEMPORARY = /^\.step-\d{8,}\.safetensors\..*\.tmp$/;

export class CheckpointError extends Error {
  override name = "CheckpointError";
}

export interface CheckpointMetadata {
  /** Optimizer steps done. */
  step: number;
  seed: number;
  /** State of the root noise source; step s draws from its fork(s). */
  noiseState: RngState;
  config: TrainConfig;
  /** Loss of the last step (for people reading the file). */
  loss: number | null;
}

export interface Checkpoint extends CheckpointMetadata {
  path: string;
  tensors: Map<string, Tensor>;
}

export function checkpointPath(dir: string, step: number): string {
  return join(dir, `step-${String(step).padStart(8, "0")}.safetensors`);
}

/** Checkpoint files in `dir` by step, oldest first (an absent directory has none). */
export function listCheckpoints(dir: string): { step: number; path: string }[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw e;
  }
  return names
    .flatMap((n) => {
      const m = FILE.exec(n);
      return m ? [{ step: Number(m[1]), path: join(dir, n) }] : [];
    })
    .sort((a, b) => a.step - b.step);
}

export function writeCheckpoint(dir: string, tensors: ReadonlyMap<string, Tensor>, meta: CheckpointMetadata): string {
  const path = checkpointPath(dir, meta.step);
  writeSafetensors(path, tensors, {
    "vidrd.format": CHECKPOINT_FORMAT,
    "vidrd.step": JSON.stringify(meta.step),
    "vidrd.seed": JSON.stringify(meta.seed),
    "vidrd.noise_state": JSON.stringify(meta.noiseState),
    "vidrd.config": JSON.stringify(meta.config),
    "vidrd.loss": JSON.stringify(meta.loss),
  });
  return path;
}

function parseMeta(meta: Readonly<Record<string, string>>, path: string): CheckpointMetadata {
  const field = (key: string): unknown => {
    const raw = meta[key];
    if (raw === undefined) throw new CheckpointError(`${path}: __metadata__ has no "${key}"`);
    try {
      return JSON.parse(raw);
    } catch {
      throw new CheckpointError(`${path}: __metadata__ "${key}" is not JSON: ${raw.slice(0, 80)}`);
    }
  };
  if (meta["vidrd.format"] !== CHECKPOINT_FORMAT) {
    throw new CheckpointError(`${path}: __metadata__ "vidrd.format" is ${JSON.stringify(meta["vidrd.format"])}; expected "${CHECKPOINT_FORMAT}"`);
  }
  const step = field("vidrd.step");
  if (!Number.isSafeInteger(step) || (step as number) < 0) throw new CheckpointError(`${path}: step ${String(step)} is not a non-negative integer`);
  const loss = field("vidrd.loss");
  return {
    step: step as number,
    seed: field("vidrd.seed") as number,
    noiseState: field("vidrd.noise_state") as RngState,
    config: field("vidrd.config") as TrainConfig,
    loss: typeof loss === "number" ? loss : null,
  };
}

/**
 * Reads and checks a checkpoint: its metadata, and (when `expected` is given) that every expected tensor
 * is there as float32 of the right shape. All tensor data is read, so a truncated file fails here.
 */
export function readCheckpoint(path: string, expected?: readonly { name: string; shape: readonly number[] }[]): Checkpoint {
  const file = SafetensorsFile.open(path);
  try {
    const meta = parseMeta(file.metadata, path);
    const names = expected ? expected.map((e) => e.name) : file.names();
    const tensors = new Map<string, Tensor>();
    for (const e of expected ?? []) {
      if (!file.has(e.name)) throw new CheckpointError(`${path}: has no tensor ${e.name}`);
    }
    for (const name of names) {
      const t = file.read(name);
      const want = expected?.find((e) => e.name === name);
      if (want && (t.dtype !== "float32" || !sameShape(t.shape, want.shape))) {
        throw new CheckpointError(`${path}: ${name} is ${t.describe()}, expected float32[${want.shape.join(", ")}]`);
      }
      tensors.set(name, t);
    }
    return { ...meta, path, tensors };
  } finally {
    file.close();
  }
}

/**
 * The newest checkpoint of `dir` that reads and checks. Damaged ones newer than it are reported through
 * `warn` and renamed to `<name>.corrupt`, so that neither a later resume nor pruning counts them.
 * Null when there is none.
 */
export function latestValidCheckpoint(
  dir: string,
  expected: readonly { name: string; shape: readonly number[] }[],
  warn: (message: string) => void,
): Checkpoint | null {
  for (const { step, path } of listCheckpoints(dir).reverse()) {
    try {
      const c = readCheckpoint(path, expected);
      if (c.step !== step) throw new CheckpointError(`${path}: holds step ${c.step}, its name says ${step}`);
      return c;
    } catch (e) {
      warn(`skipping checkpoint ${path} (renamed to ${basename(path)}.corrupt): ${(e as Error).message}`);
      renameSync(path, `${path}.corrupt`);
    }
  }
  return null;
}

/** Deletes all but the newest `keep` checkpoints, and temporaries of interrupted writes; returns what went. */
export function pruneCheckpoints(dir: string, keep: number): string[] {
  const all = listCheckpoints(dir);
  const removed = all.slice(0, Math.max(0, all.length - keep)).map((c) => c.path);
  for (const n of readdirSync(dir)) if (TEMPORARY.test(n)) removed.push(join(dir, n));
  for (const p of removed) {
    try {
      unlinkSync(p);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
    }
  }
  return removed;
}
