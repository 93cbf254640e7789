// What every subcommand does the same way: where it writes, how a failure becomes one line and an exit
// code, and how Ctrl-C stops a long run.
//
// Exit codes: 0 done; 1 the work failed (a model folder, a file, ffmpeg); 2 what was typed is wrong (an
// unknown flag, a bad value: OptionsError); 130 stopped by Ctrl-C (128 + SIGINT, as shells report it).

import { ModelFolderError, OptionsError } from "../app/index.js";

export interface CommandIO {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  /** Where progress goes: stderr, with its terminal-ness (a bar on a terminal, plain lines elsewhere). */
  readonly progress: { write(text: string): unknown; readonly isTTY?: boolean; readonly columns?: number };
}

export const processIO: CommandIO = {
  stdout: (t) => process.stdout.write(t),
  stderr: (t) => process.stderr.write(t),
  progress: process.stderr,
};

export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;
export const EXIT_INTERRUPTED = 130;

/** A mistake in the command line itself (arguments missing or extra); answered with a pointer to --help. */
export class UsageError extends Error {
  override name = "UsageError";
}

function isParseArgsError(e: unknown): boolean {
  return typeof (e as { code?: unknown })?.code === "string" && (e as { code: string }).code.startsWith("ERR_PARSE_ARGS");
}

/**
 * Prints `e` as `vidrd <command>: ...` and returns the exit code. One line per problem: an OptionsError may
 * name several flags, one line each; any other error prints its first line only (ffmpeg's log tail and
 * stack traces are for VIDRD_DEBUG=1, which prints the stack too).
 */
export function reportFailure(command: string, e: unknown, io: CommandIO): number {
  const name = `vidrd ${command}`;
  if (e instanceof UsageError || isParseArgsError(e)) {
    io.stderr(`${name}: ${(e as Error).message}; see ${name} --help\n`);
    return EXIT_USAGE;
  }
  if (e instanceof OptionsError) {
    for (const line of e.message.split("\n")) io.stderr(`${name}: ${line}\n`);
    return EXIT_USAGE;
  }
  let message = (e instanceof Error ? e.message : String(e)).split("\n")[0]!;
  // the library speaks of "model <dir>"; on the command line that folder is what --model names
  if (e instanceof ModelFolderError) message = message.startsWith("model ") ? `--${message}` : `--model: ${message}`;
  io.stderr(`${name}: ${message}\n`);
  if (process.env.VIDRD_DEBUG && e instanceof Error && e.stack) io.stderr(`${e.stack}\n`);
  return EXIT_FAILED;
}

/**
 * Ctrl-C for a long run: the first aborts `signal` (the library then finishes the output with the frames
 * made so far: a valid, shorter video); the second quits at once (temporary outputs are removed by the
 * writer's exit hook, so nothing half-written is left). `dispose` restores the default handling.
 */
export function interruptible(command: string, notify: (line: string) => void): { signal: AbortSignal; readonly interrupted: boolean; dispose(): void } {
  const controller = new AbortController();
  const onSigint = (): void => {
    if (!controller.signal.aborted) {
      notify(`vidrd ${command}: stopping after the current step, keeping the frames made so far (Ctrl-C again to quit now)`);
      controller.abort();
      return;
    }
    process.stderr.write(`\nvidrd ${command}: quit at once; no output was written\n`);
    process.exit(EXIT_INTERRUPTED);
  };
  process.on("SIGINT", onSigint);
  return {
    signal: controller.signal,
    get interrupted() {
      return controller.signal.aborted;
    },
    dispose: () => {
      process.off("SIGINT", onSigint);
    },
  };
}
