// `vidrd data world|images|videos|mix`: compose a training dataset folder (src/data/compose) or a mix of
// folders the loader reads (src/data/dataset). A thin face: flags become the library's options, progress
// goes to stderr (a bar on a terminal, plain lines elsewhere), the summary to stdout.
//
// Exit codes: 0 done (rejected inputs are reported, not failures); 1 the run failed (an unwritable output,
// refused service credentials, a missing input list); 2 what was typed is wrong; 130 stopped by Ctrl-C
// (the clips made so far are kept: run the same command again to resume).

import { availableParallelism } from "node:os";
import { join } from "node:path";
import { type ParseArgsConfig, parseArgs } from "node:util";
import {
  CAPTION_CACHE_FOLDER,
  CAMERA_MOTION_KINDS,
  CameraPathError,
  CaptionTemplateError,
  Captioner,
  CaptionerError,
  DEFAULT_SCENE_CUT_OPTIONS,
  ImageSourceError,
  SceneCutOptionsError,
  VideoSourceError,
  WorldSourceError,
  type CameraMotionKind,
  type ComposeEvent,
  type ComposeSource,
  EASE_CURVES,
  type EaseCurve,
  type OutputSpec,
  composeDataset,
  imageSource,
  reportSummary,
  videoSource,
  worldSource,
} from "../data/compose/index.js";
import { type MixSource, writeMix } from "../data/dataset/mix.js";
import { formatDuration } from "./format.js";
import { progressBar } from "./progress.js";

export interface DataIO {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  /** Where progress goes, with its terminal-ness. */
  readonly progress: { write(text: string): unknown; readonly isTTY?: boolean; readonly columns?: number };
  readonly env: Readonly<Record<string, string | undefined>>;
}

const processIO: DataIO = { stdout: (t) => process.stdout.write(t), stderr: (t) => process.stderr.write(t), progress: process.stderr, env: process.env };

const COMMON = `Output (all but mix):
  --out DIR                  the dataset folder (created; an existing one is resumed)
  --size N                   square clips of N x N (default: world 64, images and videos 256)
  --width N --height N       other shapes (even numbers)
  --frames N                 frames per clip (default 16)
  --fps F                    frames per second (default 8)
  --shard-size N             clips per shard folder and manifest file (default 1000)
  --crf N                    mp4 quality, lower is better (default 18)
  --jobs N                   inputs composed at once (default: the cores, at most 4)
  --quiet                    no progress
  -h, --help                 show this help`;

const USAGE = `Usage: vidrd data <world|images|videos|mix> [options]

Composes training data as the paper does (pseudo-videos from images, captioned clips of videos) into a
dataset folder: clips/shard-*/<id>.mp4, manifest-*.jsonl, dataset.json, report.json. Re-running the same command resumes: finished clips are skipped.

  vidrd data world  --out DIR [--stills K --clips K --videos K --seed S --motion-caption --stride N]
      the synthetic world: pseudo-videos from stills, action clips, long videos cut at their segments
      (defaults: 64 stills, 64 clips, 16 long videos, seed 0)
  vidrd data images --captions FILE.csv|FILE.jsonl --out DIR [--per-image K --seed S --motion-caption
                    --camera zoom,pan,zoom-pan --ease linear|ease-in-out]
      pseudo-videos: a smooth random zoom and/or pan over each captioned image
  vidrd data videos --root DIR | --list FILE.jsonl --out DIR [--stride N --caption-template "a person {label}"
                    --cut-ratio R --cut-min F --captioner-url URL --captioner-model M
                    --captioner-key-env VAR --captioner-concurrency N --captioner-cache DIR --caption-frames K]
      clips of a class tree (<root>/<ClassName>/<videos>) or a list ({"path", "label"?, "ranges"?}), by
      label ranges or windows --stride apart, never across a scene cut (a frame whose colour histogram
      changes for at least F of the pixels, default 0.015, and R times the local median, default 4);
      captions from labels through the template, or from an OpenAI-compatible chat endpoint (URL, model
      and key also from the environment: VIDRD_CAPTIONER_URL, VIDRD_CAPTIONER_MODEL, and the variable
      --captioner-key-env names, default VIDRD_CAPTIONER_KEY)
  vidrd data mix --out DIR --source DIR[:WEIGHT] --source DIR[:WEIGHT] ...
      writes DIR/mix.json: datasets drawn by weight (default 1), which the training loader reads

${COMMON}
`;

class UsageError extends Error {}

/** Library errors that mean an option's value is not allowed. */
const OPTION_ERRORS = [WorldSourceError, ImageSourceError, VideoSourceError, CameraPathError, SceneCutOptionsError, CaptionTemplateError, CaptionerError];

const OUTPUT_OPTIONS = {
  out: { type: "string" },
  size: { type: "string" },
  width: { type: "string" },
  height: { type: "string" },
  frames: { type: "string" },
  fps: { type: "string" },
  "shard-size": { type: "string" },
  crf: { type: "string" },
  jobs: { type: "string" },
  quiet: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

const SUBCOMMAND_OPTIONS = {
  world: { stills: { type: "string" }, clips: { type: "string" }, videos: { type: "string" }, seed: { type: "string" }, "motion-caption": { type: "boolean" }, stride: { type: "string" } },
  images: { captions: { type: "string" }, "per-image": { type: "string" }, seed: { type: "string" }, "motion-caption": { type: "boolean" }, camera: { type: "string" }, ease: { type: "string" } },
  videos: {
    root: { type: "string" },
    list: { type: "string" },
    stride: { type: "string" },
    "caption-template": { type: "string" },
    "cut-ratio": { type: "string" },
    "cut-min": { type: "string" },
    "captioner-url": { type: "string" },
    "captioner-model": { type: "string" },
    "captioner-key-env": { type: "string" },
    "captioner-concurrency": { type: "string" },
    "captioner-cache": { type: "string" },
    "caption-frames": { type: "string" },
  },
} as const;

type Values = Record<string, string | boolean | (string | boolean)[] | undefined>;

/** An integer flag in [min, max], or `fallback` when absent; the message names the flag. */
function integerFlag(values: Values, name: string, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const text = values[name];
  if (text === undefined) return fallback;
  const n = Number(text);
  if (typeof text !== "string" || text.trim() === "" || !Number.isInteger(n) || n < min || n > max) {
    throw new UsageError(`--${name} is "${String(text)}"; allowed: an integer from ${min}${max === Number.MAX_SAFE_INTEGER ? " up" : ` to ${max}`}`);
  }
  return n;
}

/** A number flag in [min, max] (above min when `exclusiveMin`), or `fallback` when absent. */
function numberFlag(values: Values, name: string, fallback: number, min: number, max: number, exclusiveMin = false): number {
  const text = values[name];
  if (text === undefined) return fallback;
  const n = Number(text);
  if (typeof text !== "string" || text.trim() === "" || !Number.isFinite(n) || n < min || (exclusiveMin && n === min) || n > max) {
    throw new UsageError(`--${name} is "${String(text)}"; allowed: a number ${exclusiveMin ? "above" : "from"} ${min} ${exclusiveMin ? "and at most" : "to"} ${max}`);
  }
  return n;
}

function requiredText(values: Values, name: string, what: string): string {
  const v = values[name];
  if (typeof v !== "string" || v === "") throw new UsageError(`--${name} is missing; allowed: ${what}`);
  return v;
}

function outputSpec(values: Values, defaultSize: number): OutputSpec {
  if (values.size !== undefined && (values.width !== undefined || values.height !== undefined)) throw new UsageError("--size and --width/--height both given; allowed: one of them");
  if ((values.width === undefined) !== (values.height === undefined)) throw new UsageError("--width and --height go together; allowed: both, or --size");
  const size = integerFlag(values, "size", defaultSize, 16, 4096);
  const even = (name: string, v: number): number => {
    if (v % 2 !== 0) throw new UsageError(`--${name} is ${v}; allowed: an even number (mp4 halves colour resolution)`);
    return v;
  };
  return {
    width: even(values.size !== undefined || values.width === undefined ? "size" : "width", integerFlag(values, "width", size, 16, 4096)),
    height: even(values.size !== undefined || values.height === undefined ? "size" : "height", integerFlag(values, "height", size, 16, 4096)),
    frames: integerFlag(values, "frames", 16, 1, 100000),
    fps: numberFlag(values, "fps", 8, 0, 240, true),
  };
}

function seedFlag(values: Values): number {
  return integerFlag(values, "seed", 0, 0);
}

function cameraKinds(values: Values): CameraMotionKind[] | undefined {
  const text = values.camera;
  if (typeof text !== "string") return undefined;
  const kinds = text.split(",").map((k) => k.trim());
  for (const k of kinds) if (!(CAMERA_MOTION_KINDS as readonly string[]).includes(k)) throw new UsageError(`--camera has "${k}"; allowed: a comma list of ${CAMERA_MOTION_KINDS.join(", ")}`);
  return kinds as CameraMotionKind[];
}

function easeFlag(values: Values): EaseCurve | undefined {
  const e = values.ease;
  if (e === undefined) return undefined;
  if (!(EASE_CURVES as readonly unknown[]).includes(e)) throw new UsageError(`--ease is "${String(e)}"; allowed: ${EASE_CURVES.join(", ")}`);
  return e as EaseCurve;
}

function captionerFrom(values: Values, io: DataIO, out: string): Captioner | null {
  const url = (values["captioner-url"] as string | undefined) ?? io.env.VIDRD_CAPTIONER_URL;
  if (url === undefined || url === "") {
    for (const name of ["captioner-model", "captioner-key-env", "captioner-concurrency", "captioner-cache", "caption-frames"]) {
      if (values[name] !== undefined) throw new UsageError(`--${name} needs a captioning service; give --captioner-url (or set VIDRD_CAPTIONER_URL)`);
    }
    return null;
  }
  const model = (values["captioner-model"] as string | undefined) ?? io.env.VIDRD_CAPTIONER_MODEL;
  if (!model) throw new UsageError("--captioner-model is missing; allowed: the service's model name (or set VIDRD_CAPTIONER_MODEL)");
  const keyEnv = (values["captioner-key-env"] as string | undefined) ?? "VIDRD_CAPTIONER_KEY";
  const apiKey = io.env[keyEnv];
  if (values["captioner-key-env"] !== undefined && !apiKey) throw new UsageError(`--captioner-key-env names ${keyEnv}, which is not set; allowed: an environment variable holding the API key`);
  try {
    return new Captioner({
      url,
      model,
      ...(apiKey ? { apiKey } : {}),
      concurrency: integerFlag(values, "captioner-concurrency", 4, 1, 256),
      cacheDir: (values["captioner-cache"] as string | undefined) ?? join(out, CAPTION_CACHE_FOLDER),
    });
  } catch (e) {
    throw new UsageError((e as Error).message.replace(/^captioner url/, "--captioner-url"));
  }
}

/** Progress on stderr: a redrawn bar on a terminal, a line per ~5% elsewhere; rejections as lines. */
function progressReporter(io: DataIO, quiet: boolean): { onEvent(e: ComposeEvent): void; finish(total: number): void; clear(): void } {
  const stream = io.progress;
  const tty = stream.isTTY === true;
  const began = performance.now();
  let made = 0;
  let skipped = 0;
  let rejected = 0;
  let shown = false;
  let lastPercent = -1;
  const clear = (): void => {
    if (shown) stream.write("\r\x1b[K");
    shown = false;
  };
  const draw = (done: number, total: number): void => {
    const counts = `made ${made}, skipped ${skipped}, rejected ${rejected}`;
    if (tty) {
      const elapsed = (performance.now() - began) / 1000;
      const eta = done > 0 && done < total ? `  ETA ${formatDuration((elapsed / done) * (total - done))}` : "";
      stream.write(`\r\x1b[K${`${progressBar(done, total)} input ${done}/${total}  ${counts}${eta}`.slice(0, Math.max(1, (stream.columns ?? 80) - 1))}`);
      shown = true;
      return;
    }
    const percent = total === 0 ? 100 : Math.floor((100 * done) / total / 5) * 5;
    if (percent !== lastPercent) {
      lastPercent = percent;
      stream.write(`vidrd data: input ${done}/${total} (${percent}%), ${counts}\n`);
    }
  };
  return {
    onEvent(e) {
      if (e.type === "clip-recorded") made++;
      else if (e.type === "skipped") skipped++;
      else if (e.type === "rejected") {
        rejected++;
        if (!quiet) {
          clear();
          stream.write(`vidrd data: rejected ${e.item.input}${e.item.clip ? ` (clip ${e.item.clip})` : ""}: ${e.item.reason}\n`);
        }
      } else if (e.type === "input" && !quiet) draw(e.index, e.total);
    },
    finish(total) {
      if (!quiet) draw(total, total);
    },
    clear,
  };
}

function parseSources(list: string[] | undefined): MixSource[] {
  if (list === undefined || list.length === 0) throw new UsageError("--source is missing; allowed: one or more DIR[:WEIGHT]");
  return list.map((text) => {
    const colon = text.lastIndexOf(":");
    // a colon followed by a number is a weight; "C:\\data" and "dir:name" stay paths
    if (colon > 0 && /^\s*[0-9.eE+-]+\s*$/.test(text.slice(colon + 1))) {
      const weight = Number(text.slice(colon + 1));
      if (!(Number.isFinite(weight) && weight > 0)) throw new UsageError(`--source ${text}: the weight is ${text.slice(colon + 1)}; allowed: a number above 0`);
      return { path: text.slice(0, colon), weight };
    }
    return { path: text, weight: 1 };
  });
}

async function compose(sub: "world" | "images" | "videos", values: Values, io: DataIO): Promise<number> {
  const out = requiredText(values, "out", "the dataset folder to write (or resume)");
  const spec = outputSpec(values, sub === "world" ? 64 : 256);
  const shardSize = integerFlag(values, "shard-size", 1000, 1);
  const crf = values.crf === undefined ? undefined : integerFlag(values, "crf", 18, 0, 51);
  const jobs = integerFlag(values, "jobs", Math.min(4, availableParallelism()), 1, 64);
  let source: ComposeSource;
  let captioner: Captioner | null = null;
  let captionFrames: number | undefined;
  try {
    if (sub === "world") {
      source = worldSource(spec, {
        seed: seedFlag(values),
        stills: integerFlag(values, "stills", 64, 0),
        clips: integerFlag(values, "clips", 64, 0),
        videos: integerFlag(values, "videos", 16, 0),
        motionCaption: values["motion-caption"] === true,
        stride: integerFlag(values, "stride", spec.frames, 1),
      });
    } else if (sub === "images") {
      const kinds = cameraKinds(values);
      const ease = easeFlag(values);
      const camera = { ...(kinds ? { kinds } : {}), ...(ease ? { ease } : {}) };
      source = imageSource(spec, {
        captions: requiredText(values, "captions", "a .csv (path,caption) or .jsonl ({\"path\", \"caption\"}) file"),
        perImage: integerFlag(values, "per-image", 1, 1, 1000),
        seed: seedFlag(values),
        motionCaption: values["motion-caption"] === true,
        camera,
      });
    } else {
      if ((values.root === undefined) === (values.list === undefined)) throw new UsageError("give one of --root DIR (a class tree) and --list FILE.jsonl");
      captioner = captionerFrom(values, io, out);
      captionFrames = integerFlag(values, "caption-frames", 3, 1, 16);
      source = videoSource(spec, {
        ...(values.root === undefined ? { list: values.list as string } : { root: values.root as string }),
        stride: integerFlag(values, "stride", spec.frames, 1),
        ...(values["caption-template"] === undefined ? {} : { captionTemplate: values["caption-template"] as string }),
        cuts: {
          ratio: numberFlag(values, "cut-ratio", DEFAULT_SCENE_CUT_OPTIONS.ratio, 1, 1000),
          minDifference: numberFlag(values, "cut-min", DEFAULT_SCENE_CUT_OPTIONS.minDifference, 0, 1),
        },
      });
    }
  } catch (e) {
    // a value the library refuses (a template without {label}, a world that cannot make such clips) was
    // typed wrong; a missing or unreadable input list or root is a failure of the run
    if (OPTION_ERRORS.some((type) => e instanceof type)) throw new UsageError((e as Error).message);
    throw e;
  }
  const quiet = values.quiet === true;
  const progress = progressReporter(io, quiet);
  const controller = new AbortController();
  let interrupts = 0;
  const onSigint = (): void => {
    if (interrupts++ > 0) process.exit(130);
    progress.clear();
    io.progress.write("vidrd data: stopping; finished clips are kept, the ones being written are dropped (run the same command to resume; Ctrl-C again to quit at once)\n");
    controller.abort(new Error("interrupted"));
  };
  process.on("SIGINT", onSigint);
  try {
    const report = await composeDataset([source], { out, ...spec, shardSize, jobs, ...(crf === undefined ? {} : { crf }), captioner, ...(captionFrames === undefined ? {} : { captionFrames }), signal: controller.signal, onEvent: progress.onEvent });
    progress.finish(report.inputs);
    progress.clear();
    io.stdout(reportSummary(report));
    return controller.signal.aborted ? 130 : 0;
  } finally {
    progress.clear();
    process.off("SIGINT", onSigint);
  }
}

/** Runs `vidrd data ...`; resolves to the exit code. */
export async function runData(argv: readonly string[], io: DataIO = processIO): Promise<number> {
  const sub = argv[0];
  try {
    if (sub === undefined || sub === "-h" || sub === "--help" || sub === "help") {
      io.stdout(USAGE);
      return 0;
    }
    if (sub !== "world" && sub !== "images" && sub !== "videos" && sub !== "mix") throw new UsageError(`unknown subcommand "${sub}"; allowed: world, images, videos, mix`);
    const options = sub === "mix" ? { out: { type: "string" }, source: { type: "string", multiple: true }, help: { type: "boolean", short: "h" } } : { ...OUTPUT_OPTIONS, ...SUBCOMMAND_OPTIONS[sub] };
    const { values, positionals } = parseArgs({ args: [...argv.slice(1)], options: options as NonNullable<ParseArgsConfig["options"]>, allowPositionals: true, strict: true });
    if (values.help) {
      io.stdout(USAGE);
      return 0;
    }
    if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"; every input is given by a flag`);
    if (sub === "mix") {
      const out = requiredText(values, "out", "the folder to write mix.json in");
      const { path, datasets } = writeMix(out, parseSources(values.source as string[] | undefined));
      io.stdout(`wrote ${path}: ${datasets.map((d) => `${d.dir} (weight ${+d.weight.toFixed(6)})`).join(", ")}\n`);
      return 0;
    }
    return await compose(sub, values, io);
  } catch (e) {
    const usage = e instanceof UsageError || (e as { code?: string }).code?.startsWith("ERR_PARSE_ARGS") === true;
    const name = sub !== undefined && ["world", "images", "videos", "mix"].includes(sub) ? `vidrd data ${sub}` : "vidrd data";
    io.stderr(`${name}: ${(e as Error).message.split("\n")[0]}${usage ? "; see vidrd data --help" : ""}\n`);
    if (process.env.VIDRD_DEBUG && e instanceof Error && e.stack) io.stderr(`${e.stack}\n`);
    return usage ? 2 : 1;
  }
}
