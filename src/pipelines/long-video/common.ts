// What every long-video strategy does the same way: stop on abort, count evaluations for progress and
// ETA, and check the request's geometry.

import type { ClipShape, LongVideoRequest, Progress, VideoLength } from "../types.js";

export class AbortedError extends Error {
  constructor(what = "generation") {
    super(`${what} was aborted`);
    this.name = "AbortError";
  }
}

/** Throws AbortedError when the signal has fired; strategies call it before every denoiser call. */
export function throwIfAborted(signal: AbortSignal | undefined, what?: string): void {
  if (signal?.aborted) throw new AbortedError(what);
}

/**
 * Counts denoiser evaluations and reports Progress with an ETA from the mean time per evaluation.
 * The clock is injected (default performance.now) so tests can make ETA exact; it never touches results.
 */
export class ProgressMeter {
  private evaluations = 0;
  private readonly started: number;

  constructor(
    private readonly totalEvaluations: number,
    private readonly onProgress: ((p: Progress) => void) | undefined,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.started = now();
  }

  get count(): number {
    return this.evaluations;
  }

  /** Call after each denoiser evaluation; `step` is 1-based within clip `clip` of `clips`. */
  evaluated(clip: number, clips: number, step: number, steps: number): void {
    this.evaluations++;
    if (!this.onProgress) return;
    const elapsed = (this.now() - this.started) / 1000;
    const left = Math.max(0, this.totalEvaluations - this.evaluations);
    const etaSeconds = this.evaluations > 0 ? (elapsed / this.evaluations) * left : undefined;
    this.onProgress({ clip, clips, step, steps, evaluations: this.evaluations, etaSeconds });
  }
}

function positiveInteger(field: string, value: number): void {
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`${field} is ${value}; allowed: an integer >= 1`);
}

/** Checks the clip geometry: every dimension a positive integer. */
export function checkClipShape(clip: ClipShape): void {
  positiveInteger("clip.batch", clip.batch);
  positiveInteger("clip.channels", clip.channels);
  positiveInteger("clip.frames", clip.frames);
  positiveInteger("clip.height", clip.height);
  positiveInteger("clip.width", clip.width);
}

/**
 * The number of clips for a strategy whose first clip gives `first` frames and every later clip `next`
 * new frames. `{ frames }` must be reachable exactly: first + (K - 1) * next for some K >= 1; otherwise
 * the error names the nearest lengths that are.
 */
export function clipCount(length: VideoLength, first: number, next: number): number {
  if ("clips" in length) {
    positiveInteger("clips", length.clips);
    return length.clips;
  }
  const frames = length.frames;
  positiveInteger("frames", frames);
  if (frames === first) return 1;
  if (next < 1 || frames < first || (frames - first) % next !== 0) {
    const below = frames < first || next < 1 ? first : first + Math.floor((frames - first) / next) * next;
    const above = frames < first || next < 1 ? first : below + next;
    const allowed = next < 1 ? `${first}` : `${first} + k * ${next} (e.g. ${below === above ? below : `${below} or ${above}`})`;
    throw new RangeError(`frames is ${frames}; allowed with these settings: ${allowed}`);
  }
  return 1 + (frames - first) / next;
}

/** Steps per clip from the request's scheduler config (default 50, as the scheduler resolves it). */
export function stepsOf(request: LongVideoRequest): number {
  return request.scheduler.steps ?? 50;
}

/** Rejects option names a strategy does not know (a typo would otherwise fall back to a default silently). */
export function checkOptionNames(strategy: string, options: object, allowed: readonly string[]): void {
  if (options === null || typeof options !== "object") {
    throw new RangeError(`${strategy} options are ${String(options)}; allowed: an object with ${allowed.length ? allowed.join(", ") : "no fields"}`);
  }
  for (const key of Object.keys(options)) {
    if (!allowed.includes(key)) {
      throw new RangeError(`${strategy} option "${key}" is unknown; allowed: ${allowed.length ? allowed.join(", ") : "none"}`);
    }
  }
}

/** An integer option in [lo, hi]; the error names the option, its value and the range (and why, if given). */
export function integerOption(field: string, value: number, lo: number, hi: number, why = ""): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < lo || value > hi) {
    throw new RangeError(`${field} is ${String(value)}; allowed: an integer in [${lo}, ${hi}]${why ? ` (${why})` : ""}`);
  }
  return value;
}
