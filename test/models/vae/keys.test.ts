// The SD-sized temporal VAE declares exactly the parameters of the authors' TemporalAutoencoderKL
// (test/fixtures/vae/vae_temporal.tsv, a copy of research/keys/vae_temporal.tsv: 392 names with shapes,
// diffusers-0.14 attention names), read through the checkpoint-name map of keys.ts.

import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { Graph } from "../../../src/graph/index.js";
import { Scope } from "../../../src/nn/index.js";
import {
  SD21_VAE,
  type TemporalDecoderMode,
  type VaeConfig,
  VIDRD_TEMPORAL_VAE,
  vaeDecoder,
  vaeEncoder,
  vaeKeyFromCheckpoint,
} from "../../../src/models/vae/index.js";
import { FIXTURE_DIR } from "./helpers.js";

function tsvKeys(): Map<string, string> {
  const keys = new Map<string, string>();
  for (const line of readFileSync(`${FIXTURE_DIR}vae_temporal.tsv`, "utf8").split("\n")) {
    if (!line.trim() || line.startsWith("#")) continue;
    const [name, shape] = line.split("\t") as [string, string];
    keys.set(vaeKeyFromCheckpoint(name), shape.replace(/\s/g, ""));
  }
  return keys;
}

/** name -> "[d0,d1,...]" of every parameter an encoder + decoder graph declares. */
function declaredKeys(cfg: VaeConfig, mode: TemporalDecoderMode): Map<string, string> {
  const g = new Graph("vae");
  const root = new Scope(g);
  vaeEncoder(root, g.input("frames", "float32", [1, 3, "F", 64, 64]), cfg);
  vaeDecoder(root, g.input("latents", "float32", [1, 4, "F", 8, 8]), cfg, { temporalDecoder: mode });
  return new Map(g.paramList().map((p) => [p.value.name, `[${p.value.shape.join(",")}]`]));
}

function assertSameKeys(ours: Map<string, string>, expected: Map<string, string>): void {
  const missing = [...expected.keys()].filter((k) => !ours.has(k));
  const extra = [...ours.keys()].filter((k) => !expected.has(k));
  const wrong = [...ours.keys()].filter((k) => expected.has(k) && expected.get(k) !== ours.get(k)).map((k) => `${k} ${ours.get(k)} vs ${expected.get(k)}`);
  assert.deepEqual({ missing, extra, wrong }, { missing: [], extra: [], wrong: [] });
}

test("the SD-sized temporal VAE declares exactly the 392 names and shapes of the authors' key list", () => {
  const expected = tsvKeys();
  assert.equal(expected.size, 392);
  assert.ok(expected.has("decoder.mid_block.attentions.0.to_out.0.weight"), "legacy proj_attn is read as to_out.0");
  const ours = declaredKeys(VIDRD_TEMPORAL_VAE, "clip");
  assertSameKeys(ours, expected);
  const params = [...ours.values()].reduce((n, s) => n + (JSON.parse(s) as number[]).reduce((a, d) => a * d, 1), 0);
  assert.equal(params, 100_059_495);
});

test("without temporal layers (SD's VAE, or the per-frame decoder) the 144 temporal keys are absent", () => {
  const spatialOnly = new Map([...tsvKeys()].filter(([k]) => !k.includes(".temp_convs.")));
  assert.equal(spatialOnly.size, 248);
  assertSameKeys(declaredKeys(SD21_VAE, "clip"), spatialOnly);
  assertSameKeys(declaredKeys(VIDRD_TEMPORAL_VAE, "per-frame"), spatialOnly);
});

test("vaeKeyFromCheckpoint maps only the mid-block attention projections", () => {
  assert.equal(vaeKeyFromCheckpoint("encoder.mid_block.attentions.0.query.weight"), "encoder.mid_block.attentions.0.to_q.weight");
  assert.equal(vaeKeyFromCheckpoint("decoder.mid_block.attentions.0.proj_attn.bias"), "decoder.mid_block.attentions.0.to_out.0.bias");
  assert.equal(vaeKeyFromCheckpoint("decoder.mid_block.attentions.0.group_norm.weight"), "decoder.mid_block.attentions.0.group_norm.weight");
  assert.equal(vaeKeyFromCheckpoint("decoder.mid_block.attentions.0.to_k.weight"), "decoder.mid_block.attentions.0.to_k.weight");
  assert.equal(vaeKeyFromCheckpoint("decoder.up_blocks.0.resnets.0.key.weight"), "decoder.up_blocks.0.resnets.0.key.weight");
});
