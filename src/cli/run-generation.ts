// Running a generation from the command line, the same for `generate` and `extend`: progress on stderr,
// Ctrl-C as an abort that keeps the frames made so far, and the result on stdout (a line, or one JSON
// object with --json).

import type { ExtendHooks, GenerateResult } from "../app/index.js";
import { NoFramesError } from "../media/index.js";
import { interruptible, type CommandIO } from "./command.js";
import { ProgressReporter } from "./progress.js";

/** The writer's refusal to finish a video without frames (NoFramesError): what an interrupt before the first frame ends in. */
export function isNoFramesError(e: unknown): boolean {
  return e instanceof NoFramesError;
}

/** The abort itself, thrown before a writer was open to finish (nothing was written either). */
function isAbort(e: unknown): boolean {
  return e instanceof Error && (e.name === "AbortedError" || e.name === "AbortError");
}

/**
 * Runs `generate` with progress and Ctrl-C (SIGTERM, SIGHUP) wired up; returns the exit code (0, or 128 + the
 * signal when interrupted: 130, 143, 129).
 * Failures other than an interrupt are thrown for reportFailure.
 */
export async function runGeneration<R extends GenerateResult>(
  command: string,
  io: CommandIO,
  json: boolean,
  generate: (hooks: ExtendHooks) => Promise<R>,
  summary: (result: R) => string,
): Promise<number> {
  const reporter = new ProgressReporter(io.progress, "");
  const interrupt = interruptible(command, (line) => reporter.note(line));
  try {
    const result = await generate({
      signal: interrupt.signal,
      onProgress: (p) => reporter.update(p),
      onInversionProgress: (p) => reporter.update(p, "inversion"),
      onWarning: (message) => reporter.note(`vidrd ${command}: warning: ${message}`),
    });
    reporter.clear();
    if (json) io.stdout(`${JSON.stringify(result)}\n`);
    if (!result.complete) {
      io.stderr(`vidrd ${command}: interrupted; wrote ${result.frames} frame${result.frames === 1 ? "" : "s"} to ${result.out} (a valid, shorter video)\n`);
      return interrupt.exitCode;
    }
    if (!json) io.stdout(`${summary(result)}\n`);
    return 0;
  } catch (e) {
    reporter.clear();
    // Stopped before any frame was written: the writer left nothing, and that is the whole story. Any other
    // failure after an interrupt (a full disk while finishing, a model error) is reported as itself.
    if (interrupt.interrupted && (isNoFramesError(e) || isAbort(e))) {
      io.stderr(`vidrd ${command}: interrupted before the first frame was written; no output was left\n`);
      return interrupt.exitCode;
    }
    throw e;
  } finally {
    interrupt.dispose();
  }
}

/** "out.mp4: 8 frames, 256x256 at 8 fps (vidrd, 50 steps, seed 0)". */
export function describeVideo(r: GenerateResult): string {
  return `${r.frames} frames, ${r.width}x${r.height} at ${r.fps} fps (${r.strategy}, ${r.steps} steps, seed ${r.seed})`;
}
