// The cache folder itself: where it is (option, VIDRD_CACHE_DIR, default), that it is a writable folder,
// and the temporary folders entries are built in: named with their owner's pid so a later start can sweep
// those of processes that died mid-build, and moved aside rather than deleted under a reader.

import { randomUUID } from "node:crypto";
import { accessSync, constants as fsConstants, mkdirSync, readdirSync, renameSync, rmSync, statSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join, resolve } from "node:path";

export class CompiledCacheError extends Error {
  override name = "CompiledCacheError";
}

export function defaultCacheDir(): string {
  const env = process.env.VIDRD_CACHE_DIR;
  return env !== undefined && env !== "" ? resolve(env) : join(homedir(), ".cache", "vidrd");
}

/** The cache folder and where it came from, in words for error messages. */
export interface CacheRoot {
  root: string;
  /** "the cacheDir option", "VIDRD_CACHE_DIR" or the default. */
  source: string;
  /** What to change, and what it may name. */
  fix: string;
  /** How to use another folder. */
  other: string;
}

export function cacheRoot(opts: { cacheDir?: string }): CacheRoot {
  if (opts.cacheDir !== undefined) {
    return { root: resolve(opts.cacheDir), source: "the cacheDir option", fix: "the cacheDir option must name a writable folder (created if missing)", other: "set the cacheDir option (it overrides VIDRD_CACHE_DIR) to another writable folder" };
  }
  const env = process.env.VIDRD_CACHE_DIR;
  if (env !== undefined && env !== "") {
    return { root: resolve(env), source: "VIDRD_CACHE_DIR", fix: "VIDRD_CACHE_DIR must name a writable folder (created if missing)", other: "set VIDRD_CACHE_DIR to another writable folder" };
  }
  return { root: defaultCacheDir(), source: "the default; VIDRD_CACHE_DIR unset", fix: "set VIDRD_CACHE_DIR to a writable folder (created if missing)", other: "set VIDRD_CACHE_DIR to another writable folder" };
}

/** A CompiledCacheError for a cache folder that cannot be used, naming it, its source and what is allowed. */
export function cacheRootError(where: CacheRoot, e: unknown): CompiledCacheError {
  const code = (e as NodeJS.ErrnoException)?.code;
  let why: string;
  if (code === "EEXIST" || code === "ENOTDIR") {
    // the first part of the path that exists and is not a folder
    let file = where.root;
    for (let p = where.root; ; p = dirname(p)) {
      try {
        if (!statSync(p).isDirectory()) file = p;
      } catch {
        // missing: look further up
      }
      if (dirname(p) === p) break;
    }
    why = file === where.root ? "it is a file, not a folder" : `${file} is a file, not a folder`;
  } else if (code === "EACCES" || code === "EPERM" || code === "EROFS") {
    why = "it is not writable";
  } else {
    why = (e as Error)?.message ?? String(e);
  }
  return new CompiledCacheError(`cannot use the cache folder ${where.root} (${where.source}): ${why}; ${where.fix}`, { cause: e });
}

/** Creates the cache folder if missing; refuses one that is not a writable folder. */
export function ensureCacheRoot(where: CacheRoot): void {
  try {
    mkdirSync(where.root, { recursive: true });
    if (!statSync(where.root).isDirectory()) throw Object.assign(new Error("not a folder"), { code: "ENOTDIR" });
    accessSync(where.root, fsConstants.W_OK | fsConstants.X_OK);
  } catch (e) {
    throw cacheRootError(where, e);
  }
}

/** Staging (`.staging-…`) and discarded (`.discard-…`) folders: key prefix, owning pid, uuid. */
const TEMP_FOLDER = /^\.(?:staging|discard)-[0-9a-f]{16}-(\d+)-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function tempFolderName(kind: "staging" | "discard", key: string): string {
  return `.${kind}-${key.slice(0, 16)}-${process.pid}-${randomUUID()}`;
}

/** Whether process `pid` is running (on this machine); a process of another user counts (EPERM). */
function processAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code !== "ESRCH";
  }
}

/** Removes the staging and discarded folders of processes that are no longer running; best effort. */
export function sweepTempFolders(root: string): void {
  let names: string[];
  try {
    names = readdirSync(root);
  } catch {
    return; // no cache folder yet, or not one: ensureCacheRoot reports it when it matters
  }
  for (const name of names) {
    const m = TEMP_FOLDER.exec(name);
    if (!m || processAlive(Number(m[1]))) continue;
    try {
      rmSync(join(root, name), { recursive: true, force: true });
    } catch {
      // a read-only cache, or another process sweeping it: left for later
    }
  }
}

/** The inode of `path`, or null when it is missing. */
export function inodeOf(path: string): number | null {
  try {
    return statSync(path).ino;
  } catch {
    return null;
  }
}

/**
 * Moves the entry at `dir` aside and deletes it, unless it is no longer the entry with inode `ino` (another
 * process replaced it meanwhile: that one is left in place).
 */
export function discardEntry(root: string, dir: string, key: string, ino: number | null): void {
  if (ino === null || inodeOf(dir) !== ino) return;
  const aside = join(root, tempFolderName("discard", key));
  try {
    renameSync(dir, aside);
  } catch {
    return; // gone already, or replaced
  }
  if (inodeOf(aside) !== ino) {
    // replaced between the check and the rename: put the other process's entry back if nothing took its place
    try {
      renameSync(aside, dir);
      return;
    } catch {
      // something did: drop it
    }
  }
  rmSync(aside, { recursive: true, force: true });
}
