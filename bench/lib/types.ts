// The contract between bench modules and the harness (bench/main.ts, DESIGN.md "Benchmarks").
// A module under bench/ exports `benches`; the harness runs the ones a filter selects and prints every
// reported figure as one JSON line, adding the bench name.

/** One measured number (`value` + `unit`), or `skipped` with the reason, plus any context fields. */
export interface Figure {
  metric: string;
  [field: string]: unknown;
}

export type Report = (fig: Figure) => void;

export interface BenchContext {
  /** Whether the filters ask for this metric; a bench may skip the work for metrics nobody wants. */
  wants(metric: string): boolean;
}

export interface Bench {
  name: string;
  /**
   * The metrics the bench reports, when known before running: a filter naming one of them then runs the
   * bench for that metric only. Benches without the list are matched by name, or run and filtered by the
   * metrics they report.
   */
  metrics?: readonly string[];
  run: (report: Report, ctx: BenchContext) => Promise<void>;
}
