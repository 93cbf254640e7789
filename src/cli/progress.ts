// Progress of a generation on stderr. On a terminal: one line redrawn in place, a bar over the steps of
// the current clip with the clip count and the ETA of the whole run. Elsewhere (a log file, a pipe, a
// test): plain lines, one when a clip starts, then every PLAIN_EVERY steps and at its end, so a 50-step
// clip writes six lines, not fifty, and a reader can still see the run move.

import type { GenerationProgress } from "../pipelines/index.js";
import { formatDuration } from "./format.js";
import { isClosedPipeError } from "./pipes.js";

export interface ProgressStream {
  write(text: string): unknown;
  readonly isTTY?: boolean;
  readonly columns?: number;
}

/** Plain (non-terminal) output writes a line every this many steps within a clip, besides its first and last. */
export const PLAIN_EVERY = 10;

const BAR_WIDTH = 24;

/** What the numbers count: the clips of a generation, or the steps of extend's inversion of the input. */
export type ProgressPhase = "clip" | "inversion";

/** "clip 2/6, step 12/50, ETA 1m23s" (clip 1-based for people; Progress counts from 0). */
export function progressText(p: GenerationProgress, phase: ProgressPhase): string {
  const where = phase === "inversion" ? "inverting the input's last clip" : `clip ${p.clip + 1}/${p.clips}`;
  const eta = p.etaSeconds === undefined ? "" : `, ETA ${formatDuration(p.etaSeconds)}`;
  return `${where}, step ${p.step}/${p.steps}${eta}`;
}

/** "[#########---------------]": the steps done of the current clip. */
export function progressBar(step: number, steps: number, width = BAR_WIDTH): string {
  const done = steps > 0 ? Math.min(width, Math.round((step / steps) * width)) : 0;
  return `[${"#".repeat(done)}${"-".repeat(width - done)}]`;
}

/**
 * Progress is best-effort: a stream whose reader is gone (`vidrd generate ... 2>&1 | head -2`: EPIPE) must
 * not stop the run whose progress it shows. Such a write error is ignored; any other is thrown.
 */
function writeProgress(stream: ProgressStream, text: string): void {
  try {
    stream.write(text);
  } catch (e) {
    if (!isClosedPipeError(e)) throw e;
  }
}

export class ProgressReporter {
  /** Whether a redrawn bar line is on screen (it must be cleared before any other line). */
  private barShown = false;

  constructor(
    private readonly stream: ProgressStream,
    private readonly prefix: string,
  ) {}

  private get tty(): boolean {
    return this.stream.isTTY === true;
  }

  update(p: GenerationProgress, phase: ProgressPhase = "clip"): void {
    if (this.tty) {
      const where = phase === "inversion" ? "inverting input" : `clip ${p.clip + 1}/${p.clips}`;
      const eta = p.etaSeconds === undefined ? "" : `  ETA ${formatDuration(p.etaSeconds)}`;
      const line = `${where} ${progressBar(p.step, p.steps)} step ${p.step}/${p.steps}${eta}`;
      const columns = this.stream.columns || 80; // 0 or absent: a terminal of unknown width
      writeProgress(this.stream, `\r\x1b[K${line.slice(0, Math.max(1, columns - 1))}`);
      this.barShown = true;
      return;
    }
    if (p.step === 1 || p.step === p.steps || p.step % PLAIN_EVERY === 0) writeProgress(this.stream, `${this.prefix}${progressText(p, phase)}\n`);
  }

  /** A line of its own (a warning, the interrupt notice), printed above the bar on a terminal. */
  note(line: string): void {
    this.clear();
    writeProgress(this.stream, `${line}\n`);
  }

  /** Removes the bar, so what follows starts on a clean line. */
  clear(): void {
    if (!this.barShown) return;
    writeProgress(this.stream, "\r\x1b[K");
    this.barShown = false;
  }
}
