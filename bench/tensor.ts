// Host tensor benchmarks: normal sampling (every clip's initial noise) and the frame flip that
// long-video strategies apply to latents. Figures follow DESIGN.md "Benchmarks".

import { framesReversed } from "../src/tensor/frames.js";
import { Rng } from "../src/tensor/rng.js";
import { Tensor } from "../src/tensor/tensor.js";

type Figure = { metric: string; value: number; unit: string; [k: string]: unknown };
type Report = (fig: Figure) => void;

/** Median seconds of `repeats` timed calls, after one untimed warm-up call. */
function medianSeconds(fn: () => void, repeats: number): number {
  fn();
  const times: number[] = [];
  for (let k = 0; k < repeats; k++) {
    const t0 = performance.now();
    fn();
    times.push((performance.now() - t0) / 1000);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(repeats / 2)];
}

export const benches = [
  {
    name: "tensor",
    run: async (report: Report): Promise<void> => {
      const n = 8 * 1024 * 1024;
      const out = new Float32Array(n);
      const rng = new Rng(0);
      const repeats = 7;
      const randn = medianSeconds(() => rng.fillNormal(out), repeats);
      report({ metric: "randn_per_s", value: Math.round(n / randn), unit: "normals/s", n, repeats, statistic: "median" });

      const shape = [2, 4, 16, 128, 128]; // [B, C, F, H, W]: 8 MiB of float32 latents
      const latents = new Tensor("float32", new Rng(1).fillNormal(new Float32Array(2 * 4 * 16 * 128 * 128)), shape);
      const flip = medianSeconds(() => framesReversed(latents), repeats);
      const bytes = 2 * latents.size * 4; // each element read once and written once
      report({ metric: "frame_flip_gbytes_per_s", value: Math.round((bytes / flip / 1e9) * 1000) / 1000, unit: "GB/s", shape, bytes_counted: "read+write", repeats, statistic: "median" });
    },
  },
];
