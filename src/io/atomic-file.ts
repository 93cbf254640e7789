// Writing a file so that readers see either the old content or the complete new content, never a
// half-written file: write a temporary file in the same directory (rename is atomic only within one
// file system), fsync it, rename it over the target, then fsync the directory so the rename survives
// a crash. On any failure the temporary file is removed and the target is left as it was.

import { closeSync, fsyncSync, openSync, renameSync, unlinkSync, writeSync } from "node:fs";
import { randomUUID } from "node:crypto";
import { basename, dirname, join } from "node:path";

/** Node writes at most 2 GiB per call; larger views go out in pieces. */
const MAX_WRITE_CHUNK = 1 << 30;

/** Writes all of `bytes` at the current position of `fd`, looping over short writes. */
export function writeAll(fd: number, bytes: Uint8Array): void {
  let done = 0;
  while (done < bytes.length) {
    done += writeSync(fd, bytes, done, Math.min(bytes.length - done, MAX_WRITE_CHUNK));
  }
}

/**
 * Creates `path` atomically; `writeBody` receives the descriptor of the temporary file and writes the
 * content (with `writeAll`, as many times as it likes, so large content can be streamed).
 */
export function writeFileAtomic(path: string, writeBody: (fd: number) => void): void {
  const directory = dirname(path);
  // The random part is for uniqueness only; it never reaches the file's content.
  const temporary = join(directory, `.${basename(path)}.${process.pid}.${randomUUID()}.tmp`);
  const fd = openSync(temporary, "wx");
  let renamed = false;
  try {
    try {
      writeBody(fd);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temporary, path);
    renamed = true;
  } finally {
    if (!renamed) {
      try {
        unlinkSync(temporary);
      } catch {
        // Already gone; the original error is the one worth reporting.
      }
    }
  }
  syncDirectory(directory);
}

function syncDirectory(directory: string): void {
  let fd: number;
  try {
    fd = openSync(directory, "r");
  } catch {
    return; // Some platforms (Windows) cannot open a directory; the rename itself has happened.
  }
  try {
    fsyncSync(fd);
  } catch {
    // Likewise not supported everywhere; durability of the rename is best effort there.
  } finally {
    closeSync(fd);
  }
}
