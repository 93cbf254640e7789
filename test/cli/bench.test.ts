// `vidrd bench`: runs bench/main.ts through tsx from the package root, passing the filters and the exit
// code through; where bench/ (or tsx) is absent, as in the published package, one line says so.

import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { runBench } from "../../src/cli/bench.js";
import type { CommandIO } from "../../src/cli/command.js";
import { root, vidrd } from "./cli-harness.js";

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), "vidrd-cli-bench-"));
});
after(() => rmSync(dir, { recursive: true, force: true }));

function captured(): CommandIO & { out: string; err: string } {
  const io = {
    out: "",
    err: "",
    stdout: (t: string) => void (io.out += t),
    stderr: (t: string) => void (io.err += t),
    progress: { write: () => true },
  };
  return io;
}

test("without bench/ (an installed package) it says where the benchmarks are, in one line", async () => {
  const installed = join(dir, "installed");
  mkdirSync(installed);
  const io = captured();
  assert.equal(await runBench(["media"], io, installed), 1);
  assert.match(io.err, /^vidrd bench: the benchmarks are not part of this installation \(no .*bench\/main\.ts\); in a clone of the vidrd repository, run npm install, then npm run bench/);
  assert.equal(io.err.trim().split("\n").length, 1);
});

test("with bench/ it runs bench/main.ts with the filters from the package root and returns its exit code", async () => {
  const clone = join(dir, "clone");
  mkdirSync(join(clone, "bench"), { recursive: true });
  symlinkSync(join(root, "node_modules"), join(clone, "node_modules"), "dir");
  writeFileSync(join(clone, "package.json"), JSON.stringify({ name: "vidrd", type: "module" }));
  // a bench entry that reports what it was given, in TypeScript so tsx must be in play
  writeFileSync(
    join(clone, "bench", "main.ts"),
    `const args: string[] = process.argv.slice(2);\nprocess.stdout.write(JSON.stringify({ args, cwd: process.cwd() }) + "\\n");\nprocess.stderr.write("[bench] progress\\n");\nprocess.exit(args.includes("fail") ? 3 : 0);\n`,
  );
  const io = captured();
  assert.equal(await runBench(["media", "encode_fps"], io, clone), 0, io.err);
  assert.deepEqual(JSON.parse(io.out), { args: ["media", "encode_fps"], cwd: clone });
  assert.equal(io.err, "[bench] progress\n");
  assert.equal(await runBench(["fail"], captured(), clone), 3);
});

test("vidrd bench --help, and main's help lists every command", () => {
  const help = vidrd(["bench", "--help"]);
  assert.equal(help.status, 0);
  assert.match(help.stdout, /^Usage: vidrd bench \[filter\.\.\.\]/);
  const top = vidrd(["--help"]);
  for (const command of ["generate", "extend", "info", "convert", "bench"]) assert.match(top.stdout, new RegExp(`^  ${command} `, "m"));
  for (const command of ["generate", "extend", "info", "convert"]) {
    const r = vidrd([command, "--help"]);
    assert.equal(r.status, 0, `${command}: ${r.stderr}`);
    assert.match(r.stdout, new RegExp(`^Usage: vidrd ${command} `));
  }
  assert.match(vidrd(["help", "extend"]).stdout, /^Usage: vidrd extend <video> "<prompt>"/);
});
