// The PyTorch reference: one process of a tools/bench_*_torch.py script for the whole bench, asked for one
// round of one case at a time, so that its rounds alternate with ours (the machine's load drifts over a
// run). The reference is optional: a missing interpreter or an unimportable torch becomes a reason to
// print in the skipped form, never a bench failure.
//
// The line protocol every script speaks (tools/bench_runtime_torch.py documents it):
//     stdin  line 1:    {"threads": 2}
//     stdout line 1:    {"torch": "<version>", ...}   or {"unavailable": "<why>"}
//     stdin  per round: {"case": {"metric": .., <what to time>}, "plan": <RoundPlan>}
//     stdout per round: {"metric": .., "times_ms": [..]}   or {"error": "<why>"}

import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { comparedWith, round } from "./figures.js";
import type { RoundPlan, Timing } from "./timing.js";

/** Debian's interpreter, which has torch; override with VIDRD_BENCH_PYTHON. */
export const PYTHON = process.env.VIDRD_BENCH_PYTHON ?? "/usr/bin/python3";
export const NOT_IMPORTABLE = "pytorch not importable";
/** Per reply: importing torch, or one round of a case. */
const REPLY_TIMEOUT_MS = 120_000;

/** A tools/ script by file name, e.g. "bench_runtime_torch.py". */
export function toolScript(fileName: string): string {
  return fileURLToPath(new URL(`../../tools/${fileName}`, import.meta.url));
}

/** What the script is asked to time: the metric it is for, and fields the script reads (shapes only). */
export interface TorchCase {
  metric: string;
}

export class TorchReference<C extends TorchCase> {
  /** Why the process can no longer be asked, once it cannot. */
  private stopped: string | null = null;

  private constructor(
    private readonly child: ChildProcessWithoutNullStreams,
    private readonly nextLine: () => Promise<string | null>,
    readonly version: string,
  ) {}

  /** Starts `script` (a path); a string says why there is no reference. */
  static async start<C extends TorchCase>(script: string, threads: number): Promise<TorchReference<C> | string> {
    const child = spawn(PYTHON, [script], { stdio: ["pipe", "pipe", "pipe"] });
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
    if (hello && typeof hello.torch === "string") return new TorchReference<C>(child, nextLine, hello.torch);
    child.kill();
    if (hello && typeof hello.unavailable === "string") {
      process.stderr.write(`[bench] ${PYTHON}: ${hello.unavailable}\n`);
      return NOT_IMPORTABLE;
    }
    return `pytorch reference failed: no greeting from ${script}`;
  }

  /** Times one round of a case (milliseconds per run); a string says why it could not. */
  async timeRound(c: C, plan: RoundPlan): Promise<number[] | string> {
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

/**
 * The fields a figure carries about its reference: the comparison (figures.ts comparedWith, higher is
 * better) and how the reference was measured; none when there is no reference timing.
 */
export function referenceFields(
  torch: TorchReference<TorchCase> | string,
  reference: Timing | string,
  value: number,
  valueOf: (medianMs: number) => number,
): Record<string, unknown> {
  if (typeof torch === "string" || typeof reference === "string") return {};
  return {
    ...comparedWith("pytorch", value, valueOf(reference.medianMs), "higher"),
    reference_version: torch.version,
    reference_median_ms: round(reference.medianMs),
    reference_runs: reference.runs,
  };
}
