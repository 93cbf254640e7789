// ffmpeg and ffprobe as child processes: spawning, failures reported with the tail of ffmpeg's stderr,
// and a stdin feeder with backpressure that can never hang on an ffmpeg that has exited.
//
// Children are spawned detached (their own process group): a Ctrl-C in a terminal signals the whole
// foreground group, and an ffmpeg that got SIGINT stops on its own and exits 255, racing the caller's
// clean `finish()`. Detached, only vidrd decides when the encoder ends. The price is that they would
// outlive an exiting vidrd, so every live child is killed on process exit.

import { type ChildProcess, execFile, spawn } from "node:child_process";
import { FfmpegMissingError } from "./ffmpeg-locate.js";

/**
 * ffmpeg or ffprobe ran and failed. The message's first line carries the cause, so that an error printed
 * as one line still says what went wrong: "<what>: ffmpeg exited with status 1; its stderr ends with:
 * <its last stderr line>". When the stderr tail has more lines, all of them follow, indented, on the next
 * lines. (src/data/compose/report.ts cuts the message at "; its stderr ends with:" and appends the last
 * stderr line itself: keep that separator.)
 */
export class FfmpegError extends Error {
  constructor(
    message: string,
    readonly exitCode: number | null,
    readonly stderrTail: string,
  ) {
    super(ffmpegErrorMessage(message, stderrTail));
    this.name = "FfmpegError";
  }
}

function ffmpegErrorMessage(message: string, stderrTail: string): string {
  const lines = stderrTail.split("\n").map((l) => l.trimEnd()).filter((l) => l.trim() !== "");
  // ffmpeg's "    Last message repeated 2 times" is no cause: the line it refers to is.
  const repeated = /^\s*Last message repeated \d+ times?$/;
  let cause = lines.at(-1);
  for (let i = lines.length - 1; i >= 0; i--) {
    if (!repeated.test(lines[i])) {
      cause = lines[i];
      break;
    }
  }
  if (cause === undefined) return message;
  const context = lines.length > 1 ? lines.map((l) => `\n  ${l}`).join("") : "";
  return `${message}; its stderr ends with: ${cause.trim()}${context}`;
}

/** Keeps the last `limit` characters of a child's stderr: enough for its error, bounded for long runs. */
export class StderrTail {
  private text = "";
  constructor(private readonly limit = 4000) {}

  push(chunk: Buffer | string): void {
    this.text += chunk.toString();
    if (this.text.length > 2 * this.limit) this.text = this.text.slice(-this.limit);
  }

  /** The last lines, trimmed; a cut first line is dropped so the tail starts at a line. */
  tail(lines = 12): string {
    let text = this.text.length > this.limit ? this.text.slice(-this.limit) : this.text;
    if (this.text.length > this.limit) text = text.slice(text.indexOf("\n") + 1);
    return text.trim().split("\n").slice(-lines).join("\n");
  }
}

const liveChildren = new Set<ChildProcess>();
let exitHookInstalled = false;

function killLiveChildren(): void {
  for (const child of liveChildren) {
    try {
      child.kill("SIGKILL");
    } catch {
      // Already gone.
    }
  }
}

/** How a child ended: its exit code or signal, or the error that kept it from starting. */
export interface ChildEnd {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Why it never ran: FfmpegMissingError when the binary is absent or not executable. */
  startError?: Error;
}

export interface SpawnedTool {
  child: ChildProcess;
  stderr: StderrTail;
  /** Resolves (never rejects) once the child has exited and its streams are closed, or failed to start. */
  ended: Promise<ChildEnd>;
  /** Set once `ended` has resolved. */
  readonly end: ChildEnd | null;
  /**
   * Calls `listener` once when the child ends (as `ended` resolves); returns the function that removes it.
   * Unlike a `.then` on `ended`, which stays attached until the child exits, a removed listener is
   * released at once: what a per-frame wait must use, or memory grows with the number of frames.
   */
  onEnd(listener: (end: ChildEnd) => void): () => void;
  /** Listeners registered with onEnd and not yet removed or called (for tests). */
  readonly endListeners: number;
}

/** Spawns `tool` detached with stderr collected; stdin and stdout as asked. */
export function spawnTool(tool: string, name: "ffmpeg" | "ffprobe", args: readonly string[], stdio: { stdin: boolean; stdout: boolean }): SpawnedTool {
  if (!exitHookInstalled) {
    process.on("exit", killLiveChildren);
    exitHookInstalled = true;
  }
  const child = spawn(tool, args, {
    stdio: [stdio.stdin ? "pipe" : "ignore", stdio.stdout ? "pipe" : "ignore", "pipe"],
    detached: true,
    windowsHide: true,
  });
  liveChildren.add(child);
  const stderr = new StderrTail();
  child.stderr!.on("data", (c: Buffer) => stderr.push(c));
  // A write into a pipe whose reader has exited fails with EPIPE; the failure is reported through the
  // write callback and the exit status, so the stream's own error event must not crash the process.
  child.stdin?.on("error", () => {});
  child.stdout?.on("error", () => {});
  let end: ChildEnd | null = null;
  const endListeners = new Set<(end: ChildEnd) => void>();
  const ended = new Promise<ChildEnd>((done) => {
    const finish = (e: ChildEnd): void => {
      liveChildren.delete(child);
      if (end !== null) return;
      end = e;
      done(end);
      const listeners = [...endListeners];
      endListeners.clear();
      for (const listener of listeners) listener(end);
    };
    child.on("error", (e: NodeJS.ErrnoException) => {
      const missing = e.code === "ENOENT" || e.code === "EACCES";
      finish({ code: null, signal: null, startError: missing ? new FfmpegMissingError(name, `${tool} could not be started (${e.code})`) : e });
    });
    child.on("close", (code, signal) => finish({ code, signal }));
  });
  return {
    child,
    stderr,
    ended,
    get end() {
      return end;
    },
    onEnd(listener) {
      if (end !== null) {
        const e = end;
        queueMicrotask(() => listener(e));
        return () => {};
      }
      endListeners.add(listener);
      return () => {
        endListeners.delete(listener);
      };
    },
    get endListeners() {
      return endListeners.size;
    },
  };
}

/** The error for a child that ended badly, or null when it exited 0. */
export function endError(spawned: SpawnedTool, what: string): Error | null {
  const end = spawned.end;
  if (end === null) return new FfmpegError(`${what}: ffmpeg has not exited`, null, spawned.stderr.tail());
  if (end.startError) return end.startError instanceof FfmpegMissingError ? end.startError : new FfmpegError(`${what}: ${end.startError.message}`, null, "");
  if (end.code === 0) return null;
  const how = end.signal !== null ? `was killed by ${end.signal}` : `exited with status ${end.code}`;
  return new FfmpegError(`${what}: ffmpeg ${how}`, end.code, spawned.stderr.tail());
}

/**
 * Feeds bytes to an ffmpeg's stdin. `write` resolves once the pipe has taken the bytes (so the caller may
 * reuse its buffer, and at most one frame is ever queued here: memory stays flat however long the video);
 * it rejects with ffmpeg's own error if ffmpeg exits first.
 */
export class FfmpegFeeder {
  constructor(
    private readonly spawned: SpawnedTool,
    private readonly what: string,
  ) {}

  get pid(): number | undefined {
    return this.spawned.child.pid;
  }

  async write(bytes: Uint8Array): Promise<void> {
    const stdin = this.spawned.child.stdin!;
    if (this.spawned.end !== null || stdin.destroyed) throw await this.failure();
    // Either the pipe takes the bytes, or ffmpeg exits (then the write fails with EPIPE or never completes).
    // The exit is watched by a listener removed as soon as this write settles: a `.then` on the pending
    // `ended` per frame (Promise.race) would stay attached until ffmpeg exits, about 0.5 KB a frame.
    const ok = await new Promise<boolean>((done) => {
      let settled = false;
      let removeListener = (): void => {};
      const settle = (value: boolean): void => {
        if (settled) return;
        settled = true;
        removeListener();
        done(value);
      };
      removeListener = this.spawned.onEnd(() => settle(false));
      stdin.write(bytes, (err) => settle(!err));
    });
    if (!ok) throw await this.failure();
  }

  /** Closes stdin (end of input) and waits for ffmpeg to finish the file. */
  async end(): Promise<void> {
    this.spawned.child.stdin!.end();
    await this.spawned.ended;
    const error = endError(this.spawned, this.what);
    if (error) throw error;
  }

  /** Stops ffmpeg at once; what it wrote is left for the caller to remove. */
  async kill(): Promise<void> {
    if (this.spawned.end === null) this.spawned.child.kill("SIGKILL");
    await this.spawned.ended;
  }

  private async failure(): Promise<Error> {
    await this.spawned.ended;
    return endError(this.spawned, this.what) ?? new FfmpegError(`${this.what}: ffmpeg closed its input early and exited 0`, 0, this.spawned.stderr.tail());
  }
}

/** Runs a tool to completion and returns its stdout; failures as FfmpegError / FfmpegMissingError. */
export function runTool(tool: string, name: "ffmpeg" | "ffprobe", args: readonly string[], what: string): Promise<string> {
  return new Promise((done, fail) => {
    execFile(tool, args, { maxBuffer: 64 << 20, encoding: "utf8", windowsHide: true }, (err, stdout, stderr) => {
      if (!err) return done(stdout);
      const e = err as Omit<NodeJS.ErrnoException, "code"> & { code?: string | number | null; signal?: string | null };
      if (e.code === "ENOENT" || e.code === "EACCES") return fail(new FfmpegMissingError(name, `${tool} could not be started (${e.code})`));
      const tail = new StderrTail();
      tail.push(stderr);
      const how = typeof e.code === "number" ? `exited with status ${e.code}` : e.signal ? `was killed by ${e.signal}` : `failed: ${e.message}`;
      fail(new FfmpegError(`${what}: ${name} ${how}`, typeof e.code === "number" ? e.code : null, tail.tail()));
    });
  });
}
