// Independent clips, the baseline every long-video method is measured against (VIDRD.md section 6):
// K clips of N frames, each text-to-clip from its own fresh noise, concatenated. Nothing ties clip k to
// clip k - 1, so content and motion jump at every clip boundary.
//
// Cost: T denoiser calls of N frames per clip, T / N per output frame. Memory: one clip.

import { clipLatentShape, denoiseClip, samplingScheduler, startingNoise } from "../text-to-clip.js";
import type { LatentChunk, LongVideoRequest, LongVideoStrategy } from "../types.js";
import { ProgressMeter, checkClipShape, checkOptionNames, clipCount } from "./common.js";


/** The baseline has no options of its own (pass {}). */
export type IndependentOptions = Record<string, never>;

/** K, after checking the request: `{ clips: K }`, or `{ frames }` a multiple of N. */
function independentClips(request: LongVideoRequest, options: IndependentOptions): number {
  checkClipShape(request.clip);
  checkOptionNames("independent", options ?? {}, []);
  samplingScheduler(request.scheduler);
  return clipCount(request.length, request.clip.frames, request.clip.frames);
}

export const independentStrategy: LongVideoStrategy<IndependentOptions> = {
  name: "independent",
  validate(request, options) {
    independentClips(request, options);
  },
  async *generate(request, options): AsyncGenerator<LatentChunk, void, undefined> {
    const K = independentClips(request, options);
    const N = request.clip.frames;
    const scheduler = samplingScheduler(request.scheduler);
    const T = scheduler.timesteps.length;
    const meter = new ProgressMeter(K * T, request.onProgress);
    for (let k = 0; k < K; k++) {
      // clip k: z_T in one draw of [B, C, N, H, W] (the k-th draw of the run for deterministic samplers)
      const start = startingNoise(request.noise, clipLatentShape(request.clip), scheduler.initNoiseSigma);
      const latents = await denoiseClip({
        scheduler,
        predictor: request.predictor,
        prompt: request.prompts(k * N, (k + 1) * N),
        start,
        noise: request.noise,
        onEvaluated: (i) => meter.evaluated(k, K, i + 1, T),
        signal: request.signal,
      });
      yield { clip: k, latents, emitStart: 0, emitEnd: N, firstFrame: k * N };
    }
  },
};
