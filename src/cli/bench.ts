// `vidrd bench [filter...]`: the benchmarks, as `npm run bench -- [filter...]` runs them (bench/main.ts
// through tsx, from the package root), with their output streamed as it comes. bench/ and tsx are part
// of the repository, not of the published package, so an installed vidrd says where to find them.

import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { processIO, reportFailure, type CommandIO } from "./command.js";

/** The package root: two folders up from src/cli/ (tsx) and from dist/cli/ (the installed binary) alike. */
export const PACKAGE_ROOT = fileURLToPath(new URL("../../", import.meta.url));

export const BENCH_USAGE = `Usage: vidrd bench [filter...]

Runs the benchmarks whose name or metric contains a filter (all when none), the same as
\`npm run bench -- [filter...]\`: one JSON object per figure on stdout, progress on stderr.
Needs a clone of the vidrd repository (bench/ and the dev dependencies); the published package has none.

Options:
  -h, --help   show this help
`;

/** Why the benchmarks cannot run from `root`, or null when they can. */
export function benchUnavailable(root: string): string | null {
  const main = join(root, "bench", "main.ts");
  if (!existsSync(main)) {
    return `the benchmarks are not part of this installation (no ${main}); in a clone of the vidrd repository, run npm install, then npm run bench -- [filter...]`;
  }
  try {
    createRequire(join(root, "package.json")).resolve("tsx");
  } catch {
    return `the benchmarks need tsx, a dev dependency not installed in ${root}; run npm install there first`;
  }
  return null;
}

export async function runBench(argv: readonly string[], io: CommandIO = processIO, root = PACKAGE_ROOT): Promise<number> {
  // bench/main.ts takes only filters; "--help" anywhere is vidrd's.
  if (argv.includes("--help") || argv.includes("-h")) {
    io.stdout(BENCH_USAGE);
    return 0;
  }
  const unavailable = benchUnavailable(root);
  if (unavailable !== null) return reportFailure("bench", new Error(unavailable), io);
  // Ctrl-C reaches the child too (same process group); the parent waits for it and reports its code.
  const ignoreSigint = (): void => {};
  process.on("SIGINT", ignoreSigint);
  try {
    return await new Promise<number>((done, fail) => {
      const child = spawn(process.execPath, ["--import", "tsx", join("bench", "main.ts"), ...argv], { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
      // decoded as a stream, so a character split across two chunks is not mangled
      child.stdout.setEncoding("utf8").on("data", (text: string) => io.stdout(text));
      child.stderr.setEncoding("utf8").on("data", (text: string) => io.stderr(text));
      child.on("error", fail);
      child.on("close", (code, signal) => done(code ?? (signal === "SIGINT" ? 130 : 1)));
    });
  } catch (e) {
    return reportFailure("bench", e, io);
  } finally {
    process.off("SIGINT", ignoreSigint);
  }
}
