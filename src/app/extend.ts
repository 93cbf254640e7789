// extendVideo: an existing video, continued with vidrd. What `vidrd extend` calls.
//
//   input video --read at the model's size and fps--> output writer (the input's frames come first)
//                      \--> the last N frames (a ring buffer) --VAE encoder--> latents [1, C, N, h, w]
//   latents --continueVideo (DDIM inversion -> vidrd history -> new clips)--> decode --> output writer
//
// The input is read once, streaming: every frame goes to the writer as it is decoded and only the last N
// stay in memory, so an input of any length costs one clip's worth. `frames` / `clips` count the new
// frames. An abort (Ctrl-C) finishes the output with what was written so far, as generateVideo does.

import { existsSync, statSync } from "node:fs";
import { basename, resolve } from "node:path";
import { VideoReader, VideoWriter, framesToTensor, locateFfmpeg, type RgbFrame } from "../media/index.js";
import { AbortedError, classifierFreeGuidance, continueVideo, vidrdStrategy, type GenerationProgress } from "../pipelines/index.js";
import { Tensor } from "../tensor/tensor.js";
import { OptionsError, resolveGenerateSettings, type GenerateSettings } from "./generate-options.js";
import {
  asFlagMessage,
  generateResult,
  openOutput,
  prepareGeneration,
  strategyOptions,
  vaeDecoderMode,
  writeChunks,
  writeVideo,
  type GenerateHooks,
  type GenerateResult,
} from "./generate.js";

export interface ExtendHooks extends GenerateHooks {
  /** Progress of the DDIM inversion of the input's last clip (one evaluation per step), before the new clips. */
  onInversionProgress?: (p: GenerationProgress) => void;
}

export interface ExtendResult extends GenerateResult {
  /** The video that was continued. */
  input: string;
  /** Frames of the input at the output's fps and size: the output's first frames. */
  inputFrames: number;
  /** Frames made after them (fewer than asked for when stopped early). */
  newFrames: number;
}

/** Only vidrd continues a video: its history is what the input's inverted last clip becomes. */
function checkStrategy(strategy: unknown, name: string): void {
  if (strategy !== undefined && strategy !== "vidrd") {
    throw new OptionsError(`${name} is ${JSON.stringify(strategy)}; allowed: vidrd (extend continues a video from vidrd's inverted history)`);
  }
}

/**
 * resolveGenerateSettings for extend: the strategy is checked first, so `--strategy fifo` is named as
 * the mistake rather than the vidrd options that come with it.
 */
export function resolveExtendSettings(raw: Record<string, unknown>, source = "flags"): GenerateSettings {
  checkStrategy(raw.strategy, source === "flags" ? "--strategy" : `${source}: "strategy"`);
  return resolveGenerateSettings(raw, source);
}

/** The input must be an existing file other than the output: the output is written while the input is read. */
function checkInput(input: string, out: string): void {
  if (!existsSync(input)) throw new OptionsError(`<video> ${input} does not exist; allowed: a video file ffmpeg can read`);
  if (!statSync(input).isFile()) throw new OptionsError(`<video> ${input} is not a file; allowed: a video file ffmpeg can read`);
  if (resolve(out) === resolve(input)) throw new OptionsError(`--out ${out} is the input video; allowed: another path (the input is read while the output is written)`);
}

/** The last `size` items of a stream, oldest first, without holding the rest. */
class LastFrames {
  private readonly ring: RgbFrame[] = [];
  private seen = 0;

  constructor(private readonly size: number) {}

  push(frame: RgbFrame): void {
    this.ring[this.seen % this.size] = frame;
    this.seen++;
  }

  get count(): number {
    return this.seen;
  }

  /** In stream order; fewer than `size` when the stream was shorter. */
  frames(): RgbFrame[] {
    if (this.seen <= this.size) return this.ring.slice(0, this.seen);
    const at = this.seen % this.size;
    return [...this.ring.slice(at), ...this.ring.slice(0, at)];
  }
}

/**
 * Writes `settings.out`: the video at `input` (at the settings' size and fps) followed by the frames vidrd
 * continues it with. Every option is checked before the input is read; `settings.strategy` must be vidrd.
 */
export async function extendVideo(input: string, given: GenerateSettings, hooks: ExtendHooks = {}): Promise<ExtendResult> {
  checkStrategy(given.strategy, "--strategy");
  checkInput(input, given.out);
  locateFfmpeg(); // reading the input needs it: say so before the model is loaded
  const prepared = await prepareGeneration(given, hooks, true);
  const { model, request, width, height, fps, steps, settings } = prepared;
  try {
    const N = model.clipFrames;
    const options = strategyOptions(settings);
    // Everything but the history is checked now, before the input is read and the inversion runs (minutes
    // for a real model): the history only has to have the clip's shape for that.
    const clipShape = [request.clip.batch, request.clip.channels, N, request.clip.height, request.clip.width];
    const shapeOnlyHistory = new Tensor("float32", new Float32Array(clipShape.reduce((a, d) => a * d, 1)), clipShape);
    try {
      vidrdStrategy.validate(request, { ...options, initialHistory: Array.from({ length: steps }, () => shapeOnlyHistory) });
    } catch (e) {
      throw new OptionsError(asFlagMessage((e as Error).message));
    }
    const reader = await VideoReader.open(input, { fps, width, height });
    const last = new LastFrames(N);
    let inversionEvaluations = 0;
    let evaluations = 0;
    const writer = await openOutput(prepared, { continued_from: basename(input) });
    const result = await writeVideo(writer, async () => {
      for await (const frame of reader.frames()) {
        if (hooks.signal?.aborted) throw new AbortedError("extend");
        await writer.write(frame);
        last.push(frame);
      }
      if (last.count < N) {
        throw new OptionsError(`<video> ${input} has ${last.count} frame${last.count === 1 ? "" : "s"} at ${fps} fps; allowed: a video of at least ${N} frames (one clip of this model)`);
      }
      const latents = await model.encode(framesToTensor(last.frames())); // [1, C, N, h, w]
      const counted = {
        ...request,
        onProgress: (p: GenerationProgress) => {
          evaluations = p.evaluations;
          hooks.onProgress?.(p);
        },
      };
      const chunks = continueVideo(latents, counted, {
        ...options,
        // Inversion without guidance (scale 1: one call with the prompt) recovers the noise path that
        // reproduces the input most closely; guidance is for making new frames, not for retracing old ones.
        inversionPredictor: classifierFreeGuidance(model.denoiser, { scale: 1 }),
        onInversionProgress: (p) => {
          inversionEvaluations = p.evaluations;
          hooks.onInversionProgress?.(p);
        },
      });
      await writeChunks(chunks, model, writer, hooks.signal, vaeDecoderMode(settings));
    });
    return {
      ...generateResult(prepared, result, inversionEvaluations + evaluations),
      input,
      inputFrames: Math.min(last.count, result.frames),
      newFrames: Math.max(0, result.frames - last.count),
    };
  } finally {
    await model.release();
  }
}
