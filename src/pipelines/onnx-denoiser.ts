// A Denoiser from any ONNX model with the UNet3D signature, e.g. a UNet a user exported from PyTorch:
//   sample                 [B, C, F, H, W]   float32 or float16
//   timestep               [B] or [B, F]     float32, float16, int64 or int32 ([B, F]: per-frame timesteps)
//   encoder_hidden_states  [B, L, D]         float32 or float16
// and eps (or v) as its first output, of the sample's shape. Inputs are converted to the dtypes the
// model declares, the output back to float32.

import { Session, type SessionOptions, type TensorSpec } from "../runtime/session.js";
import { float16ToFloat32Array, float32ToFloat16Array } from "../tensor/float16.js";
import { type DType, Tensor } from "../tensor/tensor.js";
import type { Conditioning, Denoiser, Timesteps } from "./types.js";

export class OnnxDenoiserError extends Error {
  override readonly name = "OnnxDenoiserError";
}

/** The graph input names of the UNet3D signature (src/models/unet3d). */
export const UNET_INPUTS = { sample: "sample", timestep: "timestep", context: "encoder_hidden_states" } as const;

const FLOATS: readonly string[] = ["float32", "float16"];
const TIMESTEP_DTYPES: readonly string[] = ["float32", "float16", "int64", "int32"];

export interface OnnxDenoiser {
  denoise: Denoiser;
  /** True when the model takes timestep [B, F] (per-frame noise levels, e.g. for FIFO-Diffusion). */
  readonly perFrameTimesteps: boolean;
  /** The dtype of the sample and encoder_hidden_states inputs. */
  readonly dtype: "float32" | "float16";
  release(): Promise<void>;
}

function describeSpec(s: TensorSpec): string {
  return `${s.name} ${s.dtype}[${s.shape.join(", ")}]`;
}

/** Checks a session's inputs against the signature; every problem at once, with what the model has. */
function checkSignature(session: Session): { perFrame: boolean; dtype: "float32" | "float16"; timestepDType: DType } {
  const byName = new Map(session.inputs.map((s) => [s.name, s]));
  const problems: string[] = [];
  const want: [string, number[], readonly string[]][] = [
    [UNET_INPUTS.sample, [5], FLOATS],
    [UNET_INPUTS.timestep, [1, 2], TIMESTEP_DTYPES],
    [UNET_INPUTS.context, [3], FLOATS],
  ];
  for (const [name, ranks, dtypes] of want) {
    const spec = byName.get(name);
    if (!spec) problems.push(`no input "${name}"`);
    else {
      if (!ranks.includes(spec.shape.length)) problems.push(`input "${name}" has rank ${spec.shape.length}; allowed: ${ranks.join(" or ")}`);
      if (!dtypes.includes(spec.dtype)) problems.push(`input "${name}" is ${spec.dtype}; allowed: ${dtypes.join(", ")}`);
    }
  }
  const extra = session.inputs.filter((s) => !Object.values(UNET_INPUTS).includes(s.name as never));
  if (extra.length) problems.push(`unexpected input(s) ${extra.map((s) => `"${s.name}"`).join(", ")}`);
  if (session.outputs.length === 0) problems.push("no outputs");
  const sample = byName.get(UNET_INPUTS.sample);
  const context = byName.get(UNET_INPUTS.context);
  if (sample && context && FLOATS.includes(sample.dtype) && FLOATS.includes(context.dtype) && sample.dtype !== context.dtype) {
    problems.push(`sample is ${sample.dtype} but encoder_hidden_states is ${context.dtype}; allowed: the same float dtype`);
  }
  if (problems.length) {
    throw new OnnxDenoiserError(
      `${session.label} does not have the UNet3D signature (sample [B, C, F, H, W], timestep [B] or [B, F], encoder_hidden_states [B, L, D]; ` +
        `float32 or float16): ${problems.join("; ")}. The model has inputs ${session.inputs.map(describeSpec).join(", ")}` +
        ` and outputs ${session.outputs.map(describeSpec).join(", ") || "none"}`,
    );
  }
  const timestep = byName.get(UNET_INPUTS.timestep)!;
  return { perFrame: timestep.shape.length === 2, dtype: sample!.dtype as "float32" | "float16", timestepDType: timestep.dtype as DType };
}

function asDType(t: Tensor, dtype: "float32" | "float16", what: string): Tensor {
  if (t.dtype === dtype) return t;
  if (t.dtype !== "float32") throw new OnnxDenoiserError(`${what} is ${t.describe()}; allowed: float32`);
  return new Tensor("float16", float32ToFloat16Array(t.data as Float32Array), t.shape);
}

/** The timestep input: t for every (batch, frame), as [B] or [B, F] of the model's dtype. */
function timestepTensor(t: Timesteps, batch: number, frames: number, perFrame: boolean, dtype: DType, label: string): Tensor {
  let values: readonly number[];
  if (typeof t === "number") values = new Array(perFrame ? frames : 1).fill(t);
  else {
    if (t.length !== frames) throw new OnnxDenoiserError(`${label}: ${t.length} per-frame timesteps for ${frames} frames; allowed: one per frame`);
    if (perFrame) values = t;
    else if (t.every((v) => v === t[0])) values = [t[0]!];
    else throw new OnnxDenoiserError(`${label} takes timestep [B]: one noise level per call; per-frame timesteps need a model exported with timestep [B, F]`);
  }
  for (const v of values) {
    if (!Number.isFinite(v)) throw new OnnxDenoiserError(`${label}: timestep ${v}; allowed: a finite number`);
    if ((dtype === "int64" || dtype === "int32") && !Number.isInteger(v)) {
      throw new OnnxDenoiserError(`${label}: timestep ${v} is not an integer but the model's timestep input is ${dtype}; use a scheduler with integer timesteps (ddim, ddpm, dpmsolver++2m)`);
    }
  }
  const shape = perFrame ? [batch, frames] : [batch];
  const all = Array.from({ length: batch }, () => values).flat(); // [B] or [B, F], row-major
  switch (dtype) {
    case "int64": return Tensor.int64(all, shape);
    case "int32": return Tensor.int32(all, shape);
    case "float16": return new Tensor("float16", float32ToFloat16Array(Float32Array.from(all)), shape);
    default: return Tensor.float32(all, shape);
  }
}

/** A Denoiser over an open Session with the UNet3D signature; `release` frees the session. */
export function denoiserFromSession(session: Session): OnnxDenoiser {
  const { perFrame, dtype, timestepDType } = checkSignature(session);
  const output = session.outputs[0]!.name;
  const denoise: Denoiser = async (z: Tensor, t: Timesteps, c: Conditioning) => {
    if (z.rank !== 5) throw new OnnxDenoiserError(`${session.label}: z is ${z.describe()}; allowed: [B, C, F, H, W]`);
    const [B, , F] = z.shape;
    const feeds = {
      [UNET_INPUTS.sample]: asDType(z, dtype, "z"),
      [UNET_INPUTS.timestep]: timestepTensor(t, B, F, perFrame, timestepDType, session.label),
      [UNET_INPUTS.context]: asDType(c.embeddings, dtype, "conditioning embeddings"),
    };
    const out = (await session.run(feeds, [output]))[output]!;
    if (out.rank !== 5 || out.shape.some((d, i) => d !== z.shape[i])) {
      throw new OnnxDenoiserError(`${session.label}: output "${output}" is ${out.describe()}; expected the sample's shape [${z.shape.join(", ")}]`);
    }
    if (out.dtype === "float32") return out;
    if (out.dtype === "float16") return new Tensor("float32", float16ToFloat32Array(out.data as Uint16Array), out.shape);
    throw new OnnxDenoiserError(`${session.label}: output "${output}" is ${out.describe()}; allowed: float32 or float16`);
  };
  return { denoise, perFrameTimesteps: perFrame, dtype, release: () => session.release() };
}

/** Opens an .onnx file (external data beside it) as a Denoiser; the error names what the file has if it does not fit. */
export async function openOnnxDenoiser(path: string, opts: SessionOptions = {}): Promise<OnnxDenoiser> {
  const session = await Session.fromFile(path, opts);
  try {
    return denoiserFromSession(session);
  } catch (e) {
    await session.release();
    throw e;
  }
}
