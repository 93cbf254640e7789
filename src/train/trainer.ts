// The training loop. One optimizer step is one run of the compiled step graph (or k runs of the
// accumulate graph and one of the apply graph, see graph/optim/train-step.ts); the loop around it owns
// the data, the learning-rate schedule, logging, checkpoints, resuming and stopping.
//
// Reproducibility: every step's randomness comes from new SeededNoise(seed).fork(step), and the carried
// tensors (parameters, moments, EMA) are saved bit for bit, so a run resumed from a checkpoint follows
// the uninterrupted run's trajectory exactly, given the same thread count (ONNX Runtime on CPU is
// deterministic for a fixed number of intra-op threads).
//
// Consistency: `carried` and `step` change together, only once a step has fully succeeded (finite loss
// and gradient norm), so they always hold the state after the last completed step. When anything fails
// mid-run, that state is checkpointed before the error is rethrown, and a resume continues from it.

import { mkdirSync } from "node:fs";
import { basename } from "node:path";
import { performance } from "node:perf_hooks";
import type { WeightSource } from "../graph/index.js";
import {
  GRAD_NORM_OUTPUT,
  LOSS_OUTPUT,
  type TrainModelBuilder,
  type TrainStep,
  buildTrainStep,
  emaOf,
  gradSum,
  metricOutput,
  nextOf,
} from "../graph/optim.js";
import { Session } from "../runtime/index.js";
import { fromFloat16Bits } from "../tensor/float16.js";
import type { NoiseSource } from "../tensor/noise.js";
import { SeededNoise } from "../tensor/seeded-noise.js";
import { Tensor, sameShape } from "../tensor/tensor.js";
import {
  CheckpointMismatchError,
  latestValidCheckpoint,
  listCheckpoints,
  listCorruptCheckpoints,
  pruneCheckpoints,
  writeCheckpoint,
} from "./checkpoint.js";
import { type TrainConfig, type TrainConfigInput, resolveTrainConfig, trajectoryDifferences } from "./config.js";
import { learningRate } from "./lr-schedule.js";
import { Progress, type ProgressStream, type StepRecord, StepLog } from "./train-log.js";

export interface BatchContext {
  /** The optimizer step being fed (1-based). */
  step: number;
  /** The micro-batch within the step (0-based; always 0 without accumulation). */
  micro: number;
  /** This step's noise, shared by its micro-batches in order: new SeededNoise(seed).fork(step). */
  noise: NoiseSource;
}

/** Feeds for the model's inputs (TrainStep.batchInputs) for one micro-batch. */
export type BatchFn = (ctx: BatchContext) => Record<string, Tensor> | Promise<Record<string, Tensor>>;

export interface TrainerOptions {
  /** Builds the model and its loss in a graph (called once). */
  model: TrainModelBuilder;
  /** Initial values of the parameters: trainable ones start here, frozen ones are baked in. */
  weights: WeightSource;
  data: BatchFn;
  /** Validated by the constructor (resolveTrainConfig). */
  config: TrainConfigInput | TrainConfig;
  /** Which parameters to train; default: each parameter's declared flag. */
  trainable?: (name: string) => boolean;
  /** Resume from the newest valid checkpoint in config.checkpoint.dir; default true. */
  resume?: boolean;
  /** Aborting stops the run after the current step, with a checkpoint at that step. */
  signal?: AbortSignal;
  /**
   * Treat SIGINT like `signal` while running; default false. A second SIGINT quits at once with
   * process.exit(130) (128 + SIGINT, as shells report an interrupt), without a checkpoint of the steps
   * since the last one and without running other SIGINT listeners or pending `finally` blocks.
   */
  handleSigint?: boolean;
  /** Called after each step (awaited) with its log record. */
  onStep?: (record: StepRecord) => void | Promise<void>;
  /** Warnings (skipped checkpoints, a changed config on resume); default: stderr. */
  warn?: (message: string) => void;
  /** Where progress goes; default process.stderr. */
  progressStream?: ProgressStream;
}

export interface TrainResult {
  /** "stopped": by the signal or SIGINT, before config.steps. */
  status: "completed" | "stopped";
  /** Steps done. */
  step: number;
  /** The checkpoint step the run resumed from, if any. */
  resumedFrom: number | null;
  /** The last checkpoint written or resumed from. */
  checkpoint: string | null;
  /** Trained parameters by name. */
  params: Map<string, Tensor>;
  /** Their EMA by parameter name, when config.adamw.emaDecay is set. */
  ema: Map<string, Tensor> | null;
  /** Loss of the last step run in this call (null when none ran). */
  lastLoss: number | null;
}

export class TrainError extends Error {
  override name = "TrainError";
}

function lookup(weights: WeightSource, name: string): Tensor | undefined {
  return typeof weights === "function" ? weights(name) : weights.get(name);
}

/** The dtypes of the scalars the trainer reads (loss, metrics, grad_norm); float16 is converted exactly. */
const SCALAR_DTYPES: readonly string[] = ["float32", "float16"];

/** Element 0 of the scalar output `name` (any one-element shape). */
function scalarOf(out: Record<string, Tensor>, name: string): number {
  const t = out[name]!;
  if (t.dtype === "float32") return (t.data as Float32Array)[0]!;
  if (t.dtype === "float16") return fromFloat16Bits((t.data as Uint16Array)[0]!);
  throw new TrainError(`output ${name} is ${t.describe()}; the trainer reads it as a ${SCALAR_DTYPES.join(" or ")} scalar`);
}

/** The feeds among `all` that `session` declares: emission drops inputs nothing uses (a parameter the loss does not reach). */
function feedsFor(session: Session, all: Record<string, Tensor>): Record<string, Tensor> {
  const feeds: Record<string, Tensor> = {};
  for (const { name } of session.inputs) if (name in all) feeds[name] = all[name]!;
  return feeds;
}

export class Trainer {
  readonly config: TrainConfig;
  /** The compiled step graphs and the names of what they carry. */
  readonly trainStep: TrainStep;
  private running = false;

  constructor(private readonly opts: TrainerOptions) {
    this.config = resolveTrainConfig(opts.config);
    this.trainStep = buildTrainStep(opts.model, {
      adamw: { ...this.config.adamw, maxGradNorm: this.config.adamw.maxGradNorm ?? undefined, emaDecay: this.config.adamw.emaDecay ?? undefined },
      accumulation: this.config.accumulation,
      trainable: opts.trainable,
    });
    const g = this.trainStep.graphs;
    for (const { name, value } of (g.kind === "fused" ? g.step : g.accumulate).outputs) {
      if ((name === LOSS_OUTPUT || name.startsWith(metricOutput(""))) && !SCALAR_DTYPES.includes(value.dtype)) {
        throw new TrainError(`the model's ${name === LOSS_OUTPUT ? "loss" : name} is ${value.describe()}; allowed: a ${SCALAR_DTYPES.join(" or ")} scalar`);
      }
    }
  }

  /** Names and shapes of everything carried from step to step (and saved in checkpoints). */
  carriedTensors(): { name: string; shape: readonly number[] }[] {
    return [...this.trainStep.trainable, ...this.trainStep.state];
  }

  /** The carried tensors before the first step: the initial weights, zero moments, EMA = weights. */
  private initialCarried(): Map<string, Tensor> {
    const carried = new Map<string, Tensor>();
    const problems: string[] = [];
    for (const p of this.trainStep.trainable) {
      const t = lookup(this.opts.weights, p.name);
      if (!t) problems.push(`missing ${p.name} (float32[${p.shape.join(", ")}])`);
      else if (t.dtype !== "float32" || !sameShape(t.shape, p.shape)) problems.push(`${p.name}: expected float32[${p.shape.join(", ")}], got ${t.describe()}`);
      else carried.set(p.name, t);
    }
    if (problems.length) throw new TrainError(`initial weights: ${problems.length} problem(s):\n  ${problems.join("\n  ")}`);
    for (const s of this.trainStep.state) {
      carried.set(s.name, "copyOf" in s.init ? carried.get(s.init.copyOf)!.clone() : Tensor.zeros("float32", s.shape));
    }
    return carried;
  }

  /**
   * Trains from the newest valid checkpoint (or the initial weights) up to config.steps. Resolves with
   * status "stopped" when the signal or SIGINT stopped it (a checkpoint is written at that step; the
   * caller decides the exit code, e.g. 0, or 130 as shells do for an interrupt). Rejects on any error,
   * including a non-finite loss or gradient norm (that step's update is discarded), after writing a
   * checkpoint of the last completed step when it has none yet.
   */
  async run(): Promise<TrainResult> {
    if (this.running) throw new TrainError("this Trainer is already running");
    this.running = true;
    try {
      return await this.train();
    } finally {
      this.running = false;
    }
  }

  /** Where the run starts: the newest valid checkpoint of checkpoint.dir, or the initial weights. */
  private restore(warn: (m: string) => void): { start: number; carried: Map<string, Tensor>; checkpoint: string | null } {
    const dir = this.config.checkpoint.dir;
    if (!dir) return { start: 0, carried: this.initialCarried(), checkpoint: null };
    mkdirSync(dir, { recursive: true });
    if (this.opts.resume === false) {
      const existing = listCheckpoints(dir);
      // pruning would count another run's checkpoints as the newest and delete this run's
      if (existing.length) throw new TrainError(`checkpoint.dir ${dir} holds checkpoints of a run (steps ${existing.map((c) => c.step).join(", ")}); resume it, or use an empty directory`);
      return { start: 0, carried: this.initialCarried(), checkpoint: null };
    }
    let resumed;
    try {
      resumed = latestValidCheckpoint(dir, this.carriedTensors(), warn);
    } catch (e) {
      if (!(e instanceof CheckpointMismatchError)) throw e;
      const changed = e.stored ? trajectoryDifferences(this.config, e.stored.config) : [];
      throw new TrainError(
        `cannot resume from ${e.path}: it does not hold what this run trains and carries (the config or the trainable parameters changed what is saved):\n  ` +
          `${[...e.differences, ...(changed.length ? [`config changes: ${changed.join("; ")}`] : [])].join("\n  ")}\n` +
          `Use a new checkpoint.dir for this config, or the config the checkpoints were written with. Nothing in ${dir} was renamed or deleted.`,
        { cause: e },
      );
    }
    if (!resumed) {
      const damaged = listCorruptCheckpoints(dir);
      // starting over would truncate the run's log to step 0 and let pruning count from there
      if (damaged.length) {
        throw new TrainError(
          `checkpoint.dir ${dir} holds no readable checkpoint, only damaged ones (${damaged.map((c) => basename(c.path)).join(", ")}); ` +
            "to start over in this directory, move them away first; or use a new checkpoint.dir",
        );
      }
      return { start: 0, carried: this.initialCarried(), checkpoint: null };
    }
    const diffs = trajectoryDifferences(this.config, resumed.config);
    if (diffs.length) warn(`resuming ${resumed.path} with a changed config (the trajectory will differ): ${diffs.join("; ")}`);
    return { start: resumed.step, carried: resumed.tensors, checkpoint: resumed.path };
  }

  private async train(): Promise<TrainResult> {
    const { config, opts } = this;
    const warn = opts.warn ?? ((m: string) => void process.stderr.write(`vidrd train: warning: ${m}\n`));
    const dir = config.checkpoint.dir;
    const restored = this.restore(warn);
    const start = restored.start;
    let { carried, checkpoint: lastCheckpoint } = restored;
    const log = config.log.path ? StepLog.open(config.log.path, start) : null;
    const progress = new Progress(config.log.progress, opts.progressStream ?? process.stderr, config.steps, config.log.every);
    if (lastCheckpoint) progress.note(`resuming from step ${start} (${lastCheckpoint})`);

    let stopRequested = false;
    const onSigint = (): void => {
      if (stopRequested) {
        // Second interrupt: quit now, with the status a shell gives an interrupted process. Re-raising
        // SIGINT would do nothing while another SIGINT listener is installed.
        process.off("SIGINT", onSigint);
        process.exit(130);
      }
      stopRequested = true;
      progress.note("interrupted: stopping after this step and writing a checkpoint (interrupt again to quit now)");
    };
    const stopping = (): boolean => stopRequested || opts.signal?.aborted === true;

    const root = new SeededNoise(config.seed);
    let step = start;
    let lastLoss: number | null = null;
    let secondsPerStep = NaN;
    let checkpointStep = start;
    const saveCheckpoint = (loss: number | null): void => {
      if (!dir || checkpointStep === step) return;
      lastCheckpoint = writeCheckpoint(dir, carried, { step, seed: config.seed, noiseState: root.getState(), config, loss });
      checkpointStep = step;
      pruneCheckpoints(dir, config.checkpoint.keep);
    };

    if (opts.handleSigint) process.on("SIGINT", onSigint);
    let sessions: Session[] = [];
    try {
      sessions = await this.compile();
      while (step < config.steps) {
        if (stopping()) {
          // a stop that came while onStep ran: this step has no checkpoint yet
          saveCheckpoint(lastLoss);
          break;
        }
        const t0 = performance.now();
        const s = step + 1;
        const lr = learningRate(s, config.lr);
        const out = await this.runStep(sessions, carried, s, lr, root.fork(s));
        const seconds = (performance.now() - t0) / 1000;
        secondsPerStep = Number.isNaN(secondsPerStep) ? seconds : 0.9 * secondsPerStep + 0.1 * seconds;
        // A finite loss can come with a NaN or infinite gradient, whose update would write NaN weights
        if (!Number.isFinite(out.loss) || !Number.isFinite(out.gradNorm)) {
          const what = !Number.isFinite(out.loss)
            ? `loss is ${out.loss}${Number.isFinite(out.gradNorm) ? "" : ` and grad_norm is ${out.gradNorm}`}`
            : `grad_norm is ${out.gradNorm} (loss ${out.loss})`;
          throw new TrainError(`step ${s}: ${what}; the step's update is discarded, not saved; the run stops after step ${step}`);
        }
        carried = out.carried;
        step = s;
        lastLoss = out.loss;
        const record: StepRecord = { step, loss: out.loss, lr, grad_norm: out.gradNorm, samples_per_s: out.samples / seconds };
        if (this.trainStep.metrics.length) record.metrics = out.metrics;
        log?.append(record);
        progress.update(record, secondsPerStep);
        if (step % config.checkpoint.every === 0 || step === config.steps || stopping()) saveCheckpoint(out.loss);
        await opts.onStep?.(record);
      }
    } catch (e) {
      // keep the steps done since the last checkpoint: `carried` is the state after step `step`
      if (dir && checkpointStep !== step) {
        try {
          saveCheckpoint(lastLoss);
          warn(`the run failed after step ${step}; wrote checkpoint ${lastCheckpoint} of that step, where a resume continues`);
        } catch (saveError) {
          warn(`the run failed after step ${step}, and writing a checkpoint of that step failed too: ${(saveError as Error).message}`);
        }
      }
      throw e;
    } finally {
      progress.finish();
      if (opts.handleSigint) process.off("SIGINT", onSigint);
      await Promise.all(sessions.map((x) => x.release()));
    }
    const status: TrainResult["status"] = step < config.steps ? "stopped" : "completed";
    if (status === "stopped") progress.note(`stopped after step ${step}${lastCheckpoint ? `; checkpoint ${lastCheckpoint}` : ""}`);
    const params = new Map(this.trainStep.trainable.map((p) => [p.name, carried.get(p.name)!]));
    const ema = config.adamw.emaDecay === null ? null : new Map(this.trainStep.trainable.map((p) => [p.name, carried.get(emaOf(p.name))!]));
    return { status, step, resumedFrom: restored.checkpoint ? start : null, checkpoint: lastCheckpoint, params, ema, lastLoss };
  }

  private async compile(): Promise<Session[]> {
    const g = this.trainStep.graphs;
    const opts = { weights: this.opts.weights, paramsAsInputs: this.trainStep.paramsAsInputs, threads: this.config.threads };
    if (g.kind === "fused") return [await Session.fromGraph(g.step, opts)];
    const acc = await Session.fromGraph(g.accumulate, opts);
    try {
      return [acc, await Session.fromGraph(g.apply, opts)];
    } catch (e) {
      await acc.release();
      throw e;
    }
  }

  private async batch(step: number, micro: number, noise: NoiseSource): Promise<{ feeds: Record<string, Tensor>; samples: number }> {
    const feeds = await this.opts.data({ step, micro, noise });
    if (typeof feeds !== "object" || feeds === null) throw new TrainError(`data(step ${step}, micro ${micro}) returned ${String(feeds)}; expected feeds by input name`);
    const known = this.trainStep.batchInputs.map((b) => b.name);
    for (const k of Object.keys(feeds)) {
      if (!known.includes(k)) throw new TrainError(`data(step ${step}, micro ${micro}) returned ${k}, which is not a model input; inputs are ${known.join(", ")}`);
    }
    const first = this.trainStep.batchInputs.length ? feeds[this.trainStep.batchInputs[0]!.name] : undefined;
    return { feeds, samples: first && first.rank > 0 ? first.shape[0]! : 1 };
  }

  private async runStep(sessions: Session[], carried: Map<string, Tensor>, step: number, lr: number, noise: NoiseSource) {
    const scalars = this.trainStep.scalarFeeds(step, lr);
    const metricNames = this.trainStep.metrics;
    const metrics: Record<string, number> = Object.fromEntries(metricNames.map((m) => [m, 0]));
    const state = Object.fromEntries(carried);
    let out: Record<string, Tensor>;
    let loss = 0;
    let samples = 0;
    if (sessions.length === 1) {
      const b = await this.batch(step, 0, noise);
      out = await sessions[0]!.run(feedsFor(sessions[0]!, { ...state, ...b.feeds, ...scalars }));
      loss = scalarOf(out, LOSS_OUTPUT);
      samples = b.samples;
      for (const m of metricNames) metrics[m] = scalarOf(out, metricOutput(m));
    } else {
      const k = this.trainStep.accumulation;
      const params = Object.fromEntries(this.trainStep.trainable.map((p) => [p.name, carried.get(p.name)!]));
      let sums: Record<string, Tensor> = Object.fromEntries(this.trainStep.trainable.map((p) => [gradSum(p.name), Tensor.zeros("float32", p.shape)]));
      for (let micro = 0; micro < k; micro++) {
        const b = await this.batch(step, micro, noise);
        const o = await sessions[0]!.run(feedsFor(sessions[0]!, { ...params, ...sums, ...b.feeds }));
        sums = Object.fromEntries(Object.keys(sums).map((n) => [n, o[nextOf(n)]!]));
        loss += scalarOf(o, LOSS_OUTPUT) / k;
        samples += b.samples;
        for (const m of metricNames) metrics[m]! += scalarOf(o, metricOutput(m)) / k;
      }
      out = await sessions[1]!.run(feedsFor(sessions[1]!, { ...state, ...sums, ...scalars }));
    }
    const next = new Map<string, Tensor>();
    for (const name of carried.keys()) next.set(name, out[nextOf(name)]!);
    return { carried: next, loss, gradNorm: scalarOf(out, GRAD_NORM_OUTPUT), samples, metrics };
  }
}
