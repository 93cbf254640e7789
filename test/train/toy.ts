// A toy regression shared by the trainer tests and the child-process script: y = x w* + b* + noise,
// fitted by an element-wise "linear" layer (reduceSum(x[:, :, None] * w, 1) + b) so that it needs only
// element-wise and reduction gradient rules. A frozen per-output gain multiplies the prediction.

import { Graph, ops } from "../../src/graph/index.js";
import type { BatchContext, TrainConfigInput } from "../../src/train/index.js";
import { mseLoss } from "../../src/train/losses.js";
import { Tensor } from "../../src/tensor/tensor.js";

export const IN = 3;
export const OUT = 2;
export const BATCH = 8;
const W_TRUE = [0.5, -1, 2, 0.25, -0.75, 1.5]; // [IN, OUT]
const B_TRUE = [0.3, -0.2];
const GAIN = [1.5, 0.5]; // frozen

export function toyModel(g: Graph, batch: number = BATCH) {
  const x = g.input("x", "float32", [batch, IN]);
  const y = g.input("y", "float32", [batch, OUT]);
  const w = g.param("fc.weight", [IN, OUT]);
  const b = g.param("fc.bias", [OUT]);
  const gain = g.param("gain", [OUT], "float32", false);
  const pred = ops.mul(ops.add(ops.reduceSum(ops.mul(ops.unsqueeze(x, [2]), w), [1], false), b), gain); // [N, OUT]
  return { loss: mseLoss(pred, y), metrics: { pred_mean: ops.reduceMean(pred, [0, 1], false) } };
}

export function toyWeights(): Map<string, Tensor> {
  return new Map<string, Tensor>([
    ["fc.weight", Tensor.float32([0.1, 0.2, -0.1, 0.05, 0, -0.2], [IN, OUT])],
    ["fc.bias", Tensor.float32([0, 0], [OUT])],
    ["gain", Tensor.float32(GAIN, [OUT])],
  ]);
}

/** x ~ N(0, 1), y = (x w* + b*) * gain + 0.01 N(0, 1), all from the step's noise. */
export function toyBatch({ noise }: BatchContext, batch = BATCH): Record<string, Tensor> {
  const x = noise.randn([batch, IN]);
  const e = noise.randn([batch, OUT]);
  const y = new Float32Array(batch * OUT);
  for (let n = 0; n < batch; n++) {
    for (let j = 0; j < OUT; j++) {
      let s = B_TRUE[j]!;
      for (let i = 0; i < IN; i++) s += x[n * IN + i]! * W_TRUE[i * OUT + j]!;
      y[n * OUT + j] = s * GAIN[j]! + 0.01 * e[n * OUT + j]!;
    }
  }
  return { x: new Tensor("float32", x, [batch, IN]), y: new Tensor("float32", y, [batch, OUT]) };
}

export function toyConfig(dir: string, steps: number, every: number): TrainConfigInput {
  return {
    steps,
    seed: 7,
    threads: 1,
    lr: { schedule: "cosine", peak: 0.05, warmupSteps: 3, floor: 0.005 },
    adamw: { weightDecay: 0.01, maxGradNorm: 5, emaDecay: 0.9 },
    checkpoint: { dir, every, keep: 2 },
    log: { progress: "none" },
  };
}
