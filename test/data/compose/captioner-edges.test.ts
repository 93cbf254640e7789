// The captioning client's edge cases: answers without choices or not JSON (multi-line HTML from a proxy),
// a service slower than the timeout, a huge Retry-After, delays too long for a timer.

import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { Captioner, CaptionerError } from "../../../src/data/compose/index.js";
import { createFrame } from "../../../src/media/index.js";

const frames = [createFrame(16, 16, new Uint8Array(16 * 16 * 3).fill(9))];

async function serve(handler: (req: IncomingMessage, res: ServerResponse, n: number) => void, run: (url: string) => Promise<void>): Promise<void> {
  let n = 0;
  const server = createServer((req, res) => {
    req.resume();
    req.on("end", () => handler(req, res, n++));
  });
  await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
  try {
    await run(`http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`);
  } finally {
    server.closeAllConnections();
    await new Promise((ok) => server.close(ok));
  }
}

test("a 200 that is not JSON (an HTML page) or has no choices fails the clip with a one-line error, without retries", async () => {
  await serve(
    (_, res) => {
      res.writeHead(200, { "content-type": "text/html" });
      res.end("<html>\n<body>\n  Gateway says hi\n</body>\n</html>\n");
    },
    async (url) => {
      const captioner = new Captioner({ url, model: "m", cacheDir: null, baseDelayMs: 1 });
      await assert.rejects(captioner.caption(frames), (e: Error) => e instanceof CaptionerError && /answered with non-JSON: <html> <body> Gateway says hi/.test(e.message) && !e.message.includes("\n"));
      assert.equal(captioner.stats.requests, 1);
    },
  );
  await serve(
    (_, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: { message: "model overloaded" } }));
    },
    async (url) => {
      const captioner = new Captioner({ url, model: "m", cacheDir: null, baseDelayMs: 1 });
      await assert.rejects(captioner.caption(frames), (e: Error) => e instanceof CaptionerError && /without choices\[0\]\.message\.content/.test(e.message) && /model overloaded/.test(e.message) && !e.message.includes("\n"));
    },
  );
});

test("timeouts are retried and then fail; a huge Retry-After waits at most maxDelayMs", async () => {
  await serve(
    (_, res) => setTimeout(() => res.end("{}"), 2000).unref(),
    async (url) => {
      const captioner = new Captioner({ url, model: "m", cacheDir: null, timeoutMs: 50, maxRetries: 1, baseDelayMs: 1 });
      const t0 = performance.now();
      await assert.rejects(captioner.caption(frames), /failed 2 times; last: TimeoutError/);
      assert.ok(performance.now() - t0 < 1500);
    },
  );
  await serve(
    (_, res, n) => {
      if (n === 0) {
        res.writeHead(429, { "retry-after": "86400" });
        res.end("{}");
      } else {
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify({ choices: [{ message: { content: "a caption" } }] }));
      }
    },
    async (url) => {
      const captioner = new Captioner({ url, model: "m", cacheDir: null, maxDelayMs: 50 });
      const t0 = performance.now();
      assert.equal(await captioner.caption(frames), "a caption");
      assert.ok(performance.now() - t0 < 1500);
    },
  );
});

test("delays and timeouts beyond what a timer can wait are refused up front (they would fire at once)", () => {
  for (const key of ["maxDelayMs", "baseDelayMs", "timeoutMs"] as const) {
    assert.throws(() => new Captioner({ url: "http://h/v1", model: "m", cacheDir: null, [key]: 3e9 }), new RegExp(`^CaptionerError: captioner\\.${key} is 3000000000; allowed: an integer in \\[\\d, 2147483647\\]$`));
  }
});
