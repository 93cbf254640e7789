// generateVideo: a prompt (or a prompt schedule) to a video file, end to end: model folder -> prompt
// embeddings -> guided long-video strategy -> temporal VAE decode clip by clip -> streaming writer. What
// the CLI's `generate` and `extend` call; nothing here is CLI-specific.
//
// Frames go to the encoder as each chunk is decoded, so memory is one clip's worth whatever the length.
// An abort (Ctrl-C) finishes the file with the frames made so far: a valid, shorter video.

import { accessSync, constants, existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { VideoWriter, locateFfmpeg, sidecarPath, tensorToFrames, type VideoWriteResult } from "../media/index.js";
import {
  AbortedError,
  LONG_VIDEO_STRATEGIES,
  classifierFreeGuidance,
  constantPromptSource,
  encodePrompt,
  encodePromptRanges,
  promptRanges,
  parsePromptSchedule,
  scheduledPromptSource,
  vidrdClipFrames,
  VIDRD_DEFAULTS,
  type ClipGeometry,
  type GenerationProgress,
  type LatentChunk,
  type LongVideoRequest,
  type PromptSource,
  type TextEncoder,
  type VideoLength,
} from "../pipelines/index.js";
import { SeededNoise } from "../tensor/seeded-noise.js";
import type { Tensor } from "../tensor/tensor.js";
import type { TemporalDecoderMode } from "../models/vae/index.js";
import { OptionsError, STRATEGY_FIELDS, flagName, parseSize, type GenerateSettings } from "./generate-options.js";
import { embeddedModelDir } from "./embedded-model.js";
import { VideoModel } from "./video-model.js";
import { parseJsonText } from "./json-file.js";

export interface GenerateHooks {
  onProgress?: (p: GenerationProgress) => void;
  signal?: AbortSignal;
  /** Warnings worth a line (a prompt cut to 77 tokens). */
  onWarning?: (message: string) => void;
}

export interface GenerateResult {
  out: string;
  sidecar: string | null;
  format: string;
  frames: number;
  /** false when stopped early (the file holds the frames made so far). */
  complete: boolean;
  width: number;
  height: number;
  fps: number;
  seed: number;
  strategy: string;
  steps: number;
  model: string;
  evaluations: number;
}

/** Whether `path` is (or resolves to) a folder; false when absent. */
function isFolder(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/**
 * The output must be writable where it is asked for: checked before the model is loaded, not after minutes
 * of work. Its folder must exist and be writable; a file path must not name a folder; a PNG frames folder
 * ("frames/") must be new or empty; the sidecar `<out>.json` must not be a folder.
 */
export function checkOutputPath(out: string): void {
  const target = resolve(out);
  const dir = dirname(target);
  if (!existsSync(dir)) throw new OptionsError(`--out ${out}: folder ${dir} does not exist; allowed: a path in an existing, writable folder`);
  if (!statSync(dir).isDirectory()) throw new OptionsError(`--out ${out}: ${dir} is not a folder`);
  try {
    accessSync(dir, constants.W_OK);
  } catch {
    throw new OptionsError(`--out ${out}: folder ${dir} is not writable; allowed: a path in a writable folder`);
  }
  const framesFolder = /[/\\]$/.test(out);
  if (framesFolder) {
    if (existsSync(target)) {
      if (!isFolder(target)) throw new OptionsError(`--out ${out}: ${target} is a file; allowed: a new or empty folder for PNG frames`);
      if (readdirSync(target).length > 0) throw new OptionsError(`--out ${out}: folder ${target} is not empty; allowed: a new or empty folder for PNG frames`);
    }
  } else if (isFolder(target)) {
    throw new OptionsError(`--out ${out}: ${target} is a folder; allowed: a file path (or a path ending in "/" for PNG frames)`);
  }
  const sidecar = sidecarPath(target);
  if (isFolder(sidecar)) throw new OptionsError(`--out ${out}: its sidecar ${sidecar} is a folder; allowed: a path whose .json sidecar can be written`);
}

/** Whether the output is encoded by ffmpeg (mp4, webm, gif); PNG outputs (contact sheet, frames folder) are not. */
export function outputNeedsFfmpeg(out: string): boolean {
  return /\.(mp4|webm|gif)$/i.test(out);
}

/** The model folder to use: the one given, else the embedded model. */
export function resolveModelDir(model: string | undefined): string {
  if (model !== undefined) return resolve(model);
  const embedded = embeddedModelDir();
  if (!embedded) throw new OptionsError("--model was not given and this build has no embedded model (assets/model); allowed: --model <folder> (see vidrd convert)");
  return embedded;
}

/** Steps: as given, else 50; fifo: 4 N (the authors' n = 4 partitions; it needs a multiple of N, one queue slot per level). */
function resolveSteps(settings: GenerateSettings, clipFrames: number): number {
  if (settings.steps !== undefined) return settings.steps;
  if (settings.strategy === "fifo") return settings.partitions !== undefined ? settings.partitions * clipFrames : 4 * clipFrames;
  return 50;
}

/** How output frames map to clips for the prompt schedule (vidrd: N, then N - M per clip). */
function clipGeometry(settings: GenerateSettings, clipFrames: number, continuing: boolean): ClipGeometry {
  if (settings.strategy !== "vidrd") return { firstClipFrames: clipFrames, framesPerClip: clipFrames };
  const { first, next } = vidrdClipFrames(
    { overlap: settings.overlap ?? VIDRD_DEFAULTS.overlap, mode: settings.mode ?? VIDRD_DEFAULTS.mode, initialHistory: continuing ? [] : undefined },
    clipFrames,
  );
  return { firstClipFrames: first, framesPerClip: next };
}

/** The strategy's own options from the settings (only those given: the strategy applies its defaults). */
export function strategyOptions(settings: GenerateSettings): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(STRATEGY_FIELDS)
      .filter(([field, strategies]) => strategies.includes(settings.strategy) && settings[field as keyof GenerateSettings] !== undefined)
      .map(([field]) => [field, settings[field as keyof GenerateSettings]]),
  );
}

/** Messages from the library name options in camelCase ("noiseRecycle is ..."); the CLI speaks in flags. */
export function asFlagMessage(message: string): string {
  return message
    .replace(/^scheduler\.steps\b/, "--steps") // fifo's "scheduler.steps is N; fifo allows ..."
    .replace(/^(overlap|noiseRecycle|stagedGuidance|mode|stride|partitions|lookahead|frames|clips|steps|window)\b/, flagName);
}

export interface PreparedGeneration {
  /** The settings with the model-dependent defaults filled in (vidrd's overlap on a short-clip model). */
  settings: GenerateSettings;
  model: VideoModel;
  request: LongVideoRequest;
  width: number;
  height: number;
  fps: number;
  steps: number;
  modelDir: string;
}

/** A prompt schedule file (readPromptSchedule's format); a UTF-8 BOM is accepted, a number too large for a double named. */
function readScheduleFile(path: string): ReturnType<typeof parsePromptSchedule> {
  let json: unknown;
  try {
    json = parseJsonText(readFileSync(path, "utf8"));
  } catch (e) {
    throw new Error(`cannot read the prompt schedule: ${(e as Error).message}`);
  }
  return parsePromptSchedule(json, "prompt schedule");
}

/** Everything up to the first denoiser call: model, size, prompts, guidance, request; all options checked. */
export async function prepareGeneration(input: GenerateSettings, hooks: GenerateHooks, continuing = false): Promise<PreparedGeneration> {
  checkOutputPath(input.out);
  const modelDir = resolveModelDir(input.model);
  const model = VideoModel.open(modelDir, {
    dtype: input.dtype,
    threads: input.threads,
    device: input.device,
    onTruncate: (t) => hooks.onWarning?.(`prompt ${t.message}`),
  });
  try {
    const N = model.clipFrames;
    // vidrd's default overlap (4, for the authors' N = 8) cannot apply to a model of N <= 4 frames: half the clip does.
    const settings =
      input.strategy === "vidrd" && input.overlap === undefined && N <= VIDRD_DEFAULTS.overlap ? { ...input, overlap: Math.floor(N / 2) } : input;
    const { width, height } = settings.size ? parseSize(settings.size) : { width: model.defaultSize, height: model.defaultSize };
    const multiple = model.spatialFactor * 2 ** (model.unetConfig.blockOutChannels.length - 1);
    if (width % multiple !== 0 || height % multiple !== 0 || width < multiple || height < multiple) {
      throw new OptionsError(`--size is ${settings.size}; allowed: width and height positive multiples of ${multiple} for this model`);
    }
    if (settings.strategy === "vidrd" && settings.overlap !== undefined && settings.overlap >= N) {
      throw new OptionsError(`--overlap is ${settings.overlap}; allowed: an integer in [0, ${N - 1}] (below the clip length, ${N} frames)`);
    }
    const steps = resolveSteps(settings, N);
    const geometry = clipGeometry(settings, N, continuing);
    const videoLength: VideoLength = (settings.frames !== undefined ? { frames: settings.frames } : { clips: settings.clips ?? 2 });
    const total = "frames" in videoLength ? videoLength.frames : geometry.firstClipFrames + (videoLength.clips - 1) * geometry.framesPerClip;
    // Every network's weights against its graph, before anything is compiled or run: a wrong tensor is one
    // line now, not a multi-line graph error after the first clip was denoised.
    model.checkWeights({ decoders: [vaeDecoderMode(settings)], encoder: continuing });
    const encoder: TextEncoder = { encode: (texts) => model.encodeText(texts) };
    let prompts: PromptSource;
    if (settings.promptSchedule) {
      let ranges;
      try {
        // Entries without a negative prompt take --negative, as every clip of the authors' runs does.
        const schedule = readScheduleFile(settings.promptSchedule);
        ranges = promptRanges({ ...schedule, negativePrompt: schedule.negativePrompt ?? settings.negative }, total, geometry);
      } catch (e) {
        throw new OptionsError(`--prompt-schedule ${settings.promptSchedule}: ${(e as Error).message}`);
      }
      prompts = scheduledPromptSource(await encodePromptRanges(ranges, encoder));
    } else {
      prompts = constantPromptSource(await encodePrompt(encoder, settings.prompt, settings.negative));
    }
    await model.releaseTextEncoder(); // every prompt is encoded: the denoising loop never needs it again
    const request: LongVideoRequest = {
      predictor: classifierFreeGuidance(model.denoiser, { scale: settings.guidance, rescale: settings.guidanceRescale }),
      prompts,
      scheduler: { ...model.scheduler, steps },
      clip: { batch: 1, channels: model.latentChannels, frames: N, height: height / model.spatialFactor, width: width / model.spatialFactor },
      length: videoLength,
      noise: new SeededNoise(settings.seed),
      onProgress: hooks.onProgress,
      signal: hooks.signal,
    };
    return { settings, model, request, width, height, fps: settings.fps ?? model.fps, steps, modelDir };
  } catch (e) {
    await model.release();
    throw e;
  }
}

/** How the VAE decodes: as asked, else per frame in faithful mode (the authors' output), else over the clip. */
export function vaeDecoderMode(settings: GenerateSettings): TemporalDecoderMode {
  return settings.vaeDecoder ?? (settings.mode === "faithful" ? "per-frame" : "clip");
}

/** Decodes each chunk (with the temporal decoder over all its frames, unless per-frame) and writes the new ones. */
export async function writeChunks(
  chunks: AsyncIterable<LatentChunk>,
  model: VideoModel,
  writer: VideoWriter,
  signal?: AbortSignal,
  temporalDecoder: TemporalDecoderMode = "clip",
): Promise<void> {
  for await (const chunk of chunks) {
    if (signal?.aborted) throw new AbortedError();
    const pixels: Tensor = await model.decode(chunk.latents, temporalDecoder); // [1, 3, n, H, W]
    let f = 0;
    for (const frame of tensorToFrames(pixels)) {
      if (f >= chunk.emitStart && f < chunk.emitEnd) await writer.write(frame);
      f++;
    }
  }
}

/** Runs `produce` into a writer; on abort the file is finished short, on any other error removed. */
export async function writeVideo(writer: VideoWriter, produce: () => Promise<void>): Promise<VideoWriteResult> {
  try {
    await produce();
  } catch (e) {
    if (e instanceof AbortedError || (e as Error).name === "AbortError") return writer.finish("interrupted");
    await writer.abort();
    throw e;
  }
  return writer.close();
}

/** The output writer, with the run's settings in the container's metadata and the sidecar. */
export function openOutput(prepared: PreparedGeneration, extra: Readonly<Record<string, string | number | boolean>> = {}): Promise<VideoWriter> {
  const { settings, width, height, fps, steps, modelDir } = prepared;
  return VideoWriter.open(settings.out, {
    fps,
    width,
    height,
    metadata: {
      prompt: settings.prompt,
      seed: settings.seed,
      strategy: settings.strategy,
      model: modelDir,
      extra: {
        steps,
        guidance: settings.guidance,
        negative: settings.negative,
        vae_decoder: vaeDecoderMode(settings),
        ...(strategyOptions(settings) as Record<string, string | number | boolean>),
        ...extra,
      },
    },
  });
}

/** What a finished (or stopped) run reports. */
export function generateResult(prepared: PreparedGeneration, written: VideoWriteResult, evaluations: number): GenerateResult {
  const { settings, width, height, fps, steps, modelDir } = prepared;
  return {
    out: written.path,
    sidecar: written.sidecar,
    format: written.format,
    frames: written.frames,
    complete: written.complete,
    width,
    height,
    fps,
    seed: settings.seed,
    strategy: settings.strategy,
    steps,
    model: modelDir,
    evaluations,
  };
}

export async function generateVideo(input: GenerateSettings, hooks: GenerateHooks = {}): Promise<GenerateResult> {
  if (outputNeedsFfmpeg(input.out)) locateFfmpeg(); // the writer needs it: say so before the model is loaded (PNG outputs do not)
  const strategy = LONG_VIDEO_STRATEGIES[input.strategy];
  const prepared = await prepareGeneration(input, hooks);
  const { model, request, settings } = prepared;
  try {
    const options = strategyOptions(settings);
    try {
      strategy.validate(request, options as never);
    } catch (e) {
      throw new OptionsError(asFlagMessage((e as Error).message));
    }
    let evaluations = 0;
    const counted: LongVideoRequest = {
      ...request,
      onProgress: (p) => {
        evaluations = p.evaluations;
        hooks.onProgress?.(p);
      },
    };
    const writer = await openOutput(prepared);
    const written = await writeVideo(writer, () => writeChunks(strategy.generate(counted, options as never), model, writer, hooks.signal, vaeDecoderMode(settings)));
    return generateResult(prepared, written, evaluations);
  } finally {
    await model.release();
  }
}
