// The dataset folder a composition writes into:
//
//   dataset.json                 what every clip is: size, frames, fps (fixed by the first run)
//   manifest-0000.jsonl ...      one line per finished clip (manifest.ts)
//   clips/shard-0000/<id>.mp4    the clips, `shardSize` per folder
//   report.json                  what the last run made, skipped, rejected and dropped
//   .plans/ .caption-cache/      what re-runs reuse: segment plans of videos, service captions
//   .lock                        the pid of the run writing the folder
//
// One run at a time writes a folder: the lock is created exclusively, and a lock whose process is gone
// (a killed run) is taken over. Temporaries a killed run left (its writers' exit hooks never ran) are
// removed once the lock is held.

import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readdirSync, realpathSync, rmSync, statSync, unlinkSync, writeSync } from "node:fs";
import { join } from "node:path";
import { writeAll, writeFileAtomic } from "../../io/atomic-file.js";

export const DATASET_FORMAT = "vidrd-dataset";
/** Where a dataset keeps service captions by default (a Captioner's cacheDir), inside the folder. */
export const CAPTION_CACHE_FOLDER = ".caption-cache";
export const DATASET_VERSION = 1;

/** What every clip of a dataset is. */
export interface OutputSpec {
  width: number;
  height: number;
  /** Frames per clip. */
  frames: number;
  fps: number;
}

export interface DatasetInfo extends OutputSpec {
  format: typeof DATASET_FORMAT;
  version: number;
}

export class DatasetFolderError extends Error {
  override name = "DatasetFolderError";
}

/** Checks an output spec; errors name the field. */
export function checkOutputSpec(spec: OutputSpec): OutputSpec {
  const { width, height, frames, fps } = spec;
  for (const [name, v, min, max] of [["width", width, 16, 4096], ["height", height, 16, 4096], ["frames", frames, 1, 100000]] as const) {
    if (!Number.isInteger(v) || v < min || v > max) throw new DatasetFolderError(`${name} is ${String(v)}; allowed: an integer in [${min}, ${max}]`);
  }
  // yuv420p (what mp4 players expect) halves chroma in both directions: odd sizes cannot be encoded
  if (width % 2 !== 0 || height % 2 !== 0) throw new DatasetFolderError(`size is ${width}x${height}; allowed: even width and height (mp4's yuv420p)`);
  if (!(typeof fps === "number" && fps > 0 && fps <= 240)) throw new DatasetFolderError(`fps is ${String(fps)}; allowed: a number in (0, 240]`);
  return { width, height, frames, fps };
}

/** dataset.json of `dir`, or null when there is none. */
export function readDatasetInfo(dir: string): DatasetInfo | null {
  const path = join(dir, "dataset.json");
  if (!existsSync(path)) return null;
  let info: DatasetInfo;
  try {
    info = JSON.parse(readFileSync(path, "utf8")) as DatasetInfo;
  } catch (e) {
    throw new DatasetFolderError(`${path} is not JSON (${(e as Error).message}); allowed: the dataset.json a vidrd data run wrote`);
  }
  if (info === null || typeof info !== "object") throw new DatasetFolderError(`${path} holds ${JSON.stringify(info)}; allowed: the dataset.json a vidrd data run wrote`);
  if (info.format !== DATASET_FORMAT) throw new DatasetFolderError(`${path}: format is ${JSON.stringify(info.format)}; allowed: "${DATASET_FORMAT}"`);
  return info;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Temporaries of writeFileAtomic and PendingOutput: ".<name>.<pid>.<random>.tmp[.ext]". */
const TEMPORARY = /^\..+\.\d+\.[0-9a-f-]+\.tmp(\.[a-z0-9]+)?$/;

function removeTemporaries(dir: string): void {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) return;
  for (const name of readdirSync(dir)) if (TEMPORARY.test(name)) rmSync(join(dir, name), { recursive: true, force: true });
}

/** Folders this process holds the lock of (a lock with our own pid is otherwise taken as a stale one). */
const held = new Set<string>();

export class DatasetFolder {
  private released = false;

  private constructor(
    readonly dir: string,
    private readonly key: string,
  ) {}

  /**
   * Creates (or reopens) `dir` for writing clips of `spec`, holding its lock. A folder made for another
   * spec is refused: its clips would not batch with the new ones.
   */
  static open(dir: string, spec: OutputSpec): DatasetFolder {
    checkOutputSpec(spec);
    if (existsSync(dir) && !statSync(dir).isDirectory()) throw new DatasetFolderError(`output ${dir} is a file; allowed: a new or existing dataset folder`);
    mkdirSync(dir, { recursive: true });
    const key = realpathSync(dir);
    const lock = join(dir, ".lock");
    if (held.has(key)) throw new DatasetFolderError(`output ${dir} is being written by another run in this process (see ${lock}); wait for it or choose another folder`);
    for (let attempt = 0; ; attempt++) {
      try {
        const fd = openSync(lock, "wx");
        writeSync(fd, `${process.pid}\n`);
        closeSync(fd);
        break;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "EEXIST" || attempt > 0) throw e;
        const pid = Number.parseInt(readFileSync(lock, "utf8"), 10);
        if (Number.isInteger(pid) && pid !== process.pid && processAlive(pid)) {
          throw new DatasetFolderError(`output ${dir} is being written by another run (pid ${pid}, see ${lock}); wait for it or choose another folder`);
        }
        unlinkSync(lock); // left by a run that was killed
      }
    }
    held.add(key);
    const folder = new DatasetFolder(dir, key);
    try {
      const info = readDatasetInfo(dir);
      if (info !== null) {
        for (const key of ["width", "height", "frames", "fps"] as const) {
          if (info[key] !== spec[key]) {
            throw new DatasetFolderError(`${key} is ${spec[key]} but the dataset in ${dir} has ${key} ${info[key]} (dataset.json); allowed: the same, or another output folder`);
          }
        }
      } else {
        const body: DatasetInfo = { format: DATASET_FORMAT, version: DATASET_VERSION, ...spec };
        writeFileAtomic(join(dir, "dataset.json"), (fd) => writeAll(fd, Buffer.from(`${JSON.stringify(body, null, 2)}\n`)));
      }
      removeTemporaries(dir);
      removeTemporaries(join(dir, ".plans"));
      const clips = join(dir, "clips");
      if (existsSync(clips)) for (const shard of readdirSync(clips)) removeTemporaries(join(clips, shard));
      const cache = join(dir, CAPTION_CACHE_FOLDER);
      if (existsSync(cache)) for (const sub of readdirSync(cache)) removeTemporaries(join(cache, sub));
    } catch (e) {
      folder.release();
      throw e;
    }
    return folder;
  }

  get plansDir(): string {
    return join(this.dir, ".plans");
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    rmSync(join(this.dir, ".lock"), { force: true });
    held.delete(this.key);
  }
}
