// The decoder cut into stages for chunked decoding (chunked.ts). A temporal conv's GroupNorm takes its
// statistics over all F frames of the clip (models-spec.md section 5.2), so no stage may apply one before
// every frame of its input exists: each stage ends where a temporal GroupNorm begins. A stage runs on a
// chunk of n frames, takes the GroupNorm's clip statistics as inputs, and returns its output for the chunk
// together with that output's per-chunk group moments, from which the host forms the next statistics.
//
//   stem stage:        latents chunk [B, L, n, h, w] -> per-frame steps up to the first temporal conv
//   temporal stage r:  window [B, C, n+2, H, W] (one frame of halo each side, zero-masked outside the clip)
//                      -> GN(given mean, rstd) -> SiLU -> mask -> Conv3d (3,1,1) without padding -> [B, C, n, H, W]
//                      repeat 2 adds the layer input (`residual`) and runs the per-frame steps that follow.
// The mask turns the halo frames outside the clip into the zeros the full decoder's Conv3d padding sees.

import { Graph, type Value } from "../../graph/graph.js";
import * as ops from "../../graph/ops/index.js";
import { conv3d, foldFrames, Scope, temporalConvKeys, unfoldFrames } from "../../nn/index.js";
import { VAE_TEMPORAL_REPEATS, type VaeConfig } from "./config.js";
import { type DecoderStep, decoderSteps, spatialStep, temporalScope } from "./decoder.js";

type TemporalStep = Extract<DecoderStep, { kind: "temporal" }>;

export interface StagePlan {
  /** The temporal conv and repeat the stage starts with; null for the stem stage. */
  temporal: { step: TemporalStep; repeat: number } | null;
  /** Per-frame steps after the temporal part (repeat 2) or of the stem stage. */
  spatial: DecoderStep[];
  inChannels: number;
  outChannels: number;
  /** Spatial size of input and output as multiples of the latent's. */
  inScale: number;
  outScale: number;
  /** The output feeds a temporal GroupNorm, so the stage also returns its group moments. */
  emitsMoments: boolean;
}

/** The stages of the decoder; one stage (the whole per-frame decoder) when `temporal` is off. */
export function stagePlans(cfg: VaeConfig, temporal: boolean): StagePlan[] {
  const steps = decoderSteps(cfg, temporal);
  const plans: StagePlan[] = [];
  let channels = cfg.latentChannels;
  let scale = 1;
  let current: StagePlan = { temporal: null, spatial: [], inChannels: channels, outChannels: channels, inScale: 1, outScale: 1, emitsMoments: false };
  const close = () => {
    current.outChannels = channels;
    current.outScale = scale;
    plans.push(current);
  };
  for (const step of steps) {
    if (step.kind === "temporal") {
      current.emitsMoments = true;
      close();
      for (let repeat = 0; repeat < VAE_TEMPORAL_REPEATS; repeat++) {
        current = { temporal: { step, repeat }, spatial: [], inChannels: channels, outChannels: channels, inScale: scale, outScale: scale, emitsMoments: false };
        if (repeat < VAE_TEMPORAL_REPEATS - 1) {
          current.emitsMoments = true;
          close();
        }
      }
      continue;
    }
    current.spatial.push(step);
    if (step.kind === "stem") channels = step.channels;
    else if (step.kind === "resnet") channels = step.outChannels;
    else if (step.kind === "upsample") scale *= 2;
    else if (step.kind === "head") channels = cfg.outChannels;
  }
  close();
  return plans;
}

export interface StageShape {
  batch: number;
  /** Frames per chunk (n). */
  chunkFrames: number;
  latentHeight: number;
  latentWidth: number;
}

/** (x - mean[b, g]) * rstd[b, g] * weight[c] + bias[c] on x [B, C, T, H, W] with G channel groups. */
function normalizeWith(s: Scope, x: Value, mean: Value, rstd: Value, groups: number): Value {
  const [b, c] = x.shape as number[];
  const grouped = ops.reshape(x, [b!, groups, -1]); // [B, G, C/G*T*H*W]
  const normed = ops.mul(ops.sub(grouped, ops.unsqueeze(mean, [2])), ops.unsqueeze(rstd, [2]));
  const y = ops.reshape(normed, x.shape); // [B, C, T, H, W]
  const perChannel = [c!, 1, 1, 1];
  return ops.add(ops.mul(y, ops.reshape(s.param("weight", [c!]), perChannel)), ops.reshape(s.param("bias", [c!]), perChannel));
}

/**
 * Group moments of y [B, C, n, H, W] over the frames where mask [1, 1, n, 1, 1] is 1: the sum and the sum of
 * squared deviations from the chunk's own mean (combined on the host as Chan et al. 1979 do), each [B, G].
 */
function chunkMoments(y: Value, mask: Value, groups: number): { sum: Value; m2: Value } {
  const [b, c, n, h, w] = y.shape as number[];
  const grouped = ops.reshape(y, [b!, groups, c! / groups, n!, h! * w!]); // [B, G, C/G, n, H*W]
  const m = ops.reshape(mask, [1, 1, 1, n!, 1]);
  const count = ops.mul(ops.reduceSum(m, [3]), (c! / groups) * h! * w!); // [1, 1, 1, 1, 1]
  const sum = ops.reduceSum(ops.mul(grouped, m), [2, 3, 4]); // [B, G, 1, 1, 1]
  const deviation = ops.mul(ops.sub(grouped, ops.div(sum, count)), m);
  const m2 = ops.reduceSum(ops.mul(deviation, deviation), [2, 3, 4]); // [B, G, 1, 1, 1]
  return { sum: ops.reshape(sum, [b!, groups]), m2: ops.reshape(m2, [b!, groups]) };
}

function applySpatial(root: Scope, x5: Value, steps: readonly DecoderStep[], cfg: VaeConfig): Value {
  if (steps.length === 0) return x5;
  let h = foldFrames(x5); // [B*n, C, H, W]
  for (const step of steps) h = spatialStep(root, h, step, cfg);
  return unfoldFrames(h, x5); // [B, C', n, H', W']
}

/**
 * The graph of one stage for a fixed chunk shape. Inputs: `latents` (stem) or `window`, `mean`, `rstd`
 * (+ `residual` at repeat 2); `valid` (frame mask) when needed. Outputs: `out` (+ `sum`, `m2`).
 */
export function buildStageGraph(cfg: VaeConfig, plan: StagePlan, shape: StageShape, name: string): Graph {
  const g = new Graph(name);
  const root = new Scope(g, "", "float32", false);
  const { batch: b, chunkFrames: n } = shape;
  const [h, w] = [shape.latentHeight * plan.inScale, shape.latentWidth * plan.inScale];
  let out: Value;
  let coreMask: Value | null = null;
  if (!plan.temporal) {
    const latents = g.input("latents", "float32", [b, cfg.latentChannels, n, h, w]);
    if (plan.emitsMoments) coreMask = g.input("valid", "float32", [1, 1, n, 1, 1]);
    out = applySpatial(root, ops.mul(latents, 1 / cfg.scalingFactor), plan.spatial, cfg);
  } else {
    const { step, repeat } = plan.temporal;
    const c = plan.inChannels;
    const groups = cfg.tempNormNumGroups;
    const window = g.input("window", "float32", [b, c, n + 2, h, w]);
    const valid = g.input("valid", "float32", [1, 1, n + 2, 1, 1]);
    const mean = g.input("mean", "float32", [b, groups]);
    const rstd = g.input("rstd", "float32", [b, groups]);
    const s = temporalScope(root, step, false);
    const keys = temporalConvKeys("vidrd", repeat);
    const activated = ops.mul(ops.silu(normalizeWith(s.child(keys.norm), window, mean, rstd, groups)), valid);
    out = conv3d(s.child(keys.conv), activated, c, c, { kernel: [3, 1, 1], padding: [0, 0, 0] }); // [B, C, n, H, W]
    if (repeat === VAE_TEMPORAL_REPEATS - 1) {
      const residual = g.input("residual", "float32", [b, c, n, h, w]);
      out = applySpatial(root, ops.add(residual, out), plan.spatial, cfg);
    }
    coreMask = ops.slice(valid, 2, 1, n + 1); // [1, 1, n, 1, 1]
  }
  g.output("out", out);
  if (plan.emitsMoments) {
    const { sum, m2 } = chunkMoments(out, coreMask!, cfg.tempNormNumGroups);
    g.output("sum", sum);
    g.output("m2", m2);
  }
  return g;
}
