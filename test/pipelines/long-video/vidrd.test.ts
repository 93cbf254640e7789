// vidrd against hand-derived expectations (VIDRD.md section 3) on tiny shapes: N = 8 frames, M = 4,
// T = 50 DDIM steps, a frame-mixing test denoiser. The denoiser sees z_i after DSG, which is exactly what
// the strategy stores as flip_F(hist[i]); so "clip k's input at step i, frame f" is compared with "clip
// k - 1's input at step i, frame N - 1 - f".

import { test } from "node:test";
import assert from "node:assert/strict";
import { createScheduler } from "../../../src/schedulers/create.js";
import { SeededNoise } from "../../../src/tensor/seeded-noise.js";
import { constantPromptSource } from "../../../src/pipelines/prompt-schedule.js";
import { AbortedError } from "../../../src/pipelines/long-video/common.js";
import {
  noiseRecycleWeights,
  stagedGuidanceSteps,
  vidrdStrategy,
  type VidrdOptions,
} from "../../../src/pipelines/long-video/vidrd.js";
import type { LongVideoRequest, Progress } from "../../../src/pipelines/types.js";
import { Tensor } from "../../../src/tensor/tensor.js";
import { type Call, ShapeRecorder, TINY_CLIP, assembleFrames, collect, frameAll, mixingPredictor, promptOf } from "../helpers.js";

const T = 50;
const N = TINY_CLIP.frames;
const M = 4;

function setup(over: Partial<LongVideoRequest> = {}, calls: Call[] = []) {
  const noise = new ShapeRecorder(new SeededNoise(11));
  const request: LongVideoRequest = {
    predictor: mixingPredictor(calls),
    prompts: constantPromptSource(promptOf(1)),
    scheduler: { steps: T },
    clip: TINY_CLIP,
    length: { clips: 3 },
    noise,
    ...over,
  };
  return { request, noise, calls };
}

const input = (calls: Call[], clip: number, step: number) => calls[clip * T + step]!.z;
const same = (a: number[], b: number[]) => a.length === b.length && a.every((v, i) => Object.is(v, b[i]));

test("PNS weights: r / sqrt(1 + r^2) and 1 / sqrt(1 + r^2), 0.9701 and 0.2425 at r = 4", () => {
  const { reuse, fresh } = noiseRecycleWeights(4);
  assert.equal(reuse.toFixed(4), "0.9701");
  assert.equal(fresh.toFixed(4), "0.2425");
  assert.ok(Math.abs(reuse * reuse + fresh * fresh - 1) < 1e-15, "unit variance kept");
  assert.deepEqual(noiseRecycleWeights(0), { reuse: 0, fresh: 1 });
});

test("DSG step counts: 20, 15, 10, 5 at T = 50, M = 4, g = 0.4; none at g = 0; all T for frame 0 at g = 1", () => {
  assert.deepEqual(stagedGuidanceSteps(4, 50, 0.4), [20, 15, 10, 5]);
  assert.deepEqual(stagedGuidanceSteps(4, 50, 0), [0, 0, 0, 0]);
  assert.deepEqual(stagedGuidanceSteps(4, 50, 1), [50, 38, 25, 13]); // i < 50, 37.5, 25, 12.5
  assert.deepEqual(stagedGuidanceSteps(0, 50, 0.4), []);
});

test("FNR: the first M frames of clip k's starting noise are clip k-1's starting noise reversed, bit for bit", async () => {
  const { request, calls } = setup();
  await collect(vidrdStrategy.generate(request, { stagedGuidance: 0 })); // no DSG: step 0 input is FNR/PNS alone
  for (const k of [1, 2]) {
    for (let j = 0; j < M; j++) {
      assert.ok(same(frameAll(input(calls, k, 0), j), frameAll(input(calls, k - 1, 0), N - 1 - j)), `clip ${k} frame ${j} = clip ${k - 1} frame ${N - 1 - j}`);
    }
    // the new frames are not plain copies
    assert.ok(!same(frameAll(input(calls, k, 0), M), frameAll(input(calls, k - 1, 0), N - 1 - M)));
  }
});

test("PNS: frames j >= M start as 0.9701 * reversed old noise + 0.2425 * the last N - M frames of one fresh full-clip draw", async () => {
  const { request, calls, noise } = setup({ length: { clips: 2 } });
  await collect(vidrdStrategy.generate(request, {}));
  const fresh = noise.draws[1]!; // default mode: draw 0 is clip 0's z_T, draw 1 clip 1's PNS noise
  assert.deepEqual(noise.shapes[1], [1, 2, N, 2, 3]);
  const z1 = input(calls, 1, 0);
  const z0 = input(calls, 0, 0);
  const plane = 6;
  for (let c = 0; c < 2; c++) {
    for (let j = M; j < N; j++) {
      for (let p = 0; p < plane; p++) {
        const old = (z0.data as Float32Array)[(c * N + (N - 1 - j)) * plane + p]!;
        const eps = fresh[(c * N + j) * plane + p]!;
        const got = (z1.data as Float32Array)[(c * N + j) * plane + p]!;
        assert.ok(Math.abs(got - (0.9701425 * old + 0.2425356 * eps)) < 2e-6, `c ${c} j ${j} p ${p}: ${got}`);
      }
    }
  }
});

test("DSG: overlap frame f follows the previous clip's reversed path for exactly 20, 15, 10, 5 steps", async () => {
  const { request, calls } = setup();
  await collect(vidrdStrategy.generate(request, { overlap: M, stagedGuidance: 0.4 }));
  for (const k of [1, 2]) {
    const guided = Array.from({ length: M }, (_, f) => {
      let n = 0;
      for (let i = 0; i < T; i++) if (same(frameAll(input(calls, k, i), f), frameAll(input(calls, k - 1, i), N - 1 - f))) n++;
      return n;
    });
    assert.deepEqual(guided, [20, 15, 10, 5], `clip ${k}`);
    // and they are the first steps: guided at i = count - 1, free at i = count
    for (const [f, n] of [[0, 20], [3, 5]] as const) {
      assert.ok(same(frameAll(input(calls, k, n - 1), f), frameAll(input(calls, k - 1, n - 1), N - 1 - f)));
      assert.ok(!same(frameAll(input(calls, k, n), f), frameAll(input(calls, k - 1, n), N - 1 - f)));
    }
    // new frames are never overwritten after the start
    assert.ok(!same(frameAll(input(calls, k, 1), M), frameAll(input(calls, k - 1, 1), N - 1 - M)));
  }
});

test("DSG reads the previous clip's inputs after its own DSG (hist[i] stored after DSG): N = 8, M = 6 and N = 5, M = 3", async () => {
  // With M > N / 2, clip 2's overlap frame f reads clip 1's frame N - 1 - f, which for N - 1 - f < M is an
  // overlap frame that clip 1's DSG itself overwrote. So clip 2's guided input must be clip 1's input as
  // the model saw it (after DSG), not clip 1's pre-DSG latents (the scheduler's output of step i - 1).
  // M = 4, N = 8 cannot tell: frames 4 .. 7 of a clip are never overwritten.
  const cases = [
    // i < (M - f) (T / M) g, T = 50, g = 0.4: i < 20, 16.7, 13.3, 10, 6.7, 3.3 and i < 20, 13.3, 6.7
    { n: 8, m: 6, counts: [20, 17, 14, 10, 7, 4], edited: 3 + 6 + 6 + 3 },
    { n: 5, m: 3, counts: [20, 14, 7], edited: 6 },
  ];
  const scheduler = createScheduler({ steps: T });
  const eps = mixingPredictor();
  for (const { n, m, counts, edited } of cases) {
    assert.deepEqual(stagedGuidanceSteps(m, T, 0.4), counts);
    const { request, calls } = setup({ clip: { ...TINY_CLIP, frames: n }, length: { clips: 3 } });
    await collect(vidrdStrategy.generate(request, { overlap: m, stagedGuidance: 0.4 }));
    assert.equal(calls.length, 3 * T);
    let distinguishing = 0;
    for (let f = 0; f < m; f++) {
      const g = n - 1 - f; // clip 1's frame that lands on clip 2's frame f
      for (let i = 0; i < counts[f]!; i++) {
        // clip 2's input at step i, frame f = flip_F(clip 1's input to step i, after DSG)[f]
        assert.ok(same(frameAll(input(calls, 2, i), f), frameAll(input(calls, 1, i), g)), `N ${n} M ${m}: clip 2 frame ${f} step ${i}`);
        if (!(g < m && i > 0 && i < counts[g]!)) continue;
        // here clip 1's frame g was itself guided at step i: its pre-DSG value (step i - 1's output) differs
        const z = input(calls, 1, i - 1);
        const e = await eps(z, scheduler.timesteps[i - 1]!, promptOf(1));
        const pre = new Tensor("float32", scheduler.step({ stepIndex: i - 1, modelOutput: e.data as Float32Array, sample: z.data as Float32Array, state: null }).prevSample, z.shape);
        assert.ok(!same(frameAll(pre, g), frameAll(input(calls, 1, i), g)), `N ${n} M ${m}: clip 1 frame ${g} step ${i} is DSG-edited`);
        assert.ok(!same(frameAll(input(calls, 2, i), f), frameAll(pre, g)), `N ${n} M ${m}: clip 2 frame ${f} step ${i} is not the pre-DSG value`);
        distinguishing++;
      }
      // and the guidance ends on time
      assert.ok(!same(frameAll(input(calls, 2, counts[f]!), f), frameAll(input(calls, 1, counts[f]!), g)), `N ${n} M ${m}: clip 2 frame ${f} free at ${counts[f]}`);
    }
    assert.equal(distinguishing, edited, `N ${n} M ${m}: guided steps that read a DSG-edited frame`);
  }
});

test("faithful noise draws: clip 0 frame by frame (N draws of [B,C,1,H,W]), then one [B,C,N,H,W] per later clip", async () => {
  const faithful = setup();
  await collect(vidrdStrategy.generate(faithful.request, { mode: "faithful" }));
  const frame = [1, 2, 1, 2, 3];
  const clip = [1, 2, N, 2, 3];
  assert.deepEqual(faithful.noise.shapes, [...Array.from({ length: N }, () => frame), clip, clip]);
  // clip 0's input at step 0 is those N draws joined along F
  for (let f = 0; f < N; f++) {
    const d = faithful.noise.draws[f]!;
    assert.deepEqual(frameAll(input(faithful.calls, 0, 0), f), [...d.subarray(0, 6), ...d.subarray(6, 12)]);
  }
  const plain = setup();
  await collect(vidrdStrategy.generate(plain.request, {}));
  assert.deepEqual(plain.noise.shapes, [clip, clip, clip]);
});

test("faithful with DDIM eta > 0: each step draws [B*N, C, H, W] (the authors' reshape) and uses it permuted to [B, C, N, H, W]", async () => {
  const steps = 5;
  const { request, calls, noise } = setup({ scheduler: { steps, eta: 1 }, length: { clips: 2 } });
  const chunks = await collect(vidrdStrategy.generate(request, { mode: "faithful", stagedGuidance: 0 }));
  const frame = [1, 2, 1, 2, 3];
  const clip = [1, 2, N, 2, 3];
  const stepShape = [N, 2, 2, 3]; // [B * N, C, H, W]
  const perStep = Array.from({ length: steps }, () => stepShape);
  assert.deepEqual(noise.shapes, [...Array.from({ length: N }, () => frame), ...perStep, clip, ...perStep]);
  // each step, replayed by the scheduler with its draw permuted by hand ((b, c, f) <- row b N + f, channel c), gives the next input
  const scheduler = createScheduler({ steps, eta: 1 });
  const eps = mixingPredictor();
  const plane = 6;
  const permute = (d: Float32Array) => {
    const o = new Float32Array(d.length);
    for (let c = 0; c < 2; c++) for (let f = 0; f < N; f++) for (let p = 0; p < plane; p++) o[(c * N + f) * plane + p] = d[(f * 2 + c) * plane + p]!;
    return o;
  };
  const firstStepDraw = [N, N + steps + 1]; // clip 0: after the N frame draws; clip 1: after those, clip 0's steps and the PNS draw
  for (const k of [0, 1]) {
    for (let i = 0; i < steps; i++) {
      const z = calls[k * steps + i]!.z;
      const e = await eps(z, scheduler.timesteps[i]!, promptOf(1));
      const drawn = permute(noise.draws[firstStepDraw[k]! + i]!);
      const next = scheduler.step({ stepIndex: i, modelOutput: e.data as Float32Array, sample: z.data as Float32Array, state: null, noise: { randn: () => drawn.slice() }, shape: z.shape }).prevSample;
      const got = i + 1 < steps ? calls[k * steps + i + 1]!.z : chunks[k]!.latents;
      assert.deepEqual(Array.from(got.data as Float32Array), Array.from(next), `clip ${k} step ${i}`);
    }
  }
  // default mode keeps one [B, C, N, H, W] draw per step
  const plain = setup({ scheduler: { steps, eta: 1 }, length: { clips: 2 } });
  await collect(vidrdStrategy.generate(plain.request, {}));
  assert.deepEqual(plain.noise.shapes, Array.from({ length: 2 * (1 + steps) }, () => clip));
});

test("DDPM's step noise goes through the same NoiseSource, after the clip's starting draw", async () => {
  const { request, noise } = setup({ scheduler: { name: "ddpm", steps: 5 }, length: { clips: 2 } });
  await collect(vidrdStrategy.generate(request, {}));
  const clip = [1, 2, N, 2, 3];
  // ddpm adds noise at every step whose timestep is above 0 (here all 5, the last being t = 1): 1 + 5 draws per clip
  assert.deepEqual(noise.shapes, Array.from({ length: 12 }, () => clip));
});

test("output length and order: default N + (K-1)(N-M) frames, faithful N K with the overlap mirrored", async () => {
  // frame-wise denoiser: an overlap frame's path depends on its own start only, which FNR makes equal
  // to the mirrored frame's of the previous clip, so the duplicates are exact mirrors
  const frameWise = () => mixingPredictor([], 0.1, 0);
  const f = setup({ predictor: frameWise() });
  const faithful = await collect(vidrdStrategy.generate(f.request, { mode: "faithful" }));
  assert.deepEqual(faithful.map((c) => [c.clip, c.emitStart, c.emitEnd, c.firstFrame, c.latents.shape[2]]), [[0, 0, 8, 0, 8], [1, 0, 8, 8, 8], [2, 0, 8, 16, 8]]);
  const fv = assembleFrames(faithful);
  assert.equal(fv.length, 24);
  for (const k of [1, 2]) for (let j = 0; j < M; j++) assert.deepEqual(fv[k * N + j], fv[k * N - 1 - j], `faithful frame ${k * N + j} mirrors ${k * N - 1 - j}`);

  const d = setup({ predictor: frameWise(), noise: new SeededNoise(11) });
  const plain = await collect(vidrdStrategy.generate(d.request, {}));
  assert.deepEqual(plain.map((c) => [c.clip, c.emitStart, c.emitEnd, c.firstFrame, c.latents.shape[2]]), [[0, 0, 8, 0, 8], [1, 4, 8, 8, 8], [2, 4, 8, 12, 8]]);
  const dv = assembleFrames(plain);
  assert.equal(dv.length, N + 2 * (N - M));
  // the emitted frames are each clip's new frames, in order; the whole clip rides along as context
  assert.deepEqual(dv.slice(8, 12), [4, 5, 6, 7].map((j) => frameAll(plain[1]!.latents, j)));
  assert.deepEqual(frameAll(plain[1]!.latents, 0), frameAll(plain[0]!.latents, 7), "context frame 0 mirrors the previous clip's last frame");
});

test("the length can be given in frames; each clip asks the prompt source for the output frames it covers", async () => {
  const ranges: [number, number][] = [];
  const prompts = (s: number, e: number) => (ranges.push([s, e]), promptOf(1));
  const { request } = setup({ length: { frames: 16 }, prompts });
  assert.equal((await collect(vidrdStrategy.generate(request, {}))).length, 3);
  assert.deepEqual(ranges, [[0, 8], [4, 12], [8, 16]]);
  ranges.length = 0;
  await collect(vidrdStrategy.generate({ ...request, length: { frames: 24 } }, { mode: "faithful" }));
  assert.deepEqual(ranges, [[0, 8], [8, 16], [16, 24]]);
});

test("same seed twice gives identical bytes; another seed does not", async () => {
  const run = async (seed: number, opts: VidrdOptions) => {
    const chunks = await collect(vidrdStrategy.generate(setup({ noise: new SeededNoise(seed) }).request, opts));
    return Buffer.concat(chunks.map((c) => Buffer.from((c.latents.data as Float32Array).buffer)));
  };
  for (const mode of ["default", "faithful"] as const) {
    const a = await run(5, { mode });
    assert.ok(a.equals(await run(5, { mode })), mode);
    assert.ok(!a.equals(await run(6, { mode })), mode);
  }
});

test("progress counts every evaluation; an abort stops before the next denoiser call", async () => {
  const seen: Progress[] = [];
  const { request, calls } = setup({ scheduler: { steps: 5 }, onProgress: (p) => seen.push(p) });
  await collect(vidrdStrategy.generate(request, {}));
  assert.equal(seen.length, 15);
  assert.deepEqual(seen.map((p) => p.evaluations), Array.from({ length: 15 }, (_, i) => i + 1));
  assert.deepEqual({ ...seen[14], etaSeconds: undefined }, { clip: 2, clips: 3, step: 5, steps: 5, evaluations: 15, etaSeconds: undefined });
  assert.deepEqual(seen.slice(4, 6).map((p) => [p.clip, p.step]), [[0, 5], [1, 1]]);
  assert.equal(seen[14]!.etaSeconds, 0);
  assert.equal(calls.length, 15);

  const controller = new AbortController();
  const stopped = setup({ scheduler: { steps: 5 }, signal: controller.signal, onProgress: (p) => p.evaluations === 7 && controller.abort() });
  await assert.rejects(collect(vidrdStrategy.generate(stopped.request, {})), (e: unknown) => e instanceof AbortedError);
  assert.equal(stopped.calls.length, 7);
});

test("works with other samplers: Euler (start noise scaled by sigma) and DPM-Solver++", async () => {
  for (const name of ["euler", "dpmsolver++2m"] as const) {
    const { request, calls } = setup({ scheduler: { name, steps: 8 }, length: { clips: 2 } });
    const chunks = await collect(vidrdStrategy.generate(request, {}));
    assert.equal(chunks.length, 2);
    assert.ok(chunks.every((c) => (c.latents.data as Float32Array).every(Number.isFinite)), name);
    assert.equal(calls.length, 16);
  }
});

test("bad options and lengths fail naming the option and what is allowed", () => {
  const { request } = setup();
  const cases: [VidrdOptions, Partial<LongVideoRequest>, RegExp][] = [
    [{ overlap: 8 }, {}, /overlap is 8; allowed: an integer in \[0, 7\]/],
    [{ overlap: -1 }, {}, /overlap is -1; allowed: an integer in \[0, 7\]/],
    [{ overlap: 1.5 }, {}, /overlap is 1.5; allowed: an integer/],
    [{ noiseRecycle: -1 }, {}, /noiseRecycle is -1; allowed: a finite number >= 0/],
    [{ noiseRecycle: Infinity }, {}, /noiseRecycle is Infinity; allowed: a finite number >= 0/],
    [{ stagedGuidance: 1.5 }, {}, /stagedGuidance is 1.5; allowed: a number in \[0, 1\]/],
    [{ stagedGuidance: -0.1 }, {}, /stagedGuidance is -0.1; allowed: a number in \[0, 1\]/],
    [{ mode: "fast" as VidrdOptions["mode"] }, {}, /mode is "fast"; allowed: faithful, default/],
    [{ overlapp: 2 } as VidrdOptions, {}, /vidrd option "overlapp" is unknown; allowed: overlap, noiseRecycle/],
    [{}, { length: { frames: 15 } }, /frames is 15; allowed with these settings: 8 \+ k \* 4 \(e\.g\. 12 or 16\)/],
    [{ mode: "faithful" }, { length: { frames: 20 } }, /frames is 20; allowed with these settings: 8 \+ k \* 8 \(e\.g\. 16 or 24\)/],
    [{}, { length: { clips: 0 } }, /clips is 0; allowed: an integer >= 1/],
    [{}, { scheduler: { name: "ddim_inverse" } }, /scheduler\.name is "ddim_inverse"; allowed for sampling/],
    [{}, { scheduler: { steps: 0 } }, /steps is 0; allowed/],
    [{}, { clip: { ...TINY_CLIP, frames: 0 } }, /clip\.frames is 0; allowed: an integer >= 1/],
    [{ initialHistory: [] }, {}, /initialHistory has 0 entries; allowed: one per denoising step, 50/],
  ];
  for (const [options, over, message] of cases) {
    assert.throws(() => vidrdStrategy.validate({ ...request, ...over }, options), message, JSON.stringify(options));
  }
  // M = 0 is allowed: no overlap, every clip all new
  assert.doesNotThrow(() => vidrdStrategy.validate({ ...request, length: { frames: 24 } }, { overlap: 0 }));
});

test("generate itself refuses bad options before any denoiser call", async () => {
  const { request, calls } = setup();
  await assert.rejects(collect(vidrdStrategy.generate(request, { overlap: 9 })), /overlap is 9/);
  assert.equal(calls.length, 0);
});
