// Building and checking figures: rounding, comparison with a reference, and the shape main.ts prints.

import type { Figure } from "./types.js";

/** Rounds to `digits` significant digits, so printed figures do not pretend to more precision than timing has. */
export function round(x: number, digits = 4): number {
  if (!Number.isFinite(x) || x === 0) return x;
  return Number(x.toPrecision(digits));
}

/**
 * The reference fields of a comparison figure. `ratio` says how many times better we are than the
 * reference: ours / reference for a throughput (higher is better), reference / ours for a time.
 */
export function comparedWith(reference: string, ours: number, referenceValue: number, better: "higher" | "lower"): Record<string, unknown> {
  const ratio = better === "higher" ? ours / referenceValue : referenceValue / ours;
  return { reference, reference_value: round(referenceValue), ratio: round(ratio, 3) };
}

/** Every problem with a figure a bench reported; empty when it can be printed. */
export function figureProblems(fig: unknown): string[] {
  if (typeof fig !== "object" || fig === null || Array.isArray(fig)) return [`figure must be an object, got ${JSON.stringify(fig)}`];
  const f = fig as Record<string, unknown>;
  const problems: string[] = [];
  if (typeof f.metric !== "string" || f.metric === "") problems.push(`metric must be a non-empty string, got ${JSON.stringify(f.metric)}`);
  if ("skipped" in f) {
    if (typeof f.skipped !== "string" || f.skipped === "") problems.push(`skipped must be a reason string, got ${JSON.stringify(f.skipped)}`);
  } else {
    if (typeof f.value !== "number" || !Number.isFinite(f.value)) problems.push(`value must be a finite number, got ${JSON.stringify(f.value)}`);
    if (typeof f.unit !== "string" || f.unit === "") problems.push(`unit must be a non-empty string, got ${JSON.stringify(f.unit)}`);
  }
  return problems;
}

/** The printed line: bench and metric first, then the bench's own fields in the order it gave them. */
export function formatFigure(bench: string, fig: Figure): string {
  const { bench: _ignored, metric, ...rest } = fig;
  return JSON.stringify({ bench, metric, ...rest });
}
