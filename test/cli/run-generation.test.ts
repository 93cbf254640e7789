// runGeneration after a stop signal: only the writer's "no frames" (NoFramesError) or the abort itself is
// reported as "interrupted before the first frame was written"; any other failure is itself. Run in a
// child process, since it signals itself.

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { after, before, test } from "node:test";
import { root } from "./cli-harness.js";

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), "vidrd-cli-rungen-"));
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** Runs runGeneration in a child whose generate() receives `signal`, then throws what `error` makes. */
function run(signal: string, error: string) {
  const script = join(dir, `run-${signal}-${error.length}.mts`);
  const url = (p: string) => JSON.stringify(pathToFileURL(join(root, p)).href);
  writeFileSync(
    script,
    `import { runGeneration } from ${url("src/cli/run-generation.ts")};
import { NoFramesError } from ${url("src/media/index.ts")};
const io = { stdout: (t) => process.stdout.write(t), stderr: (t) => process.stderr.write(t), progress: { write: (t) => process.stderr.write(t) } };
try {
  const code = await runGeneration("generate", io, false, async () => {
    process.kill(process.pid, ${JSON.stringify(signal)});
    await new Promise((r) => setTimeout(r, 200));
    throw ${error};
  }, () => "");
  process.stdout.write("code " + code + "\\n");
} catch (e) {
  process.stdout.write("thrown " + e.message + "\\n");
}
`,
  );
  return spawnSync(process.execPath, ["--import", "tsx", script], { cwd: root, encoding: "utf8" });
}

test("after Ctrl-C, the writer's no-frames error is the 'interrupted before the first frame' line, exit 130", () => {
  const r = run("SIGINT", 'new NoFramesError("VideoWriter finish v.mp4: no frame was written")');
  assert.equal(r.stdout, "code 130\n", r.stderr);
  assert.match(r.stderr, /\nvidrd generate: interrupted before the first frame was written; no output was left\n$/);
});

test("after SIGTERM, the same with exit 143", () => {
  const r = run("SIGTERM", 'new NoFramesError("no frame was written")');
  assert.equal(r.stdout, "code 143\n", r.stderr);
  assert.match(r.stderr, /interrupted before the first frame was written/);
});

test("any other error after an interrupt is reported as itself (thrown for reportFailure)", () => {
  const r = run("SIGINT", 'new Error("ENOSPC: no space left on device, write")');
  assert.equal(r.stdout, "thrown ENOSPC: no space left on device, write\n", r.stderr);
  assert.doesNotMatch(r.stderr, /interrupted before the first frame/);
});
