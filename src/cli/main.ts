// The `vidrd` command line: a thin face over the library (DESIGN.md). Commands are added as the
// library grows; an unknown command or flag is one clear line and a non-zero exit, never a stack trace.

import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { ignoreClosedPipes } from "./pipes.js";

// `vidrd generate ... | head -2`: a reader that goes away must not end the run (and lose the video)
ignoreClosedPipes();

const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string };

const HELP = `vidrd ${pkg.version}: long, smooth videos from text with Reuse and Diffuse (VidRD)

Usage: vidrd <command> [options]

Commands:
  generate         a video from a prompt: vidrd generate "<prompt>" [--clips K] [--out video.mp4] ...
  extend           continue a video: vidrd extend <video> "<prompt>" [--clips K] [--out longer.mp4] ...
  info             what a model folder or weights file holds: configs, parameter counts, sizes
  convert          model weights (.pth, .ckpt, .bin, safetensors, diffusers folder) -> safetensors folder
  data             training data: world | images | videos | mix -> a dataset folder of clips + manifest
  bench            run the benchmarks (from a clone of the repository)
  help [command]   show this help, or a command's

Options:
  -h, --help       show this help
  -v, --version    print the version

Run "vidrd <command> --help" for a command's options. Without --model, generate and extend use the
embedded model. The library API (import from "vidrd") does all of this and more: the models, pipelines,
media I/O, the trainer, the graph IR and autodiff, the runtime, tensors and noise.
`;

/**
 * Subcommands with their own flags: each gets the arguments after its name and returns an exit code.
 * Loaded on use, so `vidrd data` or `vidrd --help` does not load the model and runtime stack.
 */
const SUBCOMMANDS: Record<string, (argv: string[]) => Promise<number>> = {
  generate: async (argv) => (await import("./generate.js")).runGenerate(argv),
  extend: async (argv) => (await import("./extend.js")).runExtend(argv),
  info: async (argv) => (await import("./info.js")).runInfo(argv),
  convert: async (argv) => (await import("./convert.js")).runConvert(argv),
  data: async (argv) => (await import("./data.js")).runData(argv),
  bench: async (argv) => (await import("./bench.js")).runBench(argv),
};
const COMMANDS = ["help", ...Object.keys(SUBCOMMANDS)];
const subcommand = (name: string | undefined) => (name !== undefined && Object.hasOwn(SUBCOMMANDS, name) ? SUBCOMMANDS[name] : undefined);

export function main(argv: readonly string[]): number | Promise<number> {
  const sub = subcommand(argv[0]);
  if (sub) return sub(argv.slice(1));
  // "vidrd help generate" is "vidrd generate --help"
  const helped = argv[0] === "help" && argv.length === 2 ? subcommand(argv[1]) : undefined;
  if (helped) return helped(["--help"]);
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      options: { help: { type: "boolean", short: "h" }, version: { type: "boolean", short: "v" } },
      allowPositionals: true,
      strict: true,
    });
  } catch (e) {
    process.stderr.write(`vidrd: ${(e as Error).message}; see vidrd --help\n`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.version) {
    process.stdout.write(`${pkg.version}\n`);
    return 0;
  }
  const command = positionals[0];
  if (values.help || command === undefined || command === "help") {
    process.stdout.write(HELP);
    return 0;
  }
  process.stderr.write(`vidrd: unknown command "${command}"; commands: ${COMMANDS.join(", ")}\n`);
  return 2;
}

process.exitCode = await main(process.argv.slice(2));
