// The order clips are drawn in during an epoch, a pure function of (sizes, weights, count, seed, epoch).
//
// Shuffled: each draw picks source s with probability w_s / sum(w) (rng stream 0 of the epoch), then the
// next clip of that source's own random permutation (stream 1 + s), reshuffled when used up. So every clip
// of a source is seen once before any is seen twice, and a source with twice the weight is drawn twice as
// often whatever its size (a small source repeats, a large one is not exhausted).
// In order (shuffle off): smooth weighted round robin (each step, every source earns its weight, the
// richest is drawn and pays the total), the same proportions with no randomness, clips in manifest order.

import { Rng } from "../../tensor/rng.js";

export interface DrawnClip {
  source: number;
  /** Index into the source's entries. */
  index: number;
}

export interface EpochOrderOptions {
  /** Clips per source. */
  sizes: readonly number[];
  /** Relative weights, >= 0; sources without clips are never drawn. */
  weights: readonly number[];
  /** Draws in the epoch. */
  count: number;
  seed: number | bigint;
  epoch: number;
  shuffle: boolean;
}

/** A uniformly random permutation of 0..n-1 (Fisher-Yates). */
export function permutation(rng: Rng, n: number): Int32Array {
  const p = new Int32Array(n);
  for (let i = 0; i < n; i++) p[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rng.uniform() * (i + 1));
    const t = p[i];
    p[i] = p[j];
    p[j] = t;
  }
  return p;
}

export function epochOrder(o: EpochOrderOptions): DrawnClip[] {
  const { sizes, count } = o;
  if (sizes.length !== o.weights.length) throw new RangeError(`epochOrder: ${sizes.length} sizes but ${o.weights.length} weights`);
  if (!Number.isInteger(o.epoch) || o.epoch < 0) throw new RangeError(`epochOrder: epoch is ${o.epoch}; allowed: an integer >= 0`);
  const weights = o.weights.map((w, s) => (sizes[s] > 0 ? w : 0));
  const total = weights.reduce((a, b) => a + b, 0);
  if (!(total > 0)) throw new RangeError("epochOrder: no source has both clips and a weight above 0");
  const drawn: DrawnClip[] = [];
  if (!o.shuffle) {
    const credit = weights.map(() => 0);
    const next = sizes.map(() => 0);
    for (let k = 0; k < count; k++) {
      let best = -1;
      for (let s = 0; s < weights.length; s++) {
        credit[s] += weights[s];
        if (weights[s] > 0 && (best < 0 || credit[s] > credit[best])) best = s;
      }
      credit[best] -= total;
      drawn.push({ source: best, index: next[best] });
      next[best] = (next[best] + 1) % sizes[best];
    }
    return drawn;
  }
  const epochRng = new Rng(o.seed).fork(o.epoch);
  const pick = epochRng.fork(0);
  const streams = sizes.map((_, s) => epochRng.fork(1 + s));
  const orders: (Int32Array | null)[] = sizes.map(() => null);
  const used = sizes.map(() => 0);
  const cumulative: number[] = [];
  weights.reduce((acc, w, s) => (cumulative[s] = acc + w), 0);
  for (let k = 0; k < count; k++) {
    const u = pick.uniform() * total;
    let s = cumulative.findIndex((c, i) => weights[i] > 0 && u < c);
    if (s < 0) s = weights.length - 1 - [...weights].reverse().findIndex((w) => w > 0); // u at the very top (rounding)
    if (orders[s] === null || used[s] === sizes[s]) {
      orders[s] = permutation(streams[s], sizes[s]);
      used[s] = 0;
    }
    drawn.push({ source: s, index: orders[s]![used[s]++] });
  }
  return drawn;
}
