// What made a video, stored with it: in the container's metadata (mp4, webm) where players and ffprobe
// show it, and in a JSON sidecar `<output>.json` that every format gets (GIF and PNG have no place for it).

import { readFileSync } from "node:fs";
import { writeAll, writeFileAtomic } from "../io/atomic-file.js";
import type { VideoFormat } from "./formats.js";

export interface VideoMetadata {
  prompt?: string;
  /** A seed may exceed 2^53 (uint64 seeds): bigint and string are kept exact. */
  seed?: number | bigint | string;
  /** The long-video strategy (vidrd, independent, gen-l-video, freenoise, fifo). */
  strategy?: string;
  /** The model folder or name. */
  model?: string;
  /** vidrd's version; defaults to the package's. */
  version?: string;
  /** Further keys (letters, digits, underscore), e.g. steps or guidance. */
  extra?: Readonly<Record<string, string | number | boolean>>;
}

const KEY = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;
const RESERVED = new Set(["prompt", "seed", "strategy", "model", "version", "title"]);

let cachedVersion: string | undefined;

/** The version in vidrd's package.json (two folders up, from src/media/ and from dist/media/ alike). */
export function packageVersion(): string {
  cachedVersion ??= (JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string }).version;
  return cachedVersion;
}

/**
 * The metadata as flat string tags, version filled in; checks every key and value. `title` repeats the
 * prompt because it is the one key every player shows.
 */
export function metadataTags(metadata: VideoMetadata = {}): Record<string, string> {
  const tags: Record<string, string> = {};
  const put = (key: string, value: unknown): void => {
    if (value === undefined) return;
    const allowedTypes = ["string", "number", "bigint", "boolean"];
    if (!allowedTypes.includes(typeof value) || (typeof value === "number" && !Number.isFinite(value))) {
      throw new TypeError(`metadata.${key} is ${String(value)}; allowed: a string, a finite number or a bigint`);
    }
    tags[key] = String(value);
  };
  put("prompt", metadata.prompt);
  if (metadata.prompt !== undefined) put("title", metadata.prompt);
  put("seed", metadata.seed);
  put("strategy", metadata.strategy);
  put("model", metadata.model);
  put("version", metadata.version ?? packageVersion());
  for (const [key, value] of Object.entries(metadata.extra ?? {})) {
    if (!KEY.test(key)) throw new RangeError(`metadata.extra key "${key}" is not allowed; allowed: a letter, then letters, digits or _ (at most 64)`);
    if (RESERVED.has(key)) throw new RangeError(`metadata.extra key "${key}" repeats a named field; set metadata.${key === "title" ? "prompt" : key} instead`);
    put(key, value);
  }
  return tags;
}

/** `-metadata key=value` for each tag; `-map_metadata -1` first so only these reach the file. */
export function metadataArgs(tags: Readonly<Record<string, string>>): string[] {
  const args = ["-map_metadata", "-1"];
  for (const [key, value] of Object.entries(tags)) args.push("-metadata", `${key}=${value}`);
  return args;
}

/** What the sidecar says about the written video. */
export interface SidecarVideo {
  file: string;
  format: VideoFormat;
  width: number;
  height: number;
  fps: number;
  frames: number;
  /** False when the writer was stopped early (finish()), with the reason. */
  complete: boolean;
  stopReason?: string;
  encoder?: Record<string, string | number>;
}

/** The sidecar's path for an output: `<output>.json` (a folder's trailing slash dropped). */
export function sidecarPath(output: string): string {
  return `${output.replace(/[/\\]+$/, "")}.json`;
}

/** The sidecar's JSON text: the video facts plus the metadata, seed kept exact. */
export function sidecarText(video: SidecarVideo, metadata: VideoMetadata = {}): string {
  const seed = metadata.seed;
  const body = {
    ...video,
    durationSeconds: video.frames / video.fps,
    prompt: metadata.prompt,
    // A number past 2^53 has already lost digits, and JSON cannot hold a bigint: both go as strings.
    seed: typeof seed === "bigint" || (typeof seed === "number" && !Number.isSafeInteger(seed)) ? String(seed) : seed,
    strategy: metadata.strategy,
    model: metadata.model,
    version: metadata.version ?? packageVersion(),
    extra: metadata.extra,
  };
  return `${JSON.stringify(body, null, 2)}\n`;
}

/** Writes the sidecar atomically on its own (a VideoWriter instead publishes it together with the video). */
export function writeSidecar(path: string, video: SidecarVideo, metadata: VideoMetadata = {}): void {
  const text = sidecarText(video, metadata);
  writeFileAtomic(path, (fd) => writeAll(fd, new TextEncoder().encode(text)));
}
