// A folder of PNG frames, frame_000000.png, frame_000001.png...: lossless, for editing tools and for
// datasets. Six digits sort correctly up to a million frames (beyond, names simply grow longer).

import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { RgbFrame } from "./frame.js";
import type { FrameSink } from "./frame-sink.js";
import { encodePng } from "./image.js";

export function pngFrameName(index: number): string {
  return `frame_${String(index).padStart(6, "0")}.png`;
}

export class PngFolderSink implements FrameSink {
  readonly encoder = { codec: "png" };
  private written = 0;

  /** `folder`: the writer's temporary folder, empty. */
  constructor(private readonly folder: string) {}

  async write(frame: RgbFrame): Promise<void> {
    const png = await encodePng(frame);
    await writeFile(join(this.folder, pngFrameName(this.written)), png);
    this.written++;
  }

  async finalize(): Promise<void> {
    // Each frame is complete once written; the writer's rename publishes them together.
  }

  async abort(): Promise<void> {
    // Nothing runs in the background; the writer removes the folder.
  }
}
