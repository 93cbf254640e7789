// Training throughput (DESIGN.md "Benchmarks"): training steps of a small video UNet stack, compiled from
// the graph IR with its gradients and optimizer update, one session run per step, 2 threads; compared with
// the same model and step in PyTorch (tools/bench_train_torch.py) measured in the same run, rounds of ours
// alternating with rounds of the reference.
//
// The model (latents [B, 4, F, S, S]; spatial layers per frame on [B*F, C, S, S]):
//   conv_in 3x3 4->64 -> 2 blocks at 64 -> downsample 3x3 stride 2 -> 2 blocks at 128
//   -> upsample (nearest x2, 3x3 conv 128->64) -> concat with the skip from before the downsample
//   -> GroupNorm -> SiLU -> conv_out 3x3 128->4;  loss = mean((out - target)^2)
//   block: ResNet (GroupNorm -> SiLU -> conv 3x3, twice, residual), then temporal conv on [B, C, F, S, S]
//          (GroupNorm -> SiLU -> Conv3d (3, 1, 1) pad (1, 0, 0), residual)
// One step = forward, backward, optimizer update. Besides the step, the forward alone and forward +
// backward are timed on both sides, which says where a gap comes from.

import { gradients } from "../src/graph/autodiff.js";
import { type Dim, Graph, type Value, dimMul, ops } from "../src/graph/index.js";
import { buildTrainStep, nextOf } from "../src/graph/optim.js";
import { Session } from "../src/runtime/index.js";
import { mseLoss } from "../src/train/losses.js";
import { Tensor, numel } from "../src/tensor/tensor.js";
import { uniformTensor } from "./lib/data.js";
import { round } from "./lib/figures.js";
import { TorchReference, referenceFields, toolScript } from "./lib/pytorch.js";
import { type RoundPlan, type Timing, type TimingPlan, alternateRounds } from "./lib/timing.js";
import type { Bench, BenchContext, Report } from "./lib/types.js";

const THREADS = 2;

/** The UNet stack; field names are the ones tools/bench_train_torch.py reads. */
const MODEL = {
  batch: 4,
  in_channels: 4,
  frames: 8,
  /** Height and width of a latent frame. */
  size: 16,
  /** Channels of the full- and the half-resolution level. */
  channels: [64, 128] as [number, number],
  blocks_per_level: 2,
  groups: 32,
} as const;

/** AdamW without clipping (torch.optim.AdamW's defaults but lr); field names are the script's. */
const OPTIMIZER = { kind: "adamw", lr: 1e-4, betas: [0.9, 0.999] as [number, number], eps: 1e-8, weight_decay: 0.01 } as const;

type Stage = "step" | "forward_backward" | "forward";
const STAGES: readonly { stage: Stage; metric: string }[] = [
  { stage: "step", metric: "train_step_samples_per_s" },
  { stage: "forward_backward", metric: "train_forward_backward_samples_per_s" },
  { stage: "forward", metric: "train_forward_samples_per_s" },
];

// A step takes 0.1-0.5 s: rounds of a few steps each alternate often enough to share out the machine's
// load, and keep the three figures under 90 s.
const TIMING: TimingPlan = { rounds: 8, firstWarmupRuns: 3, round: { minRuns: 2, maxRuns: 20, minSeconds: 0.3 } };

// ---------------------------------------------------------------------------------------------------
// The model in the graph IR; parameter names are the PyTorch module's state_dict keys.

class UnetBuilder {
  readonly weights = new Map<string, Tensor>();
  private seed = 1;

  constructor(private readonly g: Graph) {}

  /** A trainable parameter with deterministic data: weights uniform in +-1/sqrt(fan in), norms 1 and 0. */
  private param(name: string, shape: number[], init: "fan_in" | "ones" | "zeros"): Value {
    const fanIn = numel(shape.slice(1));
    const data =
      init === "fan_in"
        ? uniformTensor(shape, this.seed++).data.map((v) => v / Math.sqrt(fanIn))
        : new Float32Array(numel(shape)).fill(init === "ones" ? 1 : 0);
    this.weights.set(name, new Tensor("float32", data, shape));
    return this.g.param(name, shape);
  }

  private conv(name: string, x: Value, cin: number, cout: number, kernel: number[], opts: ops.ConvOptions): Value {
    return ops.conv(x, this.param(`${name}.weight`, [cout, cin, ...kernel], "fan_in"), this.param(`${name}.bias`, [cout], "zeros"), opts);
  }

  private normAct(name: string, x: Value, channels: number): Value {
    const weight = this.param(`${name}.weight`, [channels], "ones");
    return ops.silu(ops.groupNorm(x, MODEL.groups, weight, this.param(`${name}.bias`, [channels], "zeros"), { eps: 1e-5 }));
  }

  /** ResNet block per frame, then the temporal conv over frames: [B*F, C, S, S] -> same. */
  private block(name: string, h: Value, c: number): Value {
    const [bf, , s1, s2] = h.shape as [Dim, number, Dim, Dim];
    const r = this.conv(`${name}.conv1`, this.normAct(`${name}.norm1`, h, c), c, c, [3, 3], { padding: 1 });
    h = ops.add(h, this.conv(`${name}.conv2`, this.normAct(`${name}.norm2`, r, c), c, c, [3, 3], { padding: 1 }));
    const video = ops.transpose(ops.reshape(h, [MODEL.batch, MODEL.frames, c, s1, s2]), [0, 2, 1, 3, 4]); // [B, C, F, S, S]
    const temporal = this.conv(`${name}.temp_conv`, this.normAct(`${name}.temp_norm`, video, c), c, c, [3, 1, 1], { padding: [1, 0, 0] });
    return ops.reshape(ops.transpose(ops.add(video, temporal), [0, 2, 1, 3, 4]), [bf, c, s1, s2]); // [B*F, C, S, S]
  }

  /** x [B, 4, F, S, S] -> [B, 4, F, S, S]. */
  unet(x: Value): Value {
    const [c0, c1] = MODEL.channels;
    const [b, cin, f, s1, s2] = x.shape as [number, number, number, number, number];
    let h = ops.reshape(ops.transpose(x, [0, 2, 1, 3, 4]), [dimMul(b, f), cin, s1, s2]); // [B*F, 4, S, S]
    h = this.conv("conv_in", h, cin, c0, [3, 3], { padding: 1 }); // [B*F, c0, S, S]
    for (let i = 0; i < MODEL.blocks_per_level; i++) h = this.block(`down_blocks.${i}`, h, c0);
    const skip = h;
    h = this.conv("downsample", h, c0, c1, [3, 3], { padding: 1, stride: 2 }); // [B*F, c1, S/2, S/2]
    for (let i = 0; i < MODEL.blocks_per_level; i++) h = this.block(`mid_blocks.${i}`, h, c1);
    h = this.conv("upsample", ops.resizeNearest(h, [1, 1, 2, 2]), c1, c0, [3, 3], { padding: 1 }); // [B*F, c0, S, S]
    h = this.normAct("norm_out", ops.concat([h, skip], 1), 2 * c0); // [B*F, 2*c0, S, S]
    h = this.conv("conv_out", h, 2 * c0, cin, [3, 3], { padding: 1 }); // [B*F, 4, S, S]
    return ops.transpose(ops.reshape(h, [b, f, cin, s1, s2]), [0, 2, 1, 3, 4]); // [B, 4, F, S, S]
  }
}

interface Compiled {
  session: Session;
  /** Runs one stage once; a step also carries the parameters and optimizer state into the next run. */
  run(): Promise<unknown>;
}

const LATENT_SHAPE = [MODEL.batch, MODEL.in_channels, MODEL.frames, MODEL.size, MODEL.size];

/** The model and its MSE loss in `g`; the initial weights go to `weights`. */
function buildLoss(g: Graph, weights: Map<string, Tensor>): Value {
  const builder = new UnetBuilder(g);
  const loss = mseLoss(builder.unet(g.input("x", "float32", LATENT_SHAPE)), g.input("target", "float32", LATENT_SHAPE));
  for (const [name, t] of builder.weights) weights.set(name, t);
  return loss;
}

const batchFeeds = (): Record<string, Tensor> => ({ x: uniformTensor(LATENT_SHAPE, 101), target: uniformTensor(LATENT_SHAPE, 102) });

/** One training step as the trainer runs it: forward, backward and AdamW in one session run. */
async function compileStep(): Promise<Compiled> {
  const weights = new Map<string, Tensor>();
  const step = buildTrainStep((g) => ({ loss: buildLoss(g, weights) }), {
    adamw: { betas: OPTIMIZER.betas, eps: OPTIMIZER.eps, weightDecay: OPTIMIZER.weight_decay },
  });
  if (step.graphs.kind !== "fused") throw new Error("train bench: expected one fused step graph (no accumulation)");
  const session = await Session.fromGraph(step.graphs.step, { paramsAsInputs: step.paramsAsInputs, threads: THREADS });
  const carried = [...step.trainable.map((p) => p.name), ...step.state.map((s) => s.name)];
  const feeds: Record<string, Tensor> = { ...batchFeeds(), ...Object.fromEntries(weights) };
  for (const s of step.state) feeds[s.name] = "zeros" in s.init ? Tensor.zeros("float32", s.shape) : feeds[s.init.copyOf]!.clone();
  let t = 1;
  return {
    session,
    async run() {
      const out = await session.run({ ...feeds, ...step.scalarFeeds(t++, OPTIMIZER.lr) });
      for (const name of carried) feeds[name] = out[nextOf(name)]!;
      return out;
    },
  };
}

/** The loss alone, or the loss and every parameter's gradient (parameters fed as in training). */
async function compilePart(stage: "forward" | "forward_backward"): Promise<Compiled> {
  const g = new Graph(`train_${stage}`);
  const weights = new Map<string, Tensor>();
  const loss = buildLoss(g, weights);
  g.output("loss", loss);
  if (stage === "forward_backward") {
    const params = g.paramList().map((p) => p.value);
    const grads = gradients(loss, params);
    for (const p of params) g.output(`grad.${p.name}`, grads.get(p)!);
  }
  const session = await Session.fromGraph(g, { paramsAsInputs: "all", threads: THREADS });
  const feeds = { ...batchFeeds(), ...Object.fromEntries(weights) };
  return { session, run: () => session.run(feeds) };
}

const compile = (stage: Stage): Promise<Compiled> => (stage === "step" ? compileStep() : compilePart(stage));

// ---------------------------------------------------------------------------------------------------
// The PyTorch side: tools/bench_train_torch.py, the same model and step (bench/lib/pytorch.ts protocol).

interface TrainCase {
  metric: string;
  op: "train";
  stage: Stage;
  model: typeof MODEL;
  optimizer: typeof OPTIMIZER;
}

async function measure(stage: Stage, metric: string, torch: TorchReference<TrainCase> | string): Promise<{ ours: Timing; reference: Timing | string }> {
  const compiled = await compile(stage);
  try {
    const c: TrainCase = { metric, op: "train", stage, model: MODEL, optimizer: OPTIMIZER };
    const reference = typeof torch === "string" ? torch : (plan: RoundPlan) => torch.timeRound(c, plan);
    return await alternateRounds(TIMING, compiled.run, reference);
  } finally {
    await compiled.session.release();
  }
}

const samplesPerSecond = (medianMs: number): number => MODEL.batch / (medianMs / 1000);

async function run(report: Report, ctx: BenchContext): Promise<void> {
  const torch = await TorchReference.start<TrainCase>(toolScript("bench_train_torch.py"), THREADS);
  try {
    for (const { stage, metric } of STAGES.filter((s) => ctx.wants(s.metric))) {
      process.stderr.write(`[bench] train: ${metric}\n`);
      const { ours, reference } = await measure(stage, metric, torch);
      const value = samplesPerSecond(ours.medianMs);
      const compared = referenceFields(torch, reference, value, samplesPerSecond);
      report({
        metric,
        value: round(value),
        unit: "samples/s",
        threads: THREADS,
        median_ms: round(ours.medianMs),
        runs: ours.runs,
        ...(stage === "step" ? { optimizer: OPTIMIZER.kind } : {}),
        model: `video UNet ${MODEL.channels.join("/")} ch, ${MODEL.blocks_per_level} blocks per level, latents [${MODEL.batch}, ${MODEL.in_channels}, ${MODEL.frames}, ${MODEL.size}, ${MODEL.size}]`,
        ...compared,
      });
      if (typeof reference === "string") report({ metric, reference: "pytorch", skipped: reference });
    }
  } finally {
    if (typeof torch !== "string") torch.close();
  }
}

export const benches: Bench[] = [{ name: "train", metrics: STAGES.map((s) => s.metric), run }];
