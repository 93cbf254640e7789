// The SD-2.1-sized configs declare exactly the parameters (names and shapes) of the authors' state dict and
// of diffusers' ModelScope UNet3DConditionModel. Key lists: test/fixtures/unet3d/*.tsv, copied from the
// research notes (models-spec.md section 3.1 and 7), made by instantiating the original modules.

import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import {
  MODELSCOPE_T2V_CONFIG,
  SD21_BASE_VIDRD_CONFIG,
  isTemporalKey,
  parseUNet3DConfig,
  unet3dParamShapes,
} from "../../../src/models/unet3d/index.js";

function readKeyList(name: string): Map<string, number[]> {
  const text = readFileSync(fileURLToPath(new URL(`../../fixtures/unet3d/${name}`, import.meta.url)), "utf8");
  const rows = text.split("\n").filter((l) => l && !l.startsWith("#"));
  return new Map(rows.map((l) => {
    const [key, shape] = l.split("\t") as [string, string];
    return [key, JSON.parse(shape) as number[]];
  }));
}

function compareKeys(ours: Map<string, number[]>, want: Map<string, number[]>): string[] {
  const problems: string[] = [];
  for (const [k, s] of want) {
    const got = ours.get(k);
    if (!got) problems.push(`missing ${k}`);
    else if (got.join(",") !== s.join(",")) problems.push(`${k}: [${got}] vs [${s}]`);
  }
  for (const k of ours.keys()) if (!want.has(k)) problems.push(`extra ${k}`);
  return problems;
}

const count = (shapes: Map<string, number[]>) => [...shapes.values()].reduce((n, s) => n + s.reduce((a, b) => a * b, 1), 0);

test("the SD-2.1-base VidRD UNet3D has the authors' 1150 keys and shapes (1,182,401,284 parameters)", () => {
  const shapes = unet3dParamShapes(parseUNet3DConfig(SD21_BASE_VIDRD_CONFIG));
  assert.deepEqual(compareKeys(shapes, readKeyList("unet_vidrd.tsv")), []);
  assert.equal(shapes.size, 1150);
  assert.equal(count(shapes), 1_182_401_284);
  // the 2-D part is SD 2.1's UNet: 686 keys, 865,910,724 parameters
  const spatial = new Map([...shapes].filter(([k]) => !isTemporalKey(k)));
  assert.equal(spatial.size, 686);
  assert.equal(count(spatial), 865_910_724);
});

test("the ModelScope UNet3D has diffusers' 1480 keys and shapes (1,411,233,860 parameters)", () => {
  const shapes = unet3dParamShapes(parseUNet3DConfig(MODELSCOPE_T2V_CONFIG));
  assert.deepEqual(compareKeys(shapes, readKeyList("unet_modelscope_diffusers.tsv")), []);
  assert.equal(count(shapes), 1_411_233_860);
});

test("without temporal convs or with temporal attention only on up blocks, the VidRD key set shrinks accordingly", () => {
  const noConv = unet3dParamShapes(parseUNet3DConfig({ ...SD21_BASE_VIDRD_CONFIG, add_temp_conv: false }));
  assert.equal([...noConv.keys()].filter((k) => k.includes("temp_convs")).length, 0);
  assert.equal(noConv.size, 1150 - 22 * 16);
  const upOnly = unet3dParamShapes(parseUNet3DConfig({ ...SD21_BASE_VIDRD_CONFIG, add_temp_attn_only_on_upblocks: true }));
  const temporalAttention = [...upOnly.keys()].filter((k) => k.includes("temp_attn") || k.includes("temp_norm"));
  assert.ok(temporalAttention.every((k) => k.startsWith("up_blocks.")));
  assert.equal(temporalAttention.length, 9 * 7); // 9 up-block transformers x (temp_norm 2 + temp_attn 5)
});
