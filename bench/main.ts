// `npm run bench -- [filter...]`: runs the benches a filter selects (all when none) and prints one JSON
// object per line per figure on stdout, nothing else; progress and errors go to stderr (DESIGN.md).

import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { discoverBenches } from "./lib/discover.js";
import { figureProblems, formatFigure } from "./lib/figures.js";
import { selectBenches } from "./lib/select.js";
import type { Bench, Figure } from "./lib/types.js";

function progress(message: string): void {
  process.stderr.write(`[bench] ${message}\n`);
}

function available(benches: readonly Bench[]): string {
  return benches.map((b) => (b.metrics ? `${b.name} (${b.metrics.join(", ")})` : b.name)).join("; ");
}

async function main(filters: string[]): Promise<number> {
  const modules = await discoverBenches(dirname(fileURLToPath(import.meta.url)));
  const benches = modules.flatMap((m) => m.benches);
  const { selected, unresolved } = selectBenches(benches, filters);
  if (unresolved.length > 0 && selected.every((s) => s.bench.metrics)) {
    // Every bench declares its metrics, so nothing run could still report a matching one.
    progress(`no bench name or metric contains ${unresolved.map((f) => JSON.stringify(f)).join(", ")}; benches: ${available(benches)}`);
    return 2;
  }
  const reported = new Set<string>();
  let failures = 0;
  for (const { bench, wants } of selected) {
    progress(`${bench.name}: running`);
    const t0 = performance.now();
    const report = (fig: Figure): void => {
      const problems = figureProblems(fig);
      if (problems.length > 0) {
        failures++;
        progress(`${bench.name}: bad figure ${JSON.stringify(fig)}: ${problems.join("; ")}`);
        return;
      }
      if (!wants(fig.metric)) return;
      reported.add(fig.metric);
      process.stdout.write(`${formatFigure(bench.name, fig)}\n`);
    };
    try {
      await bench.run(report, { wants });
      progress(`${bench.name}: done in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    } catch (e) {
      failures++;
      progress(`${bench.name}: failed: ${(e as Error).stack ?? String(e)}`);
    }
  }
  const stillUnmatched = unresolved.filter((f) => ![...reported].some((m) => m.includes(f)));
  if (stillUnmatched.length > 0) {
    progress(`no bench name or reported metric contains ${stillUnmatched.map((f) => JSON.stringify(f)).join(", ")}; benches: ${available(benches)}`);
    return 2;
  }
  if (failures > 0) {
    progress(`${failures} bench failure(s)`);
    return 1;
  }
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    progress(`error: ${(e as Error).stack ?? String(e)}`);
    process.exitCode = 1;
  },
);
