// A training step compiled as graphs, so that one ONNX Runtime run is one optimizer step (or one
// micro-batch). Trainable parameters and the optimizer state are graph inputs whose new values come back
// as outputs (`next.<name>`); frozen parameters stay initializers baked in at compile time.
//
// Without accumulation (k = 1) there is one graph, "step": forward, backward, clipping, AdamW, EMA.
// With k micro-batches there are two:
//   "accumulate": forward + backward of one micro-batch; inputs the trainable parameters, the batch and
//                 grad_sum.<p>; outputs loss and next.grad_sum.<p> = grad_sum.<p> + dL_micro/dp.
//                 Run k times, starting from zeros.
//   "apply":      inputs the parameters, the optimizer state and grad_sum.<p>; applies AdamW to
//                 grad_sum / k (for a mean loss over equal micro-batches, the gradient of the mean over
//                 the whole k*b batch) and outputs grad_norm and the new parameters and state.
// The apply graph holds no model, so its cost does not grow with the model's depth.

import type { DType, Tensor } from "../../tensor/tensor.js";
import { gradients } from "../autodiff.js";
import { type Dim, isStatic, shapeToString } from "../dim.js";
import { Graph, type Value } from "../graph.js";
import { fail } from "../ops/common.js";
import { add, div } from "../ops/elementwise.js";
import { type AdamWOptions, type ResolvedAdamW, type ParamGrad, addAdamWUpdate, adamwScalars, resolveAdamW } from "./adamw.js";
import { GRAD_NORM_OUTPUT, LOSS_OUTPUT, adamM, adamV, emaOf, gradSum, metricOutput, nextOf } from "./names.js";

/** What a model builder returns: a scalar loss, and optionally other scalars to log. */
export interface TrainModel {
  loss: Value;
  metrics?: Readonly<Record<string, Value>>;
}

export type TrainModelBuilder = (g: Graph) => TrainModel;

export interface TrainStepOptions {
  adamw?: AdamWOptions;
  /** Micro-batches per optimizer step; default 1. */
  accumulation?: number;
  /** Which parameters to train; default: the `trainable` flag each parameter was declared with. */
  trainable?: (name: string) => boolean;
  /** Graph name prefix; default "train". */
  name?: string;
}

export interface TensorShape {
  name: string;
  shape: readonly number[];
}

/** A tensor carried across steps and how it starts: zeros (Adam's moments) or a copy of a parameter (EMA). */
export interface StateTensor extends TensorShape {
  init: { zeros: true } | { copyOf: string };
}

export interface BatchInput {
  name: string;
  dtype: DType;
  shape: readonly Dim[];
}

export type TrainStepGraphs =
  | { kind: "fused"; step: Graph }
  | { kind: "accumulate"; accumulate: Graph; apply: Graph };

export interface TrainStep {
  graphs: TrainStepGraphs;
  accumulation: number;
  adamw: ResolvedAdamW;
  /** Trainable parameters (graph inputs, in declaration order). */
  trainable: readonly TensorShape[];
  /** Frozen parameters the model uses (initializers: their weights are needed at compile time). */
  frozen: readonly string[];
  /** Optimizer state besides the parameters: adam.m.*, adam.v.*, ema.* . */
  state: readonly StateTensor[];
  /** The model's own inputs (fed by the data function). */
  batchInputs: readonly BatchInput[];
  /** Names of the metrics the model reports (outputs metric.<name>). */
  metrics: readonly string[];
  /** The `paramsAsInputs` to compile every graph of this step with. */
  paramsAsInputs: (name: string) => boolean;
  /** The scalar feeds (lr, bias corrections) of the update at step t (1-based). */
  scalarFeeds(step: number, lr: number): Record<string, Tensor>;
}

/** Builds the model in `g` and differentiates its loss with respect to the trainable parameters. */
function forwardBackward(g: Graph, build: TrainModelBuilder, isTrainable: (name: string) => boolean) {
  const model = build(g);
  if (!model || !model.loss) fail("buildTrainStep", undefined, "the model builder must return { loss }");
  const specs = g.paramList();
  const trainable = specs.filter((s) => isTrainable(s.value.name)).map((s) => s.value);
  if (trainable.length === 0) fail("buildTrainStep", undefined, `no trainable parameters among ${specs.length} (${specs.map((s) => s.value.name).slice(0, 5).join(", ")}${specs.length > 5 ? ", ..." : ""})`);
  for (const p of trainable) {
    if (p.dtype !== "float32") fail("buildTrainStep", p.name, `only float32 parameters can be trained, got ${p.describe()}`);
    if (!p.shape.every(isStatic)) fail("buildTrainStep", p.name, `trainable parameters need a static shape, got ${shapeToString(p.shape)}`);
  }
  const grads = gradients(model.loss, trainable);
  const metrics = Object.entries(model.metrics ?? {});
  for (const [name, v] of metrics) {
    if (!v.shape.every((d) => d === 1)) fail("buildTrainStep", `metric ${name}`, `metrics must be scalars, got ${v.describe()}`);
  }
  const frozen = specs.filter((s) => !isTrainable(s.value.name)).map((s) => s.value.name);
  return { model, trainable, grads, metrics, frozen };
}

/**
 * Compiles `build` into training-step graphs (the builder is called once). Parameters train when
 * `opts.trainable` says so, else when they were declared trainable; all must be float32 and static.
 */
export function buildTrainStep(build: TrainModelBuilder, opts: TrainStepOptions = {}): TrainStep {
  const adamw = resolveAdamW(opts.adamw);
  const accumulation = opts.accumulation ?? 1;
  if (!Number.isInteger(accumulation) || accumulation < 1) throw new RangeError(`accumulation is ${accumulation}; allowed: an integer >= 1`);
  const prefix = opts.name ?? "train";

  const modelGraph = new Graph(accumulation === 1 ? `${prefix}_step` : `${prefix}_accumulate`);
  // default: the flag each parameter was declared with
  const isTrainable = opts.trainable ?? ((name: string) => modelGraph.params.get(name)?.trainable ?? false);
  const built = forwardBackward(modelGraph, build, isTrainable);
  const { model, trainable, grads, metrics, frozen } = built;
  const trainableNames = new Set(trainable.map((p) => p.name));
  const batchInputs: BatchInput[] = modelGraph.inputs.map((v) => ({ name: v.name, dtype: v.dtype, shape: v.shape }));

  // scalars of any one-element shape; readers take element 0
  modelGraph.output(LOSS_OUTPUT, model.loss);
  for (const [name, v] of metrics) modelGraph.output(metricOutput(name), v);

  let graphs: TrainStepGraphs;
  let updated: Map<string, Value>;
  if (accumulation === 1) {
    const entries: ParamGrad[] = trainable.map((p) => ({ name: p.name, param: p, grad: grads.get(p)! }));
    const upd = addAdamWUpdate(modelGraph, entries, adamw);
    modelGraph.output(GRAD_NORM_OUTPUT, upd.gradNorm);
    for (const [name, v] of upd.updated) modelGraph.output(nextOf(name), v);
    graphs = { kind: "fused", step: modelGraph };
    updated = upd.updated;
  } else {
    for (const p of trainable) {
      const sum = modelGraph.input(gradSum(p.name), "float32", p.shape);
      modelGraph.output(nextOf(gradSum(p.name)), add(sum, grads.get(p)!));
    }
    const apply = new Graph(`${prefix}_apply`);
    const entries: ParamGrad[] = trainable.map((p) => {
      const param = apply.param(p.name, p.shape as number[], "float32", true);
      const sum = apply.input(gradSum(p.name), "float32", p.shape);
      return { name: p.name, param, grad: div(sum, accumulation) };
    });
    const upd = addAdamWUpdate(apply, entries, adamw);
    apply.output(GRAD_NORM_OUTPUT, upd.gradNorm);
    for (const [name, v] of upd.updated) apply.output(nextOf(name), v);
    graphs = { kind: "accumulate", accumulate: modelGraph, apply };
    updated = upd.updated;
  }

  const state: StateTensor[] = [];
  for (const p of trainable) {
    const shape = p.shape as number[];
    state.push({ name: adamM(p.name), shape, init: { zeros: true } }, { name: adamV(p.name), shape, init: { zeros: true } });
    if (updated.has(emaOf(p.name))) state.push({ name: emaOf(p.name), shape, init: { copyOf: p.name } });
  }
  return {
    graphs,
    accumulation,
    adamw,
    trainable: trainable.map((p) => ({ name: p.name, shape: p.shape as number[] })),
    frozen,
    state,
    batchInputs,
    metrics: metrics.map(([n]) => n),
    paramsAsInputs: (name) => trainableNames.has(name),
    scalarFeeds: (step, lr) => adamwScalars(step, lr, adamw.betas),
  };
}
