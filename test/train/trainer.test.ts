import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ops } from "../../src/graph/index.js";
import {
  TrainError,
  Trainer,
  listCheckpoints,
  readCheckpoint,
  readStepLog,
  resolveTrainConfig,
  type StepRecord,
  type TrainConfigInput,
  type TrainerOptions,
} from "../../src/train/index.js";
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
  await assert.rejects(trainer.run(), /step 1: loss is NaN; the step's update is discarded, not saved; the run stops after step 0/);
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

test("a finite loss with a NaN gradient stops the run naming grad_norm and the step; its NaN update is not saved", async (t) => {
  const dir = tempDir(t);
  const trainer = new Trainer({
    model: (g) => {
      const { loss } = toyModel(g);
      const z = g.input("z", "float32", [1]);
      const w = g.params.get("fc.weight")!.value;
      // sqrt(0 w + z) is finite; its gradient 0 * 0.5 / sqrt(z) is NaN where z = 0 (0 where z = 1)
      return { loss: ops.add(loss, ops.reduceSum(ops.sqrt(ops.add(ops.mul(w, 0), z)), [0, 1], false)) };
    },
    weights: toyWeights(),
    data: (ctx) => ({ ...toyBatch(ctx), z: Tensor.float32([ctx.step === 3 ? 0 : 1], [1]) }),
    config: toyConfig(dir, 8, 5),
    warn: () => {},
  });
  await assert.rejects(trainer.run(), /step 3: grad_norm is NaN \(loss \d[\d.e+-]*\); the step's update is discarded, not saved; the run stops after step 2/);
  // the state after step 2 (the last completed one) is saved on the way out; nothing of step 3
  assert.deepEqual(listCheckpoints(dir).map((c) => c.step), [2]);
  for (const [name, tensor] of readCheckpoint(listCheckpoints(dir)[0]!.path).tensors) {
    assert.ok((tensor.data as Float32Array).every(Number.isFinite), `${name} is finite`);
  }
  assert.deepEqual(readStepLog(join(dir, "train-log.jsonl")).map((r) => r.step), [1, 2]);
});

test("an error mid-run (data() fails at step 7) first checkpoints step 6; resuming continues exactly", async (t) => {
  const full = await toyTrainer(tempDir(t), 12, 5).run();
  const dir = tempDir(t);
  const warnings: string[] = [];
  const failing = toyTrainer(dir, 12, 5, {
    data: (ctx) => {
      if (ctx.step === 7) throw new Error("data source gone");
      return toyBatch(ctx);
    },
    warn: (m) => void warnings.push(m),
  });
  await assert.rejects(failing.run(), /data source gone/);
  assert.deepEqual(listCheckpoints(dir).map((c) => c.step), [5, 6]);
  assert.equal(warnings.length, 1);
  assert.match(warnings[0]!, /the run failed after step 6; wrote checkpoint .*step-00000006\.safetensors/);

  const resumed = await toyTrainer(dir, 12, 5).run();
  assert.equal(resumed.resumedFrom, 6);
  for (const name of ["fc.weight", "fc.bias"]) {
    assert.deepEqual(bits(resumed.params.get(name)!), bits(full.params.get(name)!), name);
    assert.deepEqual(bits(resumed.ema!.get(name)!), bits(full.ema!.get(name)!), `ema ${name}`);
  }
  assert.equal(resumed.lastLoss, full.lastLoss);
  assert.deepEqual(readStepLog(join(dir, "train-log.jsonl")).map((r) => r.step), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
});

test("an error in onStep after step 3 checkpoints step 3, which completed", async (t) => {
  const dir = tempDir(t);
  const trainer = toyTrainer(dir, 12, 5, {
    onStep: (r) => {
      if (r.step === 3) throw new Error("dashboard down");
    },
    warn: () => {},
  });
  await assert.rejects(trainer.run(), /dashboard down/);
  assert.deepEqual(listCheckpoints(dir).map((c) => c.step), [3]);
});

test("resuming with a config that changes what is saved is refused, listing the differences; nothing is renamed", async (t) => {
  const dir = tempDir(t);
  const withoutEma = (steps: number): TrainConfigInput => ({ ...toyConfig(dir, steps, 3), adamw: { weightDecay: 0.01, maxGradNorm: 5 } });
  await toyTrainer(dir, 6, 3, { config: withoutEma(6) }).run();
  const files = readdirSync(dir).sort();
  const log = readFileSync(join(dir, "train-log.jsonl"), "utf8");

  // EMA turned on: the checkpoints hold no ema.*
  await assert.rejects(toyTrainer(dir, 9, 3, { warn: () => {} }).run(), (e: unknown) => {
    assert.ok(e instanceof TrainError, String(e));
    assert.match(e.message, /cannot resume from .*step-00000006\.safetensors: it does not hold what this run trains and carries/);
    assert.match(e.message, /missing ema\.fc\.weight, ema\.fc\.bias \(2 tensor\(s\) this run carries\)/);
    assert.match(e.message, /config changes: .*adamw\.emaDecay: null -> 0\.9/);
    assert.match(e.message, /Use a new checkpoint\.dir for this config/);
    return true;
  });
  // fewer trainable parameters: the checkpoints hold fc.weight and its moments, which this run does not carry
  await assert.rejects(
    toyTrainer(dir, 9, 3, { config: withoutEma(9), trainable: (n) => n === "fc.bias", warn: () => {} }).run(),
    (e: unknown) => e instanceof TrainError && /holds (?=.*\bfc\.weight\b)(?=.*adam\.m\.fc\.weight)(?=.*adam\.v\.fc\.weight).* \(3 tensor\(s\) this run does not carry\)/.test(e.message),
  );
  // nothing renamed, the log untouched, and the original config still resumes
  assert.deepEqual(readdirSync(dir).sort(), files);
  assert.equal(readFileSync(join(dir, "train-log.jsonl"), "utf8"), log);
  assert.equal((await toyTrainer(dir, 9, 3, { config: withoutEma(9), warn: () => {} }).run()).resumedFrom, 6);
});

test("when every checkpoint is damaged, the run refuses to start over (which would truncate its log)", async (t) => {
  const dir = tempDir(t);
  await toyTrainer(dir, 3, 3).run();
  const only = listCheckpoints(dir)[0]!;
  writeFileSync(only.path, readFileSync(only.path).subarray(0, 100));
  const warnings: string[] = [];
  const again = () => toyTrainer(dir, 6, 3, { warn: (m) => void warnings.push(m) }).run();
  const refusal = /checkpoint\.dir .* holds no readable checkpoint, only damaged ones \(step-00000003\.safetensors\.corrupt\); to start over in this directory, move them away first/;
  await assert.rejects(again(), refusal);
  assert.match(warnings[0]!, /skipping checkpoint .*step-00000003\.safetensors \(renamed to step-00000003\.safetensors\.corrupt\)/);
  // and again on the next try, with the damaged file already renamed
  await assert.rejects(again(), refusal);
  assert.deepEqual(readStepLog(join(dir, "train-log.jsonl")).map((r) => r.step), [1, 2, 3]);
});

test("a trainable parameter the loss does not reach only decays, with and without gradient accumulation", async (t) => {
  for (const accumulation of [1, 2]) {
    const result = await new Trainer({
      model: (g) => {
        g.param("unused", [3]);
        return toyModel(g, 4);
      },
      weights: new Map([...toyWeights(), ["unused", Tensor.float32([1, -2, 4], [3])]]),
      data: (ctx) => toyBatch(ctx, 4),
      config: { ...toyConfig(tempDir(t), 1, 10), accumulation, lr: { schedule: "constant", peak: 0.1 }, adamw: { weightDecay: 0.5 }, checkpoint: {} },
    }).run();
    const decayed = [1, -2, 4].map((v) => Math.fround(v * Math.fround(1 - Math.fround(0.1) * 0.5)));
    assert.deepEqual(Array.from(result.params.get("unused")!.data as Float32Array), decayed, `accumulation ${accumulation}`);
  }
});

test("float16 losses and metrics are read as numbers; other dtypes are refused when the trainer is built", async (t) => {
  const records: StepRecord[] = [];
  await new Trainer({
    model: (g) => {
      const { loss, metrics } = toyModel(g);
      return { loss: ops.cast(loss, "float16"), metrics: { ...metrics, three_quarters: ops.cast(ops.add(ops.mul(loss, 0), 0.75), "float16") } };
    },
    weights: toyWeights(),
    data: (ctx) => toyBatch(ctx),
    config: { ...toyConfig(tempDir(t), 2, 10), checkpoint: {} },
    onStep: (r) => void records.push(r),
  }).run();
  const float32Losses: number[] = [];
  await toyTrainer(tempDir(t), 2, 10, { config: { ...toyConfig(tempDir(t), 2, 10), checkpoint: {} }, onStep: (r) => void float32Losses.push(r.loss) }).run();
  assert.equal(records[0]!.metrics!.three_quarters, 0.75);
  // the first loss is the float32 one rounded to float16 (relative error below 2^-11)
  assert.ok(Math.abs(records[0]!.loss - float32Losses[0]!) <= float32Losses[0]! * 2 ** -11, `${records[0]!.loss} vs ${float32Losses[0]}`);
  assert.throws(
    () => new Trainer({
      model: (g) => {
        const { loss } = toyModel(g);
        return { loss, metrics: { count: ops.cast(loss, "int32") } };
      },
      weights: toyWeights(),
      data: (ctx) => toyBatch(ctx),
      config: toyConfig(tempDir(t), 2, 10),
    }),
    /the model's metric\.count is int32\[\]; allowed: a float32 or float16 scalar/,
  );
});
