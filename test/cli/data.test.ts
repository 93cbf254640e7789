// `vidrd data`: flags to the library's options, one-line errors naming the flag (exit 2), failures of the
// run (exit 1), progress on stderr (a bar on a terminal, plain lines elsewhere), the summary on stdout.

import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { runData, type DataIO } from "../../src/cli/data.js";
import { readManifest } from "../../src/data/compose/index.js";
import { longVideo, resolveWorldConfig } from "../../src/data/world/index.js";
import { withTempDir, writeWorldVideo } from "../data/compose/helpers.js";
import { MockCaptioner } from "../data/compose/mock-captioner.js";

interface Captured extends DataIO {
  out: string;
  err: string;
  progressText: string;
}

function io(env: Record<string, string> = {}, tty = false): Captured {
  const c: Captured = {
    out: "",
    err: "",
    progressText: "",
    stdout: (t) => void (c.out += t),
    stderr: (t) => void (c.err += t),
    progress: { write: (t: string) => void (c.progressText += t), isTTY: tty, columns: 100 },
    env,
  };
  return c;
}

test("--help prints the subcommands and exits 0", async () => {
  const c = io();
  assert.equal(await runData(["--help"], c), 0);
  assert.match(c.out, /^Usage: vidrd data <world\|images\|videos\|mix>/);
  for (const sub of ["world", "images", "videos", "mix"]) assert.match(c.out, new RegExp(`vidrd data ${sub}`));
  const w = io();
  assert.equal(await runData(["world", "-h"], w), 0);
  assert.equal(w.out, c.out);
});

test("what was typed wrong: one line naming the flag and what is allowed, exit 2", async () => {
  const cases: [string[], RegExp][] = [
    [["frobnicate"], /^vidrd data: unknown subcommand "frobnicate"; allowed: world, images, videos, mix; see vidrd data --help$/],
    [["world"], /^vidrd data world: --out is missing; allowed: the dataset folder/],
    [["world", "--out", "x", "--frames", "abc"], /^vidrd data world: --frames is "abc"; allowed: an integer from 1 to 100000/],
    [["world", "--out", "x", "--size", "63"], /^vidrd data world: --size is 63; allowed: an even number/],
    [["world", "--out", "x", "--size", "64", "--width", "32", "--height", "32"], /--size and --width\/--height both given/],
    [["world", "--out", "x", "--fps", "0"], /--fps is "0"; allowed: a number above 0 and at most 240/],
    [["world", "--out", "x", "--frames", "200"], /^vidrd data world: the world cannot make 64x64 clips of 200 frames: config\./],
    [["world", "--out", "x", "--nope"], /^vidrd data world: Unknown option '--nope'/],
    [["world", "--out", "x", "extra"], /unexpected argument "extra"/],
    [["images", "--out", "x"], /^vidrd data images: --captions is missing; allowed: a \.csv/],
    [["images", "--out", "x", "--captions", "c.csv", "--camera", "zoom,tilt"], /--camera has "tilt"; allowed: a comma list of zoom, pan, zoom-pan/],
    [["images", "--out", "x", "--captions", "c.csv", "--ease", "fast"], /--ease is "fast"; allowed: linear, ease-in-out/],
    [["videos", "--out", "x"], /give one of --root DIR \(a class tree\) and --list FILE\.jsonl/],
    [["videos", "--out", "x", "--root", "r", "--list", "l"], /give one of --root/],
    [["videos", "--out", "x", "--root", "r", "--caption-template", "a person"], /caption template is "a person"; allowed: text containing \{label\}/],
    [["videos", "--out", "x", "--root", "r", "--captioner-model", "m"], /--captioner-model needs a captioning service; give --captioner-url/],
    [["videos", "--out", "x", "--root", "r", "--captioner-url", "http://127.0.0.1:9/v1"], /--captioner-model is missing/],
    [["videos", "--out", "x", "--root", "r", "--captioner-url", "http://127.0.0.1:9/v1", "--captioner-model", "m", "--captioner-key-env", "NO_SUCH_VAR"], /--captioner-key-env names NO_SUCH_VAR, which is not set/],
    [["videos", "--out", "x", "--root", "r", "--captioner-url", "ftp://h", "--captioner-model", "m"], /--captioner-url ftp:\/\/h uses ftp:; allowed: http or https/],
    [["videos", "--out", "x", "--root", "r", "--cut-ratio", "0.5"], /--cut-ratio is "0.5"; allowed: a number from 1 to 1000/],
    [["mix", "--out", "x"], /--source is missing; allowed: one or more DIR\[:WEIGHT\]/],
    [["mix", "--out", "x", "--source", "d:0"], /--source d:0: the weight is 0; allowed: a number above 0/],
  ];
  for (const [argv, pattern] of cases) {
    const c = io();
    assert.equal(await runData(argv, c), 2, `${argv.join(" ")}: ${c.err}`);
    assert.equal(c.err.trim().split("\n").length, 1, c.err);
    assert.match(c.err.trim(), pattern);
    assert.doesNotMatch(c.err, /at .*\.ts:\d+/);
  }
});

test("world: a dataset, plain progress lines, the summary; a re-run skips everything", async () => {
  await withTempDir(async (dir) => {
    const out = join(dir, "world");
    const c = io();
    assert.equal(await runData(["world", "--out", out, "--stills", "1", "--clips", "2", "--videos", "0", "--size", "32", "--frames", "8", "--motion-caption"], c), 0, c.err);
    assert.match(c.out, /^made 3 clips, skipped 0 \(already done\), from 3 inputs in [\d.]+ s\n/);
    assert.match(c.progressText, /^vidrd data: input 0\/3 \(0%\), made 0, skipped 0, rejected 0\n/);
    assert.match(c.progressText, /input 3\/3 \(100%\), made 3, skipped 0, rejected 0\n$/);
    assert.doesNotMatch(c.progressText, /\r/);
    assert.equal(readManifest(out).length, 3);
    assert.ok(readManifest(out).some((e) => / camera (zooms|pans)/.test(e.caption)));
    const again = io({}, true);
    assert.equal(await runData(["world", "--out", out, "--stills", "1", "--clips", "2", "--videos", "0", "--size", "32", "--frames", "8", "--motion-caption"], again), 0);
    assert.match(again.out, /^made 0 clips, skipped 3/);
    // a terminal gets a bar redrawn in place, cleared at the end
    assert.match(again.progressText, /\r\x1b\[K\[#+-*\] input 3\/3  made 0, skipped 3, rejected 0/);
    assert.ok(again.progressText.endsWith("\r\x1b[K"));
    const other = io();
    assert.equal(await runData(["world", "--out", out, "--size", "64"], other), 1);
    assert.match(other.err, /^vidrd data world: width is 64 but the dataset in .* has width 32/);
  });
});

test("images and videos: rejections reported as lines, exit 0; a missing list is a failure (exit 1)", async () => {
  await withTempDir(async (dir) => {
    writeFileSync(join(dir, "captions.jsonl"), `${JSON.stringify({ path: "missing.png", caption: "x" })}\n`);
    const c = io();
    assert.equal(await runData(["images", "--captions", join(dir, "captions.jsonl"), "--out", join(dir, "img"), "--size", "32"], c), 0, c.err);
    assert.match(c.progressText, /vidrd data: rejected missing\.png: unreadable: .* does not exist/);
    assert.match(c.out, /rejected 1: 1 unreadable/);
    const missing = io();
    assert.equal(await runData(["videos", "--list", join(dir, "nope.jsonl"), "--out", join(dir, "v")], missing), 1);
    assert.match(missing.err, /^vidrd data videos: video list .*nope\.jsonl cannot be read: ENOENT\n$/);
  });
});

test("videos with a captioning service that refuses the key: one clear line, exit 1", async () => {
  await withTempDir(async (dir) => {
    const config = resolveWorldConfig({ width: 32, height: 32, segments: [1, 1], segmentFrames: [12, 12] });
    await writeWorldVideo(join(dir, "v.mp4"), longVideo(config, 1, 0), config);
    writeFileSync(join(dir, "list.jsonl"), `${JSON.stringify({ path: "v.mp4" })}\n`);
    const server = new MockCaptioner(() => ({ status: 403, body: { error: "forbidden" } }));
    const url = await server.start();
    try {
      const c = io({ MY_KEY: "sk-bad" });
      const code = await runData(["videos", "--list", join(dir, "list.jsonl"), "--out", join(dir, "out"), "--size", "32", "--frames", "8", "--captioner-url", url, "--captioner-model", "vision", "--captioner-key-env", "MY_KEY"], c);
      assert.equal(code, 1);
      assert.match(c.err, /^vidrd data videos: captioning service http:\/\/127\.0\.0\.1:\d+\/v1\/chat\/completions refused the credentials \(HTTP 403: \{"error":"forbidden"\}\); check the API key\n$/);
      assert.equal(server.requests[0].authorization, "Bearer sk-bad");
      assert.match(readFileSync(join(dir, "out", "report.json"), "utf8"), /"stopped": "captioning service .* refused the credentials/);
    } finally {
      await server.stop();
    }
  });
});

test("mix: writes mix.json with relative paths and weights; a folder that is no dataset is a failure", async () => {
  await withTempDir(async (dir) => {
    const a = join(dir, "a");
    assert.equal(await runData(["world", "--out", a, "--clips", "1", "--stills", "0", "--videos", "0", "--size", "32", "--frames", "8", "--quiet"], io()), 0);
    const c = io();
    assert.equal(await runData(["mix", "--out", join(dir, "mix"), "--source", `${a}:2.5`, "--source", a], c), 0, c.err);
    const mix = JSON.parse(readFileSync(join(dir, "mix", "mix.json"), "utf8")) as { sources: { path: string; weight: number }[] };
    assert.deepEqual(mix.sources, [{ path: "../a", weight: 2.5 }, { path: "../a", weight: 1 }]);
    assert.match(c.out, /^wrote .*mix\.json: /);
    const bad = io();
    assert.equal(await runData(["mix", "--out", join(dir, "mix2"), "--source", dir], bad), 1);
    assert.match(bad.err, /is neither a dataset folder/);
    assert.ok(!existsSync(join(dir, "mix2", "mix.json")));
  });
});
