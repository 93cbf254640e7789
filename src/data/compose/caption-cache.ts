// Captions already paid for, on disk: one small JSON file per key (a hash of the frames, the prompt and the
// model), so a re-run, a resumed run or another dataset over the same clips asks the service nothing.
// Files are written atomically; a damaged file reads as a miss and is rewritten.

import { mkdirSync, readFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { writeAll, writeFileAtomic } from "../../io/atomic-file.js";
import type { RgbFrame } from "../../media/frame.js";

/** sha256 over the model, the prompt and every frame's size and bytes, as hex. */
export function captionKey(model: string, prompt: string, frames: readonly RgbFrame[]): string {
  const h = createHash("sha256");
  const text = (s: string): void => {
    const bytes = Buffer.from(s, "utf8");
    h.update(`${bytes.length}:`);
    h.update(bytes);
  };
  text(model);
  text(prompt);
  for (const f of frames) {
    h.update(`${f.width}x${f.height}:`);
    h.update(f.data);
  }
  return h.digest("hex");
}

export class CaptionCache {
  constructor(readonly dir: string) {}

  private path(key: string): string {
    return join(this.dir, key.slice(0, 2), `${key}.json`);
  }

  get(key: string): string | null {
    try {
      const value = JSON.parse(readFileSync(this.path(key), "utf8")) as { caption?: unknown };
      return typeof value.caption === "string" && value.caption.length > 0 ? value.caption : null;
    } catch {
      return null;
    }
  }

  put(key: string, caption: string, model: string): void {
    const path = this.path(key);
    mkdirSync(join(this.dir, key.slice(0, 2)), { recursive: true });
    const bytes = Buffer.from(`${JSON.stringify({ caption, model })}\n`, "utf8");
    writeFileAtomic(path, (fd) => writeAll(fd, bytes));
  }
}
