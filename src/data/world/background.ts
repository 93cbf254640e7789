// Backgrounds: a named base color, plain or with a low-contrast texture.
//
// A texture mixes two tones: the base color itself and the base moved TEXTURE_CONTRAST (12%) of the way
// toward white (for dark bases: R + G + B < 384) or toward black (light bases). Every textured pixel is
// therefore base + u * (tone - base) with u in [0, 1]: its nearest named color is still the base, and it
// differs from the base far less than any object color does, so the object stays detectable.
//
//   plain    every pixel the base color
//   stripes  bands `band` pixels wide, horizontal (rows alternate) or vertical (columns alternate), u in {0, 1}
//   checker  squares `cell` pixels wide, u in {0, 1}
//   speckle  static per-pixel noise, u uniform in [0, 1) drawn from Rng(noiseSeed), row by row
//
// Band and cell sizes are drawn in [5%, 10%] of min(width, height), at least 2 pixels (3 to 6 at 64 x 64),
// with a random phase. A background never changes within a scene.

import { Rng } from "../../tensor/rng.js";
import { NAMED_RGB, type BackgroundColorName, type Rgb } from "./palette.js";

export const TEXTURE_NAMES = ["plain", "stripes", "checker", "speckle"] as const;
export type TextureName = (typeof TEXTURE_NAMES)[number];

export const TEXTURE_CONTRAST = 0.12;

export type StripeOrientation = "horizontal" | "vertical";

export type BackgroundSpec =
  | { color: BackgroundColorName; texture: "plain" }
  | { color: BackgroundColorName; texture: "stripes"; orientation: StripeOrientation; band: number; phase: number }
  | { color: BackgroundColorName; texture: "checker"; cell: number; phaseX: number; phaseY: number }
  | { color: BackgroundColorName; texture: "speckle"; noiseSeed: number };

/** The far end of a texture's tone range for base `color` (u = 1). */
export function textureTone(color: BackgroundColorName): Rgb {
  const base = NAMED_RGB[color];
  const toward = base[0] + base[1] + base[2] < 384 ? 255 : 0;
  return [0, 1, 2].map((c) => base[c] + TEXTURE_CONTRAST * (toward - base[c])) as unknown as Rgb;
}

/** Draws the texture parameters (sizes, phase, noise seed) of a background with the given color and texture. */
export function sampleBackground(rng: Rng, color: BackgroundColorName, texture: TextureName, width: number, height: number): BackgroundSpec {
  const m = Math.min(width, height);
  const lo = Math.max(2, Math.round(0.05 * m));
  const hi = Math.max(lo, Math.round(0.1 * m));
  const size = (): number => lo + Math.floor(rng.uniform() * (hi - lo + 1));
  switch (texture) {
    case "plain":
      return { color, texture };
    case "stripes": {
      const orientation: StripeOrientation = rng.uniform() < 0.5 ? "horizontal" : "vertical";
      const band = size();
      return { color, texture, orientation, band, phase: Math.floor(rng.uniform() * 2 * band) };
    }
    case "checker": {
      const cell = size();
      return { color, texture, cell, phaseX: Math.floor(rng.uniform() * 2 * cell), phaseY: Math.floor(rng.uniform() * 2 * cell) };
    }
    case "speckle":
      return { color, texture, noiseSeed: rng.nextUint32() };
  }
}

/** The background as an RGB uint8 image [height, width, 3], row-major. */
export function renderBackground(spec: BackgroundSpec, width: number, height: number): Uint8Array {
  const base = NAMED_RGB[spec.color];
  const tone = textureTone(spec.color);
  const out = new Uint8Array(width * height * 3);
  // u per pixel: the mix between base (0) and tone (1)
  let mix: (x: number, y: number) => number;
  switch (spec.texture) {
    case "plain":
      mix = () => 0;
      break;
    case "stripes": {
      const { band, phase, orientation } = spec;
      mix = (x, y) => Math.floor(((orientation === "horizontal" ? y : x) + phase) / band) % 2;
      break;
    }
    case "checker": {
      const { cell, phaseX, phaseY } = spec;
      mix = (x, y) => (Math.floor((x + phaseX) / cell) + Math.floor((y + phaseY) / cell)) % 2;
      break;
    }
    case "speckle": {
      const noise = new Rng(spec.noiseSeed).fillUniform(new Float32Array(width * height));
      mix = (x, y) => noise[y * width + x];
      break;
    }
  }
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const u = mix(x, y);
      const at = 3 * (y * width + x);
      for (let c = 0; c < 3; c++) out[at + c] = Math.round(base[c] + u * (tone[c] - base[c]));
    }
  }
  return out;
}
