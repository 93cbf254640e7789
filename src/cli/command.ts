// What every subcommand does the same way: where it writes, how a failure becomes one line and an exit
// code, and how Ctrl-C stops a long run.
//
// Exit codes: 0 done; 1 the work failed (a model folder, a file, ffmpeg); 2 what was typed is wrong (an
// unknown flag, a bad value: OptionsError); 128 + the signal when stopped by one, as shells report it:
// 130 Ctrl-C (SIGINT), 143 SIGTERM (kill, a service manager, a CI timeout), 129 SIGHUP (the terminal
// closed). All three stop a long run the same way: the frames made so far become a valid, shorter video.
//
// stdout and stderr may be pipes whose reader has gone (`vidrd generate ... 2>&1 | head -2`): writing to
// them is best-effort (ignoreClosedPipes), so a closed pipe never costs the video being written.

import { ModelFolderError, OptionsError } from "../app/index.js";
import { isClosedPipeError, writeBestEffort } from "./pipes.js";

export { ignoreClosedPipes, isClosedPipeError, writeBestEffort } from "./pipes.js";

export interface CommandIO {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  /** Where progress goes: stderr, with its terminal-ness (a bar on a terminal, plain lines elsewhere). */
  readonly progress: { write(text: string): unknown; readonly isTTY?: boolean; readonly columns?: number };
}

export const processIO: CommandIO = {
  stdout: (t) => writeBestEffort(process.stdout, t),
  stderr: (t) => writeBestEffort(process.stderr, t),
  progress: {
    write: (t: string) => writeBestEffort(process.stderr, t),
    get isTTY() {
      return process.stderr.isTTY;
    },
    get columns() {
      return process.stderr.columns;
    },
  },
};

export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;
export const EXIT_INTERRUPTED = 130;

/** The signals that stop a long run, and their exit codes (128 + the signal number). */
export const STOP_SIGNALS = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 } as const;
export type StopSignal = keyof typeof STOP_SIGNALS;

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
 * stack traces are for VIDRD_DEBUG=1, which prints the stack too). `modelArgument` is how the command names
 * its model folder, in ModelFolderError messages: "--model" (generate, extend) or "<model>" (info).
 */
export function reportFailure(command: string, e: unknown, io: CommandIO, modelArgument = "--model"): number {
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
  // the library speaks of "model <dir>"; on the command line that folder is what --model names (or, for
  // `vidrd info`, its <model> argument: `modelArgument`)
  if (e instanceof ModelFolderError) message = message.startsWith("model ") ? `${modelArgument} ${message.slice("model ".length)}` : `${modelArgument}: ${message}`;
  io.stderr(`${name}: ${message}\n`);
  if (process.env.VIDRD_DEBUG && e instanceof Error && e.stack) io.stderr(`${e.stack}\n`);
  return EXIT_FAILED;
}

/**
 * Ctrl-C (or SIGTERM, SIGHUP) for a long run: the first aborts `signal` (the library then finishes the
 * output with the frames made so far: a valid, shorter video); a second stop signal quits at once (temporary
 * outputs are removed by the writer's exit hook, so nothing half-written is left). `exitCode` is 128 + the
 * first signal (130, 143, 129). `dispose` restores the default handling.
 */
export function interruptible(
  command: string,
  notify: (line: string) => void,
): { signal: AbortSignal; readonly interrupted: boolean; readonly stoppedBy: StopSignal | null; readonly exitCode: number; dispose(): void } {
  const controller = new AbortController();
  let stoppedBy: StopSignal | null = null;
  const handlers = new Map<StopSignal, () => void>();
  for (const name of Object.keys(STOP_SIGNALS) as StopSignal[]) {
    const handler = (): void => {
      if (!controller.signal.aborted) {
        stoppedBy = name;
        const again = name === "SIGINT" ? "Ctrl-C again to quit now" : `${name} again to quit now`;
        const by = name === "SIGINT" ? "" : `${name}: `;
        try {
          notify(`vidrd ${command}: ${by}stopping after the current step, keeping the frames made so far (${again})`);
        } catch (e) {
          if (!isClosedPipeError(e)) throw e; // SIGHUP: the terminal may be gone
        }
        controller.abort();
        return;
      }
      writeBestEffort(process.stderr, `\nvidrd ${command}: quit at once; no output was written\n`);
      process.exit(STOP_SIGNALS[name]);
    };
    handlers.set(name, handler);
    process.on(name, handler);
  }
  return {
    signal: controller.signal,
    get interrupted() {
      return controller.signal.aborted;
    },
    get stoppedBy() {
      return stoppedBy;
    },
    get exitCode() {
      return stoppedBy === null ? EXIT_INTERRUPTED : STOP_SIGNALS[stoppedBy];
    },
    dispose: () => {
      for (const [name, handler] of handlers) process.off(name, handler);
    },
  };
}
