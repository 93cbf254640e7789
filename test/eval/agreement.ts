// Agreement between labels and detections, attribute by attribute, with a confusion table for the report
// a failing test prints.

export class Agreement {
  private readonly pairs = new Map<string, Map<string, number>>();
  private agree = 0;
  private total = 0;

  constructor(readonly attribute: string) {}

  add(label: string, detected: string | null): void {
    const row = this.pairs.get(label) ?? new Map<string, number>();
    this.pairs.set(label, row);
    const key = detected ?? "(nothing)";
    row.set(key, (row.get(key) ?? 0) + 1);
    this.total++;
    if (label === detected) this.agree++;
  }

  get rate(): number {
    return this.total === 0 ? 0 : this.agree / this.total;
  }

  /** The labels seen, so a test can check it covered every value. */
  labels(): Set<string> {
    return new Set(this.pairs.keys());
  }

  /** One line per label: its count and where the detector put it, e.g. "star 52: star 50, square 2". */
  confusion(): string {
    const lines = [...this.pairs.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([label, row]) => {
      const n = [...row.values()].reduce((s, x) => s + x, 0);
      const cells = [...row.entries()].sort((a, b) => b[1] - a[1]).map(([d, k]) => `${d} ${k}`);
      return `  ${label} ${n}: ${cells.join(", ")}`;
    });
    return `${this.attribute}: ${this.agree}/${this.total} agree (${(100 * this.rate).toFixed(2)}%)\n${lines.join("\n")}`;
  }
}
