// `vidrd extend <video> "<prompt>"`: continues a video with vidrd (extendVideo). Flags are generate's,
// less the other strategies' options; --frames and --clips count the new frames.

import { extendVideo, resolveExtendSettings } from "../app/index.js";
import { UsageError, processIO, reportFailure, type CommandIO } from "./command.js";
import { EXTEND_FIELDS, parseCommandLine, resolveCommandSettings } from "./generate-flags.js";
import { describeVideo, runGeneration } from "./run-generation.js";

export const EXTEND_USAGE = `Usage: vidrd extend <video> "<prompt>" [options]

Continues a video with vidrd: its last clip (N frames, read at the model's size and the output fps) is
encoded and DDIM-inverted into the history vidrd continues from; the output is the input's frames
followed by the new ones.

Options (as for vidrd generate; see vidrd generate --help):
  --frames F | --clips K  new frames (a multiple of N - M), or new clips (default 2)
  --steps T               denoising (and inversion) steps per clip (default 50)
  --guidance S, --guidance-rescale P, --negative TEXT, --seed S, --prompt-schedule FILE
  --overlap M, --noise-recycle R, --staged-guidance G, --mode default|faithful
  --strategy vidrd        the only strategy that continues a video
  --out PATH              the output (default video.mp4); not the input
  --size S, --fps F       the output's size and rate (default the model's); the input is resized,
                          center-cropped and resampled to them
  --vae-decoder clip|per-frame
  --model DIR, --threads N, --device cpu|cuda, --dtype float32|float16, --config FILE, --json
  -h, --help              show this help

Exit codes: 0 done, 1 failed, 2 a bad flag or value, 130 interrupted by Ctrl-C, 143 by SIGTERM, 129 by
SIGHUP (the frames so far are kept).
`;

export async function runExtend(argv: readonly string[], io: CommandIO = processIO): Promise<number> {
  try {
    const parsed = parseCommandLine(argv, EXTEND_FIELDS);
    if (parsed.help) {
      io.stdout(EXTEND_USAGE);
      return 0;
    }
    const [input, prompt, ...extra] = parsed.positionals;
    if (input === undefined) throw new UsageError(`needs <video> and "<prompt>"`);
    if (extra.length > 0) throw new UsageError(`takes <video> and one "<prompt>", got ${parsed.positionals.length} arguments (put the prompt in quotes)`);
    const settings = resolveCommandSettings(parsed, prompt, EXTEND_FIELDS, resolveExtendSettings);
    return await runGeneration(
      "extend",
      io,
      settings.json,
      (hooks) => extendVideo(input, settings, hooks),
      (r) => `${r.out}: ${r.inputFrames} frames of ${r.input} + ${r.newFrames} new; ${describeVideo(r)}`,
    );
  } catch (e) {
    return reportFailure("extend", e, io);
  }
}
