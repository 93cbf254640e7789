import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ops } from "../../src/graph/index.js";
import { Trainer, listCheckpoints, readCheckpoint, readStepLog, resolveTrainConfig, type StepRecord, type TrainerOptions } from "../../src/train/index.js";
import { SeededNoise } from "../../src/tensor/seeded-noise.js";
import { Tensor } from "../../src/tensor/tensor.js";
import { bits, tempDir, withoutTiming } from "./helpers.js";
import { toyBatch, toyConfig, toyModel, toyWeights } from "./toy.js";


function toyTrainer(dir: string, steps: number, every: number, extra: Partial<TrainerOptions> = {}): Trainer {
  return new Trainer({ model: (g) => toyModel(g), weights: toyWeights(), data: (ctx) => toyBatch(ctx), config: toyConfig(dir, steps, every), ...extra });
}


test("the toy regression fits to near-zero loss; the frozen gain is neither trained nor saved", async (t) => {
  const dir = tempDir(t);
  const weights = toyWeights();
  const gainBefore = bits(weights.get("gain")!);
  const losses: number[] = [];
  const trainer = new Trainer({
    model: (g) => toyModel(g),
    weights,
    data: (ctx) => toyBatch(ctx),
    config: { ...toyConfig(dir, 300, 100), lr: { schedule: "constant", peak: 0.05 }, adamw: { weightDecay: 0, emaDecay: 0.9 } },
    onStep: (r) => void losses.push(r.loss),
  });
  const result = await trainer.run();
  assert.equal(result.status, "completed");
  assert.equal(result.step, 300);
  assert.ok(losses[0]! > 1, `first loss ${losses[0]}`);
  assert.ok(losses.at(-1)! < 1e-3, `final loss ${losses.at(-1)}`);
  assert.deepEqual([...result.params.keys()], ["fc.weight", "fc.bias"]);
  assertClose(result.params.get("fc.bias")!, [0.3, -0.2], 0.02);
  assert.deepEqual(bits(weights.get("gain")!), gainBefore);
  const ck = readCheckpoint(listCheckpoints(dir).at(-1)!.path);
  assert.equal(ck.step, 300);
  assert.ok(!ck.tensors.has("gain"));
  assert.deepEqual([...ck.tensors.keys()].sort(), [
    "adam.m.fc.bias", "adam.m.fc.weight", "adam.v.fc.bias", "adam.v.fc.weight", "ema.fc.bias", "ema.fc.weight", "fc.bias", "fc.weight",
  ]);
  assert.equal(ck.config.steps, 300);
  assert.equal(ck.seed, 7);
  // keep: 2
  assert.deepEqual(listCheckpoints(dir).map((c) => c.step), [200, 300]);
  // the metric and the log
  const log = readStepLog(join(dir, "train-log.jsonl"));
  assert.equal(log.length, 300);
  assert.deepEqual(Object.keys(log[0]!), ["step", "loss", "lr", "grad_norm", "samples_per_s", "metrics"]);
  assert.ok(typeof log[0]!.metrics!.pred_mean === "number");
});

function assertClose(t: Tensor, expected: number[], atol: number): void {
  const got = Array.from(t.data as Float32Array);
  got.forEach((v, i) => assert.ok(Math.abs(v - expected[i]!) <= atol, `element ${i}: ${v} vs ${expected[i]}`));
}

test("stopped by an AbortSignal and resumed, a run ends bit-identical to an uninterrupted one", async (t) => {
  const full = await toyTrainer(tempDir(t), 12, 5).run();

  const dir = tempDir(t);
  const ac = new AbortController();
  const first = await toyTrainer(dir, 12, 5, { onStep: (r) => void (r.step === 7 && ac.abort()), signal: ac.signal }).run();
  assert.equal(first.status, "stopped");
  assert.equal(first.step, 7);
  // a checkpoint at the stopping step, besides the periodic one at 5
  assert.deepEqual(listCheckpoints(dir).map((c) => c.step), [5, 7]);
  const second = await toyTrainer(dir, 12, 5).run();
  assert.equal(second.resumedFrom, 7);
  assert.equal(second.status, "completed");
  for (const name of ["fc.weight", "fc.bias"]) {
    assert.deepEqual(bits(second.params.get(name)!), bits(full.params.get(name)!), name);
    assert.deepEqual(bits(second.ema!.get(name)!), bits(full.ema!.get(name)!), `ema ${name}`);
  }
  assert.equal(second.lastLoss, full.lastLoss);
});

test("a damaged newest checkpoint is skipped with a warning and the run resumes from the one before", async (t) => {
  const dir = tempDir(t);
  await toyTrainer(dir, 6, 3).run();
  const reference = await toyTrainer(tempDir(t), 8, 3).run();
  const newest = listCheckpoints(dir).at(-1)!;
  assert.equal(newest.step, 6);
  const bytes = readFileSync(newest.path);
  writeFileSync(newest.path, bytes.subarray(0, bytes.length - 7)); // truncated, as a disk or a copy might
  const warnings: string[] = [];
  const resumed = await toyTrainer(dir, 8, 3, { warn: (m) => void warnings.push(m) }).run();
  assert.equal(resumed.resumedFrom, 3);
  assert.equal(warnings.length, 2);
  assert.match(warnings[0]!, /skipping checkpoint .*step-00000006\.safetensors/);
  // more steps stretch the cosine decay (lr.decaySteps defaults to steps); both runs here use 8
  assert.match(warnings[1]!, /changed config .*lr.decaySteps: 6 -> 8/);
  assert.ok(readdirSync(dir).includes("step-00000006.safetensors.corrupt"));
  assert.deepEqual(bits(resumed.params.get("fc.weight")!), bits(reference.params.get("fc.weight")!));
  // the log was cut back to step 3 and then continued: steps 1..8 once each
  assert.deepEqual(readStepLog(join(dir, "train-log.jsonl")).map((r) => r.step), [1, 2, 3, 4, 5, 6, 7, 8]);
});

test("a resumed run with a changed trajectory config warns, naming the fields", async (t) => {
  const dir = tempDir(t);
  await toyTrainer(dir, 2, 2).run();
  const warnings: string[] = [];
  const config = { ...toyConfig(dir, 3, 2), seed: 8 };
  await new Trainer({ model: (g) => toyModel(g), weights: toyWeights(), data: (ctx) => toyBatch(ctx), config, warn: (m) => void warnings.push(m) }).run();
  assert.equal(warnings.length, 1);
  assert.match(warnings[0]!, /changed config .*seed: 7 -> 8/);
});

test("gradient accumulation in the trainer: 2 micro-batches of 4 match one batch of 8", async (t) => {
  const steps = 3;
  const whole = await new Trainer({
    model: (g) => toyModel(g, 8),
    weights: toyWeights(),
    data: (ctx) => toyBatch(ctx, 8),
    config: { ...toyConfig(tempDir(t), steps, 10), checkpoint: {} },
  }).run();
  const records: StepRecord[] = [];
  let stepBatch: Record<string, Tensor> = {};
  const micro = await new Trainer({
    model: (g) => toyModel(g, 4),
    weights: toyWeights(),
    // both micro-batches come from the step's batch of 8 (drawn once): the first 4 rows, then the last 4
    data: (ctx) => {
      if (ctx.micro === 0) stepBatch = toyBatch(ctx, 8);
      const b = stepBatch;
      const rows = (x: Tensor, w: number) => new Tensor("float32", (x.data as Float32Array).slice(ctx.micro * 4 * w, (ctx.micro + 1) * 4 * w), [4, w]);
      return { x: rows(b.x!, 3), y: rows(b.y!, 2) };
    },
    config: { ...toyConfig(tempDir(t), steps, 10), accumulation: 2, checkpoint: {} },
    onStep: (r) => void records.push(r),
  }).run();
  assertClose(micro.params.get("fc.weight")!, Array.from(whole.params.get("fc.weight")!.data as Float32Array), 1e-6);
  assertClose(micro.params.get("fc.bias")!, Array.from(whole.params.get("fc.bias")!.data as Float32Array), 1e-6);
  assert.equal(records[0]!.samples_per_s > 0, true);
});

test("constructor errors name the config field", () => {
  const base = toyConfig("/tmp/x", 10, 5);
  const make = (config: unknown) => new Trainer({ model: (g) => toyModel(g), weights: toyWeights(), data: (ctx) => toyBatch(ctx), config: config as never });
  assert.throws(() => make({ ...base, steps: 0 }), /config.steps is 0; allowed: an integer >= 1/);
  assert.throws(() => make({ ...base, lr: { peak: -1 } }), /config.lr.peak is -1; allowed: a finite number > 0/);
  assert.throws(() => make({ ...base, adamw: { betas: [0.9] } }), /config.adamw.betas is \[0.9\]/);
  assert.throws(() => make({ ...base, checkpoint: { every: 0 } }), /config.checkpoint.every is 0/);
  assert.throws(() => make({ ...base, stepz: 3 }), /config.stepz is not a known field; known: steps, seed/);
});

test("the log of a resumed run matches the uninterrupted run's, step by step", async (t) => {
  const dirA = tempDir(t);
  await toyTrainer(dirA, 9, 4).run();
  const dirB = tempDir(t);
  const ac = new AbortController();
  await toyTrainer(dirB, 9, 4, { signal: ac.signal, onStep: (r) => void (r.step === 6 && ac.abort()) }).run();
  // a step the interrupted run logged past its checkpoint is replaced on resume
  writeFileSync(join(dirB, "train-log.jsonl"), readFileSync(join(dirB, "train-log.jsonl"), "utf8") + '{"step":7,"loss":1,"lr":1,"grad_norm":1,"samples_per_s":1}\n{"step":8,"lo');
  await toyTrainer(dirB, 9, 4).run();
  const a = readStepLog(join(dirA, "train-log.jsonl")).map(withoutTiming);
  const b = readStepLog(join(dirB, "train-log.jsonl")).map(withoutTiming);
  assert.deepEqual(b, a);
});

test("a non-finite loss stops the run with an error naming the step; no checkpoint is written for it", async (t) => {
  const dir = tempDir(t);
  const trainer = new Trainer({
    model: (g) => {
      const { loss } = toyModel(g);
      // log(loss - 1000) is NaN
      return { loss: ops.log(ops.sub(loss, 1000)) };
    },
    weights: toyWeights(),
    data: (ctx) => toyBatch(ctx),
    config: toyConfig(dir, 5, 1),
  });
  await assert.rejects(trainer.run(), /step 1: loss is NaN; stopping without a checkpoint \(the last one is none\)/);
  assert.deepEqual(listCheckpoints(dir), []);
});

test("a fresh start (resume: false) refuses a directory that holds another run's checkpoints", async (t) => {
  const dir = tempDir(t);
  await toyTrainer(dir, 2, 1).run();
  await assert.rejects(toyTrainer(dir, 2, 1, { resume: false }).run(), /checkpoint.dir .* holds checkpoints of a run \(steps 1, 2\); resume it, or use an empty directory/);
  // the trainer is usable again after a failed run
  const again = toyTrainer(dir, 3, 1);
  assert.equal((await again.run()).resumedFrom, 2);
});

test("checkpoint metadata: step, seed, root noise state and the resolved config as JSON", async (t) => {
  const dir = tempDir(t);
  await toyTrainer(dir, 2, 2).run();
  const ck = readCheckpoint(listCheckpoints(dir)[0]!.path);
  assert.equal(ck.step, 2);
  assert.equal(ck.seed, 7);
  assert.deepEqual(ck.noiseState, new SeededNoise(7).getState());
  assert.deepEqual(ck.config, resolveTrainConfig(toyConfig(dir, 2, 2)));
  assert.equal(typeof ck.loss, "number");
});
