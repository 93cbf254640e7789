import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../..", import.meta.url));

function vidrd(...args: string[]) {
  return spawnSync(process.execPath, ["--import", "tsx", "src/cli/main.ts", ...args], { cwd: root, encoding: "utf8" });
}

test("--help prints usage and exits 0", () => {
  const r = vidrd("--help");
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^vidrd \d+\.\d+\.\d+: /);
  assert.match(r.stdout, /Usage: vidrd <command>/);
});

test("--version prints the package version", () => {
  const r = vidrd("--version");
  assert.equal(r.status, 0);
  assert.match(r.stdout.trim(), /^\d+\.\d+\.\d+$/);
});

test("unknown commands and flags: one line naming them, exit 2, no stack trace", () => {
  const cmd = vidrd("frobnicate");
  assert.equal(cmd.status, 2);
  assert.equal(cmd.stderr.trim(), 'vidrd: unknown command "frobnicate"; commands: help, generate, extend, info, convert, data, bench');
  const flag = vidrd("--frames=-3");
  assert.equal(flag.status, 2);
  assert.equal(flag.stderr.trim().split("\n").length, 1);
  assert.match(flag.stderr, /Unknown option '--frames'/);
  assert.doesNotMatch(flag.stderr, /at .*\.ts:\d+/);
});
