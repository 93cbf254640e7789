// Reuse and Diffuse (Gu et al. 2023, arXiv 2309.03549; VIDRD.md section 3): a long video as a chain of
// N-frame clips, each started from the reversed latent path of the one before.
//
// Notation (paper / VIDRD.md -> code):
//   N frames per clip, M overlap frames, T steps     clip.frames, overlap, steps
//   z_i, the latents entering denoising step i       z (in denoiseClip's beforeStep)
//   hist[i] = flip_F(z_i), stored for the next clip   history[i]
//   r, PNS strength; g, DSG strength                 noiseRecycle, stagedGuidance
//
//   FNR  z_T[j] = hist_prev[0][j]                                        j < M
//   PNS  z_T[j] = r / sqrt(1 + r^2) hist_prev[0][j] + 1 / sqrt(1 + r^2) eps_j    j >= M
//   DSG  z_i[f] <- hist_prev[i][f] while i < (M - f) (T / M) g            f < M, before the model call
//
// Only one clip's history lives at a time: at step i of clip k, history[i] is read (DSG) and then replaced
// by clip k's own, so memory holds T + 1 clip-sized tensors whatever the number of clips.
//
// Which frames are output: "faithful" (the authors' pipeline) emits all N frames of every clip, N K in
// all, so the M overlap frames appear twice, mirrored; "default" emits the N - M new frames of every
// clip after the first, N + (K - 1)(N - M) in all, and yields the whole clip as decoder context.
//
// Random draws, in order. "faithful" draws as the authors' pipeline does: clip 0's z_T as N draws of
// [B, C, 1, H, W] (their randn_progressive with noise_alpha 0); each continuation clip's PNS noise as one
// [B, C, N, H, W]; and each stochastic step (DDIM with eta > 0, DDPM) as one [B*N, C, H, W] permuted to
// [B, C, N, H, W] (denoiseClip's stepNoiseLayout "frame-batch"), because they reshape the latents to
// [B*N, C, H, W] before scheduler.step, so diffusers draws the variance noise in (b, f, c, h, w) order.
// "default" draws clip 0's z_T and every step's noise as one [B, C, N, H, W].
//
// Deliberate difference from the authors (model/pipeline.py, the clip loop): PNS's fresh draw is
// multiplied by the sampler's initNoiseSigma (pastDependentNoise's `sigma`), so the new frames start at
// the sampler's scale, as hist_prev[0] does; the authors add the draw unscaled. The two are identical for
// DDIM, DDPM and DPM-Solver++ (sigma = 1; the authors ran DDIM); with Euler (sigma about sigma_max, > 10
// for SD's schedule) unscaled fresh noise would start the new frames far below the sampler's noise level.
//
// Replaying noise recorded from the authors' code (ReplayNoise, src/io/replay-noise.ts), two caveats:
//   - their PNS noise is torch.normal(0, 1 / sqrt(1 + r^2)) (model/utils.py randn_base), which returns
//     std * z for z the next standard normals of the randn stream; here the fresh draw is z itself and the
//     weight is applied after. A recording from their code must store z = draw / (1 / sqrt(1 + r^2)), i.e.
//     draw / 0.2425 at r = 4 (equal to z up to float32 rounding), or the new frames are weighted twice.
//   - their evaluator (model/model.py) samples batch_size = 4 prompts at once from one generator per
//     worker (seeded seed + rank, and run on from batch to batch), so each draw is [4, C, ...] and a
//     prompt's noise is its slice of it: it depends on the batch it ran in and on every draw before. To
//     replay one prompt at B = 1, record that prompt's slice of each draw (for the frame-batch step noise,
//     rows b*N .. b*N + N - 1 of [4*N, C, H, W]); a run of theirs with that prompt alone draws other noise.

import type { SchedulerState } from "../../schedulers/create.js";
import type { Scheduler } from "../../schedulers/types.js";
import { frameConcat, framesReversed } from "../../tensor/frames.js";
import type { NoiseSource } from "../../tensor/noise.js";
import { Tensor } from "../../tensor/tensor.js";
import { clipLatentShape, denoiseClip, samplingScheduler, startingNoise } from "../text-to-clip.js";
import type { ClipShape, LatentChunk, LongVideoRequest, LongVideoStrategy } from "../types.js";
import { ProgressMeter, checkClipShape, checkOptionNames, clipCount, integerOption, throwIfAborted } from "./common.js";


export type VidrdMode = "faithful" | "default";
export const VIDRD_MODES: readonly VidrdMode[] = ["faithful", "default"];

export interface VidrdOptions {
  /** M, frames shared by consecutive clips: an integer in [0, N - 1]; default 4. */
  overlap?: number;
  /** r, the PNS strength: a finite number >= 0 (0: fresh noise for the new frames); default 4. */
  noiseRecycle?: number;
  /** g, the DSG strength: a number in [0, 1] (0: no staged guidance); default 0.4. */
  stagedGuidance?: number;
  /** "default" drops the duplicated overlap frames from the output; "faithful" keeps them and draws noise as the authors do. */
  mode?: VidrdMode;
  /**
   * hist[i] of a clip that came before this video (continuation.ts builds it by DDIM inversion): T tensors
   * [B, C, N, H, W] in sampling order. With it, every clip, the first included, is a continuation clip.
   */
  initialHistory?: readonly Tensor[];
}

export const VIDRD_DEFAULTS = { overlap: 4, noiseRecycle: 4, stagedGuidance: 0.4, mode: "default" } as const;

const OPTION_NAMES = ["overlap", "noiseRecycle", "stagedGuidance", "mode", "initialHistory"] as const;

export interface ResolvedVidrdOptions {
  overlap: number;
  noiseRecycle: number;
  stagedGuidance: number;
  mode: VidrdMode;
  initialHistory: readonly Tensor[] | undefined;
}

/** PNS's two weights (VIDRD.md section 3): r / sqrt(1 + r^2) on the old noise, 1 / sqrt(1 + r^2) on the fresh; r = 4 gives 0.9701, 0.2425. */
export function noiseRecycleWeights(r: number): { reuse: number; fresh: number } {
  const norm = Math.sqrt(1 + r * r);
  return { reuse: r / norm, fresh: 1 / norm };
}

/** DSG's rule: overlap frame f is guided at step i while i < (M - f) (T / M) g (the authors' expression, same evaluation order). */
export function isStagedGuided(stepIndex: number, frame: number, overlap: number, steps: number, g: number): boolean {
  return frame < overlap && stepIndex < (overlap - frame) * (steps / overlap) * g;
}

/** How many steps each overlap frame f = 0 .. M - 1 is guided for; [20, 15, 10, 5] at T = 50, M = 4, g = 0.4. */
export function stagedGuidanceSteps(overlap: number, steps: number, g: number): number[] {
  return Array.from({ length: overlap }, (_, f) => {
    let n = 0;
    for (let i = 0; i < steps; i++) if (isStagedGuided(i, f, overlap, steps, g)) n++;
    return n;
  });
}

/**
 * FNR and PNS: the starting noise of a continuation clip from hist_prev[0] (the previous start, reversed)
 * and fresh standard normals `fresh` of the whole clip shape, of which the last N - M frames are used.
 * `sigma` scales the fresh noise to the sampler's start (hist_prev[0] is already at that scale); the
 * authors never scale it, the same for their DDIM (sigma = 1); see the header.
 */
export function pastDependentNoise(previousStartReversed: Tensor, fresh: Float32Array, overlap: number, r: number, sigma: number): Tensor<"float32"> {
  const [B, C, N, H, W] = previousStartReversed.shape;
  const old = previousStartReversed.data as Float32Array;
  if (fresh.length !== old.length) throw new Error(`fresh noise has ${fresh.length} values; the clip [${B}, ${C}, ${N}, ${H}, ${W}] has ${old.length}`);
  const { reuse, fresh: w } = noiseRecycleWeights(r);
  const plane = H * W;
  const z = new Float32Array(old.length);
  for (let bc = 0; bc < B * C; bc++) {
    const base = bc * N * plane;
    const split = base + overlap * plane;
    for (let k = base; k < split; k++) z[k] = old[k]; // FNR: frames j < M
    for (let k = split; k < base + N * plane; k++) z[k] = reuse * old[k] + w * sigma * fresh[k]; // PNS: j >= M
  }
  return new Tensor("float32", z, previousStartReversed.shape);
}

/** DSG: frames f < M of z overwritten with hist_prev[i][f] where the rule holds at step i (a copy; z is not changed). */
export function stagedGuidance(z: Tensor<"float32">, previous: Tensor, stepIndex: number, overlap: number, steps: number, g: number): Tensor<"float32"> {
  const [B, C, N, H, W] = z.shape;
  const plane = H * W;
  let out: Float32Array | undefined;
  for (let f = 0; f < overlap; f++) {
    if (!isStagedGuided(stepIndex, f, overlap, steps, g)) continue;
    out ??= z.data.slice();
    const prev = previous.data as Float32Array;
    for (let bc = 0; bc < B * C; bc++) {
      const at = (bc * N + f) * plane;
      out.set(prev.subarray(at, at + plane), at);
    }
  }
  return out ? new Tensor("float32", out, z.shape) : z;
}

/** The options with defaults filled in and checked against the clip length N (and T for a history). */
export function resolveVidrdOptions(options: VidrdOptions | undefined, clip: ClipShape, steps: number): ResolvedVidrdOptions {
  const o = options ?? {};
  checkOptionNames("vidrd", o, OPTION_NAMES);
  const N = clip.frames;
  const overlap = o.overlap ?? VIDRD_DEFAULTS.overlap;
  const noiseRecycle = o.noiseRecycle ?? VIDRD_DEFAULTS.noiseRecycle;
  const stagedGuidance = o.stagedGuidance ?? VIDRD_DEFAULTS.stagedGuidance;
  const mode = o.mode ?? VIDRD_DEFAULTS.mode;
  integerOption("overlap", overlap, 0, N - 1, `M < N = clip.frames = ${N}: a clip must have new frames`);
  if (typeof noiseRecycle !== "number" || !Number.isFinite(noiseRecycle) || noiseRecycle < 0) {
    throw new RangeError(`noiseRecycle is ${String(noiseRecycle)}; allowed: a finite number >= 0`);
  }
  if (typeof stagedGuidance !== "number" || !(stagedGuidance >= 0 && stagedGuidance <= 1)) {
    throw new RangeError(`stagedGuidance is ${String(stagedGuidance)}; allowed: a number in [0, 1]`);
  }
  if (!VIDRD_MODES.includes(mode)) throw new RangeError(`mode is ${JSON.stringify(mode)}; allowed: ${VIDRD_MODES.join(", ")}`);
  const h = o.initialHistory;
  if (h !== undefined) {
    const want = clipLatentShape(clip);
    if (!Array.isArray(h) || h.length !== steps) {
      throw new RangeError(`initialHistory has ${Array.isArray(h) ? h.length : "no"} entries; allowed: one per denoising step, ${steps}`);
    }
    h.forEach((t: Tensor, i: number) => {
      if (!(t instanceof Tensor) || t.dtype !== "float32" || t.rank !== 5 || t.shape.some((d, a) => d !== want[a])) {
        throw new RangeError(`initialHistory[${i}] is ${t instanceof Tensor ? t.describe() : String(t)}; allowed: float32[${want.join(", ")}], the clip shape`);
      }
    });
  }
  return { overlap, noiseRecycle, stagedGuidance, mode, initialHistory: h };
}

/** Output frames of the first clip and of each later one: what `clipCount` and per-clip prompts need. */
export function vidrdClipFrames(options: Pick<ResolvedVidrdOptions, "overlap" | "mode" | "initialHistory">, clipFrames: number): { first: number; next: number } {
  const next = options.mode === "faithful" ? clipFrames : clipFrames - options.overlap;
  return { first: options.initialHistory ? next : clipFrames, next };
}

interface Plan {
  scheduler: Scheduler<SchedulerState>;
  steps: number;
  clips: number;
  options: ResolvedVidrdOptions;
}

function plan(request: LongVideoRequest, options: VidrdOptions | undefined): Plan {
  checkClipShape(request.clip);
  for (const key of ["predictor", "prompts"] as const) {
    if (typeof request[key] !== "function") throw new TypeError(`request.${key} is ${typeof request[key]}; allowed: a function`);
  }
  if (typeof request.noise?.randn !== "function") throw new TypeError("request.noise has no randn; allowed: a NoiseSource (SeededNoise, ReplayNoise, ...)");
  const scheduler = samplingScheduler(request.scheduler);
  const steps = scheduler.timesteps.length;
  const resolved = resolveVidrdOptions(options, request.clip, steps);
  const { first, next } = vidrdClipFrames(resolved, request.clip.frames);
  return { scheduler, steps, clips: clipCount(request.length, first, next), options: resolved };
}

/** Clip 0's z_T: faithful draws frame by frame, N draws of [B, C, 1, H, W] (the authors' randn_progressive with noise_alpha 0); default one draw. */
function firstClipNoise(noise: NoiseSource, clip: ClipShape, mode: VidrdMode, sigma: number): Tensor<"float32"> {
  const shape = clipLatentShape(clip);
  if (mode === "default") return startingNoise(noise, shape, sigma);
  const frame = [clip.batch, clip.channels, 1, clip.height, clip.width];
  const frames = Array.from({ length: clip.frames }, () => startingNoise(noise, frame, sigma));
  return frameConcat(frames); // [B, C, N, H, W]
}

async function* generate(request: LongVideoRequest, options: VidrdOptions): AsyncGenerator<LatentChunk, void, undefined> {
  const { scheduler, steps, clips, options: o } = plan(request, options);
  const { clip, noise, signal } = request;
  const N = clip.frames;
  const M = o.overlap;
  const shape = clipLatentShape(clip);
  const { first, next } = vidrdClipFrames(o, N);
  const meter = new ProgressMeter(clips * steps, request.onProgress);
  // hist[i] of the previous clip, replaced step by step by the current clip's (the authors' latents_past_rev)
  const history: Tensor[] = o.initialHistory ? [...o.initialHistory] : [];
  for (let k = 0; k < clips; k++) {
    throwIfAborted(signal);
    const continuing = history.length === steps;
    // every random draw of a continuation clip: one [B, C, N, H, W] for PNS, of which frames M.. are used
    const start = continuing
      ? pastDependentNoise(history[0]!, noise.randn(shape), M, o.noiseRecycle, scheduler.initNoiseSigma)
      : firstClipNoise(noise, clip, o.mode, scheduler.initNoiseSigma);
    const emitStart = continuing && o.mode === "default" ? M : 0;
    const firstFrame = k === 0 ? 0 : first + (k - 1) * next;
    // the clip's frames as output frames; overlap frames are the previous clip's last ones (before 0 when continuing a given video)
    const clipStart = firstFrame - emitStart;
    const prompt = request.prompts(Math.max(0, clipStart), clipStart + N);
    const z0 = await denoiseClip({
      scheduler,
      predictor: request.predictor,
      prompt,
      start,
      noise,
      // the authors step [B*N, C, H, W]: stochastic samplers draw in that order (see the header)
      stepNoiseLayout: o.mode === "faithful" ? "frame-batch" : "clip",
      signal,
      beforeStep: (i, z) => {
        const guided = continuing ? stagedGuidance(z, history[i]!, i, M, steps, o.stagedGuidance) : z;
        // hist[i] = flip_F(z_i), after DSG as in the authors' loop
        history[i] = framesReversed(guided);
        return guided;
      },
      onEvaluated: (i) => meter.evaluated(k, clips, i + 1, steps),
    });
    yield { clip: k, latents: z0, emitStart, emitEnd: N, firstFrame };
  }
}

export const vidrdStrategy: LongVideoStrategy<VidrdOptions> = {
  name: "vidrd",
  validate(request, options) {
    plan(request, options);
  },
  generate,
};
