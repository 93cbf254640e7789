// Shared by the compose tests: temporary folders, a hash of a file tree, world videos written as mp4.

import { createHash } from "node:crypto";
import { readFileSync, readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { VideoWriter } from "../../../src/media/index.js";
import type { LongVideo, WorldConfig } from "../../../src/data/world/index.js";

export { withTempDir } from "../../media/helpers.js";

/** sha256 of every file's relative path, mode, size, mtime and bytes under `root`. */
export function hashTree(root: string): string {
  const h = createHash("sha256");
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name);
      const st = statSync(path);
      h.update(`${relative(root, path)}\0${st.mode}\0${st.size}\0${st.mtimeMs}\0`);
      if (st.isDirectory()) walk(path);
      else h.update(readFileSync(path));
    }
  };
  walk(root);
  return h.digest("hex");
}

/** Writes a world long video to `path` as mp4 at `fps`. */
export async function writeWorldVideo(path: string, video: LongVideo, config: WorldConfig, fps = 8): Promise<void> {
  const writer = await VideoWriter.open(path, { fps, width: config.width, height: config.height, sidecar: false });
  for (const data of video.frames()) await writer.write({ width: config.width, height: config.height, data });
  await writer.close();
}

/** The manifest lines of a dataset folder, sorted (the order within a shard may differ between runs). */
export function manifestLines(dir: string): string[] {
  return readdirSync(dir)
    .filter((n) => /^manifest-\d+\.jsonl$/.test(n))
    .flatMap((n) => readFileSync(join(dir, n), "utf8").split("\n").filter((l) => l !== "").map((l) => `${n}\t${l}`))
    .sort();
}
