// Gen-L-Video (Wang et al. 2023, "Gen-L-Video: Multi-Text to Long Video Generation via Temporal
// Co-Denoising"), training-free: the whole video is one latent of L frames, drawn at once; at every
// denoising step each window of W frames (stride S) is denoised under the prompt of its own frame range,
// and frames that several windows hold take the average of their results (windows.ts, coDenoise).
//
// Cost: T * (number of windows) denoiser calls of W frames; the number of windows is
// ceil((L - W) / S) + 1. Memory holds the whole latent (L frames) until the last step, by the nature
// of the method; the finished latent is then emitted window by window.

import { throwIfAborted } from "./common.js";
import { clipLatentShape } from "../text-to-clip.js";
import type { LatentChunk, LongVideoRequest, LongVideoStrategy } from "../types.js";
import { coDenoise, resolveWindowLayout, uniformWeights, type WindowLayout, type WindowOptions } from "./windows.js";

/**
 * window: W, frames per window (per denoiser call); default N = clip.frames; an integer in [1, N]
 * (windows shorter than N only weaken the temporal context).
 * stride: S, frames between window starts; default floor(W / 2) (at least 1), the paper's half-window
 * overlap; an integer in [1, W].
 */
export type GenLVideoOptions = WindowOptions;

/** The window layout over the whole video, after checking the request and options. */
export function genLVideoLayout(request: LongVideoRequest, options: GenLVideoOptions = {}): WindowLayout {
  return resolveWindowLayout("gen-l-video", request, options, (window) => Math.max(1, Math.floor(window / 2)));
}

export const genLVideoStrategy: LongVideoStrategy<GenLVideoOptions> = {
  name: "gen-l-video",
  validate(request, options) {
    genLVideoLayout(request, options);
  },
  async *generate(request, options): AsyncGenerator<LatentChunk, void, undefined> {
    const layout = genLVideoLayout(request, options);
    throwIfAborted(request.signal);
    // z_T of the whole video in one draw: [B, C, L, H, W]
    const [B, C, , H, W] = clipLatentShape(request.clip);
    const start = request.noise.randn([B, C, layout.frames, H, W]);
    yield* coDenoise(request, layout, uniformWeights(layout.window), start);
  },
};
