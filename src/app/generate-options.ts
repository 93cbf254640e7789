// The options of `vidrd generate` (and of generateVideo): one typed object with documented defaults,
// validated once at the edge. CLI flags and a --config JSON file go through the same schema, so a bad value
// gets the same message either way; the message names the flag, the value, and what is allowed.

import { z } from "zod";

export const STRATEGY_NAMES = ["vidrd", "independent", "gen-l-video", "freenoise", "fifo"] as const;
export type StrategyName = (typeof STRATEGY_NAMES)[number];
export const OUTPUT_EXTENSIONS = [".mp4", ".webm", ".gif", ".png"] as const;

const int = (min: number, max = Number.MAX_SAFE_INTEGER) => z.number().int().min(min).max(max);

/** The longest prompt (or negative prompt) accepted, in characters: far beyond CLIP's 77 tokens, short of a pasted file. */
export const MAX_PROMPT_LENGTH = 4096;
/** The largest frame side accepted by --size (the media layer's limit, MAX_FRAME_SIDE). */
export const MAX_SIZE_SIDE = 16384;
/** The lowest fps accepted: one frame every 100 s. */
export const MIN_OUTPUT_FPS = 0.01;

/** A prompt: at most MAX_PROMPT_LENGTH characters, no NUL (it would end the text in C strings, ffmpeg's metadata). */
const promptText = (min: number) =>
  z
    .string()
    .min(min)
    .max(MAX_PROMPT_LENGTH)
    .refine((t) => !t.includes("\u0000"), { message: "contains a NUL character" });

/** "256" or "320x256": each side an integer from 1 to MAX_SIZE_SIDE. */
function sizeSides(size: string): boolean {
  return size.split("x").every((d) => {
    const n = Number(d);
    return Number.isSafeInteger(n) && n >= 1 && n <= MAX_SIZE_SIDE;
  });
}

/** Every field, as a flag would spell it: the schema's keys are camelCase, flags kebab-case. */
export const generateSchema = z
  .object({
    /** The prompt (one clip's text); with promptSchedule, the fallback for frames no entry covers. */
    prompt: promptText(1),
    /** Negative prompt for classifier-free guidance; default "watermark" (the authors' configs). */
    negative: promptText(0).default("watermark"),
    /** Output length in frames, or `clips` (K clips); default 2 clips' worth (vidrd: N + (N - M)). */
    frames: int(1).optional(),
    clips: int(1).optional(),
    strategy: z.enum(STRATEGY_NAMES).default("vidrd"),
    /** vidrd: "default" drops the mirrored overlap frames; "faithful" reproduces the authors' output. */
    mode: z.enum(["default", "faithful"]).optional(),
    /** Denoising steps per clip (DDIM); default 50 (fifo: the nearest multiple of the clip length). */
    steps: int(1, 1000).optional(),
    /** Classifier-free guidance scale; default 10 (the authors' configs). */
    guidance: z.number().min(0).max(100).default(10),
    /** Guidance rescale phi in [0, 1]; default 0 (off). */
    guidanceRescale: z.number().min(0).max(1).default(0),
    /** Seed of every random draw; default 0 (printed with the result). */
    seed: int(0, 2 ** 32 - 1).default(0),
    /** vidrd M: frames reused from the previous clip; default 4. Must be below the clip length. */
    overlap: int(0).optional(),
    /** vidrd r: past-dependent noise strength; default 4. */
    noiseRecycle: z.number().min(0).max(1000).optional(),
    /** vidrd g: staged-guidance strength in [0, 1]; default 0.4. */
    stagedGuidance: z.number().min(0).max(1).optional(),
    /** gen-l-video / freenoise window stride in frames; default N / 2 (gen-l-video), N / 4 (freenoise). */
    stride: int(1).optional(),
    /** fifo: latent partitions n; default steps / N (4 with fifo's default steps, 4 N, as the authors). */
    partitions: int(1).optional(),
    /** fifo: lookahead denoising; default true (the authors'). */
    lookahead: z.boolean().optional(),
    /** Frame size in pixels, "256" or "320x256" (width x height); default the model's. */
    size: z
      .string()
      .regex(/^\d+(x\d+)?$/)
      .refine(sizeSides)
      .optional(),
    /** Output frames per second; default the model's (model_index.json "fps", else 4 as the authors). */
    fps: z.number().min(MIN_OUTPUT_FPS).max(240).optional(),
    /** Output: .mp4, .webm, .gif, .png (a contact sheet of the frames), or a folder path ending in "/" for PNG frames; default video.mp4. */
    out: z.string().min(1).default("video.mp4"),
    /**
     * VAE decoding: "clip" runs the temporal decoder over each clip's frames; "per-frame" decodes frames
     * alone, as the authors' pipeline does. Default: "per-frame" with --mode faithful, else "clip".
     */
    vaeDecoder: z.enum(["clip", "per-frame"]).optional(),
    /** A model folder (see vidrd info); default the embedded model. */
    model: z.string().min(1).optional(),
    threads: int(1, 1024).optional(),
    device: z.enum(["cpu", "cuda"]).default("cpu"),
    dtype: z.enum(["float32", "float16"]).default("float32"),
    /** A JSON file: [{ "from": 0, "to": 16, "prompt": "..." }, ...] (see prompt-schedule). */
    promptSchedule: z.string().min(1).optional(),
    /** Print the result as one JSON object. */
    json: z.boolean().default(false),
  })
  .strict();

export type GenerateSettings = z.output<typeof generateSchema>;
export type GenerateInput = z.input<typeof generateSchema>;

/** camelCase field -> --kebab-case flag. */
export function flagName(field: string): string {
  return `--${field.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}

/** What a field allows, in words, for messages. */
const ALLOWED: Partial<Record<keyof GenerateSettings, string>> = {
  frames: "an integer >= 1",
  clips: "an integer >= 1",
  steps: "an integer in [1, 1000]",
  guidance: "a number in [0, 100]",
  guidanceRescale: "a number in [0, 1]",
  seed: "an integer in [0, 4294967295]",
  overlap: "an integer >= 0, below the clip length",
  noiseRecycle: "a number in [0, 1000]",
  stagedGuidance: "a number in [0, 1]",
  stride: "an integer >= 1",
  partitions: "an integer >= 1",
  size: `a size in pixels: "256" or "320x256", each side from 1 to ${MAX_SIZE_SIDE}`,
  fps: `a number in [${MIN_OUTPUT_FPS}, 240]`,
  threads: "an integer in [1, 1024]",
  prompt: `a non-empty text of at most ${MAX_PROMPT_LENGTH} characters, without NUL characters`,
  negative: `a text of at most ${MAX_PROMPT_LENGTH} characters, without NUL characters`,
  out: 'a file path ending in .mp4, .webm, .gif or .png (contact sheet), or a folder path ending in "/" (PNG frames)',
  model: "a model folder",
  promptSchedule: "a JSON file path",
};

export class OptionsError extends Error {
  override name = "OptionsError";
}

/** A value for a one-line message: long text is cut (a 5000-character prompt is not repeated back). */
function describe(value: unknown): string {
  if (typeof value !== "string") return String(value);
  if (value.length <= 200) return JSON.stringify(value);
  return `${JSON.stringify(value.slice(0, 60))}... (${value.length} characters)`;
}

/**
 * Validates raw options (from flags or a config file; `source` says which, for the message) into settings
 * with defaults applied. Throws OptionsError with one line per problem.
 */
export function resolveGenerateSettings(raw: Record<string, unknown>, source = "flags"): GenerateSettings {
  const parsed = generateSchema.safeParse(raw);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => {
      if (issue.code === "unrecognized_keys") {
        return `${issue.keys.map((k) => (source === "flags" ? flagName(k) : JSON.stringify(k))).join(", ")}: unknown option; options: ${Object.keys(generateSchema.shape).map(flagName).join(", ")}`;
      }
      const field = String(issue.path[0]) as keyof GenerateSettings;
      // the prompt is the command's argument, not a flag
      const name = source === "flags" ? (field === "prompt" ? '"<prompt>"' : flagName(field)) : `${source}: "${field}"`;
      const allowed =
        issue.code === "invalid_value" && "values" in issue ? (issue.values as unknown[]).map((v) => String(v)).join(", ") : (ALLOWED[field] ?? issue.message);
      return `${name} is ${raw[field] === undefined ? "missing" : describe(raw[field])}; allowed: ${allowed}`;
    });
    throw new OptionsError(lines.join("\n"));
  }
  const s = parsed.data;
  if (s.frames !== undefined && s.clips !== undefined) {
    throw new OptionsError(
      source === "flags" ? "--frames and --clips were both given; allowed: one of them" : `${source}: "frames" and "clips" were both given; allowed: one of them`,
    );
  }
  const ext = OUTPUT_EXTENSIONS.find((e) => s.out.toLowerCase().endsWith(e)) ?? (/[/\\]$/.test(s.out) ? "/" : undefined);
  if (!ext) throw new OptionsError(`--out is ${JSON.stringify(s.out)}; allowed: ${ALLOWED.out}`);
  for (const [field, strategies] of Object.entries(STRATEGY_FIELDS)) {
    if (s[field as keyof GenerateSettings] !== undefined && !strategies.includes(s.strategy)) {
      throw new OptionsError(`${flagName(field)} applies to --strategy ${strategies.join(" or ")}, not ${s.strategy}`);
    }
  }
  return s;
}

/**
 * Options that only some strategies take (giving one to another strategy is a mistake worth naming); the
 * ones a strategy takes are what it is handed (strategyOptions in generate.ts).
 */
export const STRATEGY_FIELDS: Readonly<Record<string, readonly StrategyName[]>> = {
  mode: ["vidrd"],
  overlap: ["vidrd"],
  noiseRecycle: ["vidrd"],
  stagedGuidance: ["vidrd"],
  stride: ["gen-l-video", "freenoise"],
  partitions: ["fifo"],
  lookahead: ["fifo"],
};

/** "256" -> 256 x 256; "320x256" -> width 320, height 256. */
export function parseSize(size: string): { width: number; height: number } {
  const [w, h] = size.split("x").map(Number);
  return { width: w!, height: h ?? w! };
}
