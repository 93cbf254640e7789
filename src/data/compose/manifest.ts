// A dataset folder's manifest: JSONL shards (manifest-0000.jsonl, ...) with one line per finished clip.
//
// Crash safety rests on one order: a clip's file is complete on disk (written under a temporary name,
// fsynced, renamed) before its line is appended (one write, then fsync). So after a kill at any moment:
//   - a line names a complete file, except a line cut off mid-write (no final newline): dropped on open;
//   - a file may lack its line (killed between the rename and the append): the clip is redone, and the
//     rewrite replaces the file atomically with the same content.
// Opening for writing also drops lines whose file is gone or has another size than recorded, and repeated
// ids, rewriting the shard atomically; those clips are then made again. Lines hold nothing that differs
// between runs (no time, no temporary name), so an interrupted and resumed run ends with the same lines as
// an uninterrupted one (in another order within a shard when a captioning service answers out of order or
// several units run at once).

import { closeSync, existsSync, fsyncSync, openSync, readFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import { writeAll, writeFileAtomic } from "../../io/atomic-file.js";

/** Where a clip came from. */
export const CLIP_SOURCES = ["image", "video", "world-still", "world-clip", "world-video"] as const;
export type ClipSource = (typeof CLIP_SOURCES)[number];

export interface ClipOrigin {
  /** The input file relative to its root (the captions file's folder, the video root, the list's folder), or the world product. */
  input: string;
  /** Frames [start, end) of the input (after resampling to the dataset's fps) the clip shows. */
  range?: [number, number];
  /** The label range (annotation) the clip was cut from. */
  annotation?: [number, number];
  /** Source-specific details: the camera path of a pseudo-video, the world seed and index. */
  [detail: string]: unknown;
}

export interface ManifestEntry {
  id: string;
  /** The clip file, relative to the dataset folder, with / separators. */
  path: string;
  caption: string;
  source: ClipSource;
  frames: number;
  fps: number;
  width: number;
  height: number;
  /** The file's size, checked on resume. */
  bytes: number;
  label?: string;
  origin: ClipOrigin;
}

const int = (min: number) => z.number().int().min(min);

export const manifestEntrySchema = z.object({
  id: z.string().regex(/^[0-9a-f]{16}$/),
  path: z.string().min(1).refine((p) => !p.startsWith("/") && !p.split("/").includes(".."), "a path inside the dataset folder"),
  caption: z.string().min(1),
  source: z.enum(CLIP_SOURCES),
  frames: int(1),
  fps: z.number().positive(),
  width: int(1),
  height: int(1),
  bytes: int(1),
  label: z.string().optional(),
  origin: z.looseObject({ input: z.string(), range: z.tuple([z.number(), z.number()]).optional() }),
});

export function manifestShardName(shard: number): string {
  return `manifest-${String(shard).padStart(4, "0")}.jsonl`;
}

export function clipShardFolder(shard: number): string {
  return `clips/shard-${String(shard).padStart(4, "0")}`;
}

/** The manifest shard files of a dataset folder, in shard order. */
export function manifestFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).filter((n) => /^manifest-\d{4,}\.jsonl$/.test(n)).sort((a, b) => a.length - b.length || (a < b ? -1 : 1));
}

export interface ManifestLine {
  file: string;
  line: number;
  entry: ManifestEntry | null;
  /** Why the line is not an entry. */
  problem?: string;
  text: string;
}

/** Every complete line of every shard, parsed and validated (a line cut off by a crash is left out). */
export function readManifestLines(dir: string): ManifestLine[] {
  const out: ManifestLine[] = [];
  for (const file of manifestFiles(dir)) {
    const text = readFileSync(join(dir, file), "utf8");
    const lines = text.split("\n");
    lines.pop(); // after the last "\n": empty, or a line cut off mid-write
    lines.forEach((raw, k) => {
      if (raw.trim() === "") return;
      let value: unknown;
      try {
        value = JSON.parse(raw);
      } catch {
        out.push({ file, line: k + 1, entry: null, problem: "not JSON", text: raw });
        return;
      }
      const parsed = manifestEntrySchema.safeParse(value);
      if (parsed.success) out.push({ file, line: k + 1, entry: parsed.data as ManifestEntry, text: raw });
      else out.push({ file, line: k + 1, entry: null, problem: parsed.error.issues.map((i) => `${i.path.join(".") || "line"}: ${i.message}`).join("; "), text: raw });
    });
  }
  return out;
}

/**
 * The entries of a dataset folder for reading (the loader): valid lines whose file exists, each id once,
 * sorted by id so that the order does not depend on the order clips were finished in.
 */
export function readManifest(dir: string): ManifestEntry[] {
  const byId = new Map<string, ManifestEntry>();
  for (const { entry } of readManifestLines(dir)) {
    if (entry !== null && !byId.has(entry.id) && existsSync(join(dir, entry.path))) byId.set(entry.id, entry);
  }
  return [...byId.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

function fileSize(path: string): number | null {
  try {
    return statSync(path).size;
  } catch {
    return null;
  }
}

/** The manifest of a dataset being written: what is done, and appending what gets done. */
export class ManifestStore {
  private readonly entries = new Map<string, ManifestEntry>();
  private readonly descriptors = new Map<number, number>();
  /** Lines dropped on open, with the reason. */
  readonly repaired: { file: string; line: number; reason: string }[] = [];

  private constructor(readonly dir: string) {}

  /** Reads the shards of `dir`, dropping (and rewriting away) lines that do not name a finished clip. */
  static open(dir: string): ManifestStore {
    const store = new ManifestStore(dir);
    const keep = new Map<string, string[]>();
    const dirty = new Set<string>();
    for (const file of manifestFiles(dir)) {
      keep.set(file, []);
      if (!readFileSync(join(dir, file), "utf8").endsWith("\n") && statSync(join(dir, file)).size > 0) dirty.add(file);
    }
    for (const { file, line, entry, problem, text } of readManifestLines(dir)) {
      let reason = problem;
      if (entry !== null) {
        const size = fileSize(join(dir, entry.path));
        if (store.entries.has(entry.id)) reason = `repeats clip ${entry.id}`;
        else if (size === null) reason = `its clip ${entry.path} is missing`;
        else if (size !== entry.bytes) reason = `its clip ${entry.path} has ${size} bytes, not the ${entry.bytes} recorded`;
      }
      if (reason === undefined && entry !== null) {
        store.entries.set(entry.id, entry);
        keep.get(file)!.push(text);
      } else {
        store.repaired.push({ file, line, reason: reason ?? "invalid" });
        dirty.add(file);
      }
    }
    for (const file of dirty) {
      const bytes = Buffer.from(keep.get(file)!.map((l) => `${l}\n`).join(""), "utf8");
      writeFileAtomic(join(dir, file), (fd) => writeAll(fd, bytes));
    }
    return store;
  }

  has(id: string): boolean {
    return this.entries.has(id);
  }

  get(id: string): ManifestEntry | undefined {
    return this.entries.get(id);
  }

  get size(): number {
    return this.entries.size;
  }

  /** Appends `entry` to shard `shard` and makes it durable; its clip file must be complete already. */
  append(shard: number, entry: ManifestEntry): void {
    if (this.entries.has(entry.id)) throw new Error(`manifest: clip ${entry.id} is already recorded`);
    let fd = this.descriptors.get(shard);
    if (fd === undefined) {
      fd = openSync(join(this.dir, manifestShardName(shard)), "a");
      this.descriptors.set(shard, fd);
    }
    // the whole line at once (writeAll loops only on a short write): a kill leaves it whole or cut off
    writeAll(fd, Buffer.from(`${JSON.stringify(entry)}\n`, "utf8"));
    fsyncSync(fd);
    this.entries.set(entry.id, entry);
  }

  close(): void {
    for (const fd of this.descriptors.values()) closeSync(fd);
    this.descriptors.clear();
  }
}
