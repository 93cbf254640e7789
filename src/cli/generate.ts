// `vidrd generate "<prompt>"`: flags (and --config) -> GenerateSettings -> generateVideo. Nothing is
// decided here that a library user could not decide the same way (DESIGN.md: the CLI has no logic).

import { generateVideo } from "../app/index.js";
import { UsageError, processIO, reportFailure, type CommandIO } from "./command.js";
import { GENERATE_FIELDS, parseCommandLine, resolveCommandSettings } from "./generate-flags.js";
import { describeVideo, runGeneration } from "./run-generation.js";

export const GENERATE_USAGE = `Usage: vidrd generate "<prompt>" [options]

Makes a video from text with a long-video strategy (default vidrd: Reuse and Diffuse).

Length:
  --frames F              output frames (vidrd: N + k (N - M)), or
  --clips K               clips (default 2)
Sampling:
  --strategy S            vidrd | independent | gen-l-video | freenoise | fifo (default vidrd)
  --steps T               denoising steps per clip (default 50; fifo: a multiple of the clip length)
  --guidance S            classifier-free guidance scale in [0, 100] (default 10)
  --guidance-rescale P    guidance rescale in [0, 1] (default 0: off)
  --negative TEXT         negative prompt (default "watermark")
  --seed S                seed of every random draw, in [0, 4294967295] (default 0)
  --prompt-schedule FILE  JSON [{"from": 0, "to": 16, "prompt": "..."}, ...]: prompts by frame range
vidrd:
  --overlap M             frames reused from the previous clip, below the clip length (default 4)
  --noise-recycle R       past-dependent noise strength (default 4)
  --staged-guidance G     staged-guidance strength in [0, 1] (default 0.4)
  --mode default|faithful faithful keeps the mirrored overlap frames, as the authors' output does
gen-l-video, freenoise:
  --stride S              window stride in frames
fifo:
  --partitions P          latent partitions n; steps default to n * N (n = 4)
  --lookahead, --no-lookahead  lookahead denoising (default on)
Output:
  --out PATH              .mp4, .webm, .gif, or .png (a contact sheet of the frames); default video.mp4
  --size S                frame size "256" or "320x256" (default the model's)
  --fps F                 frames per second (default the model's)
  --vae-decoder clip|per-frame  decode with the temporal VAE over each clip, or frame by frame as the
                          authors do (default per-frame with --mode faithful, else clip)
  --json                  print the result as one JSON object on stdout
Model and runtime:
  --model DIR             a model folder (see vidrd info; default the embedded model)
  --threads N             runtime threads (default all cores)
  --device cpu|cuda       execution provider (default cpu)
  --dtype float32|float16 weight dtype (default float32)
  --config FILE           a JSON object of these options under their camelCase names, e.g.
                          {"steps": 25, "noiseRecycle": 4, "out": "v.mp4"}; flags win over it; relative
                          paths in it are relative to its folder
  -h, --help              show this help

Progress goes to stderr: a bar on a terminal, plain lines otherwise. Ctrl-C stops after the current step
and keeps the frames made so far as a valid, shorter video (exit code 130); a second Ctrl-C quits at once.
SIGTERM and SIGHUP do the same (exit codes 143 and 129: 128 + the signal).
Exit codes: 0 done, 1 failed (model, files, ffmpeg), 2 a bad flag or value, 130/143/129 interrupted.
`;

export async function runGenerate(argv: readonly string[], io: CommandIO = processIO): Promise<number> {
  try {
    const parsed = parseCommandLine(argv, GENERATE_FIELDS);
    if (parsed.help) {
      io.stdout(GENERATE_USAGE);
      return 0;
    }
    if (parsed.positionals.length > 1) {
      throw new UsageError(`takes one "<prompt>", got ${parsed.positionals.length} arguments (put the prompt in quotes)`);
    }
    const settings = resolveCommandSettings(parsed, parsed.positionals[0], GENERATE_FIELDS);
    return await runGeneration("generate", io, settings.json, (hooks) => generateVideo(settings, hooks), (r) => `${r.out}: ${describeVideo(r)}`);
  } catch (e) {
    return reportFailure("generate", e, io);
  }
}
