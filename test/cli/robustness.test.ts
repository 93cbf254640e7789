// What the robustness review found: a closed pipe, SIGTERM / SIGHUP, options that must be refused before
// the model loads, weight problems found before any denoising, PNG outputs without ffmpeg, `vidrd info`
// on a fifo, and the small message fixes. Each runs the real `vidrd` (cli-harness.ts).

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { probeVideo } from "../../src/media/index.js";
import { hiddenFiles, lines, root, startVidrd, tinyFlags, vidrd, workspace, type Workspace, untilPastFirstClip } from "./cli-harness.js";

let ws: Workspace;
before(() => {
  ws = workspace("robust");
});
after(() => ws.remove());

/** tinyFlags without --overlap (vidrd's only), for other strategies. */
const baseFlags = (): string[] => ["--model", ws.model, "--size", "16", "--steps", "2", "--threads", "1"];

/** Rewrites a safetensors file's header with `edit` applied (tensor data untouched). */
function editSafetensorsHeader(file: string, edit: (header: Record<string, unknown>) => void): void {
  const buf = readFileSync(file);
  const length = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + length).toString("utf8")) as Record<string, unknown>;
  edit(header);
  let text = JSON.stringify(header);
  while (Buffer.byteLength(text) < length) text += " ";
  const head = Buffer.from(text);
  const size = Buffer.alloc(8);
  size.writeBigUInt64LE(BigInt(head.length));
  writeFileSync(file, Buffer.concat([size, head, buf.subarray(8 + length)]));
}

test("a closed stderr/stdout pipe (| head -2) does not stop the run: exit 0 and the video is written", async () => {
  const out = join(ws.dir, "pipe.mp4");
  const command = [process.execPath, "--import", "tsx", "src/cli/main.ts", "generate", "a piped run", ...tinyFlags(ws), "--clips", "30", "--out", out]
    .map((a) => `'${a.replace(/'/g, "'\\''")}'`)
    .join(" ");
  const r = spawnSync("bash", ["-c", `${command} 2>&1 | head -2; exit \${PIPESTATUS[0]}`], { cwd: root, encoding: "utf8", env: ws.env });
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.equal(lines(r.stdout).length, 2, r.stdout);
  const probe = await probeVideo(out, { countFrames: true });
  assert.equal(probe.frameCount, 4 + 29 * 2);
  assert.equal(JSON.parse(readFileSync(`${out}.json`, "utf8")).complete, true);
});

for (const [signal, code] of [
  ["SIGTERM", 143],
  ["SIGHUP", 129],
] as const) {
  test(`${signal} stops like Ctrl-C: exit ${code}, the frames so far kept as a valid, shorter video`, async () => {
    const out = join(ws.dir, `${signal}.mp4`);
    const clips = 60;
    const run = startVidrd(["generate", "a long walk", ...tinyFlags(ws), "--steps", "4", "--clips", String(clips), "--out", out], ws.env);
    await untilPastFirstClip(run, clips);
    run.child.kill(signal);
    const r = await run.done;
    assert.equal(r.status, code, r.stderr);
    assert.match(r.stderr, new RegExp(`vidrd generate: ${signal}: stopping after the current step`));
    const written = /interrupted; wrote (\d+) frames to (.*) \(a valid, shorter video\)/.exec(r.stderr);
    assert.ok(written, r.stderr);
    const probe = await probeVideo(out, { countFrames: true });
    assert.equal(probe.frameCount, Number(written[1]));
    assert.ok(probe.frameCount! > 0 && probe.frameCount! < 4 + (clips - 1) * 2, `${probe.frameCount} frames`);
    assert.equal(JSON.parse(readFileSync(`${out}.json`, "utf8")).complete, false);
    assert.deepEqual(hiddenFiles(ws.dir), []);
  });
}

test("bad prompts, fps, sizes and outputs: exit 2 with one line, before the model loads", () => {
  const outDir = join(ws.dir, "outs");
  mkdirSync(join(outDir, "d.mp4"), { recursive: true });
  mkdirSync(join(outDir, "full"));
  writeFileSync(join(outDir, "full", "old.png"), "");
  writeFileSync(join(outDir, "a-file"), "");
  mkdirSync(join(outDir, "side.mp4.json"));
  writeFileSync(join(ws.dir, "nul.json"), JSON.stringify({ prompt: "a\u0000b" }));
  writeFileSync(join(ws.dir, "nul-negative.json"), JSON.stringify({ negative: "x\u0000" }));
  // a model folder that would fail if it were opened: the options must be refused before that
  const flags = ["--model", join(ws.dir, "no-model-here"), "--size", "16", "--steps", "2", "--threads", "1"];
  const cases: { args: string[]; message: RegExp }[] = [
    { args: ["x".repeat(5000)], message: /^vidrd generate: "<prompt>" is "x+"\.\.\. \(5000 characters\); allowed: a non-empty text of at most 4096 characters/ },
    { args: ["p", "--negative", "n".repeat(4097)], message: /^vidrd generate: --negative is .*\(4097 characters\); allowed: a text of at most 4096 characters/ },
    { args: ["--config", join(ws.dir, "nul.json")], message: /^vidrd generate: --config .*nul\.json: "prompt" is "a\\u0000b"; allowed: .*without NUL characters$/ },
    { args: ["p", "--config", join(ws.dir, "nul-negative.json")], message: /^vidrd generate: --config .*: "negative" is .*; allowed: .*without NUL characters$/ },
    { args: ["p", "--fps", "0.001"], message: /^vidrd generate: --fps is 0\.001; allowed: a number in \[0\.01, 240\]$/ },
    { args: ["p", "--size", "16385"], message: /^vidrd generate: --size is "16385"; allowed: .*each side from 1 to 16384$/ },
    { args: ["p", "--size", "16x99999999999999999999"], message: /^vidrd generate: --size is "16x99999999999999999999"; allowed: / },
    { args: ["p", "--out", join(outDir, "d.mp4")], message: /^vidrd generate: --out .*d\.mp4: .*d\.mp4 is a folder; allowed: a file path/ },
    { args: ["p", "--out", `${join(outDir, "full")}/`], message: /^vidrd generate: --out .*full\/: folder .*full is not empty; allowed: a new or empty folder/ },
    { args: ["p", "--out", `${join(outDir, "a-file")}/`], message: /^vidrd generate: --out .*a-file\/: .*a-file is a file; allowed: a new or empty folder/ },
    { args: ["p", "--out", join(outDir, "side.mp4")], message: /^vidrd generate: --out .*side\.mp4: its sidecar .*side\.mp4\.json is a folder/ },
  ];
  for (const c of cases) {
    const r = vidrd(["generate", ...flags, ...c.args], ws.env);
    assert.equal(r.status, 2, `${c.args.join(" ").slice(0, 80)}: ${r.stderr}`);
    assert.equal(lines(r.stderr).length, 1, r.stderr);
    assert.match(lines(r.stderr)[0]!, c.message);
    assert.equal(r.stdout, "");
  }
});

test("weights that do not fit the graph: one line naming the part, the count and the tensor, before any denoising", () => {
  const bad = join(ws.dir, "bad-weights");
  cpSync(ws.model, bad, { recursive: true });
  editSafetensorsHeader(join(bad, "unet", "model.safetensors"), (h) => {
    h["conv_in.weightX"] = h["conv_in.weight"];
    delete h["conv_in.weight"];
  });
  const r = vidrd(["generate", "p", ...tinyFlags(ws), "--model", bad, "--out", join(ws.dir, "bad.mp4")], ws.env);
  assert.equal(r.status, 1, r.stderr);
  assert.deepEqual(lines(r.stderr).length, 1, r.stderr);
  assert.match(r.stderr, /^vidrd generate: --model .*bad-weights: unet: 1 weight problem \(of \d+ tensors\): conv_in\.weight is missing \(expected \[32, 4, 3, 3\]\)\n$/);
  assert.equal(existsSync(join(ws.dir, "bad.mp4")), false);

  const vae = join(ws.dir, "bad-vae");
  cpSync(ws.model, vae, { recursive: true });
  editSafetensorsHeader(join(vae, "vae", "model.safetensors"), (h) => {
    for (const k of Object.keys(h).filter((k) => k.startsWith("decoder.")).slice(0, 3)) {
      h[`renamed.${k}`] = h[k];
      delete h[k];
    }
  });
  const v = vidrd(["generate", "p", ...tinyFlags(ws), "--model", vae, "--out", join(ws.dir, "bad-vae.mp4")], ws.env);
  assert.equal(v.status, 1, v.stderr);
  assert.match(v.stderr, /^vidrd generate: --model .*bad-vae: vae: 3 weight problems \(of \d+ tensors\): decoder\.\S+ is missing .*; decoder\.\S+ is missing .*; and 1 more\n$/);
});

test("PNG outputs (a contact sheet, a frames folder) need no ffmpeg", () => {
  const env = { ...ws.env, VIDRD_FFMPEG: "/nonexistent/ffmpeg" };
  const sheet = vidrd(["generate", "p", ...tinyFlags(ws), "--out", join(ws.dir, "sheet.png")], env);
  assert.equal(sheet.status, 0, sheet.stderr);
  assert.ok(existsSync(join(ws.dir, "sheet.png")));
  const frames = vidrd(["generate", "p", ...tinyFlags(ws), "--out", `${join(ws.dir, "frames")}/`], env);
  assert.equal(frames.status, 0, frames.stderr);
  const mp4 = vidrd(["generate", "p", ...tinyFlags(ws), "--out", join(ws.dir, "needs.mp4")], env);
  assert.equal(mp4.status, 1);
  assert.match(mp4.stderr, /^vidrd generate: ffmpeg not found/);
});

test("vidrd info: model errors name <model>, not --model; a fifo is refused at once", () => {
  const bad = join(ws.dir, "bad-index");
  cpSync(ws.model, bad, { recursive: true });
  writeFileSync(join(bad, "model_index.json"), JSON.stringify({ clip_frames: 0 }));
  const r = vidrd(["info", bad], ws.env);
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /^vidrd info: <model>: .*model_index\.json: clip_frames is 0/);
  assert.doesNotMatch(r.stderr, /--model/);

  const fifo = join(ws.dir, "a-fifo");
  assert.equal(spawnSync("mkfifo", [fifo]).status, 0);
  const started = Date.now();
  const f = spawnSync(process.execPath, ["--import", "tsx", "src/cli/main.ts", "info", fifo], { cwd: root, encoding: "utf8", env: ws.env, timeout: 30_000 });
  assert.ok(Date.now() - started < 30_000, "info on a fifo hung");
  assert.equal(f.status, 1, f.stderr);
  assert.match(f.stderr, /^vidrd info: .*a-fifo is not a regular file or a folder; allowed: a model folder, a part folder, or a weights file\n$/);
});

test("messages: fifo steps as --steps, a length clash in the config file named as the file's, BOM files, 1e400", () => {
  const fifo = vidrd(["generate", "p", ...baseFlags(), "--strategy", "fifo", "--steps", "6", "--out", join(ws.dir, "f.mp4")], ws.env);
  assert.equal(fifo.status, 2, fifo.stderr);
  assert.match(fifo.stderr, /^vidrd generate: --steps is 6; fifo/);

  const clash = join(ws.dir, "clash.json");
  writeFileSync(clash, JSON.stringify({ frames: 4, clips: 2 }));
  const c = vidrd(["generate", "p", ...tinyFlags(ws), "--config", clash], ws.env);
  assert.equal(c.status, 2, c.stderr);
  assert.deepEqual(lines(c.stderr), [`vidrd generate: --config ${clash}: "frames" and "clips" were both given; allowed: one of them`]);

  const bom = join(ws.dir, "bom.json");
  writeFileSync(bom, `\uFEFF${JSON.stringify({ clips: 1, out: "bom.mp4" })}`);
  const schedule = join(ws.dir, "bom-schedule.json");
  writeFileSync(schedule, `\uFEFF${JSON.stringify([{ from: 0, to: 4, prompt: "a red star" }])}`);
  const b = vidrd(["generate", "p", ...tinyFlags(ws), "--config", bom, "--prompt-schedule", schedule, "--json"], ws.env);
  assert.equal(b.status, 0, b.stderr);
  assert.equal(JSON.parse(b.stdout).frames, 4);

  const huge = join(ws.dir, "huge-schedule.json");
  writeFileSync(huge, '[{"from": 0, "to": 1e400, "prompt": "a"}]');
  const h = vidrd(["generate", "p", ...tinyFlags(ws), "--prompt-schedule", huge, "--out", join(ws.dir, "huge.mp4")], ws.env);
  assert.equal(h.status, 2, h.stderr);
  assert.deepEqual(lines(h.stderr).length, 1, h.stderr);
  assert.match(h.stderr, /--prompt-schedule .*huge-schedule\.json: .*\[0\]\.to is not a finite number/);
  assert.doesNotMatch(h.stderr, /null/);
});
