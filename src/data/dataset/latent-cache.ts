// VAE latents of clips, cached on disk: training in latent space encodes every clip once per encoder
// rather than once per epoch. One safetensors file per clip, under a folder named by a hash of the
// encoder's fingerprint (the caller's string naming the VAE weights, dtype and preprocessing), so two
// encoders never read each other's latents and changing the VAE starts a fresh cache.

import { mkdirSync } from "node:fs";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { SafetensorsFile } from "../../io/safetensors.js";
import { writeSafetensors } from "../../io/safetensors-writer.js";
import type { Tensor } from "../../tensor/tensor.js";

/** What the caller gives: frames -> latents, and what identifies that function. */
export interface LatentEncoder {
  /** Changes whenever the latents of the same frames would (weights, dtype, scaling factor). */
  fingerprint: string;
  /** Videos [k, 3, N, H, W] in [-1, 1] -> latents [k, ...], one row per video. */
  encode(frames: Tensor<"float32">): Promise<Tensor>;
}

const TENSOR_NAME = "latents";

export class LatentCache {
  readonly dir: string;

  constructor(root: string, readonly fingerprint: string) {
    if (typeof fingerprint !== "string" || fingerprint === "") throw new TypeError("LatentCache: fingerprint is empty; allowed: a string naming the encoder");
    this.dir = join(root, createHash("sha256").update(fingerprint).digest("hex").slice(0, 16));
  }

  path(clipId: string): string {
    return join(this.dir, `${clipId}.safetensors`);
  }

  /** The cached latents of a clip (without a batch axis), or null; a damaged file is a miss. */
  get(clipId: string): Tensor | null {
    let file: SafetensorsFile | undefined;
    try {
      file = SafetensorsFile.open(this.path(clipId));
      if (file.metadata?.fingerprint !== this.fingerprint) return null;
      return file.read(TENSOR_NAME);
    } catch {
      return null;
    } finally {
      file?.close();
    }
  }

  /** Stores one clip's latents (without a batch axis), atomically. */
  put(clipId: string, latents: Tensor): void {
    mkdirSync(this.dir, { recursive: true });
    writeSafetensors(this.path(clipId), { [TENSOR_NAME]: latents }, { clip: clipId, fingerprint: this.fingerprint });
  }
}
