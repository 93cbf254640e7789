// Recorded noise: a safetensors file holding one tensor per randn() draw, so a generation can be
// replayed bit for bit (or fed noise recorded from another implementation, e.g. a PyTorch run).
//
// Each tensor must be what randn() returns here: standard normals z, in the shape and order asked. Noise
// recorded from another implementation fits only where it drew the same: a draw made there as
// torch.normal(0, std) is std * z and must be stored divided by std (the VidRD authors' PNS noise:
// draw / 0.2425 at r = 4); a draw of a batch of prompts holds every prompt's noise, and replaying one
// prompt at batch 1 needs that prompt's slice. src/pipelines/long-video/vidrd.ts lists vidrd's draws and
// these caveats for the authors' code.

import type { NoiseSource } from "../tensor/noise.js";
import { Tensor } from "../tensor/tensor.js";
import { float16ToFloat32Array } from "../tensor/float16.js";
import { formatShape } from "./safetensors-format.js";
import { SafetensorsFile } from "./safetensors.js";
import { writeSafetensors } from "./safetensors-writer.js";
import { compareNatural } from "./natural-order.js";

/** Running out of recorded draws, or asking for a shape other than the one recorded. */
export class ReplayNoiseError extends Error {
  override readonly name = "ReplayNoiseError";
}

const FLOAT_DTYPES: readonly string[] = ["F32", "F16", "BF16"];

/**
 * Replays the tensors of a noise file, one per `randn` call. Draw order is the tensor names in
 * natural numeric-aware order (`compareNatural`: "noise.2" before "noise.10"), not the order of the
 * bytes in the file. F16 and BF16 recordings are widened to float32 (exactly). Tensors are read from
 * the file as they are drawn; `close()` releases the file (it is also closed once the last is drawn).
 */
export class ReplayNoise implements NoiseSource {
  private readonly order: readonly string[];
  private nextDraw = 0;

  private constructor(private readonly file: SafetensorsFile) {
    for (const name of file.names()) {
      const { dtype } = file.info(name);
      if (!FLOAT_DTYPES.includes(dtype)) {
        throw new ReplayNoiseError(`replay noise ${file.label}: tensor "${name}" has dtype ${dtype}; noise must be F32, F16 or BF16`);
      }
    }
    this.order = file.names().sort(compareNatural);
  }

  static open(path: string): ReplayNoise {
    const file = SafetensorsFile.open(path);
    try {
      return new ReplayNoise(file);
    } catch (e) {
      file.close();
      throw e;
    }
  }

  static fromBytes(bytes: Uint8Array, label = "<noise bytes>"): ReplayNoise {
    return new ReplayNoise(SafetensorsFile.fromBytes(bytes, label));
  }

  /** How many recorded draws are left. */
  get remaining(): number {
    return this.order.length - this.nextDraw;
  }

  randn(shape: readonly number[]): Float32Array {
    const draw = this.nextDraw + 1; // 1-based in messages: "draw 4" is the fourth call
    const total = this.order.length;
    if (this.nextDraw >= total) {
      throw new ReplayNoiseError(
        `replay noise ${this.file.label}: all ${total} recorded tensor${total === 1 ? "" : "s"} used, draw ${draw} asked for shape ${formatShape(shape)}`,
      );
    }
    const name = this.order[this.nextDraw];
    const recorded = this.file.info(name).shape;
    if (recorded.length !== shape.length || recorded.some((d, i) => d !== shape[i])) {
      throw new ReplayNoiseError(
        `replay noise ${this.file.label}: draw ${draw} asked for shape ${formatShape(shape)} but recorded tensor "${name}" has shape ${formatShape(recorded)}`,
      );
    }
    const tensor = this.file.read(name);
    this.nextDraw++;
    if (this.nextDraw === total) this.file.close();
    // F32 and BF16 read as float32; F16 reads as half bit patterns (checked in the constructor).
    return tensor.dtype === "float16" ? float16ToFloat32Array(tensor.data as Uint16Array) : (tensor.data as Float32Array);
  }

  close(): void {
    this.file.close();
  }
}

/**
 * Wraps a NoiseSource and keeps a copy of every draw, so `save` can write a file that ReplayNoise
 * replays exactly. Tensors are named "noise.000000", "noise.000001", ... (zero-padded so plain and
 * natural order agree; past a million draws the index simply gets longer). The copies stay in memory
 * until the recorder is dropped, so record one generation at a time.
 */
export class RecordingNoise implements NoiseSource {
  private readonly draws: Tensor<"float32">[] = [];

  constructor(private readonly inner: NoiseSource) {}

  get count(): number {
    return this.draws.length;
  }

  randn(shape: readonly number[]): Float32Array {
    const values = this.inner.randn(shape);
    // A copy: callers may scale the returned array in place, and the recording must be what was drawn.
    this.draws.push(new Tensor("float32", values.slice(), shape));
    return values;
  }

  /** Writes the draws so far (float32, atomically) to `path`; `metadata` goes to __metadata__. */
  save(path: string, metadata: Readonly<Record<string, string>> = {}): void {
    const tensors = new Map(this.draws.map((t, i) => [`noise.${String(i).padStart(6, "0")}`, t]));
    writeSafetensors(path, tensors, { ...metadata, "vidrd.noise_draws": String(this.draws.length) });
  }
}
