// Output that appears whole or not at all. A writer works in a temporary file (or folder) beside the
// target, in the same directory because rename is atomic only within one file system, and renames it
// over the target when the video is complete. Aborts and errors remove the temporary; so does process
// exit, for a writer its owner never got to close (an uncaught error in a CLI run). A process killed
// outright (SIGKILL, or a signal that skips exit hooks) leaves its temporary behind: the next writer of
// the same output removes those of processes that are no longer alive (sweepStaleTemporaries).
//
// Temporary names are ".<name>.<pid>.<8 hex>.tmp<extension>", the name part cut so that the whole stays
// within 255 bytes (the usual limit of a file name): any output name that is itself allowed works.

import { closeSync, fsyncSync, lstatSync, mkdirSync, openSync, readdirSync, renameSync, rmSync, rmdirSync, statSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { basename, dirname, join, resolve } from "node:path";

/** The longest file name (in bytes) on the file systems vidrd runs on (ext4, xfs, btrfs, APFS, NTFS). */
const NAME_MAX = 255;
/** Digits reserved for the process id, whatever its actual length, so a name's cut never depends on it. */
const PID_DIGITS = 10;

const pendingTemporaries = new Set<string>();
let exitHookInstalled = false;

function removeAllPending(): void {
  for (const path of pendingTemporaries) rmSync(path, { recursive: true, force: true });
}

/** Why `path` cannot be written, in words, from the error of creating something there. */
function cannotWrite(target: string, e: NodeJS.ErrnoException): Error {
  const dir = dirname(target);
  const reason =
    e.code === "ENOENT" ? `the folder ${dir} does not exist` :
    e.code === "EACCES" || e.code === "EPERM" ? `no permission to write in ${dir}` :
    e.code === "ENOTDIR" ? `${dir} is not a folder` :
    e.code === "EROFS" ? `${dir} is on a read-only file system` :
    e.message;
  return new Error(`cannot write output ${target}: ${reason} (${e.code ?? "error"}); allowed: a path in an existing, writable folder`, { cause: e });
}

/** `name` cut to at most `maxBytes` bytes of UTF-8, never inside a character. */
function truncateUtf8(name: string, maxBytes: number): string {
  if (Buffer.byteLength(name) <= maxBytes) return name;
  let out = "";
  let bytes = 0;
  for (const ch of name) {
    const n = Buffer.byteLength(ch);
    if (bytes + n > maxBytes) break;
    out += ch;
    bytes += n;
  }
  return out;
}

/**
 * The part of a temporary's name before the pid: "." + the target's name, cut so that
 * ".<name>.<pid>.<8 hex>.tmp<extension>" stays within NAME_MAX bytes for any pid.
 */
function temporaryStem(targetName: string, extension: string): string {
  const fixed = 1 + 1 + PID_DIGITS + 1 + 8 + ".tmp".length + Buffer.byteLength(extension);
  return `.${truncateUtf8(targetName, Math.max(1, NAME_MAX - fixed))}.`;
}

/** The name of a new temporary for `target` (an absolute path), unique by pid and 32 random bits. */
export function temporaryName(target: string, extension = ""): string {
  return `${temporaryStem(basename(target), extension)}${process.pid}.${randomBytes(4).toString("hex")}.tmp${extension}`;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** Whether process `pid` exists; only a definite "no such process" (ESRCH) counts as gone. */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code !== "ESRCH";
  }
}

/**
 * Removes temporaries for `target` left by processes that no longer exist (killed before their exit hook
 * ran): entries beside the target named as this module names them for the same output name and
 * extension (also the full-UUID form of older versions and of src/io's writeFileAtomic), of the right
 * kind, whose pid is not alive. This process's own and a live process's temporaries are never touched.
 * Best effort: returns the paths removed.
 */
export function sweepStaleTemporaries(target: string, kind: "file" | "folder", extension = ""): string[] {
  const abs = resolve(target);
  const dir = dirname(abs);
  const stem = temporaryStem(basename(abs), extension);
  const rest = new RegExp(`^(\\d{1,${PID_DIGITS}})\\.[0-9a-f]{8}(?:-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})?\\.tmp${escapeRegExp(extension)}$`);
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    if (!name.startsWith(stem)) continue;
    const match = rest.exec(name.slice(stem.length));
    if (!match) continue;
    const pid = Number(match[1]);
    if (pid <= 0 || pid === process.pid || processAlive(pid)) continue;
    const path = join(dir, name);
    try {
      const stat = lstatSync(path);
      if (kind === "file" ? !stat.isFile() : !stat.isDirectory()) continue;
      rmSync(path, { recursive: kind === "folder", force: true });
      removed.push(path);
    } catch {
      // Gone meanwhile, or not ours to remove: leave it.
    }
  }
  return removed;
}

export class PendingOutput {
  private settled = false;

  private constructor(
    /** Where the finished output goes. */
    readonly target: string,
    /** Where it is written meanwhile. */
    readonly temporary: string,
    readonly kind: "file" | "folder",
  ) {}

  /**
   * Reserves a temporary beside `target`: an empty file, or an empty folder for kind "folder". Fails at
   * once, with the reason in words, when the target's folder is missing or not writable, or (for a
   * folder) when the target exists and is not an empty folder: a half-replaced folder of frames cannot be
   * undone, so vidrd does not merge into one.
   */
  static create(target: string, kind: "file" | "folder", extension = ""): PendingOutput {
    const abs = resolve(target);
    if (kind === "folder") checkFolderTarget(abs);
    else checkFileTarget(abs);
    sweepStaleTemporaries(abs, kind, extension);
    // The random part only makes the name unique; the extension lets tools that look at names (and
    // people listing the folder) see what it is.
    const temporary = join(dirname(abs), temporaryName(abs, extension));
    try {
      if (kind === "folder") mkdirSync(temporary);
      else closeSync(openSync(temporary, "wx"));
    } catch (e) {
      throw cannotWrite(abs, e as NodeJS.ErrnoException);
    }
    if (!exitHookInstalled) {
      process.on("exit", removeAllPending);
      exitHookInstalled = true;
    }
    pendingTemporaries.add(temporary);
    return new PendingOutput(abs, temporary, kind);
  }

  /** Makes the output durable (fsync of a file) and renames it over the target. */
  commit(): void {
    if (this.settled) throw new Error(`output ${this.target} was already committed or discarded`);
    if (this.kind === "file") {
      const fd = openSync(this.temporary, "r+");
      try {
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
    } else {
      checkFolderTarget(this.target);
      // rename cannot replace a folder, even an empty one: remove it first (checked empty just above).
      if (exists(this.target)) rmdirSync(this.target);
    }
    renameSync(this.temporary, this.target);
    this.settled = true;
    pendingTemporaries.delete(this.temporary);
    syncFolder(dirname(this.target));
  }

  /** Removes the temporary; the target is left as it was. Safe to call more than once. */
  discard(): void {
    if (this.settled) return;
    this.settled = true;
    rmSync(this.temporary, { recursive: true, force: true });
    pendingTemporaries.delete(this.temporary);
  }
}

function exists(path: string): boolean {
  try {
    statSync(path);
    return true;
  } catch {
    return false;
  }
}

function checkFileTarget(target: string): void {
  try {
    if (statSync(target).isDirectory()) {
      throw new Error(`cannot write output ${target}: it is a folder; allowed: a file path (give a name with an extension such as .mp4)`);
    }
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT" && (e as NodeJS.ErrnoException).code !== "ENOTDIR") throw e;
  }
}

function checkFolderTarget(target: string): void {
  let isDirectory: boolean;
  try {
    isDirectory = statSync(target).isDirectory();
  } catch {
    return; // absent: fine (a missing parent is reported when the temporary is created)
  }
  if (!isDirectory) throw new Error(`cannot write frames to ${target}: a file is there; allowed: a new or empty folder`);
  if (readdirSync(target).length > 0) throw new Error(`cannot write frames to ${target}: the folder is not empty; allowed: a new or empty folder`);
}

function syncFolder(dir: string): void {
  let fd: number;
  try {
    fd = openSync(dir, "r");
  } catch {
    return; // not possible on every platform; the rename itself has happened
  }
  try {
    fsyncSync(fd);
  } catch {
    // best effort, as in src/io/atomic-file.ts
  } finally {
    closeSync(fd);
  }
}
