// `vidrd info` on the tiny model: its counts must equal what the safetensors headers say, read here
// independently (8-byte little-endian header length, then a JSON header of dtype, shape, data offsets).

import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { TINY_TEXT_ENCODER, TINY_UNET, TINY_VAE } from "../app/tiny-model.js";
import { lines, vidrd, workspace, type Workspace } from "./cli-harness.js";

let ws: Workspace;
before(() => {
  ws = workspace("info");
});
after(() => ws.remove());

interface HeaderCounts {
  tensors: number;
  parameters: number;
  bytes: number;
}

function headerCounts(file: string): HeaderCounts {
  const buf = readFileSync(file);
  const length = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + length).toString("utf8")) as Record<string, { shape: number[]; data_offsets: [number, number] }>;
  const counts = { tensors: 0, parameters: 0, bytes: 0 };
  for (const [name, t] of Object.entries(header)) {
    if (name === "__metadata__") continue;
    counts.tensors++;
    counts.parameters += t.shape.reduce((a, d) => a * d, 1);
    counts.bytes += t.data_offsets[1] - t.data_offsets[0];
  }
  return counts;
}

test("info --json on a model folder: counts from the weights headers, configs, tokenizer, clip geometry", () => {
  const r = vidrd(["info", ws.model, "--json"], ws.env);
  assert.equal(r.status, 0, r.stderr);
  const info = JSON.parse(r.stdout);
  assert.equal(info.kind, "model");
  let parameters = 0;
  let bytes = 0;
  for (const part of ["unet", "vae", "text_encoder"]) {
    const expected = headerCounts(join(ws.model, part, "model.safetensors"));
    const got = info.parts[part];
    assert.deepEqual({ tensors: got.tensors, parameters: got.parameters, bytes: got.bytes }, expected, part);
    assert.deepEqual(got.dtypes, { float32: expected }, part);
    assert.equal(got.weightsFile, join(ws.model, part, "model.safetensors"));
    parameters += expected.parameters;
    bytes += expected.bytes;
  }
  assert.equal(info.parameters, parameters);
  assert.equal(info.bytes, bytes);
  assert.deepEqual(info.parts.unet.config.block_out_channels, TINY_UNET.block_out_channels);
  assert.equal(info.parts.unet.config.cross_attention_dim, TINY_UNET.cross_attention_dim);
  assert.equal(info.parts.vae.config.latent_channels, TINY_VAE.latent_channels);
  assert.equal(info.parts.text_encoder.config.hidden_size, TINY_TEXT_ENCODER.hidden_size);
  const vocab = JSON.parse(readFileSync(join(ws.model, "tokenizer", "tokenizer.json"), "utf8")).model.vocab;
  assert.equal(info.tokenizer.vocabSize, Object.keys(vocab).length);
  assert.equal(info.scheduler.name, "ddim");
  // model_index.json: clip_frames 4, fps 4; default size = unet sample_size 4 x VAE factor 2
  assert.deepEqual([info.clipFrames, info.fps, info.defaultSize, info.spatialFactor], [4, 4, 8, 2]);
});

test("info as text: a section per part with its parameter count, and the total", () => {
  const r = vidrd(["info", ws.model], ws.env);
  assert.equal(r.status, 0, r.stderr);
  const unet = headerCounts(join(ws.model, "unet", "model.safetensors"));
  assert.match(r.stdout, /^model .*\n  clips of 4 frames at 4 fps, default size 8x8 pixels/);
  assert.ok(r.stdout.includes(`${unet.tensors} tensors (${unet.tensors} float32), ${unet.parameters.toLocaleString("en-US")} parameters`), r.stdout);
  for (const heading of ["unet:", "vae:", "text_encoder:", "tokenizer: 600 ids", "scheduler: ddim", "total: "]) {
    assert.ok(lines(r.stdout).some((l) => l.startsWith(heading)), `${heading}\n${r.stdout}`);
  }
});

test("info on a single safetensors file and on a part folder", () => {
  const file = join(ws.model, "vae", "model.safetensors");
  const single = vidrd(["info", file, "--json"], ws.env);
  assert.equal(single.status, 0, single.stderr);
  const info = JSON.parse(single.stdout);
  assert.equal(info.kind, "weights");
  assert.equal(info.layout, "safetensors");
  assert.equal(info.parameters, headerCounts(file).parameters);
  assert.equal(info.tensors, headerCounts(file).tensors);

  const folder = vidrd(["info", join(ws.model, "unet")], ws.env);
  assert.equal(folder.status, 0, folder.stderr);
  assert.match(folder.stdout, /^weights .*unet \(unet\)\n  config: variant vidrd, in_channels 4/);
  assert.ok(folder.stdout.includes(`${headerCounts(join(ws.model, "unet", "model.safetensors")).parameters.toLocaleString("en-US")} parameters`));
});

test("info on something that is not a model: one line, exit 1", () => {
  const garbage = join(ws.dir, "garbage.safetensors");
  writeFileSync(garbage, "not weights at all");
  for (const path of [garbage, join(ws.dir, "missing")]) {
    const r = vidrd(["info", path], ws.env);
    assert.equal(r.status, 1, r.stderr);
    assert.equal(lines(r.stderr).length, 1, r.stderr);
    assert.match(r.stderr, /^vidrd info: .*(garbage\.safetensors: neither a safetensors file|missing does not exist)/);
  }
  const none = vidrd(["info"], ws.env);
  assert.equal(none.status, 2);
  assert.match(none.stderr, /^vidrd info: needs one <model> .*; see vidrd info --help\n$/);
});
