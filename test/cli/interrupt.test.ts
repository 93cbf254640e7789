// Ctrl-C handling of long commands (command.ts interruptible): the first SIGINT aborts the signal and says
// so; the second quits at once with 130. Run in a child process, since the second one exits it.

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
  dir = mkdtempSync(join(tmpdir(), "vidrd-cli-interrupt-"));
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** A child that installs the handler, then signals itself `count` times, 100 ms apart, and reports. */
function run(count: number, signal = "SIGINT") {
  const script = join(dir, `${signal}-${count}.mts`);
  const command = pathToFileURL(join(root, "src", "cli", "command.ts")).href;
  writeFileSync(
    script,
    `import { interruptible } from ${JSON.stringify(command)};
const run = interruptible("generate", (line) => process.stderr.write(line + "\\n"));
run.signal.addEventListener("abort", () => process.stdout.write("aborted\\n"));
for (let i = 0; i < ${count}; i++) {
  process.kill(process.pid, ${JSON.stringify(signal)});
  await new Promise((r) => setTimeout(r, 100));
}
process.stdout.write(\`still running, interrupted: \${run.interrupted}, exit code \${run.exitCode}\\n\`);
run.dispose();
`,
  );
  return spawnSync(process.execPath, ["--import", "tsx", script], { cwd: root, encoding: "utf8" });
}

test("the first Ctrl-C aborts the run and says how to quit at once; the process goes on", () => {
  const r = run(1);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, "aborted\nstill running, interrupted: true, exit code 130\n");
  assert.equal(r.stderr, "vidrd generate: stopping after the current step, keeping the frames made so far (Ctrl-C again to quit now)\n");
});

test("a second Ctrl-C quits at once with exit code 130", () => {
  const r = run(2);
  assert.equal(r.status, 130, r.stderr);
  assert.equal(r.stdout, "aborted\n");
  assert.match(r.stderr, /\nvidrd generate: quit at once; no output was written\n$/);
});

test("SIGTERM and SIGHUP stop a run as Ctrl-C does; the exit code is 128 + the signal (143, 129)", () => {
  for (const [signal, code] of [
    ["SIGTERM", 143],
    ["SIGHUP", 129],
  ] as const) {
    const once = run(1, signal);
    assert.equal(once.status, 0, once.stderr);
    assert.equal(once.stdout, `aborted\nstill running, interrupted: true, exit code ${code}\n`);
    assert.equal(once.stderr, `vidrd generate: ${signal}: stopping after the current step, keeping the frames made so far (${signal} again to quit now)\n`);
    const twice = run(2, signal);
    assert.equal(twice.status, code, twice.stderr);
    assert.match(twice.stderr, /\nvidrd generate: quit at once; no output was written\n$/);
  }
});
