// The full-size VidRD UNet3D (SD 2.1-base sized: 1.18 B parameters, 4.7 GB in float32) on random
// weights: how long a cold start takes to build it, one forward pass for a CFG batch of 2 clips of 8
// frames at 32x32 latents (the released setting), and the peak resident memory; the same in PyTorch
// (tools/bench_unet_torch.py, the reference implementation tools/reference/unet3d.py) as the reference.
// 2 threads.
//
// A cold start goes through the code a user's first start runs (loadCompiledModel, src/models/compiled):
// the graph is built, emitted with its weights streamed into a fresh compiled-model cache directory
// (external data, one weight read, written and dropped at a time), and the session is created from that
// file. A second child then starts from the entry it left (a cache hit: no graph, no weights read):
// unet_build_cached_s and unet_peak_rss_cached_mb. The cache directory is temporary and removed.
//
// Each run is its own child process, one after the other, so that peak RSS is the process's own
// (ru_maxrss: weights, activations, the runtime's arenas) and they never compete for memory or cores.
// Weights: a seeded U(-0.02, 0.02) per tensor on both sides (the values differ; the work does not).
// Ours are generated lazily, tensor by tensor with its own seed, when emission asks for each (as a
// checkpoint is read by offset), inside the timed cold build; they are identified to the cache by their
// recipe (weightsId) rather than fingerprinted, which for a file costs milliseconds.
// Forward passes: VIDRD_BENCH_UNET_WARMUP (default 1) untimed, then VIDRD_BENCH_UNET_RUNS (default 1)
// timed; the figure is their median (the cached child runs one, for its memory only). A run takes a few
// minutes on this 2-core machine. ONNX Runtime's CPU arena and memory pattern: off (SessionOptions.memory,
// also the default for a model this size); VIDRD_BENCH_UNET_ARENA=1 / VIDRD_BENCH_UNET_MEM_PATTERN=1 turn
// them on.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { loadCompiledModel } from "../src/models/compiled/index.js";
import { SD21_BASE_VIDRD_CONFIG, buildUNet3D, parseUNet3DConfig, unet3dParamShapes } from "../src/models/unet3d/index.js";
import { StateDict, type TensorEntry } from "../src/models/weights/index.js";
import { Tensor, numel } from "../src/tensor/tensor.js";
import { uniformTensor } from "./lib/data.js";
import { comparedWith, round } from "./lib/figures.js";
import { NOT_IMPORTABLE, PYTHON } from "./lib/pytorch.js";
import { median } from "./lib/timing.js";
import { runJsonChild } from "./lib/child.js";
import type { Bench, Report } from "./lib/types.js";

const SETUP = {
  variant: "vidrd",
  batch: 2,
  frames: 8,
  size: 32,
  threads: 2,
  warmup: Number(process.env.VIDRD_BENCH_UNET_WARMUP ?? 1),
  runs: Number(process.env.VIDRD_BENCH_UNET_RUNS ?? 1),
  memory: { arena: process.env.VIDRD_BENCH_UNET_ARENA === "1", pattern: process.env.VIDRD_BENCH_UNET_MEM_PATTERN === "1" },
} as const;
type Setup = typeof SETUP;

/** What each child prints as its one stdout line. */
interface ChildResult {
  build_s: number;
  forward_s: number[];
  peak_rss_mb: number;
  /** Our children: whether the model came from the cache. */
  hit?: boolean;
  torch?: string;
  unavailable?: string;
}

const METRICS = ["unet_build_s", "unet_forward_s", "unet_peak_rss_mb", "unet_build_cached_s", "unet_peak_rss_cached_mb"] as const;
const THIS_FILE = fileURLToPath(import.meta.url);
const CHILD_FLAG = "--unet-child";

function progress(message: string): void {
  process.stderr.write(`[bench] unet: ${message}\n`);
}

/** The bench weights: U(-0.02, 0.02), seeded per tensor (1, 2, ... in key order), made when read. */
function benchWeights(shapes: ReadonlyMap<string, readonly number[]>): StateDict {
  const entries = new Map<string, TensorEntry>();
  let seed = 1;
  for (const [key, shape] of shapes) {
    const tensorSeed = seed++;
    const read = (): Tensor => {
      const t = uniformTensor(shape, tensorSeed); // U(-1, 1)
      const d = t.data;
      for (let i = 0; i < d.length; i++) d[i]! *= 0.02;
      return t;
    };
    entries.set(key, { dtype: "float32", storedDType: "float32", shape, read });
  }
  return new StateDict("bench U(-0.02, 0.02)", entries);
}

/** Our side, in a child process: a cold or cached start, forward passes, peak RSS. */
async function child(setup: Setup, cacheDir: string, expectHit: boolean): Promise<ChildResult> {
  const cfg = parseUNet3DConfig(SD21_BASE_VIDRD_CONFIG);
  const shapes = unet3dParamShapes(cfg);
  const params = [...shapes.values()].reduce((n, s) => n + numel(s), 0);
  const dims = { batch: setup.batch, frames: setup.frames, height: setup.size, width: setup.size };
  const rssMb = () => (process.resourceUsage().maxRSS / 1024).toFixed(0);

  const t0 = performance.now();
  const { session, hit } = await loadCompiledModel(
    { kind: "unet3d", config: cfg, options: dims, dtype: "float32" },
    benchWeights(shapes),
    (g) => void buildUNet3D(g, cfg, dims),
    {
      cacheDir,
      weightsId: `bench unet: U(-0.02, 0.02) mulberry32, seeds 1..${shapes.size} in key order`,
      session: { threads: setup.threads, memory: setup.memory },
    },
  );
  const buildS = (performance.now() - t0) / 1000;
  if (hit !== expectHit) throw new Error(`expected a ${expectHit ? "cached" : "cold"} start, got a ${hit ? "cache hit" : "cold build"}`);
  progress(`${hit ? "cached" : "cold"} start (${params} parameters) in ${buildS.toFixed(1)} s, peak RSS so far ${rssMb()} MB`);

  const feeds = {
    sample: uniformTensor([setup.batch, 4, setup.frames, setup.size, setup.size], 100),
    timestep: Tensor.float32(Array(setup.batch).fill(500)),
    encoder_hidden_states: uniformTensor([setup.batch, 77, cfg.crossAttentionDim], 101),
  };
  const [warmup, runs] = hit ? [0, 1] : [setup.warmup, setup.runs];
  const forward: number[] = [];
  for (let i = 0; i < warmup + runs; i++) {
    const t = performance.now();
    await session.run(feeds);
    const dt = (performance.now() - t) / 1000;
    progress(`forward ${i}: ${dt.toFixed(1)} s, peak RSS so far ${rssMb()} MB`);
    if (i >= warmup) forward.push(dt);
  }
  await session.release();
  return { build_s: buildS, forward_s: forward, peak_rss_mb: process.resourceUsage().maxRSS / 1024, hit };
}

/** Runs a child to completion: its result, NOT_IMPORTABLE, or why it gave none. */
async function runChild(command: string, args: string[]): Promise<ChildResult | string> {
  const r = await runJsonChild(command, args);
  if (!r.ok) return r.notFound ? NOT_IMPORTABLE : r.reason;
  const c = r.result as ChildResult;
  if (c.unavailable) return NOT_IMPORTABLE;
  if (typeof c.build_s === "number" && Array.isArray(c.forward_s) && c.forward_s.length > 0) return c;
  return `${command} exited without a result`;
}

async function run(report: Report): Promise<void> {
  const setupArg = JSON.stringify(SETUP);
  const cacheDir = mkdtempSync(join(tmpdir(), "vidrd-bench-unet-cache-"));
  let cold: ChildResult | string;
  let cached: ChildResult | string;
  try {
    const ours = (mode: "cold" | "cached") => runChild(process.execPath, ["--import", "tsx", THIS_FILE, CHILD_FLAG, setupArg, cacheDir, mode]);
    progress("ours, cold start (child process)");
    cold = await ours("cold");
    if (typeof cold === "string") throw new Error(`our UNet child (cold start) failed: ${cold}`);
    progress("ours, cached start (child process)");
    cached = await ours("cached");
    if (typeof cached === "string") throw new Error(`our UNet child (cached start) failed: ${cached}`);
  } finally {
    rmSync(cacheDir, { recursive: true, force: true });
  }
  progress("pytorch (child process)");
  const torch = await runChild(PYTHON, [fileURLToPath(new URL("../tools/bench_unet_torch.py", import.meta.url)), setupArg]);
  const context = {
    threads: SETUP.threads,
    ort_cpu_arena: SETUP.memory.arena,
    ort_mem_pattern: SETUP.memory.pattern,
    model: `VidRD UNet3D, SD 2.1-base sized (1.18 B parameters), latents [${SETUP.batch}, 4, ${SETUP.frames}, ${SETUP.size}, ${SETUP.size}]`,
  };
  const figures: { metric: (typeof METRICS)[number]; ours: number; theirs: (r: ChildResult) => number; unit: string; start: "cold" | "cached" }[] = [
    { metric: "unet_build_s", ours: cold.build_s, theirs: (r) => r.build_s, unit: "s", start: "cold" },
    { metric: "unet_forward_s", ours: median(cold.forward_s), theirs: (r) => median(r.forward_s), unit: "s", start: "cold" },
    { metric: "unet_peak_rss_mb", ours: cold.peak_rss_mb, theirs: (r) => r.peak_rss_mb, unit: "MB", start: "cold" },
    { metric: "unet_build_cached_s", ours: cached.build_s, theirs: (r) => r.build_s, unit: "s", start: "cached" },
    { metric: "unet_peak_rss_cached_mb", ours: cached.peak_rss_mb, theirs: (r) => r.peak_rss_mb, unit: "MB", start: "cached" },
  ];
  for (const f of figures) {
    const extra = { start: f.start, ...(f.metric === "unet_forward_s" ? { runs: cold.forward_s.length } : {}) };
    if (typeof torch === "string") {
      report({ metric: f.metric, value: round(f.ours), unit: f.unit, ...context, ...extra });
      report({ metric: f.metric, reference: "pytorch", skipped: torch });
    } else {
      report({ metric: f.metric, value: round(f.ours), unit: f.unit, ...context, ...extra, ...comparedWith("pytorch", f.ours, f.theirs(torch), "lower") });
    }
  }
}

export const benches: Bench[] = [{ name: "unet", metrics: [...METRICS], run }];

if (process.argv[2] === CHILD_FLAG && resolve(process.argv[1] ?? "") === THIS_FILE) {
  const [setupArg, cacheDir, mode] = process.argv.slice(3);
  child(JSON.parse(setupArg!) as Setup, cacheDir!, mode === "cached").then(
    (r) => process.stdout.write(`${JSON.stringify(r)}\n`),
    (e: unknown) => {
      process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
      process.exitCode = 1;
    },
  );
}
