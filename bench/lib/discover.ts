// Finds the bench modules: every bench/*.ts (but main.ts) that exports `benches`.

import { readdirSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import type { Bench } from "./types.js";

export interface BenchModule {
  file: string;
  benches: Bench[];
}

function checkBenches(file: string, value: unknown): Bench[] {
  if (!Array.isArray(value)) throw new Error(`${file}: export "benches" must be an array of { name, run }, got ${typeof value}`);
  return value.map((b: unknown, i) => {
    const o = b as Partial<Bench> | null;
    if (typeof o !== "object" || o === null || typeof o.name !== "string" || o.name === "" || typeof o.run !== "function") {
      throw new Error(`${file}: benches[${i}] must be { name: string, run: (report) => Promise<void> }`);
    }
    if (o.metrics !== undefined && !(Array.isArray(o.metrics) && o.metrics.every((m) => typeof m === "string"))) {
      throw new Error(`${file}: benches[${i}] (${o.name}): metrics must be an array of strings`);
    }
    return o as Bench;
  });
}

/** Loads the bench modules of `dir` in file-name order; modules without a `benches` export are left out. */
export async function discoverBenches(dir: string): Promise<BenchModule[]> {
  const files = readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith(".ts") && !e.name.endsWith(".d.ts") && e.name !== "main.ts")
    .map((e) => e.name)
    .sort();
  const modules: BenchModule[] = [];
  for (const file of files) {
    const mod = (await import(pathToFileURL(join(dir, file)).href)) as Record<string, unknown>;
    if (!("benches" in mod)) continue;
    modules.push({ file, benches: checkBenches(file, mod.benches) });
  }
  return modules;
}
