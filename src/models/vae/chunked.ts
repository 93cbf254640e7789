// Chunked decoding of a long clip: the same frames as the full temporal decoder (within float32 rounding)
// while the runtime only ever holds n + 2 frames of one layer's activations.
//
// Why not windows with a halo: through its Conv3d layers a frame depends on latent frames up to
// temporalConvDepth(cfg) (36 for SD) away, but every temporal GroupNorm takes its statistics over all F
// frames of the clip, so a window of any size short of the clip changes every frame's output. Exactness
// therefore needs those statistics before each GroupNorm: the decoder runs stage by stage (stages.ts),
// each over all chunks; between stages the host keeps the clip's activations at that point (the layer's
// input for the residual, the current and the next activation: three tensors of [B, C, F, H, W]) and
// combines the chunks' group moments into the next GroupNorm's mean and 1/std. Each stage's Conv3d needs
// one frame of halo on each side, read from the host copy.

import type { WeightSource } from "../../graph/onnx/emit.js";
import { Session, type SessionOptions } from "../../runtime/index.js";
import { Tensor } from "../../tensor/tensor.js";
import { VAE_TEMPORAL_NORM_EPS, VAE_TEMPORAL_REPEATS, type VaeConfig, validateVaeConfig } from "./config.js";
import { TEMPORAL_DECODER_MODES, type TemporalDecoderMode } from "./decoder.js";
import { buildStageGraph, type StagePlan, stagePlans, type StageShape } from "./stages.js";

export interface ChunkedDecoderOptions extends SessionOptions {
  temporalDecoder: TemporalDecoderMode;
  /** Frames decoded per runtime call (n). */
  chunkFrames: number;
  /** The latents' batch size and spatial size, fixed at compile time. */
  batch: number;
  latentHeight: number;
  latentWidth: number;
}

interface CompiledStage {
  plan: StagePlan;
  session: Session;
}

/** Per (batch row, group): count, mean and sum of squared deviations, merged chunk by chunk in float64. */
class GroupMoments {
  private readonly count: Float64Array;
  private readonly mean: Float64Array;
  private readonly m2: Float64Array;

  constructor(readonly size: number) {
    this.count = new Float64Array(size);
    this.mean = new Float64Array(size);
    this.m2 = new Float64Array(size);
  }

  /** Chan, Golub & LeVeque (1979): merge a chunk of `n` values with sum `sum` and deviations `m2`. */
  add(n: number, sum: Float32Array, m2: Float32Array): void {
    for (let i = 0; i < this.size; i++) {
      const na = this.count[i]!;
      const total = na + n;
      const delta = sum[i]! / n - this.mean[i]!;
      this.mean[i] = this.mean[i]! + (delta * n) / total;
      this.m2[i] = this.m2[i]! + m2[i]! + (delta * delta * na * n) / total;
      this.count[i] = total;
    }
  }

  /** GroupNorm's mean and 1/sqrt(biased variance + eps) as [B, G] inputs. */
  normalizers(batch: number, eps: number): { mean: Tensor<"float32">; rstd: Tensor<"float32"> } {
    const groups = this.size / batch;
    const mean = new Float32Array(this.size);
    const rstd = new Float32Array(this.size);
    for (let i = 0; i < this.size; i++) {
      mean[i] = this.mean[i]!;
      rstd[i] = 1 / Math.sqrt(this.m2[i]! / this.count[i]! + eps);
    }
    return { mean: new Tensor("float32", mean, [batch, groups]), rstd: new Tensor("float32", rstd, [batch, groups]) };
  }
}

/** Frames [start, start + count) of x [B, C, F, H, W] (start may be negative); zeros outside 0..F-1. */
function readFrames(x: Tensor, start: number, count: number): Tensor<"float32"> {
  const [b, c, f, h, w] = x.shape as [number, number, number, number, number];
  const plane = h * w;
  const src = x.data as Float32Array;
  const dst = new Float32Array(b * c * count * plane);
  const from = Math.max(start, 0);
  const to = Math.min(start + count, f);
  for (let bc = 0; bc < b * c && to > from; bc++) {
    dst.set(src.subarray((bc * f + from) * plane, (bc * f + to) * plane), (bc * count + from - start) * plane);
  }
  return new Tensor("float32", dst, [b, c, count, h, w]);
}

/** Writes the first `count` frames of chunk y [B, C, n, H, W] into frames at..at+count-1 of clip. */
function writeFrames(clip: Tensor, y: Tensor, at: number, count: number): void {
  const [b, c, f, h, w] = clip.shape as [number, number, number, number, number];
  const n = y.shape[2]!;
  const plane = h * w;
  const src = y.data as Float32Array;
  const dst = clip.data as Float32Array;
  for (let bc = 0; bc < b * c; bc++) dst.set(src.subarray(bc * n * plane, (bc * n + count) * plane), (bc * f + at) * plane);
}

/** [1, 1, count, 1, 1]: 1 for frames start.. inside the clip of `frames` frames, else 0. */
function frameMask(start: number, count: number, frames: number): Tensor<"float32"> {
  const m = Float32Array.from({ length: count }, (_, i) => (start + i >= 0 && start + i < frames ? 1 : 0));
  return new Tensor("float32", m, [1, 1, count, 1, 1]);
}

function checkPositiveInteger(field: string, v: unknown): void {
  if (typeof v !== "number" || !Number.isInteger(v) || v < 1) throw new RangeError(`chunked VAE decoder: ${field} must be a positive integer, got ${String(v)}`);
}

export class ChunkedVaeDecoder {
  private perFrame: Promise<CompiledStage[]> | null = null;

  private constructor(
    readonly config: VaeConfig,
    readonly options: Readonly<ChunkedDecoderOptions>,
    private readonly weights: WeightSource,
    private readonly stages: CompiledStage[],
  ) {}

  /** Compiles one runtime session per stage (37 for SD with the temporal decoder, 1 per-frame). */
  static async compile(config: VaeConfig, weights: WeightSource, options: ChunkedDecoderOptions): Promise<ChunkedVaeDecoder> {
    validateVaeConfig(config);
    for (const field of ["chunkFrames", "batch", "latentHeight", "latentWidth"] as const) checkPositiveInteger(field, options[field]);
    if (!TEMPORAL_DECODER_MODES.includes(options.temporalDecoder)) {
      throw new RangeError(`chunked VAE decoder: temporalDecoder must be one of ${TEMPORAL_DECODER_MODES.join(", ")}, got ${String(options.temporalDecoder)}`);
    }
    const stages = await compileStages(config, weights, options, options.temporalDecoder === "clip");
    return new ChunkedVaeDecoder(config, { ...options }, weights, stages);
  }

  /**
   * The stages for a clip of `frames` frames: a one-frame clip skips the temporal layers (the authors'
   * identity), compiled on first use. Used by decodeChunked. @internal
   */
  stagesFor(frames: number): Promise<CompiledStage[]> {
    if (frames > 1 || this.stages.every((s) => !s.plan.temporal)) return Promise.resolve(this.stages);
    this.perFrame ??= compileStages(this.config, this.weights, this.options, false);
    return this.perFrame;
  }

  async release(): Promise<void> {
    const perFrame = this.perFrame ? await this.perFrame : [];
    for (const s of [...this.stages, ...perFrame]) await s.session.release();
  }
}

async function compileStages(cfg: VaeConfig, weights: WeightSource, opts: ChunkedDecoderOptions, temporal: boolean): Promise<CompiledStage[]> {
  const shape: StageShape = { batch: opts.batch, chunkFrames: opts.chunkFrames, latentHeight: opts.latentHeight, latentWidth: opts.latentWidth };
  const { device, deviceId, threads, optimization } = opts;
  const compiled: CompiledStage[] = [];
  try {
    for (const [i, plan] of stagePlans(cfg, temporal).entries()) {
      const graph = buildStageGraph(cfg, plan, shape, `vae_decoder_stage_${i}`);
      compiled.push({ plan, session: await Session.fromGraph(graph, { weights, device, deviceId, threads, optimization }) });
    }
  } catch (e) {
    for (const s of compiled) await s.session.release();
    throw e;
  }
  return compiled;
}

/**
 * Decodes latents [B, L, F, h, w] (diffusion space) into frames [B, out, F, H, W] chunk by chunk, equal to
 * buildVaeDecoderGraph's output for the same temporalDecoder mode. Host memory holds up to three
 * activations of the whole clip (see the file comment); the runtime holds one chunk plus halo.
 */
export async function decodeChunked(decoder: ChunkedVaeDecoder, latents: Tensor, opts: { signal?: AbortSignal } = {}): Promise<Tensor<"float32">> {
  const { config: cfg, options: o } = decoder;
  const want = [o.batch, cfg.latentChannels, "F", o.latentHeight, o.latentWidth];
  if (latents.dtype !== "float32" || latents.rank !== 5 || want.some((d, i) => typeof d === "number" && latents.shape[i] !== d) || latents.shape[2]! < 1) {
    throw new Error(`decodeChunked: latents are ${latents.describe()}; this decoder was compiled for float32[${want.join(", ")}] with F >= 1`);
  }
  const frames = latents.shape[2]!;
  const n = o.chunkFrames;
  const chunks = Math.ceil(frames / n);
  const stages = await decoder.stagesFor(frames);
  const lastRepeat = VAE_TEMPORAL_REPEATS - 1;
  let current: Tensor = latents;
  let residual: Tensor | null = null;
  let moments: GroupMoments | null = null;
  for (const { plan, session } of stages) {
    const [h, w] = [o.latentHeight * plan.outScale, o.latentWidth * plan.outScale];
    const out = Tensor.zeros("float32", [o.batch, plan.outChannels, frames, h, w]);
    const next = plan.emitsMoments ? new GroupMoments(o.batch * cfg.tempNormNumGroups) : null;
    const temporal = plan.temporal;
    if (temporal?.repeat === 0) residual = current; // the temporal conv's input, added back after its last repeat
    const norm = temporal ? moments!.normalizers(o.batch, VAE_TEMPORAL_NORM_EPS) : null;
    for (let k = 0; k < chunks; k++) {
      opts.signal?.throwIfAborted();
      const start = k * n;
      const core = Math.min(n, frames - start);
      const feeds: Record<string, Tensor> = temporal
        ? { window: readFrames(current, start - 1, n + 2), valid: frameMask(start - 1, n + 2, frames), mean: norm!.mean, rstd: norm!.rstd }
        : { latents: readFrames(current, start, n) };
      if (!temporal && plan.emitsMoments) feeds.valid = frameMask(start, n, frames);
      if (temporal?.repeat === lastRepeat) feeds.residual = readFrames(residual!, start, n);
      const result = await session.run(feeds);
      writeFrames(out, result.out!, start, core);
      next?.add(core * (plan.outChannels / cfg.tempNormNumGroups) * h * w, result.sum!.data as Float32Array, result.m2!.data as Float32Array);
    }
    if (temporal?.repeat === lastRepeat) residual = null;
    current = out;
    moments = next;
  }
  return current as Tensor<"float32">;
}
