// Weights of the UNet3D: the key list of a config, and inflation of a Stable Diffusion 2-D UNet state
// dict into the 3-D model the way the authors start training (RD unet.py from_pretrained_2d): every 2-D
// key loads unchanged by name; every temporal key ("temp_" in its name, and ModelScope's transformer_in)
// gets the initial value of its module:
// - Conv3d / Linear weights and biases: PyTorch's default, U(-1/sqrt(fan_in), 1/sqrt(fan_in)) (kaiming
//   uniform with a = sqrt(5)); GroupNorm / LayerNorm: weight 1, bias 0;
// - zero: the last Conv3d of every temporal conv (authors: convs.15; diffusers: conv4.3) and, in the
//   authors' model, temp_attn.to_out (so each temporal layer starts as the identity).
// Uniform draws come from the NoiseSource's normals through the normal CDF, u = erf(z / sqrt 2), so the
// same seed gives the same weights on every machine.

import { Graph } from "../../graph/graph.js";
import type { NoiseSource } from "../../tensor/noise.js";
import { portableExp } from "../../tensor/portable-math.js";
import { Tensor, numel } from "../../tensor/tensor.js";
import type { UNet3DConfig } from "./config.js";
import { buildUNet3D } from "./unet3d.js";

/** Every parameter of the model with its shape, in declaration order. */
export function unet3dParamShapes(cfg: UNet3DConfig): Map<string, number[]> {
  const g = new Graph("unet3d_keys");
  buildUNet3D(g, cfg); // symbolic frames: every temporal layer is declared
  return new Map([...g.params].map(([name, spec]) => [name, spec.value.shape as number[]]));
}

/** Whether a key belongs to a temporal layer (absent from a 2-D UNet). */
export function isTemporalKey(key: string): boolean {
  return key.includes("temp_") || key.startsWith("transformer_in.");
}

/** Keys that start at zero: the last Conv3d of each temporal conv, and the authors' temp_attn.to_out. */
function zeroInitialised(key: string): boolean {
  return /\.temp_convs\.\d+\.(convs\.15|conv4\.3)\./.test(key) || key.includes(".temp_attn.to_out.");
}

/**
 * erf(x) by Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7), from + - * / and a portable exp, so that
 * weights drawn through it are the same bits everywhere.
 */
function erf(x: number): number {
  const sign = x < 0 ? -1 : 1;
  const a = Math.abs(x);
  const t = 1 / (1 + 0.3275911 * a);
  const poly = ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t;
  return sign * (1 - poly * portableExp(-a * a));
}

/** The initial value of a temporal parameter, as its PyTorch module would have it. */
export function initialTemporalWeight(key: string, shape: readonly number[], shapes: ReadonlyMap<string, readonly number[]>, noise: NoiseSource): Tensor<"float32"> {
  const n = numel(shape);
  if (zeroInitialised(key)) return new Tensor("float32", new Float32Array(n), shape);
  const isBias = key.endsWith(".bias");
  const weightShape = isBias ? shapes.get(key.slice(0, -".bias".length) + ".weight") : shape;
  if (!weightShape || weightShape.length < 2) {
    // a norm's affine (weight and bias of rank 1)
    return new Tensor("float32", new Float32Array(n).fill(isBias ? 0 : 1), shape);
  }
  const bound = 1 / Math.sqrt(numel(weightShape.slice(1))); // 1 / sqrt(fan_in)
  const z = noise.randn(shape);
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = bound * erf(z[i]! * Math.SQRT1_2); // U(-bound, bound)
  return new Tensor("float32", data, shape);
}

export class InflateError extends Error {
  override name = "InflateError";
}

/**
 * The 3-D weights for `cfg` from a 2-D UNet state dict: 2-D keys by name (shapes checked), temporal keys
 * initialised in declaration order from `noise`. Fails, listing them, on missing or unexpected 2-D keys.
 */
export function inflateFrom2D(cfg: UNet3DConfig, stateDict2d: ReadonlyMap<string, Tensor>, noise: NoiseSource): Map<string, Tensor> {
  const shapes = unet3dParamShapes(cfg);
  const problems: string[] = [];
  const out = new Map<string, Tensor>();
  for (const [key, shape] of shapes) {
    const given = stateDict2d.get(key);
    if (isTemporalKey(key) && !given) {
      out.set(key, initialTemporalWeight(key, shape, shapes, noise));
      continue;
    }
    if (!given) problems.push(`missing ${key} [${shape.join(", ")}]`);
    else if (given.dtype !== "float32") problems.push(`${key}: dtype ${given.dtype}, expected float32`);
    else if (given.shape.length !== shape.length || given.shape.some((d, i) => d !== shape[i])) {
      problems.push(`${key}: shape [${given.shape.join(", ")}], expected [${shape.join(", ")}]`);
    } else out.set(key, given);
  }
  for (const key of stateDict2d.keys()) if (!shapes.has(key)) problems.push(`unexpected ${key}`);
  if (problems.length) {
    const shown = problems.slice(0, 20).join("\n  ");
    throw new InflateError(`inflateFrom2D (${cfg.variant}): ${problems.length} problem(s):\n  ${shown}${problems.length > 20 ? "\n  ..." : ""}`);
  }
  return out;
}
