import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const DEADLINE_MS = 120_000;
const RUNS = 400;

test("property: corrupted headers and lengths either parse or throw SafetensorsError, in bounded time", () => {
  const script = fileURLToPath(new URL("./safetensors-fuzz.property.ts", import.meta.url));
  // A child process, so a parser stuck in a loop is killed at the deadline instead of hanging the run.
  const child = spawnSync(process.execPath, ["--import", "tsx", script, String(RUNS)], { timeout: DEADLINE_MS, encoding: "utf8" });
  assert.equal(child.error, undefined, `corrupt-input property did not finish within ${DEADLINE_MS} ms: a parser hang? ${String(child.error)}`);
  assert.equal(child.status, 0, child.stderr);
  const result = JSON.parse(child.stdout.trim().split("\n").pop()!) as { slowest: number; parsed: number; rejected: number };
  // Each case is a few hundred bytes; a slow one means a parser walking something it should not.
  assert.ok(result.slowest < 5000, `slowest case took ${result.slowest} ms`);
  // The mutations must exercise both outcomes, or the property proves little.
  assert.ok(result.rejected > RUNS / 4, `only ${result.rejected} of ${RUNS} cases were rejected`);
  assert.ok(result.parsed > RUNS / 40, `only ${result.parsed} of ${RUNS} cases parsed`);
});
