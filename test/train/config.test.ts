import { test } from "node:test";
import assert from "node:assert/strict";
import { availableParallelism } from "node:os";
import { learningRate, Progress, resolveTrainConfig, TrainConfigError } from "../../src/train/index.js";

test("defaults are filled in and the log sits beside the checkpoints", () => {
  const c = resolveTrainConfig({ steps: 100, lr: { peak: 1e-4 }, checkpoint: { dir: "/runs/a" } });
  assert.deepEqual(c.lr, { schedule: "cosine", peak: 1e-4, warmupSteps: 0, floor: 0, decaySteps: 100 });
  assert.deepEqual(c.adamw, { betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0.01, maxGradNorm: null, emaDecay: null });
  assert.deepEqual(c.checkpoint, { dir: "/runs/a", every: 1000, keep: 3 });
  assert.deepEqual(c.log, { path: "/runs/a/train-log.jsonl", progress: "auto", every: 5 });
  assert.equal(c.seed, 0);
  assert.equal(c.threads, availableParallelism());
  assert.equal(c.accumulation, 1);
  assert.equal(resolveTrainConfig({ steps: 3, lr: { peak: 1 } }).log.path, null);
  // JSON round trip (how checkpoints store it) gives the same config
  assert.deepEqual(resolveTrainConfig(JSON.parse(JSON.stringify(c))), c);
});

test("every invalid field is named with its value and what is allowed", () => {
  const cases: [unknown, RegExp][] = [
    [null, /config is null; allowed: an object/],
    [{ lr: { peak: 1 } }, /config.steps is undefined; allowed: an integer >= 1 \(required\)/],
    [{ steps: 1.5, lr: { peak: 1 } }, /config.steps is 1.5; allowed: an integer >= 1/],
    [{ steps: 5 }, /config.lr is undefined; allowed: an object/],
    [{ steps: 5, lr: {} }, /config.lr.peak is undefined; allowed: a finite number > 0 \(required\)/],
    [{ steps: 5, lr: { peak: 1, schedule: "linear" } }, /config.lr.schedule is "linear"; allowed: constant, cosine/],
    [{ steps: 5, lr: { peak: 1, floor: 2 } }, /config.lr.floor is 2; allowed: a number in \[0, lr.peak = 1\]/],
    [{ steps: 5, lr: { peak: 1, warmup: 2 } }, /config.lr.warmup is not a known field; known: schedule, peak, warmupSteps, floor, decaySteps/],
    [{ steps: 5, lr: { peak: 1 }, adamw: { eps: -1 } }, /config.adamw.eps is -1; allowed: a finite number > 0/],
    [{ steps: 5, lr: { peak: 1 }, checkpoint: { dir: "" } }, /config.checkpoint.dir is ""; allowed: a non-empty path string/],
    [{ steps: 5, lr: { peak: 1 }, log: { progress: "fancy" } }, /config.log.progress is "fancy"; allowed: auto, bar, lines, none/],
    [{ steps: 5, lr: { peak: 1 }, threads: 0 }, /config.threads is 0; allowed: an integer >= 1/],
    [{ steps: 50, lr: { peak: 1, warmupSteps: 10, decaySteps: 10 } }, /config.lr.decaySteps is 10; allowed: an integer > lr.warmupSteps = 10 for the cosine schedule/],
    [{ steps: 50, lr: { peak: 1, warmupSteps: 10, decaySteps: 4 } }, /config.lr.decaySteps is 4; allowed: an integer > lr.warmupSteps = 10 for the cosine schedule/],
  ];
  for (const [input, message] of cases) assert.throws(() => resolveTrainConfig(input), (e: unknown) => e instanceof TrainConfigError && message.test(e.message), String(message));
  // allowed: the constant schedule ignores decaySteps; a warmup as long as the run never reaches the
  // cosine (its resolved config, decaySteps = steps, resolves again)
  resolveTrainConfig({ steps: 50, lr: { peak: 1, schedule: "constant", warmupSteps: 10, decaySteps: 5 } });
  const allWarmup = resolveTrainConfig({ steps: 5, lr: { peak: 1, warmupSteps: 10 } });
  assert.deepEqual(resolveTrainConfig(allWarmup), allWarmup);
});

test("learning rate: linear warmup, then a half cosine from peak to floor, then floor", () => {
  const c = resolveTrainConfig({ steps: 110, lr: { peak: 1, warmupSteps: 10, floor: 0.1 } }).lr;
  assert.equal(learningRate(1, c), 0.1);
  assert.equal(learningRate(5, c), 0.5);
  assert.equal(learningRate(10, c), 1);
  // halfway through the 100 decay steps: floor + (peak - floor) / 2
  assert.ok(Math.abs(learningRate(60, c) - 0.55) < 1e-12);
  assert.ok(Math.abs(learningRate(110, c) - 0.1) < 1e-12);
  assert.ok(Math.abs(learningRate(500, c) - 0.1) < 1e-12);
  const constant = resolveTrainConfig({ steps: 50, lr: { peak: 0.3, schedule: "constant", warmupSteps: 3 } }).lr;
  assert.equal(learningRate(3, constant), 0.3);
  assert.equal(learningRate(50, constant), 0.3);
  assert.throws(() => learningRate(0, constant), /step is 0; allowed: an integer >= 1/);
});

test("progress: a bar redrawn in place on a terminal, plain lines every N steps otherwise", () => {
  const record = (step: number) => ({ step, loss: 0.5, lr: 1e-3, grad_norm: 2, samples_per_s: 100 });
  const tty: string[] = [];
  const bar = new Progress("auto", { isTTY: true, columns: 200, write: (s: string) => void tty.push(s) }, 10, 5);
  bar.update(record(1), 0.5);
  bar.update(record(2), 0.5);
  bar.finish();
  assert.equal(tty.length, 3);
  assert.match(tty[0]!, /^\r\[##\.{22}\] step 1\/10 loss 0\.5000 lr 1\.00e-3 grad_norm 2\.00 100 samples\/s eta 5s/);
  assert.equal(tty[2], "\n");
  const pipe: string[] = [];
  const lines = new Progress("auto", { write: (s: string) => void pipe.push(s) }, 12, 5);
  for (let s = 1; s <= 12; s++) lines.update(record(s), 1);
  assert.deepEqual(pipe.map((l) => l.split(" ")[1]), ["5/12", "10/12", "12/12"]);
  const quiet: string[] = [];
  const none = new Progress("none", { isTTY: true, write: (s: string) => void quiet.push(s) }, 3, 1);
  none.update(record(1), 1);
  none.note("hello");
  assert.deepEqual(quiet, []);
});
