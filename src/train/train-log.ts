// What a run reports per step: one JSON line per step in a log file (appended as it goes), and progress
// on stderr: a bar redrawn in place when stderr is a terminal, plain lines every few steps otherwise.

import { appendFileSync, existsSync, mkdirSync, readFileSync } from "node:fs";
import { dirname } from "node:path";
import { writeFileAtomic, writeAll } from "../io/index.js";
import type { ProgressMode } from "./config.js";

/** One step's log entry. `samples_per_s` is the only timing field. */
export interface StepRecord {
  step: number;
  loss: number;
  lr: number;
  grad_norm: number;
  samples_per_s: number;
  /** The model's own metrics, averaged over micro-batches. */
  metrics?: Record<string, number>;
}

/** Fields that depend on the clock (ignored when two runs' logs are compared). */
export const TIMING_FIELDS: readonly string[] = ["samples_per_s"];

export class StepLog {
  private constructor(readonly path: string) {}

  /**
   * Opens the log of a run that starts after step `fromStep`: lines of later steps (a run that went on
   * past its last checkpoint) and unreadable lines (a write cut short) are dropped, so the file reads
   * as if the run had never been interrupted.
   */
  static open(path: string, fromStep: number): StepLog {
    mkdirSync(dirname(path), { recursive: true });
    if (existsSync(path)) {
      const kept = readStepLog(path).filter((r) => r.step <= fromStep);
      const text = kept.map((r) => `${JSON.stringify(r)}\n`).join("");
      writeFileAtomic(path, (fd) => writeAll(fd, new TextEncoder().encode(text)));
    }
    return new StepLog(path);
  }

  append(record: StepRecord): void {
    appendFileSync(this.path, `${JSON.stringify(record)}\n`);
  }
}

/** The step records of a log file, skipping lines that do not parse as one. */
export function readStepLog(file: string): StepRecord[] {
  const out: StepRecord[] = [];
  for (const line of readFileSync(file, "utf8").split("\n")) {
    if (!line.trim()) continue;
    try {
      const r = JSON.parse(line) as StepRecord;
      if (Number.isSafeInteger(r.step)) out.push(r);
    } catch {
      // a line cut short by a crash
    }
  }
  return out;
}

/** The part of a stream the progress display needs (process.stderr fits). */
export interface ProgressStream {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return "?";
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  return h > 0 ? `${h}h${String(m).padStart(2, "0")}m` : m > 0 ? `${m}m${String(r).padStart(2, "0")}s` : `${r}s`;
}

export class Progress {
  private readonly mode: "bar" | "lines" | "none";
  private drawn = false;

  constructor(
    mode: ProgressMode,
    private readonly stream: ProgressStream,
    private readonly totalSteps: number,
    private readonly every: number,
  ) {
    this.mode = mode === "auto" ? (stream.isTTY ? "bar" : "lines") : mode;
  }

  /** `secondsPerStep`: recent average, for the remaining-time estimate. */
  update(r: StepRecord, secondsPerStep: number): void {
    const text = `step ${r.step}/${this.totalSteps} loss ${r.loss.toPrecision(4)} lr ${r.lr.toExponential(2)} grad_norm ${r.grad_norm.toPrecision(3)} ` +
      `${r.samples_per_s.toPrecision(3)} samples/s eta ${formatDuration((this.totalSteps - r.step) * secondsPerStep)}`;
    if (this.mode === "lines") {
      if (r.step % this.every === 0 || r.step === this.totalSteps) this.stream.write(`${text}\n`);
    } else if (this.mode === "bar") {
      const width = 24;
      const filled = Math.round((width * r.step) / this.totalSteps);
      const line = `[${"#".repeat(filled)}${".".repeat(width - filled)}] ${text}`;
      this.stream.write(`\r${line.slice(0, Math.max(20, (this.stream.columns ?? 120) - 1))}\x1b[K`);
      this.drawn = true;
    }
  }

  /** A message on its own line (ends a bar in progress first). */
  note(message: string): void {
    if (this.mode === "none") return;
    this.finish();
    this.stream.write(`${message}\n`);
  }

  finish(): void {
    if (this.drawn) this.stream.write("\n");
    this.drawn = false;
  }
}
