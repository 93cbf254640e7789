// The full-size VidRD UNet3D (SD 2.1-base sized: 1.18 B parameters, 4.7 GB in float32) on random
// weights: how long building it takes (graph build + ONNX emission with external data + session
// creation), one forward pass for a CFG batch of 2 clips of 8 frames at 32x32 latents (the released
// setting), and the peak resident memory; the same in PyTorch (tools/bench_unet_torch.py, the reference
// implementation tools/reference/unet3d.py) as the reference. 2 threads.
//
// Each side runs in its own child process, one after the other, so that peak RSS is the process's own
// (ru_maxrss: weights, activations, the runtime's arenas) and the two never compete for memory or cores.
// Weights: a seeded U(-0.02, 0.02) per tensor on both sides (the values differ; the work does not). Ours
// are generated untimed, held while the session is made (as a loaded checkpoint would be), then dropped.
// Forward passes: VIDRD_BENCH_UNET_WARMUP (default 1) untimed, then VIDRD_BENCH_UNET_RUNS (default 1)
// timed; the figure is their median. A run takes about a minute per side on this 2-core machine.
// ONNX Runtime's CPU arena and memory pattern: off (SessionOptions.memory, also the default for a model
// this size); VIDRD_BENCH_UNET_ARENA=1 / VIDRD_BENCH_UNET_MEM_PATTERN=1 turn them on (peak RSS 9.8 GB
// with both on against 6.0 GB off, forward time unchanged).

import { spawn } from "node:child_process";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Graph } from "../src/graph/index.js";
import { SD21_BASE_VIDRD_CONFIG, buildUNet3D, parseUNet3DConfig, unet3dParamShapes } from "../src/models/unet3d/index.js";
import { Session } from "../src/runtime/index.js";
import { Tensor, numel } from "../src/tensor/tensor.js";
import { uniformTensor } from "./lib/data.js";
import { comparedWith, round } from "./lib/figures.js";
import { NOT_IMPORTABLE, PYTHON } from "./lib/pytorch.js";
import { median } from "./lib/timing.js";
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
  torch?: string;
  unavailable?: string;
}

const METRICS = ["unet_build_s", "unet_forward_s", "unet_peak_rss_mb"] as const;
const THIS_FILE = fileURLToPath(import.meta.url);
const CHILD_FLAG = "--unet-child";

function progress(message: string): void {
  process.stderr.write(`[bench] unet: ${message}\n`);
}

/** Our side, in the child process: build, forward passes, peak RSS. */
async function child(setup: Setup): Promise<ChildResult> {
  const cfg = parseUNet3DConfig(SD21_BASE_VIDRD_CONFIG);
  let weights: Map<string, Tensor> | null = new Map();
  let seed = 1;
  for (const [key, shape] of unet3dParamShapes(cfg)) {
    const t = uniformTensor(shape, seed++); // U(-1, 1)
    const d = t.data;
    for (let i = 0; i < d.length; i++) d[i]! *= 0.02;
    weights.set(key, t);
  }
  const params = [...weights.values()].reduce((n, t) => n + numel(t.shape), 0);
  progress(`${params} parameters generated`);

  const t0 = performance.now();
  const g = new Graph("unet3d");
  buildUNet3D(g, cfg, { batch: setup.batch, frames: setup.frames, height: setup.size, width: setup.size });
  const session = await Session.fromGraph(g, { weights, threads: setup.threads, memory: setup.memory });
  const buildS = (performance.now() - t0) / 1000;
  weights = null; // the session holds its own copy
  (globalThis as { gc?: () => void }).gc?.();
  const rssMb = () => (process.resourceUsage().maxRSS / 1024).toFixed(0);
  progress(`built in ${buildS.toFixed(1)} s, peak RSS so far ${rssMb()} MB`);

  const feeds = {
    sample: uniformTensor([setup.batch, 4, setup.frames, setup.size, setup.size], 100),
    timestep: Tensor.float32(Array(setup.batch).fill(500)),
    encoder_hidden_states: uniformTensor([setup.batch, 77, cfg.crossAttentionDim], 101),
  };
  const forward: number[] = [];
  for (let i = 0; i < setup.warmup + setup.runs; i++) {
    const t = performance.now();
    await session.run(feeds);
    const dt = (performance.now() - t) / 1000;
    progress(`forward ${i}: ${dt.toFixed(1)} s, peak RSS so far ${rssMb()} MB`);
    if (i >= setup.warmup) forward.push(dt);
  }
  await session.release();
  return { build_s: buildS, forward_s: forward, peak_rss_mb: process.resourceUsage().maxRSS / 1024 };
}

/** Runs a child to completion; its last stdout line is the result, its stderr is passed through. */
function runChild(command: string, args: string[]): Promise<ChildResult | string> {
  return new Promise((done) => {
    const proc = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    proc.stdout.on("data", (c: Buffer) => (out += c.toString()));
    proc.stderr.on("data", (c: Buffer) => process.stderr.write(c));
    proc.on("error", (e: NodeJS.ErrnoException) => done(e.code === "ENOENT" ? NOT_IMPORTABLE : `${command} failed to start: ${e.message}`));
    proc.on("close", (code) => {
      const line = out.trim().split("\n").pop() ?? "";
      try {
        const r = JSON.parse(line) as ChildResult;
        if (r.unavailable) return done(NOT_IMPORTABLE);
        if (typeof r.build_s === "number" && Array.isArray(r.forward_s) && r.forward_s.length > 0) return done(r);
      } catch {
        // fall through: no result line
      }
      done(`${command} exited with status ${code} without a result`);
    });
  });
}

async function run(report: Report): Promise<void> {
  const setupArg = JSON.stringify(SETUP);
  progress("ours (child process)");
  const ours = await runChild(process.execPath, ["--expose-gc", "--import", "tsx", THIS_FILE, CHILD_FLAG, setupArg]);
  if (typeof ours === "string") throw new Error(`our UNet child failed: ${ours}`);
  progress("pytorch (child process)");
  const torch = await runChild(PYTHON, [fileURLToPath(new URL("../tools/bench_unet_torch.py", import.meta.url)), setupArg]);
  const context = {
    threads: SETUP.threads,
    ort_cpu_arena: SETUP.memory.arena,
    ort_mem_pattern: SETUP.memory.pattern,
    model: `VidRD UNet3D, SD 2.1-base sized (1.18 B parameters), latents [${SETUP.batch}, 4, ${SETUP.frames}, ${SETUP.size}, ${SETUP.size}]`,
  };
  const figures: { metric: (typeof METRICS)[number]; ours: number; theirs: (r: ChildResult) => number; unit: string }[] = [
    { metric: "unet_build_s", ours: ours.build_s, theirs: (r) => r.build_s, unit: "s" },
    { metric: "unet_forward_s", ours: median(ours.forward_s), theirs: (r) => median(r.forward_s), unit: "s" },
    { metric: "unet_peak_rss_mb", ours: ours.peak_rss_mb, theirs: (r) => r.peak_rss_mb, unit: "MB" },
  ];
  for (const f of figures) {
    const extra = f.metric === "unet_forward_s" ? { runs: ours.forward_s.length } : {};
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
  child(JSON.parse(process.argv[3]!) as Setup).then(
    (r) => process.stdout.write(`${JSON.stringify(r)}\n`),
    (e: unknown) => {
      process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
      process.exitCode = 1;
    },
  );
}
