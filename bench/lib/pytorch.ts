// The PyTorch reference: one tools/bench_runtime_torch.py process for the whole bench, asked for one round
// of one case at a time, so that its rounds alternate with ours (the machine's load drifts over a run).
// The reference is optional: a missing interpreter or an unimportable torch becomes a reason to print in
// the skipped form, never a bench failure.

import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import type { RoundPlan } from "./timing.js";

/** Debian's interpreter, which has torch; override with VIDRD_BENCH_PYTHON. */
export const PYTHON = process.env.VIDRD_BENCH_PYTHON ?? "/usr/bin/python3";
export const NOT_IMPORTABLE = "pytorch not importable";
const SCRIPT = fileURLToPath(new URL("../../tools/bench_runtime_torch.py", import.meta.url));
/** Per reply: importing torch, or one round of a case. */
const REPLY_TIMEOUT_MS = 120_000;

/** One operation for the reference, described by shapes only (the script makes its own data). */
export type TorchCase =
  | { metric: string; op: "conv"; input: number[]; weight: number[]; padding: number[] }
  | { metric: string; op: "matmul"; a: number[]; b: number[] }
  | { metric: string; op: "attention"; q: number[]; k: number[]; v: number[]; scale: number };

export class TorchReference {
  /** Why the process can no longer be asked, once it cannot. */
  private stopped: string | null = null;

  private constructor(
    private readonly child: ChildProcessWithoutNullStreams,
    private readonly nextLine: () => Promise<string | null>,
    readonly version: string,
  ) {}

  /** Starts the reference process; a string says why there is no reference. */
  static async start(threads: number): Promise<TorchReference | string> {
    const child = spawn(PYTHON, [SCRIPT], { stdio: ["pipe", "pipe", "pipe"] });
    child.stderr.on("data", (chunk: Buffer) => process.stderr.write(chunk));
    child.stdin.on("error", () => {}); // an early exit is reported by the missing reply
    const spawnError = new Promise<{ failed: string }>((resolve) => {
      child.on("error", (e: NodeJS.ErrnoException) => resolve({ failed: e.code === "ENOENT" ? NOT_IMPORTABLE : `pytorch reference failed to start: ${e.message}` }));
    });
    const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
    const nextLine = async (): Promise<string | null> => {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), REPLY_TIMEOUT_MS)));
      const line = await Promise.race([lines.next().then((l) => (l.done ? null : l.value)), timeout]);
      clearTimeout(timer);
      return line;
    };
    child.stdin.write(`${JSON.stringify({ threads })}\n`);
    const first = await Promise.race([nextLine(), spawnError]);
    if (first !== null && typeof first === "object") return first.failed;
    const hello = parseLine(first);
    if (hello && typeof hello.torch === "string") return new TorchReference(child, nextLine, hello.torch);
    child.kill();
    if (hello && typeof hello.unavailable === "string") {
      process.stderr.write(`[bench] ${PYTHON}: ${hello.unavailable}\n`);
      return NOT_IMPORTABLE;
    }
    return `pytorch reference failed: no greeting from ${SCRIPT}`;
  }

  /** Times one round of a case (milliseconds per run); a string says why it could not. */
  async timeRound(c: TorchCase, plan: RoundPlan): Promise<number[] | string> {
    if (this.stopped) return this.stopped;
    this.child.stdin.write(`${JSON.stringify({ case: c, plan })}\n`);
    const reply = parseLine(await this.nextLine());
    const times = reply?.times_ms;
    if (Array.isArray(times) && times.length > 0 && times.every((t) => typeof t === "number")) return times as number[];
    if (reply && typeof reply.error === "string") return `pytorch reference failed on ${c.metric}: ${reply.error}`;
    // No reply (exit or timeout): a late one would answer the next request, so the process is done for.
    this.stopped = `pytorch reference stopped: no reply for ${c.metric} (it exited, or took over ${REPLY_TIMEOUT_MS / 1000} s)`;
    this.close();
    return this.stopped;
  }

  close(): void {
    this.child.stdin.end();
    this.child.kill();
  }
}

function parseLine(line: string | null): Record<string, unknown> | null {
  if (line === null) return null;
  try {
    const v: unknown = JSON.parse(line);
    return typeof v === "object" && v !== null ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}
