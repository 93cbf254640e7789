// Crash safety end to end, in child processes: kill -9 mid-run, then resume; SIGINT mid-run.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { join } from "node:path";
import { Trainer, listCheckpoints, readCheckpoint, readStepLog } from "../../src/train/index.js";
import { bits, tempDir, withoutTiming } from "./helpers.js";
import { toyBatch, toyConfig, toyModel, toyWeights } from "./toy.js";

const SCRIPT = new URL("./run-toy.ts", import.meta.url).pathname;

interface Child {
  /** Resolves with the exit code and signal once the process has ended. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>;
  /** Resolves when the child prints "step <n>". */
  reached(step: number): Promise<void>;
  /** Resolves when the child's stderr matches `pattern`. */
  stderrMatches(pattern: RegExp): Promise<void>;
  kill(signal: NodeJS.Signals): void;
}

function runToy(args: string[]): Child {
  const child = spawn(process.execPath, ["--import", "tsx", SCRIPT, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  const waiters: { step: number; resolve: () => void }[] = [];
  child.stdout.on("data", (d: Buffer) => {
    stdout += d.toString();
    for (const w of [...waiters]) {
      if (stdout.split("\n").includes(`step ${w.step}`)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    }
  });
  const stderrWaiters: { pattern: RegExp; resolve: () => void }[] = [];
  child.stderr.on("data", (d: Buffer) => {
    stderr += d.toString();
    for (const w of [...stderrWaiters]) {
      if (w.pattern.test(stderr)) {
        stderrWaiters.splice(stderrWaiters.indexOf(w), 1);
        w.resolve();
      }
    }
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>((resolve) => {
    child.on("exit", (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  return {
    exited,
    reached: (step) =>
      new Promise<void>((resolve, reject) => {
        waiters.push({ step, resolve });
        void exited.then((r) => reject(new Error(`child exited (${r.code ?? r.signal}) before step ${step}:\n${r.stdout}\n${r.stderr}`)));
      }),
    stderrMatches: (pattern) =>
      new Promise<void>((resolve, reject) => {
        if (pattern.test(stderr)) return resolve();
        stderrWaiters.push({ pattern, resolve });
        void exited.then((r) => reject(new Error(`child exited (${r.code ?? r.signal}) before printing ${pattern}:\n${r.stdout}\n${r.stderr}`)));
      }),
    kill: (signal) => void child.kill(signal),
  };
}



test("kill -9 after step 12 of 20 (checkpoints every 10), resume: parameters and log equal the uninterrupted run's", async (t) => {
  const reference = tempDir(t);
  await new Trainer({ model: (g) => toyModel(g), weights: toyWeights(), data: (ctx) => toyBatch(ctx), config: toyConfig(reference, 20, 10) }).run();

  const dir = tempDir(t);
  const first = runToy([dir, "20", "10", "--pause-after", "12"]);
  await first.reached(12);
  first.kill("SIGKILL");
  const killed = await first.exited;
  assert.equal(killed.signal, "SIGKILL");
  assert.deepEqual(listCheckpoints(dir).map((c) => c.step), [10]);
  assert.equal(readStepLog(join(dir, "train-log.jsonl")).length, 12, "steps 11 and 12 were logged before the kill");

  const second = runToy([dir, "20", "10"]);
  const resumed = await second.exited;
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.match(resumed.stdout, /^step 11$/m);
  assert.doesNotMatch(resumed.stdout, /^step 10$/m);
  assert.match(resumed.stdout, /done completed 20/);

  const a = readCheckpoint(listCheckpoints(reference).at(-1)!.path);
  const b = readCheckpoint(listCheckpoints(dir).at(-1)!.path);
  assert.equal(b.step, 20);
  assert.deepEqual([...b.tensors.keys()].sort(), [...a.tensors.keys()].sort());
  for (const [name, tensor] of a.tensors) assert.deepEqual(bits(b.tensors.get(name)!), bits(tensor), name);
  const logA = readStepLog(join(reference, "train-log.jsonl")).map(withoutTiming);
  const logB = readStepLog(join(dir, "train-log.jsonl")).map(withoutTiming);
  assert.equal(logA.length, 20);
  assert.deepEqual(logB, logA);
});

test("SIGINT mid-run: the process finishes its step, writes a checkpoint there and exits 0", async (t) => {
  const dir = tempDir(t);
  const child = runToy([dir, "1000", "500", "--sigint", "--delay-ms", "20"]);
  await child.reached(5);
  child.kill("SIGINT");
  const r = await child.exited;
  assert.equal(r.code, 0, r.stderr);
  const m = /done stopped (\d+)/.exec(r.stdout);
  assert.ok(m, r.stdout);
  const stoppedAt = Number(m[1]);
  assert.ok(stoppedAt >= 5 && stoppedAt < 1000, `stopped at ${stoppedAt}`);
  const log = readStepLog(join(dir, "train-log.jsonl"));
  assert.equal(log.at(-1)!.step, stoppedAt);
  assert.deepEqual(listCheckpoints(dir).map((c) => c.step), [stoppedAt]);
  assert.equal(readCheckpoint(listCheckpoints(dir)[0]!.path).step, stoppedAt);
  assert.match(r.stderr, /interrupted: stopping after this step/);
});

test("a second SIGINT quits at once with status 130, even while another SIGINT listener is installed", async (t) => {
  const dir = tempDir(t);
  // the child hangs in onStep after step 3, so only the second interrupt can end it
  const child = runToy([dir, "1000", "500", "--sigint", "--other-sigint-listener", "--pause-after", "3"]);
  await child.reached(3);
  child.kill("SIGINT");
  await child.stderrMatches(/interrupted: stopping after this step/);
  child.kill("SIGINT");
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<"hung">((resolve) => (timer = setTimeout(() => resolve("hung"), 10_000)));
  const r = await Promise.race([child.exited, hung]);
  clearTimeout(timer);
  if (r === "hung") {
    child.kill("SIGKILL");
    await child.exited;
    assert.fail("the child was still running 10 s after the second SIGINT");
  }
  assert.equal(r.code, 130, r.stderr);
  assert.deepEqual(listCheckpoints(dir), []);
});
