// Where videos to segment come from:
//   a class tree  <root>/<ClassName>/<video files> (UCF-101's layout; HMDB-51 and Kinetics dumps look the
//                 same): the label is the class folder's name as words (class-labels.ts); files in
//                 deeper folders belong to their top folder's class
//   a list        JSONL, one video per line: {"path", "label"?, "caption"?, "ranges"?: [{"start", "end",
//                 "label"?, "caption"?}]}, ranges in the video's own frames [start, end); paths relative to
//                 the list's folder
// Both are listed in natural order (class, then file), so a run's clip order, and with it the shard of every
// clip, depends only on the inputs.

import { readFileSync, readdirSync, statSync } from "node:fs";
import { dirname, extname, isAbsolute, join, relative, resolve, sep } from "node:path";
import { z } from "zod";
import { compareNatural } from "../../io/natural-order.js";
import { labelFromClassName } from "./class-labels.js";
import type { LabelRange } from "./windows.js";

/** File extensions taken as videos in a class tree. */
export const VIDEO_EXTENSIONS = [".avi", ".mp4", ".m4v", ".mov", ".mkv", ".webm", ".mpg", ".mpeg", ".wmv", ".flv", ".3gp", ".ts", ".gif"];

export interface VideoInput {
  /** The file. */
  path: string;
  /** As reports and manifests name it: relative to the root or the list's folder, / separators. */
  name: string;
  label?: string;
  caption?: string;
  /** Annotations in the video's own frames; absent: the whole video. */
  ranges?: LabelRange[];
}

export interface VideoListing {
  videos: VideoInput[];
  /** Entries that are no video input, with the reason. */
  problems: { input: string; reason: string }[];
}

export class VideoInputError extends Error {
  override name = "VideoInputError";
}

function posix(path: string): string {
  return path.split(sep).join("/");
}

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .filter((e) => !e.name.startsWith("."))
    .sort((a, b) => compareNatural(a.name, b.name))
    .flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)]));
}

/** The videos of a class tree; a missing root throws, a stray file is a problem. */
export function listVideoTree(root: string): VideoListing {
  let entries;
  try {
    if (!statSync(root).isDirectory()) throw new VideoInputError(`video root ${root} is a file; allowed: a folder of class folders (<root>/<ClassName>/<videos>)`);
    entries = readdirSync(root, { withFileTypes: true });
  } catch (e) {
    if (e instanceof VideoInputError) throw e;
    throw new VideoInputError(`video root ${root} cannot be read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const videos: VideoInput[] = [];
  const problems: VideoListing["problems"] = [];
  for (const entry of entries.filter((e) => !e.name.startsWith(".")).sort((a, b) => compareNatural(a.name, b.name))) {
    if (!entry.isDirectory()) {
      problems.push({ input: entry.name, reason: "not in a class folder: videos go in <root>/<ClassName>/" });
      continue;
    }
    const label = labelFromClassName(entry.name);
    for (const file of walk(join(root, entry.name))) {
      const name = posix(relative(root, file));
      if (VIDEO_EXTENSIONS.includes(extname(file).toLowerCase())) videos.push({ path: file, name, label });
      else problems.push({ input: name, reason: `not a video file: the extension "${extname(file)}" is none of ${VIDEO_EXTENSIONS.join(" ")}` });
    }
  }
  return { videos, problems };
}

const rangeSchema = z
  .object({ start: z.number().int().min(0), end: z.number().int().min(1), label: z.string().min(1).optional(), caption: z.string().min(1).optional() })
  .refine((r) => r.end > r.start, { message: "end must be above start (frames [start, end))" });

const listRecord = z.object({
  path: z.string().min(1),
  label: z.string().min(1).optional(),
  caption: z.string().min(1).optional(),
  ranges: z.array(rangeSchema).optional(),
});

/** The videos of a JSONL list; a missing list throws, a bad line is a problem. */
export function readVideoList(listPath: string): VideoListing {
  let text: string;
  try {
    text = readFileSync(listPath, "utf8");
  } catch (e) {
    throw new VideoInputError(`video list ${listPath} cannot be read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const root = dirname(resolve(listPath));
  const videos: VideoInput[] = [];
  const problems: VideoListing["problems"] = [];
  text.split("\n").forEach((raw, k) => {
    if (raw.trim() === "") return;
    const input = `${listPath}:${k + 1}`;
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch (e) {
      problems.push({ input, reason: `bad record: line ${k + 1}: not JSON: ${(e as Error).message}` });
      return;
    }
    const parsed = listRecord.safeParse(value);
    if (!parsed.success) {
      problems.push({ input, reason: `bad record: line ${k + 1}: ${parsed.error.issues.map((i) => `${i.path.join(".") || "record"}: ${i.message}`).join("; ")}` });
      return;
    }
    const r = parsed.data;
    videos.push({
      path: isAbsolute(r.path) ? r.path : resolve(root, r.path),
      name: r.path,
      ...(r.label === undefined ? {} : { label: r.label }),
      ...(r.caption === undefined ? {} : { caption: r.caption }),
      ...(r.ranges === undefined ? {} : { ranges: r.ranges }),
    });
  });
  return { videos, problems };
}
