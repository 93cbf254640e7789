// Shared by the VAE tests: the tiny fixture of tools/fixtures/vae_fixture.py (config, weights under the
// graphs' names, golden tensors) and an error measure relative to the output's scale.

import assert from "node:assert/strict";
import { errorAndScale } from "../relative-error.js";
import { fileURLToPath } from "node:url";
import { SafetensorsFile } from "../../../src/io/index.js";
import { type VaeConfig, vaeConfigFromJson, vaeKeyFromCheckpoint } from "../../../src/models/vae/index.js";
import type { Tensor } from "../../../src/tensor/tensor.js";

export const FIXTURE_DIR = fileURLToPath(new URL("../../fixtures/vae/", import.meta.url));

export interface TinyFixture {
  config: VaeConfig;
  /** Parameters under the graphs' names (the file has diffusers-0.14 attention names). */
  weights: Map<string, Tensor>;
  /** Inputs and golden outputs: encode.*, decode.*, grad.*. */
  tensors: Map<string, Tensor>;
}

let cached: TinyFixture | null = null;

export function tinyFixture(): TinyFixture {
  if (cached) return cached;
  const file = SafetensorsFile.open(`${FIXTURE_DIR}tiny.safetensors`);
  try {
    const config = vaeConfigFromJson(JSON.parse(file.metadata.config!), "tiny.safetensors config");
    const weights = new Map<string, Tensor>();
    const tensors = new Map<string, Tensor>();
    for (const name of file.names()) {
      if (/^(encode|decode|grad)\./.test(name)) tensors.set(name, file.read(name));
      else weights.set(vaeKeyFromCheckpoint(name), file.read(name));
    }
    cached = { config, weights, tensors };
    return cached;
  } finally {
    file.close();
  }
}

export function get(map: Map<string, Tensor>, name: string): Tensor {
  const t = map.get(name);
  if (!t) throw new Error(`fixture has no tensor ${name}`);
  return t;
}

/** max |ours - reference| and max |reference|; fails when the first exceeds `tolerance` times the second. */
export function assertCloseToScale(ours: Tensor, reference: Tensor, tolerance: number, label: string): string {
  assert.deepEqual(ours.shape, reference.shape, `${label}: shape`);
  const { worst, scale } = errorAndScale(ours, reference);
  const report = `${label}: max abs error ${worst.toExponential(2)}, output scale ${scale.toFixed(3)}`;
  assert.ok(worst <= tolerance * scale, report);
  return report;
}
