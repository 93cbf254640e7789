// Clips captioned by a service during composition: the service writes the captions (several clips in
// flight), a second dataset over the same clips is captioned from the cache, and refused credentials stop
// the run with the report saying why.

import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Captioner, CaptionerAuthError, composeDataset, readManifest, videoSource } from "../../../src/data/compose/index.js";
import { longVideo, resolveWorldConfig } from "../../../src/data/world/index.js";
import { withTempDir, writeWorldVideo } from "./helpers.js";
import { MockCaptioner, completion } from "./mock-captioner.js";

const spec = { width: 32, height: 32, frames: 8, fps: 8 };

async function inputs(dir: string): Promise<string> {
  const config = resolveWorldConfig({ width: 32, height: 32, segments: [2, 2], segmentFrames: [16, 16], cutProbability: 0 });
  await writeWorldVideo(join(dir, "a.mp4"), longVideo(config, 1, 0), config);
  await writeWorldVideo(join(dir, "b.mp4"), longVideo(config, 2, 0), config);
  const list = join(dir, "list.jsonl");
  writeFileSync(list, `${JSON.stringify({ path: "a.mp4", label: "shapes moving" })}\n${JSON.stringify({ path: "b.mp4", caption: "a given caption" })}\n`);
  return list;
}

test("captions from the service, concurrently; a second dataset is captioned from the cache", async () => {
  await withTempDir(async (dir) => {
    const list = await inputs(dir);
    const server = new MockCaptioner((r, n) => ({ status: 200, body: completion(`service caption ${n} (${/class is "([^"]+)"/.exec(r.body.messages[0].content[0].text!)?.[1]})`), delayMs: 400 }));
    const url = await server.start();
    try {
      const cacheDir = join(dir, "cache");
      const first = new Captioner({ url, model: "m", concurrency: 3, cacheDir });
      const out = join(dir, "one");
      const report = await composeDataset([videoSource(spec, { list })], { out, ...spec, captioner: first, captionFrames: 2 });
      const entries = readManifest(out);
      const fromService = entries.filter((e) => e.origin.input === "a.mp4");
      assert.equal(fromService.length, 4);
      for (const e of fromService) assert.match(e.caption, /^service caption \d+ \(shapes moving\)$/);
      for (const e of entries.filter((x) => x.origin.input === "b.mp4")) assert.equal(e.caption, "a given caption");
      assert.equal(server.requests.length, 4);
      assert.ok(server.requests.every((r) => r.body.messages[0].content.filter((c) => c.type === "image_url").length === 2));
      assert.ok(server.maxInFlight >= 2 && server.maxInFlight <= 3, `max in flight ${server.maxInFlight}`);
      assert.deepEqual(report.captioner, { requests: 4, retries: 0, cacheHits: 0, captions: 4 });

      const second = new Captioner({ url, model: "m", concurrency: 3, cacheDir });
      const again = await composeDataset([videoSource(spec, { list })], { out: join(dir, "two"), ...spec, captioner: second, captionFrames: 2 });
      assert.equal(server.requests.length, 4, "the second dataset asked the service");
      assert.equal(again.captioner!.cacheHits, 4);
      assert.deepEqual(readManifest(join(dir, "two")).map((e) => e.caption), entries.map((e) => e.caption));
    } finally {
      await server.stop();
    }
  });
});

test("refused credentials stop the run: the error says so, the report says why, nothing half-made is left", async () => {
  await withTempDir(async (dir) => {
    const list = await inputs(dir);
    const server = new MockCaptioner(() => ({ status: 401, body: { error: "invalid api key" } }));
    const url = await server.start();
    try {
      const out = join(dir, "out");
      const captioner = new Captioner({ url, model: "m", apiKey: "bad", cacheDir: null });
      await assert.rejects(composeDataset([videoSource(spec, { list })], { out, ...spec, captioner }), (e: Error) => e instanceof CaptionerAuthError && /refused the credentials \(HTTP 401/.test(e.message));
      assert.equal(server.requests.length, 1, "requests went on after a 401");
      const report = JSON.parse(readFileSync(join(out, "report.json"), "utf8")) as { stopped: string };
      assert.match(report.stopped, /refused the credentials/);
      assert.deepEqual(readManifest(out).filter((e) => e.origin.input === "a.mp4"), []);
      const clips = existsSync(join(out, "clips")) ? readdirSync(join(out, "clips")).flatMap((s) => readdirSync(join(out, "clips", s))) : [];
      assert.equal(clips.length, readManifest(out).length, "clips without a manifest line were left");
      assert.ok(!existsSync(join(out, ".lock")));
    } finally {
      await server.stop();
    }
  });
});
