// The UNet3D of both variants against the PyTorch reference (tools/reference/unet3d.py, itself checked
// against the authors' code and diffusers to 1e-14 in float64) on tiny configs: one session per config
// and timestep layout, symbolic batch and frames, cases with 8 frames, 1 frame and per-frame timesteps.
// Fixtures: test/fixtures/unet3d/<config>.safetensors from tools/fixtures/unet3d_fixture.py; weights are
// regenerated here by hashedWeights (the fixture script documents the rule).

import { test } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { Graph } from "../../../src/graph/index.js";
import { SafetensorsFile, readSafetensors } from "../../../src/io/index.js";
import { buildUNet3D, parseUNet3DConfig, unet3dParamShapes } from "../../../src/models/unet3d/index.js";
import { Session } from "../../../src/runtime/index.js";
import { hashedWeights } from "./hashed-weights.js";
import { errorAndScale } from "../relative-error.js";

/** Max abs error allowed, relative to the reference output's largest magnitude. */
const TOLERANCE = 1e-4;

function readMetadata(path: string): Readonly<Record<string, string>> {
  const f = SafetensorsFile.open(path);
  try {
    return f.metadata;
  } finally {
    f.close();
  }
}

// vidrd_options: 1x1-conv projections, temporal attention only in up blocks, no frame embedding.
for (const variant of ["vidrd", "vidrd_options", "modelscope"]) {
  test(`UNet3D ${variant} matches the PyTorch reference (F = 8, F = 1, per-frame timesteps)`, async () => {
    const path = fileURLToPath(new URL(`../../fixtures/unet3d/${variant}.safetensors`, import.meta.url));
    const fixture = readSafetensors(path);
    const meta = readMetadata(path);
    const cfg = parseUNet3DConfig(JSON.parse(meta.config!));
    const weights = hashedWeights(unet3dParamShapes(cfg), Number(meta.weight_seed));
    const context = fixture.get("context")!;
    for (const perFrameTimesteps of [false, true]) {
      const g = new Graph(`unet3d_${variant}`);
      buildUNet3D(g, cfg, { height: 8, width: 8, perFrameTimesteps });
      const session = await Session.fromGraph(g, { weights, threads: 2 });
      try {
        for (const name of perFrameTimesteps ? ["per_frame"] : ["f8", "f1"]) {
          const expected = fixture.get(`${name}.eps`)!;
          const { eps } = await session.run({
            sample: fixture.get(`${name}.sample`)!,
            timestep: fixture.get(`${name}.timestep`)!,
            encoder_hidden_states: context,
          });
          const { worst: err, scale } = errorAndScale(eps!, expected);
          assert.ok(scale > 0.5, `${name}: reference output is degenerate (max ${scale})`);
          assert.ok(err <= TOLERANCE * scale, `${variant} ${name}: max abs error ${err} > ${TOLERANCE} x ${scale}`);
        }
      } finally {
        await session.release();
      }
    }
  });
}
