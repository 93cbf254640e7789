// The one interface behind every output format: a VideoWriter validates, counts and handles the atomic
// rename; a sink only turns frames into bytes in the temporary output it was given.

import type { RgbFrame } from "./frame.js";

export interface FrameSink {
  /** Takes one frame (already checked against the stream's size); resolves when its bytes are handed on. */
  write(frame: RgbFrame): Promise<void>;
  /** Completes the output from the frames written so far (at least one). */
  finalize(): Promise<void>;
  /** Stops at once; the caller removes the temporary output. */
  abort(): Promise<void>;
  /** The encoder settings in force, for the sidecar. */
  readonly encoder: Readonly<Record<string, string | number>>;
}
