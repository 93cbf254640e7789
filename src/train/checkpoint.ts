// Training checkpoints: one safetensors file per saved step, `step-<8 digits>.safetensors`, holding the
// trainable parameters under their own names and the optimizer state (adam.m.*, adam.v.*, ema.*).
// Frozen parameters are not stored: they are the run's initial weights, unchanged by training.
// `__metadata__` holds JSON strings: the step, the seed and root noise state, the resolved config.
// Files are written atomically (temporary file, fsync, rename), so a crash leaves the previous
// checkpoints intact; a file that is still damaged (disk, copy) is skipped on resume with a warning and
// renamed `<name>.corrupt`. Only damage does that: a readable checkpoint that holds other tensors than
// the run carries (its config changed what is saved) is refused, and a file-system or memory error is
// rethrown, so neither ever renames a good checkpoint. `.corrupt` files are never counted as
// checkpoints, and pruning removes one once `keep` newer checkpoints exist.

import { readdirSync, renameSync, unlinkSync } from "node:fs";
import { basename, join } from "node:path";
import { SafetensorsError, SafetensorsFile, writeSafetensors } from "../io/index.js";
import type { RngState } from "../tensor/rng.js";
import { type Tensor, sameShape } from "../tensor/tensor.js";
import type { TrainConfig } from "./config.js";

export const CHECKPOINT_FORMAT = "vidrd.train-checkpoint/1";
const FILE = /^step-(\d{8,})\.safetensors$/;
/** Checkpoints found damaged on resume (see latestValidCheckpoint). */
const CORRUPT = /^step-(\d{8,})\.safetensors\.corrupt$/;
/** Temporaries an interrupted atomic write leaves behind (see io/atomic-file.ts). */
const TEMPORARY = /^\.step-\d{8,}\.safetensors\..*\.tmp$/;

/** A checkpoint that cannot be used: damaged, or (the subclass) written for another configuration. */
export class CheckpointError extends Error {
  override name = "CheckpointError";
}

/**
 * A readable checkpoint whose tensors differ from those the run carries: another set of trainable
 * parameters, EMA turned on or off, other shapes, or not a training checkpoint of this format.
 */
export class CheckpointMismatchError extends CheckpointError {
  override name = "CheckpointMismatchError";
  constructor(
    readonly path: string,
    /** One line per difference, e.g. "missing ema.fc.weight, ema.fc.bias". */
    readonly differences: readonly string[],
    /** The checkpoint's metadata, when it parsed. */
    readonly stored: CheckpointMetadata | null,
  ) {
    super(`${path} does not match this run: ${differences.join("; ")}`);
  }
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

/** Files in `dir` whose name matches `pattern` (step in group 1) by step, oldest first. */
function filesByStep(dir: string, pattern: RegExp): { step: number; path: string }[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw e;
  }
  return names
    .flatMap((n) => {
      const m = pattern.exec(n);
      return m ? [{ step: Number(m[1]), path: join(dir, n) }] : [];
    })
    .sort((a, b) => a.step - b.step);
}

/** Checkpoint files in `dir` by step, oldest first (an absent directory has none). */
export function listCheckpoints(dir: string): { step: number; path: string }[] {
  return filesByStep(dir, FILE);
}

/** Checkpoints renamed `<name>.corrupt` because they were damaged, by step, oldest first. */
export function listCorruptCheckpoints(dir: string): { step: number; path: string }[] {
  return filesByStep(dir, CORRUPT);
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
    // a valid file of another kind or version, not damage
    throw new CheckpointMismatchError(path, [`__metadata__ "vidrd.format" is ${JSON.stringify(meta["vidrd.format"])}; expected "${CHECKPOINT_FORMAT}"`], null);
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

/** Names for a message: all of a short list, the first few of a long one. */
function listed(names: readonly string[]): string {
  const shown = 8;
  return names.length <= shown ? names.join(", ") : `${names.slice(0, shown).join(", ")} and ${names.length - shown} more`;
}

/** How the file's tensors differ from `expected` (from the header alone: names, dtypes, shapes). */
function layoutDifferences(file: SafetensorsFile, expected: readonly { name: string; shape: readonly number[] }[]): string[] {
  const wanted = new Map(expected.map((e) => [e.name, e.shape]));
  const missing: string[] = [];
  const different: string[] = [];
  for (const [name, shape] of wanted) {
    if (!file.has(name)) {
      missing.push(name);
      continue;
    }
    const info = file.info(name);
    if (info.dtype !== "F32" || !sameShape(info.shape, shape)) different.push(`${name} is ${info.dtype}[${info.shape.join(", ")}], this run carries F32[${shape.join(", ")}]`);
  }
  const extra = file.names().filter((n) => !wanted.has(n));
  const out: string[] = [];
  if (missing.length) out.push(`missing ${listed(missing)} (${missing.length} tensor(s) this run carries)`);
  if (extra.length) out.push(`holds ${listed(extra)} (${extra.length} tensor(s) this run does not carry)`);
  return [...out, ...different];
}

/**
 * Reads and checks a checkpoint: its metadata, and (when `expected` is given) that it holds exactly the
 * expected tensors, float32 of the right shapes, else a CheckpointMismatchError listing the differences.
 * All tensor data is read, so a truncated file fails here.
 */
export function readCheckpoint(path: string, expected?: readonly { name: string; shape: readonly number[] }[]): Checkpoint {
  const file = SafetensorsFile.open(path);
  try {
    const meta = parseMeta(file.metadata, path);
    if (expected) {
      const differences = layoutDifferences(file, expected);
      if (differences.length) throw new CheckpointMismatchError(path, differences, meta);
    }
    const tensors = new Map<string, Tensor>();
    for (const name of expected ? expected.map((e) => e.name) : file.names()) tensors.set(name, file.read(name));
    return { ...meta, path, tensors };
  } finally {
    file.close();
  }
}

/**
 * A failure of the system, not of the file's bytes: a file-system error (EACCES, EMFILE, EIO, ...) or
 * memory. The safetensors reader wraps exactly those as the `cause` of its error (open, stat, read,
 * allocation); its own findings about the bytes have none.
 */
function isSystemError(e: unknown): boolean {
  if (e instanceof SafetensorsError && e.cause !== undefined) return true;
  return e instanceof Error && typeof (e as NodeJS.ErrnoException).code === "string";
}

/** Damage to the file itself: bytes that do not parse as safetensors, or metadata that does not parse. */
function isDamage(e: unknown): boolean {
  if (isSystemError(e) || e instanceof CheckpointMismatchError) return false;
  return e instanceof SafetensorsError || e instanceof CheckpointError;
}

/**
 * The newest checkpoint of `dir` that reads and checks. Damaged ones newer than it are reported through
 * `warn` and renamed to `<name>.corrupt`, so that neither a later resume nor pruning counts them.
 * Null when there is none. Throws, renaming nothing more, at the first checkpoint that does not match
 * `expected` (CheckpointMismatchError) and on errors of the system (file system, memory).
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
      if (!isDamage(e)) throw e;
      const corrupt = `${path}.corrupt`;
      try {
        renameSync(path, corrupt);
      } catch (renameError) {
        throw new CheckpointError(
          `checkpoint ${path} is damaged (${(e as Error).message}) but renaming it to ${basename(corrupt)} failed: ${(renameError as Error).message}; ` +
            "move or delete it, then resume",
          { cause: renameError },
        );
      }
      warn(`skipping checkpoint ${path} (renamed to ${basename(corrupt)}): ${(e as Error).message}`);
    }
  }
  return null;
}

/**
 * Deletes all but the newest `keep` checkpoints, `.corrupt` files with `keep` checkpoints newer than
 * them (they would have been pruned by now), and temporaries of interrupted writes; returns what went.
 */
export function pruneCheckpoints(dir: string, keep: number): string[] {
  const all = listCheckpoints(dir);
  const removed = all.slice(0, Math.max(0, all.length - keep)).map((c) => c.path);
  for (const c of listCorruptCheckpoints(dir)) {
    if (all.filter((k) => k.step > c.step).length >= keep) removed.push(c.path);
  }
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
