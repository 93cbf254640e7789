// Runtime throughput (DESIGN.md "Benchmarks"): the ops a video UNet spends its time in, compiled from the
// graph IR and run by the runtime with 2 threads, weights baked in as initializers, each compared with the
// same op in PyTorch measured in the same run with the same timing method. FLOPs are 2 * multiply-adds.

import { Graph, type Value, ops } from "../src/graph/index.js";
import { Session } from "../src/runtime/index.js";
import { type Tensor, numel } from "../src/tensor/tensor.js";
import { uniformTensor } from "./lib/data.js";
import { round } from "./lib/figures.js";
import { TorchReference, referenceFields, toolScript } from "./lib/pytorch.js";
import { DEFAULT_TIMING, type RoundPlan, type Timing, alternateRounds } from "./lib/timing.js";
import type { Bench, BenchContext, Report } from "./lib/types.js";

const THREADS = 2;

/** One operation for tools/bench_runtime_torch.py, described by shapes only (the script makes its own data). */
type TorchCase =
  | { metric: string; op: "conv"; input: number[]; weight: number[]; padding: number[] }
  | { metric: string; op: "matmul"; a: number[]; b: number[] }
  | { metric: string; op: "attention"; q: number[]; k: number[]; v: number[]; scale: number };

interface RuntimeCase {
  metric: string;
  /** What is computed, for the printed figure. */
  shapes: string;
  build(): { graph: Graph; output: Value; weights: Map<string, Tensor>; feeds: Record<string, Tensor> };
  /** Floating-point operations of one run. */
  flops(output: Value): number;
  torch: TorchCase;
}

/** 2 * output elements * (input channels per group * kernel taps): the MACs of a direct convolution. */
function convFlops(output: Value, weight: readonly number[]): number {
  return 2 * numel(output.shape as number[]) * numel(weight.slice(1));
}

function convCase(metric: string, input: number[], weight: number[], padding: number[]): RuntimeCase {
  return {
    metric,
    shapes: `x[${input}] * w[${weight}], padding [${padding}]`,
    build() {
      const graph = new Graph(metric);
      const x = graph.input("x", "float32", input);
      const w = graph.param("conv.weight", weight);
      const output = ops.conv(x, w, null, { padding });
      return { graph, output, weights: new Map([["conv.weight", uniformTensor(weight, 2)]]), feeds: { x: uniformTensor(input, 1) } };
    },
    flops: (output) => convFlops(output, weight),
    torch: { metric, op: "conv", input, weight, padding },
  };
}

function matmulCase(metric: string, n: number, k: number, m: number): RuntimeCase {
  return {
    metric,
    shapes: `a[${n},${k}] @ b[${k},${m}]`,
    build() {
      const graph = new Graph(metric);
      const a = graph.input("a", "float32", [n, k]);
      const b = graph.param("matmul.b", [k, m]);
      return { graph, output: ops.matmul(a, b), weights: new Map([["matmul.b", uniformTensor([k, m], 2)]]), feeds: { a: uniformTensor([n, k], 1) } };
    },
    flops: () => 2 * n * k * m,
    torch: { metric, op: "matmul", a: [n, k], b: [k, m] },
  };
}

function attentionCase(metric: string, batch: number, heads: number, tokens: number, headDim: number): RuntimeCase {
  const shape = [batch, heads, tokens, headDim];
  return {
    metric,
    shapes: `q, k, v [${shape}]`,
    build() {
      const graph = new Graph(metric);
      const [q, k, v] = (["q", "k", "v"] as const).map((n) => graph.input(n, "float32", shape));
      const feeds = { q: uniformTensor(shape, 1), k: uniformTensor(shape, 2), v: uniformTensor(shape, 3) };
      return { graph, output: ops.scaledDotProductAttention(q!, k!, v!), weights: new Map(), feeds };
    },
    // Q K^T and (softmax) V: two products of 2 * L * L * d FLOPs per head; softmax and scaling not counted.
    flops: () => 4 * batch * heads * tokens * tokens * headDim,
    torch: { metric, op: "attention", q: shape, k: shape, v: shape, scale: 1 / Math.sqrt(headDim) },
  };
}

const CASES: readonly RuntimeCase[] = [
  convCase("conv2d_gflops", [2, 320, 32, 32], [320, 320, 3, 3], [1, 1]),
  // The temporal convolution of a video UNet: kernel (3, 1, 1) over [B, C, F, H, W].
  convCase("conv3d_gflops", [1, 320, 8, 32, 32], [320, 320, 3, 1, 1], [1, 0, 0]),
  matmulCase("matmul_gflops", 1024, 1024, 1024),
  attentionCase("attention_gflops", 1, 8, 1024, 64),
];

function gflops(flops: number, medianMs: number): number {
  return flops / (medianMs / 1000) / 1e9;
}

/** Rounds of ours alternating with rounds of the reference (bench/lib/timing.ts). */
async function measure(c: RuntimeCase, torch: TorchReference<TorchCase> | string): Promise<{ flops: number; ours: Timing; reference: Timing | string }> {
  const { graph, output, weights, feeds } = c.build();
  graph.output("y", output);
  const session = await Session.fromGraph(graph, { weights, threads: THREADS });
  try {
    const reference = typeof torch === "string" ? torch : (plan: RoundPlan) => torch.timeRound(c.torch, plan);
    const timed = await alternateRounds(DEFAULT_TIMING, () => session.run(feeds), reference);
    return { flops: c.flops(output), ...timed };
  } finally {
    await session.release();
  }
}

async function run(report: Report, ctx: BenchContext): Promise<void> {
  const cases = CASES.filter((c) => ctx.wants(c.metric));
  const torch = await TorchReference.start<TorchCase>(toolScript("bench_runtime_torch.py"), THREADS);
  try {
    for (const c of cases) {
      process.stderr.write(`[bench] runtime: ${c.metric}\n`);
      const { flops, ours, reference } = await measure(c, torch);
      const value = gflops(flops, ours.medianMs);
      const compared = referenceFields(torch, reference, value, (ms) => gflops(flops, ms));
      report({
        metric: c.metric,
        value: round(value),
        unit: "GFLOP/s",
        threads: THREADS,
        median_ms: round(ours.medianMs),
        runs: ours.runs,
        gflop: round(flops / 1e9),
        shapes: c.shapes,
        ...compared,
      });
      if (typeof reference === "string") report({ metric: c.metric, reference: "pytorch", skipped: reference });
    }
  } finally {
    if (typeof torch !== "string") torch.close();
  }
}

export const benches: Bench[] = [{ name: "runtime", metrics: CASES.map((c) => c.metric), run }];
