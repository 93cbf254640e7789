// `vidrd convert`: round trips through the command (in process, fast) and two runs of the real CLI.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { SafetensorsFile, readSafetensors } from "../../../src/io/index.js";
import { PthFile, TorchTensor } from "../../../src/io/pth/index.js";
import { runConvert } from "../../../src/cli/convert.js";
import { expected, pthFixture, assertTensorEquals } from "../../io/pth/fixtures.js";
import { withTempDir } from "../../io/helpers.js";

const root = fileURLToPath(new URL("../../..", import.meta.url));

function convert(...args: string[]) {
  let stdout = "";
  let stderr = "";
  const status = runConvert(args, { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t) });
  return { status, stdout, stderr };
}

/** The tensors of a checkpoint's state dict as torch saved them, read straight from the .pth. */
function torchStateDict(file: string): Map<string, ReturnType<TorchTensor["read"]>> {
  const pth = PthFile.open(file);
  try {
    const top = pth.value as Map<string, unknown>;
    const dict = (top.get("state_dict") ?? top) as Map<string, TorchTensor>;
    return new Map([...dict].map(([n, t]) => [n, t.read()]));
  } finally {
    pth.close();
  }
}

test("round trip: each part of a Lightning checkpoint -> a safetensors folder holding the same tensors", () => {
  const original = torchStateDict(pthFixture("lightning.ckpt"));
  withTempDir((dir) => {
    for (const part of ["unet", "text_encoder"]) {
      const out = join(dir, part);
      const r = convert(pthFixture("lightning.ckpt"), out, "--part", part);
      assert.equal(r.status, 0, r.stderr);
      assert.deepEqual(readdirSync(out).sort(), ["config.json", "model.safetensors"]);
      const converted = readSafetensors(join(out, "model.safetensors"));
      const want = new Map([...original].filter(([n]) => n.startsWith(`${part}.`)).map(([n, t]) => [n.slice(part.length + 1), t]));
      assert.deepEqual(converted, want);
      const file = SafetensorsFile.open(join(out, "model.safetensors"));
      assert.equal(file.metadata.format, "pt");
      file.close();
      const config = JSON.parse(readFileSync(join(out, "config.json"), "utf8"));
      assert.equal(part === "unet" ? config.variant : config.model_type, part === "unet" ? "vidrd" : "clip_text_model");
    }
  });
});

test("round trip: a diffusers VAE folder keeps its config and gets the current attention names", () => {
  withTempDir((dir) => {
    const out = join(dir, "vae");
    const r = convert(pthFixture("vae_folder"), out);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(JSON.parse(readFileSync(join(out, "config.json"), "utf8")), JSON.parse(readFileSync(pthFixture("vae_folder/config.json"), "utf8")));
    const converted = readSafetensors(join(out, "model.safetensors"));
    assertTensorEquals(converted.get("decoder.mid_block.attentions.0.to_out.0.weight")!, expected.vae_folder["decoder.mid_block.attentions.0.proj_attn.weight"], "proj_attn");
    assert.equal(converted.size, 11);
    // the converted folder converts again to the same bytes
    assert.equal(convert(out, join(dir, "again")).status, 0);
    assert.deepEqual(readFileSync(join(dir, "again", "model.safetensors")), readFileSync(join(out, "model.safetensors")));
    assert.equal((statSync(out).mode & 0o777).toString(8), "755");
  });
});

test("the summary names the input, counts tensors, parameters and bytes, and notes lossy conversions", () => {
  withTempDir((dir) => {
    const r = convert(pthFixture("lightning.ckpt"), join(dir, "o"), "--part", "unet", "--dtype", "float16");
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^converted .*lightning\.ckpt \(lightning, unet, epoch 3, global_step 30, pytorch-lightning_version 1\.9\.5\)\n/);
    assert.match(r.stdout, /model\.safetensors: 4 tensors \(4 float16\), 200 parameters, 400 bytes\n/);
    assert.match(r.stdout, /config\.json \(the known unet config\)\nnote: 4 float32 tensors rounded to float16\n$/);
  });
});

test("refusals: one line, a non-zero exit, and no output folder", () => {
  withTempDir((dir) => {
    const cases: [string[], number, RegExp][] = [
      [[pthFixture("lightning.ckpt"), join(dir, "o")], 1, /is a Lightning checkpoint holding unet \(4 tensors\), text_encoder \(3 tensors\); choose one with --part/],
      [[pthFixture("malicious.pth"), join(dir, "o")], 1, /refusing to load: the file uses the Python global posix\.system/],
      [[pthFixture("lightning_hparams.ckpt"), join(dir, "o"), "--part", "unet"], 1, /__main__\.TrainConfig.*--stub-unknown-globals/],
      [[pthFixture("tensors.pth"), join(dir, "o")], 1, /not a state dict/],
      [[pthFixture("small.pth"), join(dir, "missing", "o")], 1, /does not exist/],
      [[pthFixture("small.pth")], 2, /needs <in> and <out-dir>, got 1 argument; see vidrd convert --help/],
      [[pthFixture("small.pth"), join(dir, "o"), "--part", "clip"], 2, /--part is "clip"; allowed: unet, text_encoder, vae/],
      [[pthFixture("small.pth"), join(dir, "o"), "--dtype", "bfloat16"], 2, /--dtype is "bfloat16"; allowed: float32, float16/],
      [[pthFixture("small.pth"), join(dir, "o"), "--frames", "3"], 2, /Unknown option '--frames'/],
    ];
    for (const [args, status, pattern] of cases) {
      const r = convert(...args);
      assert.equal(r.status, status, r.stderr);
      assert.match(r.stderr, /^vidrd convert: [^\n]*\n$/);
      assert.match(r.stderr, pattern);
      assert.deepEqual(readdirSync(dir), []);
    }
    const stub = convert(pthFixture("lightning_hparams.ckpt"), join(dir, "o"), "--part", "unet", "--stub-unknown-globals");
    assert.equal(stub.status, 0, stub.stderr);
  });
});

test("an existing non-empty output folder is refused and left untouched", () => {
  withTempDir((dir) => {
    mkdirSync(join(dir, "o"));
    writeFileSync(join(dir, "o", "keep.txt"), "mine");
    const r = convert(pthFixture("small.pth"), join(dir, "o"));
    assert.equal(r.status, 1);
    assert.match(r.stderr, /already exists and is not an empty folder/);
    assert.deepEqual(readdirSync(join(dir, "o")), ["keep.txt"]);
    mkdirSync(join(dir, "empty"));
    assert.equal(convert(pthFixture("small.pth"), join(dir, "empty")).status, 0);
    assert.deepEqual(readdirSync(join(dir, "empty")), ["model.safetensors"]);
  });
});

test("CLI: `vidrd convert` converts a checkpoint, and a corrupt one exits 1 with one line and no folder", () => {
  const vidrd = (...args: string[]) => spawnSync(process.execPath, ["--import", "tsx", "src/cli/main.ts", "convert", ...args], { cwd: root, encoding: "utf8" });
  withTempDir((dir) => {
    const ok = vidrd(pthFixture("lightning.ckpt"), join(dir, "unet"), "--part", "unet");
    assert.equal(ok.status, 0, ok.stderr);
    assert.match(ok.stdout, /wrote .*model\.safetensors: 4 tensors/);
    assert.equal(readSafetensors(join(dir, "unet", "model.safetensors")).size, 4);

    const bytes = readFileSync(pthFixture("lightning.ckpt"));
    writeFileSync(join(dir, "corrupt.ckpt"), bytes.subarray(0, bytes.length >> 1));
    const bad = vidrd(join(dir, "corrupt.ckpt"), join(dir, "out"), "--part", "unet");
    assert.equal(bad.status, 1);
    assert.equal(bad.stdout, "");
    assert.equal(bad.stderr.trim().split("\n").length, 1, bad.stderr);
    assert.match(bad.stderr, /^vidrd convert: .*corrupt\.ckpt: no zip end-of-central-directory record/);
    assert.deepEqual(readdirSync(dir).sort(), ["corrupt.ckpt", "unet"]);
  });
});
