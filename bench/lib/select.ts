// Which benches a command line runs (`npm run bench -- [filter...]`): a bench runs whole when a filter
// is part of its name, and for the matching metrics only when a filter is part of a metric it declares.
// Filters that match neither are tried against the metrics that undeclared benches report, after running.

import type { Bench } from "./types.js";

export interface Selected {
  bench: Bench;
  /** Whether a metric of this bench is asked for. */
  wants: (metric: string) => boolean;
}

export interface Selection {
  selected: Selected[];
  /** Filters that no bench name or declared metric contains; they must match a reported metric. */
  unresolved: string[];
}

const contains = (filters: readonly string[], s: string): boolean => filters.some((f) => s.includes(f));

export function selectBenches(benches: readonly Bench[], filters: readonly string[]): Selection {
  if (filters.length === 0) return { selected: benches.map((bench) => ({ bench, wants: () => true })), unresolved: [] };
  const resolved = new Set<string>();
  const selected: Selected[] = [];
  const undeclared: Bench[] = [];
  for (const bench of benches) {
    const byName = filters.filter((f) => bench.name.includes(f));
    const byMetric = filters.filter((f) => bench.metrics?.some((m) => m.includes(f)));
    for (const f of [...byName, ...byMetric]) resolved.add(f);
    if (byName.length > 0) selected.push({ bench, wants: () => true });
    else if (byMetric.length > 0) selected.push({ bench, wants: (m) => contains(byMetric, m) });
    else if (!bench.metrics) undeclared.push(bench);
  }
  const unresolved = filters.filter((f) => !resolved.has(f));
  // Only filters still looking for a metric can select an undeclared bench (it is run and its figures filtered).
  if (unresolved.length > 0) for (const bench of undeclared) selected.push({ bench, wants: (m) => contains(unresolved, m) });
  return { selected, unresolved };
}
