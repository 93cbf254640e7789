import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { generateVideo } from "../../src/app/generate.js";
import { OptionsError, resolveGenerateSettings } from "../../src/app/generate-options.js";
import { probeVideo } from "../../src/media/index.js";
import { writeTinyModel } from "./tiny-model.js";

let root: string;
let model: string;

before(() => {
  root = mkdtempSync(join(tmpdir(), "vidrd-generate-"));
  model = join(root, "model");
  writeTinyModel(model);
  process.env.VIDRD_CACHE_DIR = join(root, "cache");
});
after(() => rmSync(root, { recursive: true, force: true }));

const base = { prompt: "a red star moves left", model: "", size: "16", steps: 4, threads: 1, overlap: 2 };

test("vidrd end to end: 3 clips of N = 4 with M = 2 give 4 + 2 + 2 frames in an mp4 with its metadata", async () => {
  const out = join(root, "v.mp4");
  const progress: number[] = [];
  const r = await generateVideo(resolveGenerateSettings({ ...base, model, clips: 3, out }), { onProgress: (p) => progress.push(p.evaluations) });
  assert.equal(r.frames, 8);
  assert.equal(r.complete, true);
  assert.equal(r.evaluations, 3 * 4); // one guided call per step per clip
  assert.deepEqual(progress, Array.from({ length: 12 }, (_, i) => i + 1));
  const probe = await probeVideo(out, { countFrames: true });
  assert.equal(probe.frameCount, 8);
  assert.equal(probe.width, 16);
  assert.equal(probe.tags.prompt, base.prompt);
  assert.equal(probe.tags.strategy, "vidrd");
  const sidecar = JSON.parse(readFileSync(`${out}.json`, "utf8"));
  assert.equal(sidecar.seed, 0);
  assert.equal(sidecar.frames, 8);
  assert.equal(sidecar.complete, true);
  assert.equal(sidecar.extra.overlap, 2);
});

test("the same seed gives identical frames; another seed different ones", async () => {
  const run = async (name: string, seed: number) => {
    const dir = join(root, name);
    await generateVideo(resolveGenerateSettings({ ...base, model, clips: 2, seed, out: `${dir}.png`, strategy: "independent", overlap: undefined }));
    return readFileSync(`${dir}.png`);
  };
  const a = await run("a", 5);
  const b = await run("b", 5);
  const c = await run("c", 6);
  assert.ok(a.equals(b));
  assert.ok(!a.equals(c));
});

test("an abort after the first clip leaves a valid, shorter video", async () => {
  const out = join(root, "short.mp4");
  const controller = new AbortController();
  const r = await generateVideo(resolveGenerateSettings({ ...base, model, clips: 4, out }), {
    signal: controller.signal,
    onProgress: (p) => {
      if (p.clip === 1 && p.step === 1) controller.abort();
    },
  });
  assert.equal(r.complete, false);
  assert.equal(r.frames, 4);
  assert.equal((await probeVideo(out, { countFrames: true })).frameCount, 4);
});

test("a folder path writes PNG frames; on a 4-frame model vidrd's overlap defaults to half the clip", async () => {
  const out = join(root, "frames") + "/";
  const r = await generateVideo(resolveGenerateSettings({ ...base, overlap: undefined, model, clips: 2, out }));
  assert.equal(r.frames, 4 + 2);
  assert.equal(readdirSync(out).filter((n) => n.endsWith(".png")).length, 6);
});

test("options the model cannot take fail before any work, naming the flag, and leave no file", async () => {
  const out = join(root, "bad.mp4");
  await assert.rejects(
    generateVideo(resolveGenerateSettings({ ...base, model, overlap: 4, out })),
    (e: unknown) => e instanceof OptionsError && /--overlap is 4; allowed: an integer in \[0, 3\]/.test((e as Error).message),
  );
  await assert.rejects(generateVideo(resolveGenerateSettings({ ...base, model, size: "10", out })), /--size is 10; allowed: width and height positive multiples of 4/);
  await assert.rejects(generateVideo(resolveGenerateSettings({ ...base, model, frames: 7, out })), /--frames is 7; allowed/);
  await assert.rejects(generateVideo(resolveGenerateSettings({ ...base, model, out: join(root, "no", "such", "v.mp4") })), /does not exist/);
  await assert.rejects(generateVideo(resolveGenerateSettings({ ...base, model: join(root, "missing"), out })), /not a folder/);
  assert.equal(existsSync(out), false);
  assert.deepEqual(readdirSync(root).filter((n) => n.startsWith(".bad")), []);
});
