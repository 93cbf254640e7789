// The captioning-service client against a mock server on loopback: request format, concurrency limit,
// retries on 500 and 429 (Retry-After honoured), the disk cache, and refused credentials.

import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { Captioner, CaptionerAuthError, CaptionerError, chatCompletionsUrl, cleanCaption, retryAfterMs } from "../../../src/data/compose/index.js";
import { createFrame, type RgbFrame } from "../../../src/media/index.js";
import { withTempDir } from "./helpers.js";
import { MockCaptioner, completion } from "./mock-captioner.js";

function frames(seed: number, count = 3): RgbFrame[] {
  return Array.from({ length: count }, (_, k) => createFrame(16, 16, new Uint8Array(16 * 16 * 3).fill((seed * 31 + k * 7) & 255)));
}

test("requests: chat completions with the instruction, the label hint and the frames as PNG data URLs, bearer key", async () => {
  const server = new MockCaptioner(() => ({ status: 200, body: completion('"A person juggles three balls."\nextra') }));
  const url = await server.start();
  try {
    const captioner = new Captioner({ url, model: "vision-1", apiKey: "sk-test", cacheDir: null });
    const caption = await captioner.caption(frames(1), { label: "juggling balls" });
    assert.equal(caption, "A person juggles three balls.");
    const [r] = server.requests;
    assert.equal(r.path, "/v1/chat/completions");
    assert.equal(r.authorization, "Bearer sk-test");
    assert.equal(r.body.model, "vision-1");
    const content = r.body.messages[0].content;
    assert.equal(content[0].type, "text");
    assert.match(content[0].text!, /action class is "juggling balls"/);
    assert.equal(content.filter((c) => c.type === "image_url").length, 3);
    const png = Buffer.from(content[1].image_url!.url.replace(/^data:image\/png;base64,/, ""), "base64");
    assert.deepEqual([...png.subarray(1, 4)], [0x50, 0x4e, 0x47]); // "PNG"
  } finally {
    await server.stop();
  }
});

test("batching: several clips at once, never more than the concurrency limit", async () => {
  const server = new MockCaptioner((_, n) => ({ status: 200, body: completion(`caption ${n}`), delayMs: 80 }));
  const url = await server.start();
  try {
    const captioner = new Captioner({ url, model: "m", concurrency: 3, cacheDir: null });
    const captions = await Promise.all(Array.from({ length: 9 }, (_, k) => captioner.caption(frames(k))));
    assert.equal(new Set(captions).size, 9);
    assert.equal(server.maxInFlight, 3);
    assert.equal(captioner.stats.requests, 9);
  } finally {
    await server.stop();
  }
});

test("retries: 500 twice then an answer; 429 with Retry-After waits that long", async () => {
  const server = new MockCaptioner((r, n) => {
    const text = r.body.messages[0].content[0].text!;
    if (text.includes("five-hundred") && n < 2) return { status: 500, body: { error: "overloaded" } };
    if (text.includes("rate") && server.requests.filter((q) => q.body.messages[0].content[0].text!.includes("rate")).length === 1) {
      return { status: 429, headers: { "retry-after": "1" }, body: { error: "slow down" } };
    }
    return { status: 200, body: completion("fine") };
  });
  const url = await server.start();
  try {
    const captioner = new Captioner({ url, model: "m", baseDelayMs: 5, cacheDir: null });
    assert.equal(await captioner.caption(frames(1), { label: "five-hundred" }), "fine");
    assert.equal(captioner.stats.retries, 2);
    const began = performance.now();
    assert.equal(await captioner.caption(frames(2), { label: "rate" }), "fine");
    const waited = performance.now() - began;
    assert.ok(waited >= 950, `waited ${waited.toFixed(0)} ms; Retry-After said 1 s`);
    assert.equal(captioner.stats.retries, 3);
  } finally {
    await server.stop();
  }
});

test("gives up after maxRetries with the last error; network errors are retried too", async () => {
  const server = new MockCaptioner(() => ({ status: 503, body: { error: "down" } }));
  const url = await server.start();
  try {
    const captioner = new Captioner({ url, model: "m", baseDelayMs: 1, maxRetries: 2, cacheDir: null });
    await assert.rejects(captioner.caption(frames(1)), (e: Error) => e instanceof CaptionerError && /failed 3 times; last: HTTP 503/.test(e.message));
    assert.equal(server.requests.length, 3);
  } finally {
    await server.stop();
  }
  const closed = new Captioner({ url, model: "m", baseDelayMs: 1, maxRetries: 1, cacheDir: null });
  await assert.rejects(closed.caption(frames(1)), /failed 2 times; last: TypeError: fetch failed \(ECONNREFUSED\)/);
  const bad = new MockCaptioner(() => ({ status: 400, body: { error: "bad model" } }));
  const badUrl = await bad.start();
  try {
    await assert.rejects(new Captioner({ url: badUrl, model: "m", cacheDir: null }).caption(frames(1)), /answered HTTP 400: \{"error":"bad model"\}/);
    assert.equal(bad.requests.length, 1);
  } finally {
    await bad.stop();
  }
});

test("cache: a second captioner over the same frames, prompt and model asks nothing", async () => {
  await withTempDir(async (dir) => {
    const server = new MockCaptioner((_, n) => ({ status: 200, body: completion(`caption ${n}`) }));
    const url = await server.start();
    try {
      const cacheDir = join(dir, "cache");
      const first = new Captioner({ url, model: "m", cacheDir });
      const a = await Promise.all([1, 2, 3].map((k) => first.caption(frames(k), { label: "x" })));
      assert.equal(server.requests.length, 3);
      const second = new Captioner({ url, model: "m", cacheDir });
      assert.deepEqual(await Promise.all([1, 2, 3].map((k) => second.caption(frames(k), { label: "x" }))), a);
      assert.equal(server.requests.length, 3);
      assert.deepEqual([second.stats.cacheHits, second.stats.requests], [3, 0]);
      // another model, label or frames is another key
      await new Captioner({ url, model: "m2", cacheDir }).caption(frames(1), { label: "x" });
      await second.caption(frames(1), { label: "y" });
      await second.caption(frames(9), { label: "x" });
      assert.equal(server.requests.length, 6);
    } finally {
      await server.stop();
    }
  });
});

test("401: a clear credentials error, and no further request for later clips", async () => {
  const server = new MockCaptioner(() => ({ status: 401, body: { error: { message: "Incorrect API key provided" } } }));
  const url = await server.start();
  try {
    const captioner = new Captioner({ url, model: "m", apiKey: "wrong", cacheDir: null });
    await assert.rejects(captioner.caption(frames(1)), (e: Error) => e instanceof CaptionerAuthError && /refused the credentials \(HTTP 401: .*Incorrect API key.*\); check the API key/.test(e.message));
    await assert.rejects(captioner.caption(frames(2)), CaptionerAuthError);
    assert.equal(server.requests.length, 1);
  } finally {
    await server.stop();
  }
});

test("helpers: endpoint URL, Retry-After forms, caption clean-up", () => {
  assert.equal(chatCompletionsUrl("http://h/v1"), "http://h/v1/chat/completions");
  assert.equal(chatCompletionsUrl("http://h/v1/"), "http://h/v1/chat/completions");
  assert.equal(chatCompletionsUrl("http://h/x/chat/completions"), "http://h/x/chat/completions");
  assert.throws(() => chatCompletionsUrl("ftp://h"), /allowed: http or https/);
  assert.throws(() => chatCompletionsUrl("not a url"), /allowed: an http\(s\) URL/);
  assert.equal(retryAfterMs("2", 0), 2000);
  assert.equal(retryAfterMs("Thu, 01 Jan 1970 00:00:05 GMT", 1000), 4000);
  assert.equal(retryAfterMs(null, 0), null);
  assert.equal(retryAfterMs("soon", 0), null);
  assert.equal(cleanCaption('\n  Caption: "a cat sleeps"  \nmore'), "a cat sleeps");
});
