// Long-video strategies by name: what the CLI's --strategy and the server's body pick from.

import type { LatentChunk, LongVideoRequest, LongVideoStrategy } from "../types.js";
import { type FifoOptions, fifoStrategy } from "./fifo.js";
import { type FreeNoiseOptions, freeNoiseStrategy } from "./freenoise.js";
import { type GenLVideoOptions, genLVideoStrategy } from "./gen-l-video.js";
import { type IndependentOptions, independentStrategy } from "./independent.js";
import { type VidrdOptions, vidrdStrategy } from "./vidrd.js";

/** The options each registered strategy takes. */
export interface LongVideoOptionsByName {
  vidrd: VidrdOptions;
  independent: IndependentOptions;
  "gen-l-video": GenLVideoOptions;
  freenoise: FreeNoiseOptions;
  fifo: FifoOptions;
}

export type LongVideoStrategyName = keyof LongVideoOptionsByName;

export const LONG_VIDEO_STRATEGIES: { readonly [K in LongVideoStrategyName]: LongVideoStrategy<LongVideoOptionsByName[K]> } = {
  vidrd: vidrdStrategy,
  independent: independentStrategy,
  "gen-l-video": genLVideoStrategy,
  freenoise: freeNoiseStrategy,
  fifo: fifoStrategy,
};

/** The registered names, vidrd first. */
export const LONG_VIDEO_STRATEGY_NAMES = Object.keys(LONG_VIDEO_STRATEGIES) as LongVideoStrategyName[];

export function isLongVideoStrategyName(name: unknown): name is LongVideoStrategyName {
  return typeof name === "string" && Object.hasOwn(LONG_VIDEO_STRATEGIES, name);
}

/** The strategy called `name`; an unknown name fails listing the registered ones. */
export function longVideoStrategy<K extends LongVideoStrategyName>(name: K): LongVideoStrategy<LongVideoOptionsByName[K]>;
export function longVideoStrategy(name: string): LongVideoStrategy<unknown>;
export function longVideoStrategy(name: string): LongVideoStrategy<unknown> {
  if (!isLongVideoStrategyName(name)) {
    throw new RangeError(`strategy is ${JSON.stringify(name)}; allowed: ${LONG_VIDEO_STRATEGY_NAMES.join(", ")}`);
  }
  return LONG_VIDEO_STRATEGIES[name] as LongVideoStrategy<unknown>;
}

/**
 * Validates the request and options against strategy `name` now (so a bad option fails at the call,
 * not at the first `next()`), then returns its generator of latent chunks in output order.
 */
export function generateLongVideo<K extends LongVideoStrategyName>(request: LongVideoRequest, name: K, options?: LongVideoOptionsByName[K]): AsyncGenerator<LatentChunk, void, undefined>;
export function generateLongVideo(request: LongVideoRequest, name: string, options?: unknown): AsyncGenerator<LatentChunk, void, undefined>;
export function generateLongVideo(request: LongVideoRequest, name: string, options: unknown = {}): AsyncGenerator<LatentChunk, void, undefined> {
  const strategy = longVideoStrategy(name);
  strategy.validate(request, options);
  return strategy.generate(request, options);
}
