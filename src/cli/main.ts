// The `vidrd` command line: a thin face over the library (DESIGN.md). Commands are added as the
// library grows; an unknown command or flag is one clear line and a non-zero exit, never a stack trace.

import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { runConvert } from "./convert.js";

const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string };

const HELP = `vidrd ${pkg.version}: long, smooth videos from text with Reuse and Diffuse (VidRD)

Usage: vidrd <command> [options]

Commands:
  help             show this help
  convert          model weights (.pth, .ckpt, .bin, safetensors, diffusers folder) -> safetensors folder

Options:
  -h, --help       show this help
  -v, --version    print the version

Run "vidrd <command> --help" for a command's options. Generation, training, data and evaluation
commands come with the layers they drive; the library API (import from "vidrd") exposes the models,
the graph IR and autodiff, the trainer, the runtime, tensors, noise and weight I/O today.
`;

/** Subcommands with their own flags: each gets the arguments after its name and returns an exit code. */
const SUBCOMMANDS: Record<string, (argv: string[]) => number> = { convert: runConvert };
const COMMANDS = ["help", ...Object.keys(SUBCOMMANDS)];

export function main(argv: readonly string[]): number {
  const sub = argv[0] !== undefined ? SUBCOMMANDS[argv[0]] : undefined;
  if (sub) return sub(argv.slice(1));
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

process.exitCode = main(process.argv.slice(2));
