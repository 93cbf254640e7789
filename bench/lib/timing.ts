// The timing method every runtime figure and its PyTorch reference share (tools/bench_runtime_torch.py
// implements the same loop). Within a round: warm-up runs, then timed runs until both a minimum count and
// a minimum time are reached (or a maximum count). A figure takes the median over several rounds, with
// ours and the reference alternating round by round, so that load from other processes on the machine
// falls on both sides alike and one slow run (GC, a scheduler hiccup) moves nothing.

export interface RoundPlan {
  warmupRuns: number;
  minRuns: number;
  maxRuns: number;
  /** Keep timing until this much time has been spent in timed runs (subject to maxRuns). */
  minSeconds: number;
}

export interface TimingPlan {
  rounds: number;
  /** Warm-up runs before the first round (later rounds warm up once). */
  firstWarmupRuns: number;
  round: Omit<RoundPlan, "warmupRuns">;
}

// Short rounds: load from other processes comes in bursts of seconds, which many rounds spread over both sides.
export const DEFAULT_TIMING: TimingPlan = { rounds: 8, firstWarmupRuns: 5, round: { minRuns: 3, maxRuns: 60, minSeconds: 0.3 } };

export function roundPlan(plan: TimingPlan, round: number): RoundPlan {
  return { ...plan.round, warmupRuns: round === 0 ? plan.firstWarmupRuns : 1 };
}

export interface Timing {
  medianMs: number;
  minMs: number;
  runs: number;
}

export function median(xs: readonly number[]): number {
  if (xs.length === 0) throw new RangeError("median of no values");
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export function summarize(timesMs: readonly number[]): Timing {
  return { medianMs: median(timesMs), minMs: Math.min(...timesMs), runs: timesMs.length };
}

/** One round: the times in milliseconds of the timed runs. */
export async function timeRound(run: () => Promise<unknown>, plan: RoundPlan): Promise<number[]> {
  for (let i = 0; i < plan.warmupRuns; i++) await run();
  const times: number[] = [];
  let spent = 0;
  while (times.length < plan.maxRuns && (times.length < plan.minRuns || spent < plan.minSeconds * 1000)) {
    const t0 = performance.now();
    await run();
    const dt = performance.now() - t0;
    times.push(dt);
    spent += dt;
  }
  return times;
}

/** Times one round of the reference, or says why it cannot. */
export type ReferenceRound = (plan: RoundPlan) => Promise<number[] | string>;

/**
 * Rounds of ours alternating with rounds of the reference (reference first in each round), then each side
 * summarized. A reference that is absent (a string), or that fails in some round, is reported by its reason
 * and not asked again; ours keeps its rounds.
 */
export async function alternateRounds(
  plan: TimingPlan,
  ours: () => Promise<unknown>,
  reference: ReferenceRound | string,
): Promise<{ ours: Timing; reference: Timing | string }> {
  const oursMs: number[] = [];
  let referenceMs: number[] | string = typeof reference === "string" ? reference : [];
  for (let r = 0; r < plan.rounds; r++) {
    const round = roundPlan(plan, r);
    if (typeof reference !== "string" && typeof referenceMs !== "string") {
      const times = await reference(round);
      referenceMs = typeof times === "string" ? times : [...referenceMs, ...times];
    }
    oursMs.push(...(await timeRound(ours, round)));
  }
  return { ours: summarize(oursMs), reference: typeof referenceMs === "string" ? referenceMs : summarize(referenceMs) };
}
