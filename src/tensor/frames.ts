// Frame ops along F (axis 2) of float32 latents [B, C, F, H, W]: what long-video strategies do with clips
// (reuse the last frames of one clip, join clips, reverse a clip). Row-major layout means each (b, c)
// pair owns one contiguous run of F * H * W values, and each frame inside it is a contiguous run of
// H * W values, so every op is a set of block copies.

import { Tensor } from "./tensor.js";
import { latentShape, shapeText } from "./validate.js";

/** Copies n values; small runs by loop, since a subarray view costs an allocation that dwarfs them. */
function copyRun(src: Float32Array, from: number, dst: Float32Array, to: number, n: number): void {
  if (n >= 64) dst.set(src.subarray(from, from + n), to);
  else for (let i = 0; i < n; i++) dst[to + i] = src[from + i];
}

/** Frames [start, end) of t along F. 0 <= start <= end <= F; negative indices are not accepted. */
export function frameSlice(t: Tensor, start: number, end: number): Tensor<"float32"> {
  const [B, C, F, H, W] = latentShape("frameSlice", "t", t);
  if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || start > end || end > F) {
    throw new Error(`frameSlice: range [${start}, ${end}) does not fit t of shape ${shapeText(t.shape)}; allowed: integers 0 <= start <= end <= F = ${F}`);
  }
  const src = t.data as Float32Array;
  const plane = H * W;
  const inRun = F * plane;
  const outRun = (end - start) * plane;
  const dst = new Float32Array(B * C * outRun);
  for (let bc = 0; bc < B * C; bc++) {
    const from = bc * inRun + start * plane;
    copyRun(src, from, dst, bc * outRun, outRun);
  }
  return new Tensor("float32", dst, [B, C, end - start, H, W]);
}

/** The tensors of `list` joined along F, in order; all must share B, C, H and W. */
export function frameConcat(list: readonly Tensor[]): Tensor<"float32"> {
  if (list.length === 0) throw new Error("frameConcat: the list is empty; allowed: at least 1 tensor");
  const [B, C, , H, W] = latentShape("frameConcat", "tensor 0", list[0]);
  const frames: number[] = [];
  for (let k = 0; k < list.length; k++) {
    const [b, c, f, h, w] = latentShape("frameConcat", `tensor ${k}`, list[k]);
    if (b !== B || c !== C || h !== H || w !== W) {
      throw new Error(
        `frameConcat: tensor ${k} has shape ${shapeText(list[k].shape)} but tensor 0 has ${shapeText(list[0].shape)}; all must match except F (axis 2)`,
      );
    }
    frames.push(f);
  }
  const plane = H * W;
  const totalF = frames.reduce((s, f) => s + f, 0);
  const outRun = totalF * plane;
  const dst = new Float32Array(B * C * outRun);
  for (let bc = 0; bc < B * C; bc++) {
    let at = bc * outRun;
    for (let k = 0; k < list.length; k++) {
      const run = frames[k] * plane;
      copyRun(list[k].data as Float32Array, bc * run, dst, at, run);
      at += run;
    }
  }
  return new Tensor("float32", dst, [B, C, totalF, H, W]);
}

/** t with its frames in reverse order along F (frame f of the result is frame F - 1 - f of t). */
export function framesReversed(t: Tensor): Tensor<"float32"> {
  const [B, C, F, H, W] = latentShape("framesReversed", "t", t);
  const src = t.data as Float32Array;
  const plane = H * W;
  const run = F * plane;
  const dst = new Float32Array(src.length);
  for (let bc = 0; bc < B * C; bc++) {
    const base = bc * run;
    for (let f = 0; f < F; f++) {
      copyRun(src, base + (F - 1 - f) * plane, dst, base + f * plane, plane);
    }
  }
  return new Tensor("float32", dst, t.shape);
}
