// extendVideo with the tiny model (N = 4, M = 2): the output is the input followed by new frames that
// depend on the input; bad inputs fail before any output exists; an abort keeps a valid, shorter video.

import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { extendVideo } from "../../src/app/extend.js";
import { generateVideo } from "../../src/app/generate.js";
import { OptionsError, resolveGenerateSettings } from "../../src/app/generate-options.js";
import { VideoWriter, createFrame, probeVideo, readVideoFrames, type RgbFrame } from "../../src/media/index.js";
import { writeTinyModel } from "./tiny-model.js";

let root: string;
let model: string;
let inputA: string;
let inputB: string;

const base = { model: "", size: "16", steps: 3, threads: 1, overlap: 2 };

before(async () => {
  root = mkdtempSync(join(tmpdir(), "vidrd-extend-"));
  model = join(root, "model");
  writeTinyModel(model);
  process.env.VIDRD_CACHE_DIR = join(root, "cache");
  // two different 8-frame inputs (3 clips: 4 + 2 + 2)
  inputA = join(root, "a.mp4");
  inputB = join(root, "b.mp4");
  await generateVideo(resolveGenerateSettings({ ...base, model, prompt: "a red star", clips: 3, seed: 1, out: inputA }));
  await generateVideo(resolveGenerateSettings({ ...base, model, prompt: "a red star", clips: 3, seed: 2, out: inputB }));
});
after(() => rmSync(root, { recursive: true, force: true }));

async function frames(path: string): Promise<RgbFrame[]> {
  const out: RgbFrame[] = [];
  for await (const f of readVideoFrames(path)) out.push(f);
  return out;
}

/** Peak signal-to-noise ratio of two frame lists, in dB. */
function psnr(a: readonly RgbFrame[], b: readonly RgbFrame[]): number {
  let se = 0;
  let n = 0;
  a.forEach((fa, i) => {
    const fb = b[i]!;
    for (let p = 0; p < fa.data.length; p++) {
      const d = fa.data[p]! - fb.data[p]!;
      se += d * d;
      n++;
    }
  });
  return 10 * Math.log10((255 * 255) / (se / n));
}

const settings = (input: string, out: string, extra: Record<string, unknown> = {}) =>
  resolveGenerateSettings({ ...base, model, prompt: "the star keeps moving", out, seed: 7, ...extra });

test("the output is the input's frames followed by the new ones; clips count the new frames", async () => {
  const out = join(root, "a-longer.mp4");
  const inversion: number[] = [];
  const r = await extendVideo(inputA, settings(inputA, out, { clips: 2 }), { onInversionProgress: (p) => inversion.push(p.step) });
  // continuing clips give N - M = 2 new frames each
  assert.equal(r.inputFrames, 8);
  assert.equal(r.newFrames, 4);
  assert.equal(r.frames, 12);
  assert.equal(r.complete, true);
  assert.deepEqual(inversion, [1, 2, 3]); // one unguided evaluation per step
  assert.equal(r.evaluations, 3 + 2 * 3);
  assert.equal((await probeVideo(out, { countFrames: true })).frameCount, 12);
  const input = await frames(inputA);
  const output = await frames(out);
  // the input decoded and encoded again (H.264 twice over noise-like frames: about 30 dB); another video
  // of the same model scores about 12 dB
  const kept = psnr(input, output.slice(0, 8));
  assert.ok(kept > 25, `input frames PSNR ${kept.toFixed(1)} dB`);
});

test("the new frames depend on the input video (its last clip is inverted and continued)", async () => {
  const fromA = join(root, "from-a.mp4");
  const fromB = join(root, "from-b.mp4");
  await extendVideo(inputA, settings(inputA, fromA, { frames: 2 }));
  await extendVideo(inputB, settings(inputB, fromB, { frames: 2 }));
  const a = (await frames(fromA)).slice(8);
  const b = (await frames(fromB)).slice(8);
  assert.equal(a.length, 2);
  assert.ok(psnr(a, b) < 40, `new frames from different inputs are alike: ${psnr(a, b).toFixed(1)} dB`);
});

test("bad inputs fail before any output exists", async () => {
  const out = join(root, "bad.mp4");
  const rejects = (p: Promise<unknown>, message: RegExp) => assert.rejects(p, (e: unknown) => e instanceof OptionsError && message.test((e as Error).message));
  await rejects(extendVideo(inputA, settings(inputA, inputA)), /^--out .*a\.mp4 is the input video; allowed: another path/);
  await rejects(extendVideo(join(root, "none.mp4"), settings("", out)), /^<video> .*none\.mp4 does not exist/);
  await rejects(extendVideo(inputA, settings(inputA, out, { strategy: "independent", overlap: undefined })), /^--strategy is "independent"; allowed: vidrd/);
  await rejects(extendVideo(inputA, settings(inputA, out, { frames: 3 })), /^--frames is 3; allowed/);
  // a video shorter than one clip (N = 4) has no last clip to continue
  const short = join(root, "short.mp4");
  const writer = await VideoWriter.open(short, { fps: 4, width: 16, height: 16 });
  for (let i = 0; i < 2; i++) await writer.write(createFrame(16, 16));
  await writer.close();
  await rejects(extendVideo(short, settings(short, out)), /^<video> .*short\.mp4 has 2 frames at 4 fps; allowed: a video of at least 4 frames/);
  assert.equal(existsSync(out), false);
  assert.deepEqual(readdirSync(root).filter((n) => n.startsWith(".bad")), []);
});

test("an abort during the new clips keeps the input and the frames made so far", async () => {
  const out = join(root, "stopped.mp4");
  const controller = new AbortController();
  const r = await extendVideo(inputA, settings(inputA, out, { clips: 4 }), {
    signal: controller.signal,
    onProgress: (p) => {
      if (p.clip === 1 && p.step === 1) controller.abort();
    },
  });
  assert.equal(r.complete, false);
  assert.equal(r.inputFrames, 8);
  assert.equal(r.newFrames, 2); // the first new clip was written before the abort
  assert.equal((await probeVideo(out, { countFrames: true })).frameCount, 10);
});
