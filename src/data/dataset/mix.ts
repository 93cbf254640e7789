// Which datasets training draws from, and how often: a dataset folder (compose's output), or a mix file
// (mix.json) naming dataset folders with weights. `vidrd data mix` writes mix files; the loader reads both.
//
//   mix.json  {"format": "vidrd-mix", "version": 1, "sources": [{"path": "../ucf", "weight": 2}, ...]}
//
// Paths in a mix are relative to the mix file's folder, so a mix moves with its datasets. A mix may name
// another mix: its sources' weights are scaled so that the inner mix as a whole has the weight given.

import { existsSync, mkdirSync, readFileSync, statSync } from "node:fs";
import { dirname, isAbsolute, join, relative, resolve, sep } from "node:path";
import { z } from "zod";
import { writeAll, writeFileAtomic } from "../../io/atomic-file.js";
import { type DatasetInfo, readDatasetInfo } from "../compose/dataset-folder.js";
import { manifestFiles } from "../compose/manifest.js";

export const MIX_FORMAT = "vidrd-mix";
export const MIX_FILE = "mix.json";

export interface MixSource {
  /** A dataset folder, a mix file, or a folder holding mix.json. */
  path: string;
  /** Relative draw frequency, > 0; default 1. */
  weight?: number;
}

/** A dataset folder with its share of the draws. */
export interface ResolvedDataset {
  dir: string;
  weight: number;
  info: DatasetInfo;
}

export class MixError extends Error {
  override name = "MixError";
}

const mixSchema = z.object({
  format: z.literal(MIX_FORMAT),
  version: z.literal(1),
  sources: z.array(z.object({ path: z.string().min(1), weight: z.number().positive().finite() })).min(1),
});

function mixFileOf(path: string): string | null {
  if (path.endsWith(".json") && existsSync(path) && statSync(path).isFile()) return path;
  const inside = join(path, MIX_FILE);
  return existsSync(inside) && !existsSync(join(path, "dataset.json")) ? inside : null;
}

function resolveInto(path: string, weight: number, out: ResolvedDataset[], seen: readonly string[]): void {
  if (!(typeof weight === "number" && Number.isFinite(weight) && weight > 0)) throw new MixError(`weight of ${path} is ${String(weight)}; allowed: a number above 0`);
  const abs = resolve(path);
  const mix = mixFileOf(abs);
  if (mix !== null) {
    if (seen.includes(mix)) throw new MixError(`mix ${mix} includes itself (through ${seen.join(" -> ")})`);
    let parsed;
    try {
      parsed = mixSchema.parse(JSON.parse(readFileSync(mix, "utf8")));
    } catch (e) {
      throw new MixError(`mix ${mix} is not a vidrd mix file: ${(e as Error).message.split("\n")[0]}`);
    }
    const total = parsed.sources.reduce((s, x) => s + x.weight, 0);
    for (const source of parsed.sources) resolveInto(isAbsolute(source.path) ? source.path : resolve(dirname(mix), source.path), (weight * source.weight) / total, out, [...seen, mix]);
    return;
  }
  let info: DatasetInfo | null;
  try {
    info = readDatasetInfo(abs);
  } catch (e) {
    throw new MixError(`${path}: ${(e as Error).message}`);
  }
  if (info === null) throw new MixError(`${path} is neither a dataset folder (no dataset.json) nor a mix (no ${MIX_FILE}); allowed: what vidrd data world|images|videos|mix wrote`);
  if (manifestFiles(abs).length === 0) throw new MixError(`${path} has no manifest-*.jsonl: no clip was made there yet`);
  out.push({ dir: abs, weight, info });
}

/**
 * The dataset folders behind `datasets` (folders, mix files, or {path, weight}), with weights. All must
 * hold clips of one size and length, or they would not batch together.
 */
export function resolveDatasets(datasets: string | readonly (string | MixSource)[]): ResolvedDataset[] {
  const list = typeof datasets === "string" ? [datasets] : datasets;
  if (list.length === 0) throw new MixError("datasets is empty; allowed: at least one dataset folder or mix");
  const out: ResolvedDataset[] = [];
  for (const item of list) {
    const source = typeof item === "string" ? { path: item } : item;
    resolveInto(source.path, source.weight ?? 1, out, []);
  }
  const first = out[0].info;
  for (const d of out.slice(1)) {
    for (const key of ["width", "height", "frames"] as const) {
      if (d.info[key] !== first[key]) throw new MixError(`${d.dir} has ${key} ${d.info[key]} but ${out[0].dir} has ${first[key]}; allowed: datasets of one clip size and length in a mix`);
    }
  }
  return out;
}

/** Writes `<dir>/mix.json` (atomically) naming `sources`; checks that they resolve and batch together. */
export function writeMix(dir: string, sources: readonly MixSource[]): { path: string; datasets: ResolvedDataset[] } {
  const datasets = resolveDatasets(sources);
  mkdirSync(dir, { recursive: true });
  const path = join(resolve(dir), MIX_FILE);
  const body = {
    format: MIX_FORMAT,
    version: 1,
    sources: sources.map((s) => ({ path: relative(resolve(dir), resolve(s.path)).split(sep).join("/") || ".", weight: s.weight ?? 1 })),
  };
  writeFileAtomic(path, (fd) => writeAll(fd, Buffer.from(`${JSON.stringify(body, null, 2)}\n`)));
  return { path, datasets };
}
