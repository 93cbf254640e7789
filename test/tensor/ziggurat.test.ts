import { test } from "node:test";
import assert from "node:assert/strict";
import { LAYERS, ZIGGURAT, normalTailArea } from "../../src/tensor/ziggurat.js";

const f = (x: number) => Math.exp(-0.5 * x * x);

test("r and v agree with Marsaglia & Tsang's published 256-layer constants", () => {
  // J. Stat. Software 5(8), 2000: r = 3.6541528853610088, v = 4.92867323399e-3
  assert.ok(Math.abs(ZIGGURAT.r - 3.6541528853610088) < 2e-15, `r = ${ZIGGURAT.r}`);
  // v is published to 12 digits, the last of them off by 2 (python3 with math.erfc: 4.928673233974658e-3)
  assert.ok(Math.abs(ZIGGURAT.v - 4.92867323399e-3) < 5e-14, `v = ${ZIGGURAT.v}`);
  assert.ok(Math.abs(ZIGGURAT.v - 4.928673233974658e-3) < 1e-17, `v = ${ZIGGURAT.v}`);
});

test("normal tail area matches Python's erfc", () => {
  // python3: math.sqrt(math.pi / 2) * math.erfc(r / math.sqrt(2))
  const golden: [number, number][] = [[3, 0.00338369257395273], [3.6541528853610088, 0.00032339576466332173], [5, 7.185289350398097e-7]];
  for (const [r, area] of golden) assert.ok(Math.abs(normalTailArea(r) / area - 1) < 1e-13, `r = ${r}`);
});

test("every layer has area v and the ziggurat closes at the top", () => {
  const { x, v, r } = ZIGGURAT;
  assert.equal(x.length, LAYERS + 1);
  assert.equal(x[1], r);
  assert.equal(x[LAYERS], 0);
  assert.ok(Math.abs(x[0] * f(r) - v) < 1e-15, "bottom layer as a box");
  for (let k = 1; k < LAYERS; k++) {
    assert.ok(x[k] > x[k + 1], `edges decrease at ${k}`);
    const area = x[k] * (f(x[k + 1]) - f(x[k]));
    assert.ok(Math.abs(area / v - 1) < 1e-9, `layer ${k} area ${area}`);
  }
});

test("fast-path thresholds accept exactly the magnitudes under the next edge", () => {
  const { x, scale, accept } = ZIGGURAT;
  for (let i = 0; i < LAYERS; i++) {
    const k = accept[i];
    if (k > 0) assert.ok((k - 1) * scale[i] < x[i + 1], `layer ${i}: last accepted point is under x[i+1]`);
    assert.ok(k * scale[i] >= x[i + 1], `layer ${i}: first rejected point is not under x[i+1]`);
  }
  assert.equal(accept[LAYERS - 1], 0); // the top layer is all wedge
});
